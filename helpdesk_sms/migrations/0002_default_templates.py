"""Ship the default notification templates, so a fresh install texts out of the box.

Skipped for any (event, audience) the site already has a template for.
"""

from django.db import migrations

DEFAULTS = [
    (
        "Default: ticket created (customer)",
        "ticket_created",
        "customer",
        "We received your request #{{ ticket.pk }}: {{ ticket.title|truncatechars:60 }}. "
        "We will keep you posted.",
    ),
    (
        "Default: task added (customer)",
        "task_added",
        "customer",
        "Update on your request #{{ ticket.pk }}: {{ task|truncatechars:80 }}",
    ),
    (
        "Default: ticket assigned (agent)",
        "ticket_assigned",
        "assignee",
        "Ticket #{{ ticket.pk }} is assigned to you: {{ ticket.title|truncatechars:80 }}",
    ),
]


def create_defaults(apps, schema_editor):
    Template = apps.get_model("helpdesk_sms", "NotificationTemplate")
    for name, event, audience, body in DEFAULTS:
        if not Template.objects.filter(event=event, audience=audience).exists():
            Template.objects.create(name=name, event=event, audience=audience, body=body)


def remove_defaults(apps, schema_editor):
    Template = apps.get_model("helpdesk_sms", "NotificationTemplate")
    Template.objects.filter(name__in=[name for name, *_ in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("helpdesk_sms", "0001_initial")]
    operations = [migrations.RunPython(create_defaults, remove_defaults)]
