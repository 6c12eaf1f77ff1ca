"""The template preview in the admin: the body rendered with sample data, and its cost.

Shows what an operator needs before saving a template: the text as sent, its encoding and
parts, which character forces Unicode and what smart replacement would save, and whether
each gateway would take it. Sample values only: a preview never reaches real data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from phonenumbers import PhoneNumberType

from . import conf, country_profiles, quiet_hours, template_context
from . import text as sms_text
from .compose import Route, apply_smart_replace, check_text
from .exceptions import SmsInputError
from .gateways import registry
from .models import NotificationTemplate, Provider
from .pricing import PriceList, format_cost
from .rendering import TemplateRenderError, render
from .template_variables import TASK_EVENTS

logger = logging.getLogger(__name__)


@dataclass
class _SampleUser:
    """Stands in for the assigned agent in previews; no real account is read."""

    first_name: str = "Asha"
    last_name: str = "Rao"
    username: str = "asha"

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def get_short_name(self) -> str:
        return self.first_name

    def get_username(self) -> str:
        return self.username


@dataclass
class _SampleTask:
    title: str = "Replace toner"
    comment: str = "The toner is ordered and arrives tomorrow."


@dataclass
class _SampleTicket:
    pk: int = 123
    title: str = "Printer on floor 3 is jammed"
    customer_name: str = "Priya Sharma"
    queue: str = "Support"
    priority: str = "3. Normal"
    status: str = "Open"
    assigned_to: _SampleUser = field(default_factory=_SampleUser)

    def get_absolute_url(self) -> str:
        return "https://help.example.com/tickets/123/"


def sample_context(template: NotificationTemplate) -> dict[str, Any]:
    """What a notification of the template's event renders with, built from made-up values.

    Built by the very function notifications use (:func:`template_context.build`), so the
    preview shows exactly the variables a real message has, and from sample objects only:
    a preview never reaches real data.
    """
    ticket = _SampleTicket()
    given: dict[str, Any] = {"assignee": ticket.assigned_to}
    if template.event in TASK_EVENTS:
        given["task"] = _SampleTask()
    context = template_context.build(template.event or "", ticket, given)
    recipient = {
        "assignee": context["assignee"].name,
        "group": template.group.name if template.group_id and template.group else "",
    }.get(template.audience, "")
    return template_context.for_recipient(context, template.audience, recipient)


@dataclass(frozen=True)
class GatewayVerdict:
    """Whether one gateway would take a text: ``problem`` is empty when it would."""

    name: str
    label: str
    problem: str = ""


def text_verdict(gateway: str, body: str, provider: Provider | None = None) -> str:
    """Why ``gateway`` (``provider``, with its options, when given) would refuse ``body``.

    "" when it would take it. Asks ``compose.check_text`` (through an unsaved provider
    when none is given) rather than repeating its rules, so the preview can never promise
    what sending then refuses.
    """
    try:
        check_text(Route(provider or Provider(gateway=gateway), sender=""), body)
    except SmsInputError as exc:
        return str(exc)
    return ""


def gateway_verdicts(body: str, current: str = "") -> list[GatewayVerdict]:
    """The verdict of every offered gateway whose adapter loads, in registry order.

    An adapter that does not import (being written, or broken) is left out: a preview
    must not fail for a gateway the template may never use. So are the test-only ones
    unless allowed (``registry.offered_choices``), but never ``current``, the gateway of
    the template's own provider.
    """
    verdicts = []
    for name, label in registry.offered_choices(current):
        try:
            registry.gateway_class(name)
        except Exception as exc:  # SyntaxError, NameError… as well as ImportError
            logger.debug("helpdesk_sms: preview skips gateway %s: %s", name, exc)
            continue
        verdicts.append(GatewayVerdict(name, label, text_verdict(name, body)))
    return verdicts


ENCODING_LABELS = {
    sms_text.GSM7: _("GSM-7"),
    sms_text.UCS2: _("Unicode (UCS-2)"),
    sms_text.LATIN1: _("ISO-8859-1 (8-bit)"),
}
UNIT_LABELS = {
    sms_text.GSM7: _("septets"),
    sms_text.UCS2: _("UCS-2 units"),
    sms_text.LATIN1: _("octets"),
}


def _carries_latin1(provider: Provider | None) -> bool:
    """True when the template's provider sends ISO-8859-1 texts as such (Unified's charset)."""
    if provider is None:
        return False
    try:
        return sms_text.LATIN1 in provider.get_gateway().text_encodings()
    except Exception:  # a gateway that does not load: its provider page reports it
        return False


def _pairs(changes: list[tuple[str, str]]) -> str:
    return ", ".join(f"{old!r} -> {new!r}" for old, new in changes)


def smart_replace_hint(text: str, info: sms_text.TextInfo) -> str:
    """What smart replacement would change, when only typographic characters cost the parts.

    "" when the text is GSM-7 already or other characters keep it Unicode anyway: then
    replacing would change the text and save nothing.
    """
    if not info.is_unicode:
        return ""
    replaced, changes = sms_text.smart_replace(text)
    after = sms_text.analyze(replaced)
    if not changes or after.is_unicode:
        return ""
    if after.parts < info.parts:
        saving = ngettext(
            "%(after)d part instead of %(before)d",
            "%(after)d parts instead of %(before)d",
            after.parts,
        ) % {"after": after.parts, "before": info.parts}
    else:
        saving = _(
            "still %(parts)s, with room for %(gsm)d characters a part instead of %(ucs)d"
        ) % {
            "parts": ngettext("%(n)d part", "%(n)d parts", after.parts) % {"n": after.parts},
            "gsm": after.per_part_limit,
            "ucs": info.per_part_limit,
        }
    return _(
        "Only typographic characters make this text Unicode. With \u201creplace typographic "
        "characters\u201d ticked, %(pairs)s would be replaced and the text sent as GSM-7: "
        "%(saving)s."
    ) % {"pairs": _pairs(changes), "saving": saving}


def _verdict_table(verdicts: list[GatewayVerdict]) -> SafeString:
    rows = format_html_join(
        "",
        '<tr><td>{}</td><td class="{}">{}</td></tr>',
        ((v.label, "refused" if v.problem else "ok", v.problem or _("OK")) for v in verdicts),
    )
    return format_html(
        '<table class="gateway-verdicts"><caption>{}</caption>'
        "<thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("Would each gateway take this text?"),
        _("gateway"),
        _("verdict"),
        rows,
    )


def cost_line(provider: Provider | None, parts: int) -> str:
    """ "Costs about X per ticket on provider Y", when the provider that would send it has a
    price (to its default region's numbers, where it has one of its own)."""
    if provider is None:
        return ""
    prices = PriceList.for_provider(provider)
    region = provider.default_region or str(conf.get("DEFAULT_REGION") or "")
    price = prices.for_region(region)
    if price is None:
        return ""
    text = _(
        "This template costs about %(cost)s per ticket on provider %(provider)s "
        "(%(parts)s × %(price)s)."
    ) % {
        "cost": format_cost(price * parts, prices.currency),
        "provider": provider,
        "parts": ngettext("%(n)d part", "%(n)d parts", parts) % {"n": parts},
        "price": format_cost(price, prices.currency),
    }
    others = sorted(r for r in prices.by_region if r != region.upper())
    if others:
        text += " " + _("Numbers in %(regions)s are priced differently.") % {
            "regions": ", ".join(others)
        }
    return str(text)


def sample_number(provider: Provider | None) -> str:
    """An example mobile number of the provider's region (else the site's), E.164; ""
    when neither names one."""
    region = (provider.default_region if provider is not None else "") or str(
        conf.get("DEFAULT_REGION") or ""
    )
    if not region:
        return ""
    example = phonenumbers.example_number_for_type(region.upper(), PhoneNumberType.MOBILE)
    if example is None:
        return ""
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def quiet_hours_line(
    template: NotificationTemplate, provider: Provider | None, now: datetime | None = None
) -> str:
    """What quiet hours do to this template's messages, and whether one to a sample number
    due now would be held (and until when)."""
    if template.urgent:
        return str(_("Urgent: sent at once, whatever the quiet hours."))
    try:
        profile = country_profiles.get(provider.country_profile) if provider else None
        window = quiet_hours.template_window(template, profile)
    except ValueError:
        return ""  # the form reports the value itself
    if window is None:
        return ""
    number = sample_number(provider)
    provider_tz = quiet_hours.zone_name(provider.timezone) if provider is not None else None
    now = now or timezone.now()
    hold = quiet_hours.hold_for(window, number, now, provider_tz=provider_tz)
    zone = quiet_hours.local_zone(number, ticket_tz=None, provider_tz=provider_tz)
    where = _("to %(number)s (%(zone)s)") % {"number": number, "zone": zone} if number else zone
    text = _(
        "Quiet hours %(window)s in the recipient's local time: a message due then waits, "
        "scheduled, until %(end)s."
    ) % {"window": window, "end": f"{window.end:%H:%M}"}
    if hold is None:
        return (
            str(text) + " " + _("A message due now %(where)s would go at once.") % {"where": where}
        )
    return (
        str(text)
        + " "
        + _("A message due now %(where)s would be held: %(note)s.")
        % {"where": where, "note": hold.note}
    )


def preview_html(template: NotificationTemplate) -> SafeString:
    """The text as it would be sent (sample data), its encoding, parts and per-gateway verdict.

    Smart replacement is applied exactly as notifications apply it (the template's setting,
    else the site's), so what is shown is what would be sent and billed.
    """
    try:
        rendered = render(template.body or "", sample_context(template))
    except TemplateRenderError as exc:
        return format_html('<p class="errornote">{}</p>', exc)
    except Exception as exc:  # a preview must never turn the change page into a 500
        logger.exception("helpdesk_sms: preview of template %s failed", template.pk)
        return format_html(
            '<p class="errornote">{}</p>',
            _("The preview failed: %(kind)s") % {"kind": type(exc).__name__},
        )
    if not rendered:
        return format_html("<p>{}</p>", _("The rendered text is empty: nothing would be sent."))
    text, replaced_note = apply_smart_replace(rendered, template.smart_replace or None)
    provider = template.provider if template.provider_id else None
    info = sms_text.analyze(text, latin1=_carries_latin1(provider))
    lines = [
        (_("Encoding"), ENCODING_LABELS[info.encoding]),
        (_("Size"), f"{info.units} " + str(UNIT_LABELS[info.encoding])),
        (_("SMS parts"), info.parts),
    ]
    notes = [replaced_note[:1].upper() + replaced_note[1:] + "." if replaced_note else ""]
    notes.append(info.explain())
    if not (template.smart_replace or conf.get("SMART_REPLACE")):
        notes.append(smart_replace_hint(text, info))
    if provider is not None:
        try:
            problem = text_verdict(provider.gateway, text, provider)
        except Exception:  # the provider's own page reports a gateway that does not load
            problem = ""
        if problem:
            notes.append(
                _("This template's provider %(provider)s would refuse it: %(problem)s")
                % {"provider": provider, "problem": problem}
            )
    sending = provider or Provider.objects.preferred()
    notes.append(quiet_hours_line(template, sending))
    cost = cost_line(sending, info.parts)
    return format_html(
        '<pre style="white-space: pre-wrap; margin: 0 0 .5em">{}</pre><p>{}</p>{}{}{}'
        '<p class="help">{}</p>',
        text,
        format_html_join(" · ", "{}: {}", lines),
        format_html_join("", '<p class="warning">{}</p>', ((n,) for n in notes if n)),
        format_html("<p>{}</p>", cost) if cost else "",
        _verdict_table(gateway_verdicts(text, provider.gateway if provider is not None else "")),
        _(
            'Sample ticket #123 "Printer on floor 3 is jammed" for Priya Sharma, assigned to '
            'Asha Rao, task "Replace toner". Real values vary in length.'
        ),
    )
