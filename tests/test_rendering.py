"""Template rendering: plain text, clear errors, and no way to reach a secret."""

from __future__ import annotations

import pytest

from helpdesk_sms.rendering import TemplateRenderError, check_syntax, render


class Account:
    name = "Ops"
    api_key = "sk-live-123"

    def get_label(self) -> str:
        return f"account {self.name}"

    def delete(self) -> str:  # a method that changes data
        return "deleted"

    delete.alters_data = True


class Ticket:
    pk = 7
    title = "R&D <printer>"
    account = Account()
    tasks = ["Replace toner", "Clean rollers"]


def test_render_does_not_html_escape():
    assert render("{{ ticket.title }}", {"ticket": Ticket()}) == "R&D <printer>"


def test_render_strips_surrounding_whitespace():
    assert render("  Ticket #{{ ticket.pk }}\n", {"ticket": Ticket()}) == "Ticket #7"


def test_credential_like_attributes_render_empty_at_any_depth():
    assert render("[{{ ticket.account.api_key }}]", {"ticket": Ticket()}) == "[]"


def test_methods_are_called_and_their_results_shown():
    assert render("{{ ticket.account.get_label }}", {"ticket": Ticket()}) == "account Ops"


def test_methods_that_alter_data_are_not_called():
    assert render("[{{ ticket.account.delete }}]", {"ticket": Ticket()}) == "[]"


def test_loops_and_filters_work_on_guarded_objects():
    body = "{% for t in ticket.tasks %}{{ t|upper }};{% endfor %}"
    assert render(body, {"ticket": Ticket()}) == "REPLACE TONER;CLEAN ROLLERS;"


def test_syntax_error_is_reported_with_the_problem():
    with pytest.raises(TemplateRenderError, match="Template syntax error"):
        check_syntax("{% if %}")


def test_an_exception_while_rendering_becomes_a_render_error():
    class Exploding:
        @property
        def title(self):
            raise RuntimeError("boom")

    with pytest.raises(TemplateRenderError, match="RuntimeError: boom"):
        render("{{ ticket.title }}", {"ticket": Exploding()})
