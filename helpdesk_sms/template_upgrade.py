"""Rewrite template bodies written for the old context (model instances) to the plain one.

Before templates rendered against plain values, a body could reach any attribute of the
ticket and the assignee. The common spellings of documented values are rewritten to their
names now (``{{ ticket.get_status_display }}`` -> ``{{ ticket.status }}``); what has no
plain equivalent is left as it is, reported, and renders empty until the template is edited
(saving it is refused until then). Used by migration 0006 and testable on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Old spelling -> new one. Longer paths first, so a prefix never wins over the whole path.
REWRITES: tuple[tuple[str, str], ...] = (
    ("ticket.assigned_to.get_full_name", "assignee.name"),
    ("ticket.assigned_to.get_short_name", "assignee.first_name"),
    ("ticket.assigned_to.first_name", "assignee.first_name"),
    ("ticket.assigned_to.username", "assignee.name"),
    ("ticket.assigned_to", "assignee_name"),
    ("assignee.get_full_name", "assignee.name"),
    ("assignee.get_short_name", "assignee.first_name"),
    ("assignee.get_username", "assignee.name"),
    ("assignee.username", "assignee.name"),
    ("ticket.get_status_display", "ticket.status"),
    ("ticket.get_priority_display", "ticket.priority"),
    ("ticket.queue.title", "ticket.queue"),
    ("ticket.ticket_for_url", "ticket.reference"),
    ("ticket.get_absolute_url", "ticket.url"),
    ("ticket.subject", "ticket.title"),
    ("followup.comment", "followup.text"),
    ("task.comment", "task.text"),
    ("task.description", "task.text"),
)

_TAG = re.compile(r"({{.*?}}|{%.*?%})", re.S)


def _path(old: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.]){re.escape(old)}(?![\w])")


_PATTERNS = [(_path(old), old, new) for old, new in REWRITES]


@dataclass
class Upgrade:
    """A body rewritten, and what was changed in it."""

    body: str
    changes: list[tuple[str, str]] = field(default_factory=list)


def upgrade(body: str) -> Upgrade:
    """``body`` with old spellings replaced inside its tags (text outside is untouched)."""
    changes: list[tuple[str, str]] = []

    def rewrite(match: re.Match[str]) -> str:
        tag = match.group(0)
        for pattern, old, new in _PATTERNS:
            tag, count = pattern.subn(new, tag)
            if count and (old, new) not in changes:
                changes.append((old, new))
        return tag

    return Upgrade(_TAG.sub(rewrite, body), changes)
