"""Delivery-report push endpoints: one URL per provider, authenticated by a secret in it.

Like django-anymail's tracking webhooks: the secret is compared in constant time against
every secret the provider accepts (several during a rotation); a wrong one answers 403
and changes nothing; a request the gateway's parser cannot read answers 400. Accepted
reports are applied forward-only, and each is stored raw on its message's timeline.
"""

from __future__ import annotations

import hmac
import logging

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .exceptions import SmsInputError
from .gateways.base import Capability, GatewayError
from .inputs import check_pushed_fields, check_report
from .models import Provider
from .reports import apply_reports
from .states import Source

logger = logging.getLogger(__name__)

#: Compared against when the provider does not exist, so timing says nothing either way.
_NO_SECRET = "-" * 32


def secret_matches(provider: Provider | None, secret: str) -> bool:
    """True when ``secret`` is one of the provider's; every candidate compared in full."""
    candidates = provider.callback_secret_list() if provider else []
    matched = False
    for candidate in candidates or [_NO_SECRET]:
        matched |= hmac.compare_digest(candidate.encode(), secret.encode())
    return matched and bool(candidates)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def callback(request: HttpRequest, provider_id: int, secret: str) -> HttpResponse:
    """Take one push of delivery reports from the provider's gateway."""
    provider = Provider.objects.filter(pk=provider_id).first()
    if provider is None or not secret_matches(provider, secret):
        logger.warning(
            "helpdesk_sms: delivery report for provider %s refused: bad secret", provider_id
        )
        return HttpResponseForbidden("forbidden")
    gateway = provider.get_gateway()
    if not gateway.has(Capability.DLR_PUSH):
        return HttpResponseBadRequest(f"{provider.gateway} does not push delivery reports")
    try:
        check_pushed_fields(request.GET)
        if request.method == "POST" and request.content_type != "application/json":
            check_pushed_fields(request.POST)
        reports = gateway.parse_callback(request)
        for report in reports:
            check_report(report)
    except SmsInputError as exc:
        logger.warning("helpdesk_sms: delivery report for %s refused: %s", provider, exc)
        return HttpResponseBadRequest(f"refused: {exc}", content_type="text/plain")
    except GatewayError as exc:
        logger.warning("helpdesk_sms: unreadable delivery report for %s: %s", provider, exc)
        return HttpResponseBadRequest("unreadable report")
    moved = apply_reports(provider, reports, source=Source.WEBHOOK)
    logger.info(
        "helpdesk_sms: %s pushed %d report(s), %d message(s) moved", provider, len(reports), moved
    )
    return HttpResponse("OK", content_type="text/plain")
