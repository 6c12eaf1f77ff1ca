"""Render SMS bodies with Django template syntax, as plain text.

A dedicated engine with autoescaping off: an SMS is not HTML, and "R&D" must not arrive
as "R&amp;D". Syntax errors and render-time exceptions both become
:class:`TemplateRenderError`, so a broken template is reported, never raised into a host.

Whoever edits a template must not be able to text out a secret, so every object in the
context is wrapped in :class:`Guarded`: attributes whose names look like credentials
(``password``, ``api_key``, ``token``…) render empty, however deep they are reached
(``{{ ticket.assigned_to.password }}``).
"""

from __future__ import annotations

import datetime
import decimal
import re
import uuid
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.utils.functional import Promise

#: Attribute names never readable from a template.
SECRET_NAME = re.compile(r"(?i)(pass(word|wd)?|pwd|secret|token|api_?key|credential|session)")

_PLAIN = (
    str,
    bytes,
    int,
    float,
    bool,
    decimal.Decimal,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    Promise,
    type(None),
)


def guard(value: Any) -> Any:
    """``value`` itself when it is plain data, else wrapped in :class:`Guarded`."""
    if isinstance(value, (*_PLAIN, Guarded)):
        return value
    return GuardedCallable(value) if callable(value) else Guarded(value)


class Guarded:
    """A read-only view of an object for templates, hiding credential-like attributes."""

    __slots__ = ("_target",)

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        if SECRET_NAME.search(name):
            return ""
        return guard(getattr(self._target, name))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str) and SECRET_NAME.search(key):
            raise KeyError(key)
        return guard(self._target[key])

    def __iter__(self) -> Any:
        return (guard(item) for item in self._target)

    def __len__(self) -> int:
        return len(self._target)

    def __bool__(self) -> bool:
        return bool(self._target)

    def __str__(self) -> str:
        return str(self._target)

    def __eq__(self, other: object) -> bool:
        return self._target == (other._target if isinstance(other, Guarded) else other)

    def __hash__(self) -> int:
        return hash(self._target)


class TemplateRenderError(ValueError):
    """The template does not compile or does not render."""


class GuardedCallable(Guarded):
    """A guarded method or function: templates call it, and its result is guarded too.

    Separate from :class:`Guarded` because templates call anything callable, and a wrapped
    model instance must not look callable.
    """

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        target: Callable[..., Any] = self._target
        if getattr(target, "alters_data", False):
            return ""
        return guard(target(*args, **kwargs))


@cache
def _engine() -> Engine:
    return Engine(autoescape=False, string_if_invalid="", libraries={})


@lru_cache(maxsize=512)
def _compiled(body: str) -> Template:
    """A body compiled once: every ticket event renders the same few templates, and
    compiling costs more than rendering. Compiled templates are safe to share."""
    return _engine().from_string(body)


def check_syntax(body: str) -> None:
    """Raise :class:`TemplateRenderError` naming the problem when ``body`` does not compile."""
    try:
        _compiled(body)
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"Template syntax error: {exc}") from None


def render(body: str, context: dict[str, Any]) -> str:
    """The rendered text, whitespace at both ends stripped."""
    try:
        template = _compiled(body)
        guarded = {key: guard(value) for key, value in context.items()}
        return template.render(Context(guarded, autoescape=False)).strip()
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"Template syntax error: {exc}") from None
    except Exception as exc:  # a context object's property raised while rendering
        raise TemplateRenderError(
            f"Template failed to render: {type(exc).__name__}: {exc}"
        ) from None
