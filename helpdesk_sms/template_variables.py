"""The variables a notification template may use: one list, for the docs, the checks and the form.

Templates render against plain values only (see :mod:`template_context`): whatever is not
listed here does not exist for a template, so nothing a template author writes can walk from
a ticket to the database. The README's table, the template form's help and the save-time
check (:mod:`template_checks`) are all read off :data:`VARIABLES`, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .models import Event

ALL_EVENTS: frozenset[str] = frozenset(Event.values)
TASK_EVENTS: frozenset[str] = frozenset({Event.TASK_ADDED})


@dataclass(frozen=True)
class Variable:
    """One name a template may use, the events that provide it, and what it holds."""

    name: str
    meaning: str
    example: str
    events: frozenset[str] = ALL_EVENTS


VARIABLES: tuple[Variable, ...] = (
    Variable("ticket", "the ticket (its text is its reference and title)", "#12 Printer jammed"),
    Variable("ticket.id", "the ticket's number", "12"),
    Variable("ticket.pk", "the same number (kept for older templates)", "12"),
    Variable("ticket.reference", "how the helpdesk names it (django-helpdesk: queue-id)", "#12"),
    Variable("ticket.title", "the ticket's title (or subject)", "Printer jammed"),
    Variable("ticket.queue", "its queue, if the helpdesk has queues", "Support"),
    Variable("ticket.priority", "its priority, as the helpdesk shows it", "3. Normal"),
    Variable("ticket.status", "its status, as the helpdesk shows it", "Open"),
    Variable("ticket.url", "where the customer follows it ('' if the helpdesk has none)", ""),
    Variable("ticket.customer_name", "the customer's name, where the ticket has one", "Priya"),
    Variable("ticket_id", "= ticket.id", "12"),
    Variable("ticket_ref", "= ticket.reference", "support-12"),
    Variable("title", "= ticket.title", "Printer jammed"),
    Variable("queue", "= ticket.queue", "Support"),
    Variable("priority", "= ticket.priority", "3. Normal"),
    Variable("status", "= ticket.status", "Open"),
    Variable("ticket_url", "= ticket.url", "https://help.example.com/view/?ticket=…"),
    Variable("customer_name", "= ticket.customer_name", "Priya Sharma"),
    Variable("submitter", "the submitter's e-mail address (django-helpdesk)", "ravi@example.com"),
    Variable("assignee", "the agent the ticket is assigned to (its text is the name)", "Asha Rao"),
    Variable("assignee.name", "full name, else username ('' if unassigned)", "Asha Rao"),
    Variable("assignee.first_name", "their short name", "Asha"),
    Variable("assignee_name", "= assignee.name", "Asha Rao"),
    Variable("recipient_name", "who this message goes to (agent, contact or group)", "Asha Rao"),
    Variable("event", "the event's code", "ticket_assigned"),
    Variable("task", "the task or follow-up added (its text: its title)", "Toner", TASK_EVENTS),
    Variable("task.title", "its title", "Replace toner", TASK_EVENTS),
    Variable("task.text", "its text (a follow-up's comment)", "Toner ordered.", TASK_EVENTS),
    Variable("followup", "= task (django-helpdesk's name)", "Comment", TASK_EVENTS),
    Variable("followup.title", "= task.title", "Comment", TASK_EVENTS),
    Variable("followup.text", "= task.text", "Toner ordered.", TASK_EVENTS),
    Variable("followup_title", "= task.title", "Resolved", TASK_EVENTS),
    Variable("followup_comment", "= task.text", "Fixed by replacing the fuser.", TASK_EVENTS),
)

#: The names the template language itself provides (literals and the loop's counter).
LANGUAGE_NAMES = frozenset({"True", "False", "None", "forloop"})


def paths_for(event: str) -> frozenset[str]:
    """Every dotted path a template of ``event`` may use."""
    return frozenset(v.name for v in VARIABLES if event in v.events)


def _events_label(events: frozenset[str]) -> str:
    if events == ALL_EVENTS:
        return "all"
    return ", ".join(str(Event(e).label) for e in sorted(events))


def help_table() -> SafeString:
    """The variables as an HTML table, for the template form's help text."""
    rows = format_html_join(
        "",
        "<tr><td><code>{{{{ {} }}}}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((v.name, v.meaning, v.example, _events_label(v.events)) for v in VARIABLES),
    )
    return format_html(
        '<table class="template-variables"><thead><tr><th>variable</th><th>meaning</th>'
        "<th>example</th><th>events</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


def markdown_table() -> str:
    """The same table in Markdown: what the README shows (a test keeps them equal)."""
    lines = ["| variable | meaning | example | events |", "|---|---|---|---|"]
    for v in VARIABLES:
        example = f"`{v.example}`" if v.example else ""
        lines.append(
            f"| `{{{{ {v.name} }}}}` | {v.meaning} | {example} | {_events_label(v.events)} |"
        )
    return "\n".join(lines)
