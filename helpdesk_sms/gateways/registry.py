"""Gateway name -> adapter class. ``Provider.gateway`` stores the name.

Labels are kept here rather than read from the classes, so loading the models never
imports an adapter module.
"""

from __future__ import annotations

from typing import NamedTuple

from django.conf import settings
from django.utils.module_loading import import_string

from .. import conf
from .base import Gateway


class Entry(NamedTuple):
    path: str
    label: str
    #: Sends nothing anywhere (logs it, or keeps it in memory): for development and tests.
    test_only: bool = False


#: Built-in adapters by registry name.
BUILTIN: dict[str, Entry] = {
    "canlog": Entry("helpdesk_sms.gateways.canlog.CanlogGateway", "Canlog"),
    "unified": Entry(
        "helpdesk_sms.gateways.unified.UnifiedGateway", "Unified Communications (RouteSMS-style)"
    ),
    "atl": Entry("helpdesk_sms.gateways.atl.AtlGateway", "ATL InfoTech (atlsms.az)"),
    "sms1601": Entry("helpdesk_sms.gateways.sms1601.Sms1601Gateway", "1601SMS"),
    "smsclone": Entry("helpdesk_sms.gateways.smsclone.SmscloneGateway", "smsclone.com"),
    "console": Entry(
        "helpdesk_sms.gateways.console.ConsoleGateway", "Console (log only)", test_only=True
    ),
    "memory": Entry(
        "helpdesk_sms.gateways.memory.MemoryGateway", "In-memory (tests)", test_only=True
    ),
}


def gateway_class(name: str) -> type[Gateway]:
    """The adapter class for ``name``; KeyError naming the known ones otherwise."""
    try:
        entry = BUILTIN[name]
    except KeyError:
        raise KeyError(f"unknown gateway {name!r}; known: {', '.join(sorted(BUILTIN))}") from None
    gateway: type[Gateway] = import_string(entry.path)
    return gateway


def choices() -> list[tuple[str, str]]:
    """(name, label) pairs of every gateway: the model's choices, so saved rows stay valid."""
    return [(name, entry.label) for name, entry in sorted(BUILTIN.items())]


def test_gateways_allowed() -> bool:
    """Whether test-only gateways are offered: with DEBUG on, or ALLOW_TEST_GATEWAYS."""
    return bool(settings.DEBUG or conf.get("ALLOW_TEST_GATEWAYS"))


def offered_choices(current: str = "") -> list[tuple[str, str]]:
    """The (name, label) pairs an operator may choose: test-only gateways only when allowed.

    ``current`` (a saved provider's gateway) is always kept, so a provider already using
    the console or in-memory gateway can still be edited.
    """
    allowed = test_gateways_allowed()
    return [
        (name, entry.label)
        for name, entry in sorted(BUILTIN.items())
        if allowed or not entry.test_only or name == current
    ]
