"""Default phone-number resolvers; hosts replace them through settings.

``HELPDESK_SMS["CUSTOMER_PHONE_RESOLVER"]`` and ``["AGENT_PHONE_RESOLVER"]`` name
callables with these signatures.
"""

from __future__ import annotations

from typing import Any

#: Ticket attributes tried, in order, by the default customer resolver.
CUSTOMER_PHONE_ATTRIBUTES = ("customer_phone", "phone", "submitter_phone", "mobile")


def customer_phone_from_ticket(ticket: Any) -> str | None:
    """The first non-empty ``customer_phone`` / ``phone`` / … attribute of the ticket."""
    for name in CUSTOMER_PHONE_ATTRIBUTES:
        value = getattr(ticket, name, None)
        if value:
            return str(value)
    return None


def agent_phone_from_profile(user: Any) -> str | None:
    """The agent's phone from their SMS profile, if they opted in."""
    from .models import AgentProfile

    profile = AgentProfile.objects.filter(user=user).first()
    if profile is None or not profile.sms_opt_in or not profile.phone:
        return None
    return profile.phone
