"""Templates cannot read the database: the audit's exploits, fuzzed attribute chains, the
preview, and the check that refuses unknown variables when a template is saved."""

from __future__ import annotations

import random

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.urls import reverse

from helpdesk_sms import template_context
from helpdesk_sms.models import Message, NotificationTemplate, Provider
from helpdesk_sms.preview import sample_context
from helpdesk_sms.rendering import TemplateRenderError, render
from helpdesk_sms.template_variables import VARIABLES, markdown_table, paths_for
from project.demo.models import Task, Ticket

pytestmark = pytest.mark.django_db

EXPLOITS = [
    "{{ ticket.assigned_to.groups.all.0.user_set.values }}",
    "{% for perm in assignee.user_permissions.all %}"
    "{{ perm.content_type.model_class.objects.values }}{% endfor %}",
    "{{ assignee.groups.all.0.user_set.all.0.password }}",
    "{{ ticket.assigned_to.password }}",
    "{{ task.ticket.assigned_to.user_permissions.all }}",
    "{{ followup.ticket.assigned_to.groups.all }}",
    "{{ ticket.task_set.all }}{{ ticket.objects.all }}{{ ticket.assigned_to.objects.values }}",
]

#: (event, audience) of every event a template answers.
EVENTS = [
    ("ticket_created", "customer"),
    ("ticket_assigned", "assignee"),
    ("task_added", "customer"),
]

API_KEY = "sk-SECRET-api-key-4711"
PASSWORD = "pw-SECRET-password-0815"
CALLBACK_SECRET = "cb-SECRET-callback-1234"


@pytest.fixture
def secrets(memory_provider, agent):
    """An agent with groups and permissions to walk, and a provider with credentials: what
    the exploits read before templates saw plain values only."""
    memory_provider.api_key = API_KEY
    memory_provider.password = PASSWORD
    memory_provider.callback_secrets = CALLBACK_SECRET
    memory_provider.save()
    staff = Group.objects.create(name="staff")
    agent.groups.add(staff)
    agent.user_permissions.add(Permission.objects.get(codename="view_provider"))
    return [API_KEY, PASSWORD, CALLBACK_SECRET, agent.password, agent.password.split("$")[0]]


def tag(path: str) -> str:
    return "{{ " + path + " }}"


