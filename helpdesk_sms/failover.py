"""Failover: a message a provider provably did not take moves on along its route.

Only a *provable* non-acceptance moves a message (the gateway refused the connection, said
no before taking it, or refused our credentials, credit or sender): the gateway cannot have
it, so handing it to the next provider cannot send it twice. An ambiguous outcome (a read
timeout, a garbled answer) never moves it: ``unknown`` stays ``unknown``.

The next provider is the route's next one (by position) the message was never submitted
to: ``Message.providers_tried`` remembers every provider that refused it, so a message is
submitted at most once per provider's refusal and never goes back. Before it moves, the
message is checked again for that provider (its sender, allowed countries, what its gateway
can carry) and priced at its rates; a provider that cannot take it is skipped, with the
reason kept for the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from .compose import Composer
from .dlt import DltIds
from .exceptions import InvalidSender, SmsInputError
from .health import PROVABLE, CircuitBoard
from .health_models import CircuitState
from .models import Message, Provider
from .routing import Hop, RouteChoice, RouteTable

#: What proves the gateway did not take the message and that another provider may: its
#: connection refused or failing before acceptance, throttling, our account's credentials,
#: credit or sender refused. A bad number or text would be refused by the next one too.
#: The same categories count against a provider's health.
FAILOVER_CATEGORIES = PROVABLE

#: The fields a failover rewrites; an answer that arrives too late must not apply them.
REROUTE_FIELDS = frozenset(
    {
        "provider",
        "sender",
        "encoding",
        "parts",
        "estimated_cost",
        "currency",
        "gateway_options",
        "providers_tried",
        "attempts",
    }
)


@dataclass(frozen=True)
class Reroute:
    """Where a message goes next, what changes on it, and why, in words."""

    provider: Provider
    fields: dict[str, Any]
    note: str
    data: dict[str, Any] = field(default_factory=dict)


class Failover:
    """The next provider for messages of one outbox pass; the route table read once, each
    (route, provider) checked once, whatever the number of messages."""

    def __init__(
        self, table: RouteTable | None = None, circuits: CircuitBoard | None = None
    ) -> None:
        self._table = table
        #: Providers whose circuit is not closed are tried last.
        self.circuits = circuits
        self._composers: dict[tuple[Any, ...], Composer | SmsInputError] = {}

    @property
    def table(self) -> RouteTable:
        if self._table is None:
            self._table = RouteTable.load()
        return self._table

    def reroute(
        self, message: Message, failed: Provider, reason: str, *, refused: bool = True
    ) -> tuple[Reroute | None, str]:
        """The next provider for ``message`` after ``failed`` refused it for ``reason``
        (``refused=False``: after ``failed``'s open circuit kept it from being sent there).

        Returns the reroute (None when no provider is left) and the providers skipped as
        unable to take it, in words ("" when none was). After a refusal, providers whose
        circuit is open come last; past an open circuit, only providers whose circuit is
        closed are candidates. A provider that refused the message never comes again.
        """
        if not message.route_id or message.group_id:
            return None, ""  # a named provider, or a group that lives on its provider
        choice = self.table.route(message.route_id)
        if choice is None:
            return None, ""
        tried = list(message.providers_tried or [])
        if refused:
            tried.append(failed.pk)
        skipped: list[str] = []
        candidates = [h for h in choice.hops if h.provider.pk not in tried and h.provider != failed]
        if refused:
            candidates.sort(key=lambda h: self._unhealthy(h.provider))  # stable: route order
        else:
            # Past an open circuit only to a healthy provider: two open circuits on one route
            # would otherwise hand the messages back and forth without ever sending them.
            candidates = [h for h in candidates if not self._unhealthy(h.provider)]
        for hop in candidates:
            try:
                fields = self._fields_for(choice, hop, message)
            except SmsInputError as exc:
                skipped.append(f"{hop.provider.name} cannot take it ({exc})")
                continue
            fields["providers_tried"] = tried
            why = "did not take it" if refused else "has its circuit open"
            note = (
                f"failover: {failed.name} {why} ({reason}); next on route "
                f"{choice.name!r}: {hop.provider.name}"
            )
            if fields["estimated_cost"] is not None:
                note += f", priced {fields['estimated_cost']} {fields['currency']}"
            if skipped:
                note += "; skipped " + "; ".join(skipped)
            data = {
                "failover": {
                    "from": failed.name,
                    "to": hop.provider.name,
                    "route": choice.name,
                    "reason": reason,
                }
            }
            return Reroute(hop.provider, fields, note, data), "; ".join(skipped)
        return None, "; ".join(skipped)

    def _unhealthy(self, provider: Provider) -> bool:
        if self.circuits is None:
            return False
        return self.circuits.state(provider) != CircuitState.CLOSED

    def _fields_for(self, choice: RouteChoice, hop: Hop, message: Message) -> dict[str, Any]:
        """The message as ``hop``'s provider would send it, checked and priced; the
        SmsInputError saying why that provider cannot take it otherwise."""
        composer = self._composer(choice, hop, message)
        info = composer.text(message.body)
        composer.allowed_number(message.recipient)
        composer.via = choice  # the route's country profile, else the next provider's
        ids = DltIds(message.registered_template_id, message.registered_entity_id)
        composer.check_profile(info, ids)
        later = _later(message)
        return {
            "provider": hop.provider.pk,
            "sender": composer.route.sender,
            "encoding": info.encoding,
            "parts": info.parts,
            "estimated_cost": composer.prices.estimate(info.parts, message.recipient),
            "currency": composer.prices.currency,
            "gateway_options": dict(composer.gateway_options),
            "attempts": 0,
            # Held for its send time: at the gateway where the next provider schedules
            # there, else here until then.
            "next_attempt_at": (
                later if later is not None and not hop.provider.schedules_at_gateway() else None
            ),
        }

    def _composer(self, choice: RouteChoice, hop: Hop, message: Message) -> Composer:
        key = (
            choice.pk,
            hop.provider.pk,
            message.sender,
            message.flash,
            message.provider.gateway if message.provider is not None else "",
            _later(message) is not None,
            _options_key(message),
        )
        found = self._composers.get(key)
        if found is None:
            found = self._composers[key] = self._start(hop, message)
        if isinstance(found, SmsInputError):
            raise found
        return found

    @staticmethod
    def _start(hop: Hop, message: Message) -> Composer | SmsInputError:
        """The provider's composer: the route's sender for it, else its default sender, else
        the sender the message had. Options of another gateway do not travel."""
        same_gateway = message.provider is not None and (
            message.provider.gateway == hop.provider.gateway
        )
        options = dict(message.gateway_options or {}) if same_gateway else {}
        candidates: list[Any] = [hop.sender] if hop.sender is not None else [None, message.sender]
        error: SmsInputError | None = None
        for sender in candidates:
            try:
                return Composer.start(
                    provider=hop.provider,
                    sender=sender,
                    flash=message.flash,
                    send_at=_later(message),  # the next provider must be able to keep it
                    gateway_options=options,
                )
            except InvalidSender as exc:
                error = exc
            except SmsInputError as exc:
                return exc
        assert error is not None
        return error


def _options_key(message: Message) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (message.gateway_options or {}).items()))


def _later(message: Message) -> datetime | None:
    """The message's send time when it is still ahead (a gateway was to hold it)."""
    if message.send_at is not None and message.send_at > timezone.now():
        return message.send_at
    return None
