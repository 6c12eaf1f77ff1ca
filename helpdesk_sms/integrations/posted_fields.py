"""Which request is being served, so a custom-field save can tell what the form posted.

django-helpdesk 2.6's quick-assign form (the "Assigned to" box in the ticket page's header)
posts to the ticket update view without any custom field; the view then saves every custom
field as empty. :class:`CurrentRequestMiddleware` lets the integration see that the phone
field was not posted, and keep the number (see ``django_helpdesk._phone_field_saving``).
The admin's save feedback (``helpdesk_sms.feedback``) uses it too: it tells the user whose
save made SMS what became of them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

MIDDLEWARE_PATH = "helpdesk_sms.integrations.posted_fields.CurrentRequestMiddleware"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

_current: ContextVar[HttpRequest | None] = ContextVar("helpdesk_sms_request", default=None)


class CurrentRequestMiddleware:
    """Remember the request for the length of its view; reads nothing of it by itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current.set(request)
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)


def current_request() -> HttpRequest | None:
    """The request being served in this thread or task (None outside one, or without the
    middleware)."""
    return _current.get()


def helpdesk_form_left_out(field: str) -> bool:
    """Whether the current request is a django-helpdesk form post that lacks ``field``.

    Only a form post (not JSON: the API) to one of django-helpdesk's own views counts; any
    other save, or one made outside a request, is taken as meant.
    """
    request = _current.get()
    if request is None or request.method != "POST":
        return False
    if request.content_type not in FORM_TYPES:
        return False
    match = request.resolver_match
    if match is None or "helpdesk" not in match.namespaces:
        return False
    return field not in request.POST
