"""Texting a recipient group's members from the admin: plan it, confirm it, follow it.

:func:`plan` reads the members once and composes every message in memory through the
:class:`~helpdesk_sms.compose.Composer` all entry points use, priced by the provider's
:class:`~helpdesk_sms.pricing.PriceList`: the preview cannot promise what sending then
refuses, and nothing is written. :func:`confirm` writes a plan in one transaction with the
API's bulk inserts; the form's token is unique, so the same form confirmed twice sends once.
:func:`progress` counts a send's messages by state in one aggregate query.

Provider-side groups (a gateway's own group id) are not planned here: their members are the
gateway's to know, so there is nothing to count or price before sending.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum

from . import consent
from .api import CHUNK_SIZE, insert_messages
from .compose import Composer, Composers, apply_smart_replace
from .dlt import DltMismatch, check_against_pattern
from .exceptions import InvalidRecipient, SmsInputError
from .gateways.base import Capability
from .inputs import check_text as check_input_text
from .kick import dispatch_on_commit
from .models import (
    Audience,
    Event,
    GroupSend,
    Message,
    NotificationTemplate,
    Provider,
    RecipientGroup,
    SenderID,
)
from .rendering import TemplateRenderError, render, unknown_variables
from .states import Status

#: What a template sent to a group may use: there is no ticket, only the member texted.
GROUP_VARIABLES = frozenset({"recipient_name", "event"})

#: States in which a message was accepted by the gateway: its parts are billed.
BILLED = frozenset({Status.ACCEPTED, Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED})

#: States in which a message is still ours to send.
ON_ITS_WAY = frozenset({Status.SCHEDULED, Status.QUEUED, Status.SENDING})

#: States in which a delivery report may still come (where the gateway reports delivery).
AWAITING_REPORT = frozenset({Status.ACCEPTED, Status.UNKNOWN})


@dataclass(frozen=True)
class Skipped:
    """A member not texted, and why (the composer's own words)."""

    name: str
    phone: str
    reason: str


@dataclass(frozen=True)
class Draft:
    """One member's message as it would be sent, and the composer (provider) it goes by."""

    name: str
    number: str
    body: str
    encoding: str
    parts: int
    cost: Decimal | None
    composer: Composer = field(compare=False, repr=False)


@dataclass
class Plan:
    """Everything a confirmed send would write, and what the preview shows of it."""

    group: RecipientGroup
    composer: Composer
    text: str
    template: NotificationTemplate | None
    drafts: list[Draft]
    skipped: list[Skipped]
    inactive: int = 0
    opted_out: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def provider(self) -> Provider:
        return self.composer.provider

    @property
    def routes(self) -> list[tuple[Composer, int]]:
        """Each provider the members' routes chose and how many messages it carries, most
        first; one entry, the plan's composer, when no route applies."""
        counts: dict[int, tuple[Composer, int]] = {}
        for draft in self.drafts:
            composer, count = counts.get(id(draft.composer), (draft.composer, 0))
            counts[id(draft.composer)] = (composer, count + 1)
        return sorted(counts.values(), key=lambda pair: -pair[1])

    @property
    def sender(self) -> str:
        return self.composer.route.sender

    @property
    def currency(self) -> str:
        return self.composer.prices.currency

    @property
    def total_parts(self) -> int:
        return sum(d.parts for d in self.drafts)

    @property
    def parts_range(self) -> tuple[int, int]:
        parts = [d.parts for d in self.drafts]
        return min(parts), max(parts)

    @property
    def encodings(self) -> list[str]:
        return sorted({d.encoding for d in self.drafts})

    @property
    def estimated_cost(self) -> Decimal | None:
        """The priced messages' costs added up; None when none has a price."""
        costs = [d.cost for d in self.drafts if d.cost is not None]
        return sum(costs, Decimal(0)) if costs else None

    @property
    def unpriced(self) -> int:
        """Messages without a price (a region priced by nobody), not in the estimate."""
        return sum(d.cost is None for d in self.drafts)

    def digest(self) -> str:
        """A fingerprint of what would be sent: a confirm whose plan differs from the
        previewed one (the text edited, a member added) must be previewed again."""
        template = self.template
        what = [
            self.text,
            template.pk if template else None,
            template.updated_at.isoformat() if template else None,
            self.provider.pk,
            self.sender,
            self.composer.gateway_options,
            [(d.number, d.body, str(d.cost), d.composer.provider.pk) for d in self.drafts],
            [s.phone for s in self.skipped],
        ]
        encoded = json.dumps(what, sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()[:32]


def plan(
    group: RecipientGroup,
    *,
    text: str = "",
    template: NotificationTemplate | None = None,
    provider: Provider | None = None,
    sender: SenderID | None = None,
) -> Plan:
    """The messages a send of ``text`` (or ``template``) to ``group``'s members would create.

    Raises :class:`SmsInputError` naming the field to fix: ``text``, ``template``,
    ``provider``, ``sender``, or ``group`` for what only the group's page can fix. Members
    whose number the provider cannot text are skipped with the reason, not refused.
    """
    if group.provider_group_id:
        raise SmsInputError(
            f"Group {group.name!r} is kept on the gateway (group id {group.provider_group_id}): "
            "its members are the gateway's to know. Send to it with sms_send --group or a "
            "template for the 'recipient group' audience.",
            field="group",
        )
    if template is None:
        check_input_text(text, "text")
    else:
        check_template(template)
    members = list(
        group.members.order_by("name", "pk").values_list("name", "phone", "is_active", "opted_out")
    )
    listed = consent.opted_out_numbers(phone for _n, phone, _a, _o in members)
    members = [
        (name, phone, active, out or phone in listed) for name, phone, active, out in members
    ]
    texted = [(name, phone) for name, phone, active, out in members if active and not out]
    inactive = sum(not active for _n, _p, active, _o in members)
    opted_out = sum(bool(active and out) for _n, _p, active, out in members)
    if not texted:
        raise SmsInputError(
            f"Group {group.name!r} has no members to text ({len(members)} in all, {inactive} "
            f"inactive, {opted_out} opted out): add contacts on the group's page.",
            field="group",
        )
    composers = _composers(group, template, provider, sender)
    notes: set[str] = set()
    body = ""
    if template is None:
        body, note = apply_smart_replace(text, None)
        notes.add(note)
        for composer in composers.all:
            composer.text(body)  # the text's verdict before any member's
    drafts: list[Draft] = []
    skipped: list[Skipped] = []
    for name, phone in texted:
        try:
            composer, number = composers.for_number(phone)
        except InvalidRecipient as exc:
            skipped.append(Skipped(name, phone, str(exc)))
            continue
        except SmsInputError as exc:  # a routed provider's verdict on the shared input
            raise _template_error(exc) from None
        if template is not None:
            body, note = _render(template, name)
            notes.add(note)
            _check_rendered(composer, body, name)
        info = composer.text(body)
        cost = composer.prices.estimate(info.parts, number)
        drafts.append(Draft(name, number, body, info.encoding, info.parts, cost, composer))
    if not drafts:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in skipped[:3])
        raise SmsInputError(
            f"None of the {len(texted)} members of group {group.name!r} has a number provider "
            f"{_providers_named(composers)} can text ({reasons}).",
            field="group",
        )
    return Plan(
        group=group,
        composer=drafts[0].composer,
        text=template.body if template is not None else text,
        template=template,
        drafts=drafts,
        skipped=skipped,
        inactive=inactive,
        opted_out=opted_out,
        notes=sorted(n for n in notes if n),
    )


def check_template(template: NotificationTemplate) -> None:
    """Refuse a template that needs a ticket: a group send has none to fill it with."""
    try:
        used = unknown_variables(template.body, "")  # with no event, every variable used
    except TemplateRenderError as exc:
        raise SmsInputError(str(exc), field="template") from None
    needs = [name for name in used if name not in GROUP_VARIABLES]
    if needs:
        names = ", ".join(f"{{{{ {name} }}}}" for name in needs)
        raise SmsInputError(
            f"Template {template.name!r} uses {names}, which a group send has no value for "
            "(there is no ticket): choose a template using only {{ recipient_name }}, or "
            "type the text.",
            field="template",
        )


def _providers_named(composers: Composers) -> str:
    names = [repr(c.provider.name) for c in composers.all]
    return "provider " + names[0] if len(names) == 1 else "providers " + ", ".join(names)


def _composers(
    group: RecipientGroup,
    template: NotificationTemplate | None,
    provider: Provider | None,
    sender: SenderID | None,
) -> Composers:
    """The chosen provider and sender, else the template's, else each member's route.

    The template's sender is its provider's, so it is used only through that provider.
    Weighted choices are drawn from a generator seeded by the group, so the confirmed send
    picks what the preview showed.
    """
    if template is not None:
        chosen = provider or template.provider
        if sender is None and template.sender and chosen == template.provider:
            sender = template.sender
        provider = chosen
    try:
        return Composers(
            provider=provider,
            sender=sender,
            gateway_options=template.gateway_options if template is not None else None,
            rng=random.Random(f"group send to {group.pk}"),
        )
    except SmsInputError as exc:
        raise _template_error(exc) from None


def _template_error(exc: SmsInputError) -> SmsInputError:
    """Gateway options come from the template here: the error belongs to that field."""
    if exc.field == "gateway_options":
        return SmsInputError(f"The template's {exc.message}", field="template")
    return exc


def _render(template: NotificationTemplate, name: str) -> tuple[str, str]:
    """The template's text for one member, smart-replaced as the template says."""
    try:
        body = render(template.body, {"recipient_name": name, "event": Event.MANUAL.value})
    except TemplateRenderError as exc:
        raise SmsInputError(str(exc), field="template") from None
    body, note = apply_smart_replace(body, template.smart_replace or None)
    try:
        check_against_pattern(body, template.registered_pattern)
    except DltMismatch as exc:
        raise SmsInputError(f"Rendered for {name}: {exc.message}", field="template") from None
    return body, note


def _check_rendered(composer: Composer, body: str, name: str) -> None:
    """A rendered text's problems belong to the template (the field that chose it)."""
    try:
        composer.text(body)
    except SmsInputError as exc:
        raise SmsInputError(f"Rendered for {name}: {exc.message}", field="template") from None


def confirm(plan: Plan, *, token: str, user: Any) -> tuple[GroupSend, bool]:
    """Write ``plan``: its record and all its messages in one transaction, then kick.

    Returns the send and True, or, when ``token`` was confirmed already (a double click, a
    refresh, a race with another request), that send and False: nothing more is written.
    """
    fields: dict[str, Any] = {"event": Event.MANUAL, "audience": Audience.GROUP}
    if plan.template is not None:
        fields["template"] = plan.template
        fields["registered_template_id"] = plan.template.registered_template_id
        fields["registered_entity_id"] = plan.template.registered_entity_id
        fields["priority"] = plan.template.priority
    note = "; ".join([f"queued by a send to group {plan.group.name!r} by {user}", *plan.notes])
    try:
        with transaction.atomic():
            send = GroupSend.objects.create(
                group=plan.group,
                group_name=plan.group.name,
                template=plan.template,
                text=plan.text,
                provider=plan.provider,
                sender=plan.sender,
                created_by=user,
                token=token,
                recipients=len(plan.drafts),
                skipped=[s.__dict__ for s in plan.skipped],
                parts=plan.total_parts,
                estimated_cost=plan.estimated_cost,
                currency=plan.currency,
            )
            # Opted out since the preview: written suppressed, not queued (one read).
            listed = consent.opted_out_numbers(d.number for d in plan.drafts)
            drafts = iter(plan.drafts)
            while chunk := list(islice(drafts, CHUNK_SIZE)):
                messages = [
                    d.composer.message(recipient=d.number, body=d.body, group_send=send, **fields)
                    for d in chunk
                ]
                opted_out = consent.screen(messages, listed)
                notes = [
                    opted_out.get(id(m)) or "; ".join(filter(None, [note, d.composer.route_note]))
                    for m, d in zip(messages, chunk, strict=True)
                ]
                insert_messages(messages, notes)
            dispatch_on_commit()
    except IntegrityError:
        existing = GroupSend.objects.filter(token=token).first()
        if existing is None:
            raise
        return existing, False
    return send, True


@dataclass(frozen=True)
class Progress:
    """A send's messages by state, and whether anything may still change."""

    counts: dict[str, int]
    total: int
    parts: int
    cost: Decimal | None
    phase: str  # "sending", "awaiting reports" or "final"

    @property
    def final(self) -> bool:
        return self.phase == "final"


def progress(send: GroupSend) -> Progress:
    """Counts by state, billed parts and cost so far: one aggregate query.

    ``accepted`` and ``unknown`` messages still wait for a delivery report where the
    provider's gateway reports delivery; where it does not, they are as final as they get.
    """
    row = Message.objects.filter(group_send=send).aggregate(
        total=Count("pk"),
        parts=Sum("parts", filter=Q(status__in=BILLED)),
        cost=Sum("cost"),
        **{f"n_{status}": Count("pk", filter=Q(status=status)) for status in Status.values},
    )
    counts = {status: row[f"n_{status}"] for status in Status.values}
    if any(counts[s] for s in ON_ITS_WAY):
        phase = "sending"
    elif _reports_delivery(send.provider) and any(counts[s] for s in AWAITING_REPORT):
        phase = "awaiting reports"
    else:
        phase = "final"
    return Progress(counts, row["total"], row["parts"] or 0, row["cost"], phase)


def _reports_delivery(provider: Provider | None) -> bool:
    if provider is None:
        return False
    try:
        gateway = provider.gateway_class()
    except (KeyError, ImportError):
        return False
    return gateway.has(Capability.DLR_POLL) or gateway.has(Capability.DLR_PUSH)
