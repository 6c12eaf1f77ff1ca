"""Existing templates move to the plain context: old spellings rewritten, the rest reported."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from helpdesk_sms.template_upgrade import upgrade

BEFORE = ("helpdesk_sms", "0005_engine_claims_exchanges")
AFTER = ("helpdesk_sms", "0006_safe_template_variables")


def test_old_spellings_are_rewritten_inside_tags():
    result = upgrade(
        "{{ ticket.get_status_display }} for {{ assignee.get_full_name|upper }}"
        "{% if ticket.assigned_to %}, by {{ ticket.assigned_to }}{% endif %}"
    )

    assert result.body == (
        "{{ ticket.status }} for {{ assignee.name|upper }}"
        "{% if assignee_name %}, by {{ assignee_name }}{% endif %}"
    )
    assert result.changes == [
        ("ticket.get_status_display", "ticket.status"),
        ("assignee.get_full_name", "assignee.name"),
        ("ticket.assigned_to", "assignee_name"),
    ]


def test_text_outside_tags_and_documented_variables_are_left_alone():
    body = "ticket.assigned_to said: #{{ ticket.pk }} {{ ticket.title|truncatechars:60 }}"

    assert upgrade(body).body == body
    assert upgrade(body).changes == []


def test_a_longer_path_is_not_cut_by_its_prefix():
    assert upgrade("{{ ticket.assigned_to.get_full_name }}").body == "{{ assignee.name }}"


@pytest.mark.django_db(transaction=True)
def test_the_migration_rewrites_stored_templates_and_says_what_it_could_not(capsys):
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    old_apps = executor.loader.project_state([BEFORE]).apps
    template_model = old_apps.get_model("helpdesk_sms", "NotificationTemplate")
    fixed = template_model.objects.create(
        name="Old", event="ticket_assigned", audience="assignee",
        body="{{ ticket.get_priority_display }}: {{ assignee.get_full_name }}",
    )  # fmt: skip
    stuck = template_model.objects.create(
        name="Stuck", event="ticket_created", audience="customer",
        body="{{ ticket.description }}",
    )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    output = capsys.readouterr().out
    from helpdesk_sms.models import NotificationTemplate

    assert NotificationTemplate.objects.get(pk=fixed.pk).body == (
        "{{ ticket.priority }}: {{ assignee.name }}"
    )
    assert NotificationTemplate.objects.get(pk=stuck.pk).body == "{{ ticket.description }}"
    assert f"template {fixed.pk} 'Old': ticket.get_priority_display -> ticket.priority" in output
    assert "'Stuck' uses ticket.description, which templates no longer see" in output
