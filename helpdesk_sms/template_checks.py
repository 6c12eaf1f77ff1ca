"""What a compiled template uses: its variables and its tags, checked against what exists.

A template is refused when saved if it names a variable the event does not provide
(``{{ ticket.assigned_to }}``: a clear error naming it, rather than a silently empty SMS) or
uses a tag that has no business in an SMS (``{% include %}``, ``{% debug %}``…). Walks the
compiled node tree generically, so every tag's expressions are seen (``{% if %}``
conditions, ``{% for %}`` sequences, filter arguments), and names a tag binds (a loop
variable, ``{% with %}``, ``as x``) count as defined.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.template import Template
from django.template.base import FilterExpression, Node, Variable
from django.template.defaulttags import (
    CsrfTokenNode,
    DebugNode,
    ForNode,
    LoadNode,
    URLNode,
    WithNode,
)
from django.template.loader_tags import BlockNode, ExtendsNode, IncludeNode
from django.template.smartif import TokenBase

from . import conf
from .template_variables import LANGUAGE_NAMES, paths_for

#: Tags refused in SMS templates, by the name an error shows.
FORBIDDEN_TAGS: dict[type[Node], str] = {
    IncludeNode: "include",
    ExtendsNode: "extends",
    BlockNode: "block",
    DebugNode: "debug",
    LoadNode: "load",
    URLNode: "url",
    CsrfTokenNode: "csrf_token",
}

_SKIPPED_ATTRIBUTES = frozenset({"token", "origin", "template", "source"})


def _walk(obj: Any, seen: set[int]) -> Iterator[Any]:
    """Every node, filter expression and variable reachable from ``obj``."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _walk(item, seen)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _walk(item, seen)
    elif isinstance(obj, Variable):
        yield obj
    elif isinstance(obj, FilterExpression):
        yield from _walk(obj.var, seen)
        for _func, args in obj.filters:
            for _is_variable, arg in args:
                yield from _walk(arg, seen)
    elif isinstance(obj, (Node, TokenBase)):
        yield obj
        for name, value in vars(obj).items():
            if name not in _SKIPPED_ATTRIBUTES:
                yield from _walk(value, seen)


def _parts(template: Template) -> list[Any]:
    return list(_walk(template.nodelist, set()))


def forbidden_tags(template: Template) -> list[str]:
    """The refused tags ``template`` uses, each once, in order of appearance."""
    found: list[str] = []
    for part in _parts(template):
        name = FORBIDDEN_TAGS.get(type(part))
        if name and name not in found:
            found.append(name)
    return found


def _bound_names(parts: list[Any]) -> set[str]:
    names: set[str] = set()
    for part in parts:
        if isinstance(part, ForNode):
            names.update(part.loopvars)
        elif isinstance(part, WithNode):
            names.update(part.extra_context)
        for attribute in ("asvar", "var_name", "variable_name", "target"):
            value = getattr(part, attribute, None)
            if isinstance(value, str):
                names.add(value)
    return names


def unknown_variables(template: Template, event: str) -> list[str]:
    """The variables ``template`` uses that ``event`` does not provide, each once."""
    parts = _parts(template)
    defined = (
        paths_for(event)
        | LANGUAGE_NAMES
        | _bound_names(parts)
        | set(conf.get("EXTRA_TEMPLATE_VARIABLES"))
    )
    unknown: list[str] = []
    for part in parts:
        if not isinstance(part, Variable) or not part.lookups:
            continue
        path = ".".join(part.lookups)
        if part.lookups[0] in defined - paths_for(event):
            continue  # a name the template binds itself, or one the host declared
        if path not in defined and path not in unknown:
            unknown.append(path)
    return unknown
