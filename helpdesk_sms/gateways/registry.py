"""Gateway name -> adapter class. ``Provider.gateway`` stores the name.

Labels are kept here rather than read from the classes, so loading the models never
imports an adapter module.
"""

from __future__ import annotations

from typing import NamedTuple

from django.utils.module_loading import import_string

from .base import Gateway


class Entry(NamedTuple):
    path: str
    label: str


#: Built-in adapters by registry name.
BUILTIN: dict[str, Entry] = {
    "canlog": Entry("helpdesk_sms.gateways.canlog.CanlogGateway", "Canlog"),
    "unified": Entry(
        "helpdesk_sms.gateways.unified.UnifiedGateway", "Unified Communications (RouteSMS-style)"
    ),
    "atl": Entry("helpdesk_sms.gateways.atl.AtlGateway", "ATL InfoTech (atlsms.az)"),
    "sms1601": Entry("helpdesk_sms.gateways.sms1601.Sms1601Gateway", "1601SMS"),
    "smsclone": Entry("helpdesk_sms.gateways.smsclone.SmscloneGateway", "smsclone.com"),
    "console": Entry("helpdesk_sms.gateways.console.ConsoleGateway", "Console (log only)"),
    "memory": Entry("helpdesk_sms.gateways.memory.MemoryGateway", "In-memory (tests)"),
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
    """(name, label) pairs for forms and model choices."""
    return [(name, entry.label) for name, entry in sorted(BUILTIN.items())]
