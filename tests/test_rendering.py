"""Template rendering: plain text, clear errors, and only plain values reach a template."""

from __future__ import annotations

import pytest

from helpdesk_sms.rendering import TemplateRenderError, check_syntax, render, unknown_variables
from helpdesk_sms.template_context import TaskView, TicketView


def ticket_view(**fields) -> TicketView:
    values = dict(
        id=7,
        pk=7,
        reference="#7",
        title="R&D <printer>",
        queue="",
        priority="",
        status="Open",
        url="",
        customer_name="Priya",
    )
    return TicketView(**{**values, **fields})


class Account:
    """A rich object of the kind templates used to be given."""

    name = "Ops"
    api_key = "sk-live-123"

    def get_label(self) -> str:
        return f"account {self.name}"


def test_render_does_not_html_escape():
    assert render("{{ ticket.title }}", {"ticket": ticket_view()}) == "R&D <printer>"


def test_render_strips_surrounding_whitespace():
    assert render("  Ticket #{{ ticket.pk }}\n", {"ticket": ticket_view()}) == "Ticket #7"


def test_an_object_that_is_not_a_plain_value_renders_empty():
    assert render("[{{ account }}|{{ account.get_label }}]", {"account": Account()}) == "[|]"


def test_a_view_exposes_nothing_but_its_fields():
    body = "[{{ ticket.save }}{{ ticket.objects }}{{ ticket.assigned_to }}{{ ticket.0 }}]"
    assert render(body, {"ticket": ticket_view()}) == "[]"


def test_loops_and_filters_work_on_plain_values():
    body = "{% for c in title %}{{ c|upper }}{% endfor %}|{{ task|lower }}"
    context = {"title": "abc", "task": TaskView(title="Replace TONER")}
    assert render(body, context) == "ABC|replace toner"


def test_syntax_error_is_reported_with_the_problem():
    with pytest.raises(TemplateRenderError, match="Template syntax error"):
        check_syntax("{% if %}")


@pytest.mark.parametrize(
    "body",
    ['{% include "x.txt" %}', "{% debug %}", '{% url "admin:index" %}', "{% csrf_token %}"],
)
def test_tags_that_reach_outside_the_text_are_refused(body):
    with pytest.raises(TemplateRenderError, match="cannot be used in an SMS template"):
        check_syntax(body)


def test_load_is_refused():
    with pytest.raises(TemplateRenderError, match="not a registered tag library"):
        check_syntax("{% load static %}")


def test_a_filter_failing_on_its_value_becomes_a_render_error():
    with pytest.raises(TemplateRenderError, match="Template failed to render"):
        render("{{ ticket.title|date:x }}", {"ticket": ticket_view()})


def test_a_filter_argument_naming_nothing_is_reported_by_name():
    with pytest.raises(TemplateRenderError, match="no variable 'nothing'"):
        render("{{ title|default:nothing }}", {})


def test_unknown_variables_names_what_the_event_does_not_provide():
    body = "{{ ticket.title }} {{ ticket.assigned_to.groups }} {{ task }} {{ nope|default:x }}"
    assert unknown_variables(body, "ticket_created") == [
        "ticket.assigned_to.groups",
        "task",
        "nope",
        "x",
    ]


def test_unknown_variables_sees_if_conditions_and_for_sequences():
    body = "{% if ticket.secret %}{% endif %}{% for u in assignee.groups %}{{ u.name }}{% endfor %}"
    assert unknown_variables(body, "ticket_assigned") == ["ticket.secret", "assignee.groups"]


def test_names_a_template_binds_itself_are_known():
    body = (
        "{% for c in title %}{{ c }}{{ forloop.counter }}{% endfor %}"
        "{% with short=title|truncatechars:5 %}{{ short }}{% endwith %}{% if True %}{% endif %}"
    )
    assert unknown_variables(body, "ticket_created") == []


def test_task_variables_exist_only_for_the_task_event():
    assert unknown_variables("{{ task.title }}", "task_added") == []
    assert unknown_variables("{{ task.title }}", "ticket_assigned") == ["task.title"]
