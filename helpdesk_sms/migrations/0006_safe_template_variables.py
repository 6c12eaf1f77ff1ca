"""Rewrite templates to the plain template context, and say what changed.

Templates used to see model instances; now they see documented plain values only
(README, "Template variables"). Common old spellings are rewritten; a template still using
a variable that no longer exists is listed here (it renders that variable empty, and
saving it in the admin names the variable until it is fixed).
"""

from django.db import migrations


def rewrite_templates(apps, schema_editor):
    from helpdesk_sms.rendering import TemplateRenderError, unknown_variables
    from helpdesk_sms.template_upgrade import upgrade

    template_model = apps.get_model("helpdesk_sms", "NotificationTemplate")
    for template in template_model.objects.order_by("pk"):
        result = upgrade(template.body)
        if result.changes:
            template.body = result.body
            template.save(update_fields=["body"])
            changed = ", ".join(f"{old} -> {new}" for old, new in result.changes)
            print(f"\n  helpdesk_sms: template {template.pk} {template.name!r}: {changed}")
        try:
            unknown = unknown_variables(template.body, template.event)
        except TemplateRenderError as exc:
            print(f"\n  helpdesk_sms: template {template.pk} {template.name!r} does not compile: {exc}")
            continue
        if unknown:
            names = ", ".join(unknown)
            print(
                f"\n  helpdesk_sms: template {template.pk} {template.name!r} uses {names}, "
                "which templates no longer see (rendered empty): edit it in the admin"
            )


class Migration(migrations.Migration):
    dependencies = [("helpdesk_sms", "0005_engine_claims_exchanges")]

    operations = [migrations.RunPython(rewrite_templates, migrations.RunPython.noop)]
