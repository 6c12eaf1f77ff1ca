"""India's DLT: a message's text checked against the pattern it is registered under.

Indian operators drop a message whose text differs from the template registered on the DLT
platform (Canlog answers 024, Unified 1033), after it was queued and often billed. The
registered text is stored with its template id (``NotificationTemplate.registered_pattern``
or ``send_sms(registered_pattern=…)``), and :func:`check_against_pattern` refuses a
rendered text that does not fit it before anything is queued, saying where the two differ.

Matching rules (also in docs/compliance.md):

* ``{#var#}`` (any letter case) stands for a value of 0 to :data:`VAR_MAX_CHARS` characters,
  any characters; DLT allows 30 per variable. The text around it stays literal: an empty
  value between two spaces (``ticket  is``, one space once whitespace is folded) does not
  fit ``ticket {#var#} is`` — when in doubt, refuse, as the operator may.
* Everything else is literal and case-sensitive.
* Whitespace: every run of spaces, tabs and line breaks counts as one space, and leading and
  trailing whitespace is ignored, in both texts (operators' scrubbers compare so; a
  template's line break and the registered text's space are the same to them).

Which ids go with a message (the template's, the sender's, the provider's) is decided by
:func:`resolve_ids`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .exceptions import SmsInputError

if TYPE_CHECKING:  # pragma: no cover
    from .models import Provider, SenderID

#: The longest value DLT lets one ``{#var#}`` stand for.
VAR_MAX_CHARS = 30
#: How a variable is written in a registered text.
VAR = re.compile(r"\{#var#\}", re.IGNORECASE)
#: Characters of each text shown around the place where they differ.
SNIPPET_CHARS = 24
#: Provider options holding the provider-wide default ids.
TEMPLATE_OPTION = "dlt_template_id"
ENTITY_OPTION = "dlt_entity_id"


class DltMismatch(SmsInputError):
    """The text is not the one registered on DLT: the operator would drop it."""

    field = "text"


@dataclass(frozen=True)
class DltIds:
    """The registered template id and principal entity id (PE ID) a message goes with."""

    template_id: str = ""
    entity_id: str = ""


def normalize_space(text: str) -> str:
    """``text`` with each whitespace run as one space and none at the ends."""
    return " ".join(text.split())


def pattern_errors(pattern: str) -> list[str]:
    """What is wrong with a registered pattern as written (stray ``{#`` or ``#}``)."""
    rest = VAR.sub("", pattern)
    problems = []
    if "{#" in rest or "#}" in rest:
        problems.append(
            "write each variable exactly as {#var#}; the pattern has a '{#' or '#}' that is "
            "not part of one"
        )
    if pattern and not normalize_space(pattern):
        problems.append("the pattern is only whitespace")
    return problems


def _pieces(pattern: str) -> list[str | None]:
    """The normalized pattern as literal characters and ``None`` for each variable."""
    pieces: list[str | None] = []
    for index, literal in enumerate(VAR.split(normalize_space(pattern))):
        if index:
            pieces.append(None)
        pieces.extend(literal)
    return pieces


def _reachable(pieces: list[str | None], text: str, var_max: int | None) -> list[set[int]]:
    """For each prefix of ``pieces`` (the empty one first), the positions in ``text`` a
    match of it can end at.

    A set per piece, not a backtracking regex: a pattern with several variables next to
    each other against a text that does not fit took a regex tens of seconds (on a ticket
    save); this takes at most pieces × text length × (``var_max`` + 1) steps.
    """
    end = len(text)
    states = {0}
    found = [states]
    for piece in pieces:
        if not states:
            states = set()
        elif piece is None:
            if var_max is None:  # any length: everything from the earliest end on
                states = set(range(min(states), end + 1))
            else:
                states = {p + n for p in states for n in range(var_max + 1) if p + n <= end}
        else:
            states = {p + 1 for p in states if p < end and text[p] == piece}
        found.append(states)
    return found


def _values(pieces: list[str | None], found: list[set[int]], end: int) -> list[int]:
    """The length of each variable's value in one match ending at ``end`` (walked back
    through ``found``)."""
    lengths: list[int] = []
    at = end
    for index in range(len(pieces), 0, -1):
        before = found[index - 1]
        if pieces[index - 1] is None:
            start = max(p for p in before if p <= at)
            lengths.append(at - start)
            at = start
        else:
            at -= 1
    return lengths[::-1]


def check_against_pattern(text: str, pattern: str) -> None:
    """Nothing when ``text`` fits the registered ``pattern`` (or there is none); else
    :class:`DltMismatch` saying where they differ."""
    if not pattern or not pattern.strip():
        return
    pieces = _pieces(pattern)
    got = normalize_space(text)
    strict = _reachable(pieces, got, VAR_MAX_CHARS)
    if len(got) in strict[-1]:
        return
    loose = _reachable(pieces, got, None)
    if len(got) in loose[-1]:
        lengths = _values(pieces, loose, len(got))
        number, length = next((i + 1, n) for i, n in enumerate(lengths) if n > VAR_MAX_CHARS)
        raise DltMismatch(
            f"The text does not match its registered DLT template: the value of {{#var#}} "
            f"number {number} has {length} characters, DLT allows {VAR_MAX_CHARS}."
        )
    # The longest start of the pattern that fits a start of the text: they differ after it.
    fits = max(i for i, ends in enumerate(strict) if ends)
    at_text = min(strict[fits])  # the shortest values: where a reader sees them part
    registered = normalize_space(pattern)
    at_pattern = _pattern_offset(pieces, fits)
    raise DltMismatch(
        f"The text does not match its registered DLT template at character {at_text + 1}: "
        f"the registered text goes on {_snippet(registered, at_pattern)}, the message "
        f"{_snippet(got, at_text)} (registered: {registered!r})."
    )


def _pattern_offset(pieces: list[str | None], count: int) -> int:
    """Where, in the normalized pattern, its first ``count`` pieces end."""
    return sum(len("{#var#}") if p is None else 1 for p in pieces[:count])


def _snippet(text: str, start: int) -> str:
    """A short quoted view of ``text`` from ``start`` ("(the end)" when there is none)."""
    rest = text[start:]
    if not rest:
        return "(nothing more)"
    cut = rest[:SNIPPET_CHARS]
    return repr(cut + ("…" if len(rest) > SNIPPET_CHARS else ""))


def resolve_ids(
    provider: Provider, sender: SenderID | None, template_id: str = "", entity_id: str = ""
) -> DltIds:
    """The ids a message goes with, each the first set of: the template's (or the call's),
    the sender ID's default, the provider's ``dlt_template_id``/``dlt_entity_id`` option.

    No template id, no DLT: the entity id is only ever sent with one, so it stays empty.
    """
    template_id, entity_id = template_id.strip(), entity_id.strip()
    if sender is not None:
        template_id = template_id or sender.registered_template_id.strip()
        entity_id = entity_id or sender.registered_entity_id.strip()
    options = provider.options or {}
    template_id = template_id or str(options.get(TEMPLATE_OPTION) or "").strip()
    if not template_id:
        return DltIds()
    return DltIds(template_id, entity_id or str(options.get(ENTITY_OPTION) or "").strip())
