"""Render SMS bodies with Django template syntax, as plain text.

A dedicated engine with autoescaping off: an SMS is not HTML, and "R&D" must not arrive
as "R&amp;D". Syntax errors and render-time exceptions both become
:class:`TemplateRenderError`, so a broken template is reported, never raised into a host.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.template import Context, Engine, TemplateSyntaxError


class TemplateRenderError(ValueError):
    """The template does not compile or does not render."""


@cache
def _engine() -> Engine:
    return Engine(autoescape=False, string_if_invalid="", libraries={})


def check_syntax(body: str) -> None:
    """Raise :class:`TemplateRenderError` naming the problem when ``body`` does not compile."""
    try:
        _engine().from_string(body)
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"Template syntax error: {exc}") from None


def render(body: str, context: dict[str, Any]) -> str:
    """The rendered text, whitespace at both ends stripped."""
    try:
        template = _engine().from_string(body)
        return template.render(Context(context, autoescape=False)).strip()
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"Template syntax error: {exc}") from None
    except Exception as exc:  # a context object's property raised while rendering
        raise TemplateRenderError(
            f"Template failed to render: {type(exc).__name__}: {exc}"
        ) from None
