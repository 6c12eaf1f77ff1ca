"""Gateway simulators: one protocol-faithful HTTP server per gateway, with fault injection.

``get_simulator("canlog", delivery_delay=5).start()`` gives a running gateway on 127.0.0.1;
see :mod:`helpdesk_sms.simulators.base` for the shared API. Nothing here needs Django.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import ManualClock, SimRequest, SimResponse, Simulator, SimulatorError

__all__ = [
    "SIMULATORS",
    "ManualClock",
    "SimRequest",
    "SimResponse",
    "Simulator",
    "SimulatorError",
    "get_simulator",
]

#: Simulator name (the gateway's registry name) -> dotted path of its class.
SIMULATORS: dict[str, str] = {
    "canlog": "helpdesk_sms.simulators.canlog.CanlogSimulator",
    "unified": "helpdesk_sms.simulators.unified.UnifiedSimulator",
    "atl": "helpdesk_sms.simulators.atl.AtlSimulator",
    "sms1601": "helpdesk_sms.simulators.sms1601.Sms1601Simulator",
    "smsclone": "helpdesk_sms.simulators.smsclone.SmscloneSimulator",
}


def simulator_class(name: str) -> type[Simulator]:
    """The class simulating gateway ``name``; KeyError naming the known ones otherwise."""
    try:
        path = SIMULATORS[name]
    except KeyError:
        raise KeyError(
            f"no simulator for gateway {name!r}; known: {', '.join(sorted(SIMULATORS))}"
        ) from None
    module, _, attr = path.rpartition(".")
    found: type[Simulator] = getattr(importlib.import_module(module), attr)
    return found


def get_simulator(name: str, **options: Any) -> Simulator:
    """A new, not yet started simulator of gateway ``name`` built with ``options``."""
    return simulator_class(name)(**options)
