"""The inbound SMS endpoint: ``/sms/inbound/<provider id>/<secret>/``, one per provider.

Hardened like the delivery-report webhook (``webhooks``): the secret is compared in
constant time against each of the provider's callback secrets (several during a rotation);
a wrong one, an unknown or an inactive provider answers 403 and writes nothing. GET and
POST (form or JSON object) are read; a body over :data:`MAX_BODY_BYTES` or a push that
cannot be read answers 400 with the reason as plain text. Anything unexpected is logged
and answered 400 (503 for a database fault, so the gateway tries again), never 500.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from .exceptions import SmsInputError
from .gateways.base import Capability
from .gateways.inbound import InboundFieldError
from .inbound import receive
from .inputs import check_text
from .models import Provider
from .webhooks import secret_matches

logger = logging.getLogger(__name__)

#: The largest request body read; a reply SMS is a few kilobytes at most.
MAX_BODY_BYTES = 64 * 1024
#: The most parameters read from one push.
MAX_FIELDS = 100
#: Longest parameter name or value (a long UCS-2 text in hex is about 6,400 characters).
MAX_FIELD_CHARS = 8000


class BadPush(ValueError):
    """A request we refuse with 400 and this reason."""


def _text(status: int, body: str) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
def receive_sms(request: HttpRequest, provider_id: int, secret: str) -> HttpResponse:
    """Take one customer SMS pushed by the provider's gateway; 200 "OK" once it is stored."""
    try:
        return _receive(request, provider_id, secret)
    except BadPush as exc:
        logger.warning("helpdesk_sms: inbound SMS for provider %s refused: %s", provider_id, exc)
        return _text(400, f"refused: {exc}")
    except DatabaseError:
        logger.exception("helpdesk_sms: inbound SMS for provider %s not stored", provider_id)
        return _text(503, "not stored; try again")
    except Exception:
        logger.exception("helpdesk_sms: inbound SMS for provider %s unreadable", provider_id)
        return _text(400, "refused: unreadable request")


def _receive(request: HttpRequest, provider_id: int, secret: str) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponse("GET or POST", status=405, headers={"Allow": "GET, POST"})
    provider = Provider.objects.filter(pk=provider_id).first()
    if provider is None or not secret_matches(provider, secret) or not provider.is_active:
        logger.warning(
            "helpdesk_sms: inbound SMS for provider %s refused: bad secret or inactive provider",
            provider_id,
        )
        return _text(403, "forbidden")
    if not provider.gateway_class().has(Capability.INBOUND):
        return _text(400, f"refused: {provider.gateway} does not take inbound SMS")
    data = pushed_fields(request)
    try:
        received = receive(provider, data)
    except (InboundFieldError, SmsInputError) as exc:
        raise BadPush(str(exc)) from None
    logger.info(
        "helpdesk_sms: inbound SMS #%s from %s %s",
        received.message.pk,
        provider,
        "stored" if received.created else "repeated",
    )
    return _text(200, "OK")


def pushed_fields(request: HttpRequest) -> dict[str, str]:
    """The query's and the body's parameters (form or JSON object), checked; BadPush if not."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isascii() or not length.isdigit():
        raise BadPush("Content-Length is not a number")
    if int(length) > MAX_BODY_BYTES:
        raise BadPush(f"the body is over {MAX_BODY_BYTES} bytes")
    fields: dict[str, Any] = {}
    _add(fields, request.GET)
    if request.method == "POST":
        body = request.body
        if request.content_type == "application/json":
            _add(fields, _json_object(body))
        elif body:
            charset = request.encoding or "utf-8"
            try:
                form = QueryDict(body, encoding=charset)
            except LookupError:
                raise BadPush(f"unknown charset {charset[:40]!r}") from None
            _add(fields, form)
    return fields


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadPush("the body is not JSON in UTF-8") from None
    if not isinstance(value, dict):
        raise BadPush("the JSON body must be an object of parameter names to values")
    return value


def _add(fields: dict[str, Any], source: Any) -> None:
    """Copy ``source``'s parameters into ``fields`` (later sources win), each one checked."""
    items = source.lists() if isinstance(source, QueryDict) else source.items()
    for name, value in items:
        if isinstance(value, list):
            value = value[-1] if value else ""
        if value is None:
            value = ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadPush(f"parameter {str(name)[:40]!r} must be text or a number")
        try:
            check_text(str(name), "a parameter name", max_length=MAX_FIELD_CHARS)
            check_text(str(value), f"parameter {str(name)[:40]!r}", max_length=MAX_FIELD_CHARS)
        except SmsInputError as exc:
            raise BadPush(str(exc)) from None
        fields[str(name)] = str(value)
        if len(fields) > MAX_FIELDS:
            raise BadPush(f"more than {MAX_FIELDS} parameters")
