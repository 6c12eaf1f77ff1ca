"""Django's generic classes, subscriptable at run time without patching Django.

django-stubs makes ``ModelAdmin[Provider]`` or ``ModelForm[SenderID]`` meaningful to the
type checker; at run time Django's classes cannot be subscripted unless the project calls
``django_stubs_ext.monkeypatch()``, which a reusable app leaves to the project. ``X[...]`` on
an :class:`Unsubscripted` is plain ``X``.
"""

from __future__ import annotations

from typing import Any


class Unsubscripted:
    """Wraps a class so that ``wrapper[params]`` is that class, unchanged."""

    def __init__(self, cls: type) -> None:
        self._cls = cls

    def __getitem__(self, _params: Any) -> type:
        return self._cls
