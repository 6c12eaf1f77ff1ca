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
from typing import TYPE_CHECKING, Any

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


def _regex(pieces: list[str | None], var_max: int | None) -> re.Pattern[str]:
    limit = "*" if var_max is None else f"{{0,{var_max}}}"
    return re.compile(
        "".join(f"(.{limit}?)" if p is None else re.escape(p) for p in pieces), re.DOTALL
    )


def check_against_pattern(text: str, pattern: str) -> None:
    """Nothing when ``text`` fits the registered ``pattern`` (or there is none); else
    :class:`DltMismatch` saying where they differ."""
    if not pattern or not pattern.strip():
        return
    pieces = _pieces(pattern)
    got = normalize_space(text)
    if _regex(pieces, VAR_MAX_CHARS).fullmatch(got):
        return
    loose = _regex(pieces, None).fullmatch(got)
    if loose is not None:
        long = [i + 1 for i, value in enumerate(loose.groups()) if len(value) > VAR_MAX_CHARS]
        raise DltMismatch(
            f"The text does not match its registered DLT template: the value of {{#var#}} "
            f"number {long[0]} has {len(loose.group(long[0]))} characters, DLT allows "
            f"{VAR_MAX_CHARS} (value {_snippet(loose.group(long[0]), 0)})."
        )
    # The longest start of the pattern that fits a start of the text: they differ after it.
    fits = 0
    match = None
    for size in range(1, len(pieces) + 1):
        found = _regex(pieces[:size], VAR_MAX_CHARS).match(got)
        if found is None:
            break
        fits, match = size, found
    at_text = match.end() if match is not None else 0
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


def stored_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """A stored message's gateway options without the entity id the composer put there:
    what a template or call chose, to compose the message again (a re-send, a failover)."""
    return {k: v for k, v in (options or {}).items() if k != ENTITY_OPTION}


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
