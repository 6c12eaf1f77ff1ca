"""Render SMS bodies with Django template syntax, as plain text.

A dedicated engine with autoescaping off: an SMS is not HTML, and "R&D" must not arrive
as "R&amp;D". Syntax errors, refused tags and render-time exceptions all become
:class:`TemplateRenderError`, so a broken template is reported, never raised into a host.

Whoever edits a template must not be able to text out the database, so templates render
against plain values only (:mod:`template_context` builds them): strings, numbers, dates
and the frozen views of the ticket, assignee and task. Anything else handed to
:func:`render` is replaced by an empty string before the template sees it, and tags that
reach outside the text (``{% include %}``, ``{% debug %}``, ``{% url %}``…) are refused.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from functools import cache, lru_cache
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError, VariableDoesNotExist
from django.utils.functional import Promise

from . import template_checks
from .template_checks import forbidden_tags
from .template_context import PLAIN_TYPES, PersonView, TaskView, TicketView

logger = logging.getLogger(__name__)

#: What a template may be given: plain data and the read-only views.
SAFE_TYPES = (*PLAIN_TYPES, datetime.timedelta, uuid.UUID, TicketView, PersonView, TaskView)


def safe_value(name: str, value: Any) -> Any:
    """``value`` when a template may see it, else "" (and a debug log naming ``name``)."""
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, SAFE_TYPES):
        return value
    logger.debug("helpdesk_sms: %r is not a plain value; templates see it empty", name)
    return ""


class TemplateRenderError(ValueError):
    """The template does not compile or does not render."""


@cache
def _engine() -> Engine:
    return Engine(autoescape=False, string_if_invalid="", libraries={})


@lru_cache(maxsize=512)
def _compiled(body: str) -> Template:
    """A body compiled once: every ticket event renders the same few templates, and
    compiling costs more than rendering. Compiled templates are safe to share."""
    template = _engine().from_string(body)
    refused = forbidden_tags(template)
    if refused:
        tags = ", ".join(f"{{% {name} %}}" for name in refused)
        raise TemplateSyntaxError(f"{tags} cannot be used in an SMS template")
    return template


def check_syntax(body: str) -> None:
    """Raise :class:`TemplateRenderError` naming the problem when ``body`` does not compile."""
    try:
        _compiled(body)
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"Template syntax error: {exc}") from None


def unknown_variables(body: str, event: str) -> list[str]:
    """The variables ``body`` uses that ``event`` does not provide (compiles it first)."""
    check_syntax(body)
    return template_checks.unknown_variables(_compiled(body), event)


def render(body: str, context: dict[str, Any]) -> str:
    """The rendered text, whitespace at both ends stripped."""
    try:
        template = _compiled(body)
        safe = {key: safe_value(key, value) for key, value in context.items()}
        return template.render(Context(safe, autoescape=False)).strip()
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"Template syntax error: {exc}") from None
    except VariableDoesNotExist as exc:  # a filter argument names nothing (its text: the context)
        name = exc.params[0] if exc.params else "?"
        raise TemplateRenderError(f"Template failed to render: no variable {name!r}") from None
    except Exception as exc:  # a filter failed on its value
        raise TemplateRenderError(
            f"Template failed to render: {type(exc).__name__}: {exc}"
        ) from None