def assert_nothing_read(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text
    assert "QuerySet" not in text
    assert "<User" not in text and "<Provider" not in text


def use_body(event: str, body: str) -> None:
    """Put ``body`` into the shipped template of ``event``, as an old install may hold it
    (saved before the check: ``update`` bypasses it)."""
    NotificationTemplate.objects.filter(event=event).update(body=f"[{body}]")


def fire(event: str, agent) -> Message:
    ticket = Ticket.objects.create(
        title="Printer jammed", customer_name="Ravi", customer_phone="+919812345678"
    )
    if event == "ticket_assigned":
        ticket.assigned_to = agent
        ticket.save()
    if event == "task_added":
        ticket.assigned_to = agent
        ticket.save()
        Task.objects.create(ticket=ticket, title="Replace toner")
    return Message.objects.filter(event=event).latest("pk")


@pytest.mark.parametrize("event,audience", EVENTS)
@pytest.mark.parametrize("exploit", EXPLOITS)
def test_the_audits_exploits_send_nothing_from_the_database(
    secrets, agent, event, audience, exploit
):
    use_body(event, exploit)

    message = fire(event, agent)

    assert_nothing_read(message.body, secrets)
    assert message.body == "[]"


def real_context(event: str, agent) -> dict:
    ticket = Ticket.objects.create(
        title="Printer jammed", customer_name="Ravi", customer_phone="+9198", assigned_to=agent
    )
    given: dict = {"assignee": agent}
    if event == "task_added":
        given["task"] = Task.objects.create(ticket=ticket, title="Replace toner")
    return template_context.for_recipient(
        template_context.build(event, ticket, given), "customer", ""
    )


def chains(seed: int, count: int) -> list[str]:
    """Attribute chains an attacker would try: roots, relations, managers, query methods."""
    rng = random.Random(seed)
    roots = ["ticket", "assignee", "task", "followup", "recipient_name", "title", "event"]
    steps = [
        "assigned_to", "groups", "all", "0", "user_set", "values", "user_permissions",
        "content_type", "model_class", "objects", "password", "pk", "id", "title", "queue",
        "ticket_set", "task_set", "first", "last", "model", "get_full_name", "save", "delete",
        "values_list", "name", "text", "customer_name", "items", "keys", "mro", "format",
        "encode", "upper", "ticket", "api_key", "provider_set", "select_related", "raw",
        "get_queryset", "every", "count", "exists", "dumps", "reference", "url",
    ]  # fmt: skip
    return [
        ".".join([rng.choice(roots)] + [rng.choice(steps) for _ in range(rng.randint(1, 6))])
        for _ in range(count)
    ]


@pytest.mark.parametrize("event,audience", EVENTS)
def test_fuzzed_attribute_chains_run_no_query_and_render_no_secret(
    secrets, agent, event, audience, django_assert_num_queries
):
    context = real_context(event, agent)
    bodies = []
    for chain in chains(seed=hash(event) % 1000, count=400):
        bodies.append(tag(chain))
        bodies.append("{% for x in " + chain + " %}{{ x }}{{ x.values }}{% endfor %}")

    rendered = []
    with django_assert_num_queries(0):
        for body in bodies:
            try:
                rendered.append(render(body, context))
            except TemplateRenderError:
                continue  # refused or failed: nothing sent

    assert len(rendered) > len(bodies) // 2
    assert_nothing_read("\n".join(rendered), secrets)


@pytest.mark.parametrize("event,audience", EVENTS)
def test_rendering_the_real_context_runs_no_query(
    agent, event, audience, django_assert_num_queries
):
    context = real_context(event, agent)
    body = " ".join(tag(path) for path in sorted(paths_for(event)))

    with django_assert_num_queries(0):
        text = render(body, context)

    assert "Printer jammed" in text and "Asha Rao" in text


@pytest.mark.parametrize("event,audience", EVENTS)
def test_the_preview_sees_exactly_the_variables_a_real_message_sees(agent, event, audience):
    template = NotificationTemplate(event=event, audience=audience, body="")

    assert set(sample_context(template)) == set(real_context(event, agent))


@pytest.mark.parametrize("event,audience", EVENTS)
@pytest.mark.parametrize("exploit", EXPLOITS[:3])
def test_the_preview_renders_nothing_from_the_database(
    admin_client, secrets, event, audience, exploit
):
    template = NotificationTemplate.objects.create(
        name="Exploit", event=event, audience=audience, body=f"[{exploit}]"
    )

    response = admin_client.get(
        reverse("admin:helpdesk_sms_notificationtemplate_change", args=[template.pk])
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert_nothing_read(html.replace(f"[{exploit}]", ""), secrets)
    assert "<pre" in html and "[]</pre>" in html


@pytest.mark.parametrize("event,audience", EVENTS)
def test_every_documented_variable_of_an_event_renders(agent, event, audience):
    context = real_context(event, agent)
    for path in paths_for(event):
        render(tag(path), context)  # raises if it does not exist


def test_the_readme_lists_every_variable_as_the_code_does():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()

    assert markdown_table() in readme
    assert all(f"{{{{ {v.name} }}}}" in readme for v in VARIABLES)


def test_a_template_naming_an_unknown_variable_is_refused_when_validated():
    template = NotificationTemplate(
        name="Bad",
        event="ticket_assigned",
        audience="assignee",
        body="Hi {{ assignee.name }}: {{ ticket.assigned_to.groups.all }}",
    )

    with pytest.raises(ValidationError) as caught:
        template.full_clean()

    assert caught.value.message_dict["body"] == [
        "{{ ticket.assigned_to.groups.all }} is not a template variable for the “ticket "
        "assigned” event; the variables are listed below the body."
    ]


def test_the_admin_refuses_an_unknown_variable_and_saves_nothing(admin_client):
    response = admin_client.post(
        reverse("admin:helpdesk_sms_notificationtemplate_add"),
        {
            "name": "Leaky",
            "event": "ticket_created",
            "audience": "customer",
            "body": "{{ ticket.assigned_to.groups.all.0.user_set.values }}",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert "is not a template variable for the “ticket created” event" in response.content.decode()
    assert not NotificationTemplate.objects.filter(name="Leaky").exists()


def test_the_template_form_shows_the_variables_table(admin_client):
    response = admin_client.get(reverse("admin:helpdesk_sms_notificationtemplate_add"))

    html = response.content.decode()
    assert 'class="template-variables"' in html
    assert "<code>{{ ticket.reference }}</code>" in html


def test_a_host_value_that_is_not_plain_is_not_given_to_templates(agent):
    ticket = Ticket.objects.create(title="T", customer_name="R", customer_phone="+9198")

    context = template_context.build(
        "ticket_created", ticket, {"sla": "4h", "provider_row": Provider(name="x")}
    )

    assert context["sla"] == "4h"
    assert "provider_row" not in context


def test_extra_template_variables_declared_in_settings_are_accepted(settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "EXTRA_TEMPLATE_VARIABLES": ["sla"]}
    template = NotificationTemplate(
        name="SLA",
        event="ticket_created",
        audience="customer",
        body="Within {{ sla }}",
        is_active=False,  # the shipped one is active: this one is about the variable only
    )

    template.full_clean()
