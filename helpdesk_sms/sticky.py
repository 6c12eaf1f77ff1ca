"""Sticky sender: a customer keeps hearing from the provider and sender they last heard from.

A customer who replies to an SMS about a ticket replies to the number (or sender ID) it
came from, on the provider that carried it. If the next message about that ticket came
from another sender (a route's weighted pick, a queue moved to another provider), their
next reply would reach another number, and threading (:mod:`.reply_threading`) would see a
stranger. So a notification to a customer about a ticket goes out from the provider and
sender of the most recent message to that number about that ticket, while that provider is
active; failover may still move the message on later, as it may any message.

Only messages that went, or are still going, out count (not suppressed, failed or
canceled ones: the customer never heard from those). A template that names its own
provider or sender keeps it: that is the operator's explicit choice for that template.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType

from .models import Audience, Message, Provider
from .phones import PhoneNumberError, normalize
from .states import Status

#: Statuses of messages the customer never received: they set no sticky sender.
NOT_HEARD = (Status.SUPPRESSED, Status.FAILED, Status.CANCELED)

#: (ticket content type pk, ticket pk as text): how messages name their ticket.
TicketKey = tuple[int, str]


@dataclass(frozen=True)
class StickyRoute:
    """The provider and sender a number last heard from about one ticket."""

    recipient: str  # E.164
    provider: Provider
    sender: str


def ticket_key(ticket: Any) -> TicketKey:
    ticket_type = ContentType.objects.get_for_model(ticket, for_concrete_model=False)
    return ticket_type.pk, str(ticket.pk)


def _heard(queryset: Any) -> Any:
    """Messages the number heard (or will hear) from a provider, newest first."""
    return (
        queryset.exclude(status__in=NOT_HEARD)
        .exclude(provider=None)
        .select_related("provider__default_sender")
        .order_by("-created_at", "-pk")
    )


class StickyRoutes:
    """The sticky routes of a notification pass's tickets, read in one query.

    ``load`` is given the tickets the pass texts customers about; :meth:`route_for` then
    answers from memory for each of their numbers.
    """

    def __init__(self, latest: dict[TicketKey, dict[str, StickyRoute]] | None = None) -> None:
        self._latest = latest or {}

    @classmethod
    def load(cls, keys: Iterable[TicketKey]) -> StickyRoutes:
        by_type: dict[int, set[str]] = {}
        for type_pk, ticket_pk in keys:
            by_type.setdefault(type_pk, set()).add(ticket_pk)
        if not by_type:
            return cls()
        from django.db.models import Q

        condition = Q()
        for type_pk, ticket_pks in by_type.items():
            condition |= Q(ticket_type_id=type_pk, ticket_id__in=sorted(ticket_pks))
        latest: dict[TicketKey, dict[str, StickyRoute]] = {}
        customers = Message.objects.filter(condition, audience=Audience.CUSTOMER)
        for message in _heard(customers.exclude(recipient="")):
            numbers = latest.setdefault((message.ticket_type_id, message.ticket_id), {})
            numbers.setdefault(
                message.recipient,
                StickyRoute(message.recipient, message.provider, message.sender),
            )
        return cls(latest)

    def route_for(self, key: TicketKey, phone: str | None) -> StickyRoute | None:
        """The sticky route of ``phone`` (as the resolver gave it) about ticket ``key``.

        The number is read as each provider that texted it would read it (its default
        region), so "98123 45678" finds "+919812345678". None when there is none, or its
        provider is no longer active.
        """
        numbers = self._latest.get(key)
        if not numbers or not phone:
            return None
        for route in numbers.values():
            try:
                e164 = normalize(phone, route.provider.default_region or None)
            except PhoneNumberError:
                continue
            found = numbers.get(e164)
            if found is not None:
                return found if found.provider.is_active else None
        return None


def sticky_route(number: str, ticket: Any) -> tuple[Provider, str] | None:
    """The provider and sender ``number`` (E.164) last heard from about ``ticket``.

    For anything that answers a customer outside a notification (a keyword confirmation):
    one query. None when the number was never texted about the ticket, or that provider is
    no longer active.
    """
    type_pk, ticket_pk = ticket_key(ticket)
    message = _heard(
        Message.objects.filter(ticket_type_id=type_pk, ticket_id=ticket_pk, recipient=number)
    ).first()
    if message is None or message.provider is None or not message.provider.is_active:
        return None
    return message.provider, message.sender
