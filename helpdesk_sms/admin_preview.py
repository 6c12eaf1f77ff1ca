"""The template form's live preview: the form's current values rendered, before any save.

A JSON endpoint under the template admin (``…/notificationtemplate/live-preview/``), posted
by ``static/helpdesk_sms/template_preview.js`` while the operator types. It renders with the
very code of the saved preview (``preview.preview_html``: sample plain values, encoding,
parts, each gateway's verdict, cost) and checks the body as saving would
(``NotificationTemplate.body_error``), so the page says what a save would say. It writes
nothing; the admin's ``admin_view`` gives it CSRF protection and the staff login, and it
asks for the add or change permission on templates.
"""

from __future__ import annotations

from django.contrib.admin import ModelAdmin
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse

from .models import Audience, Event, NotificationTemplate, Provider
from .preview import preview_html

#: The most text the endpoint renders (a template body longer than this is no SMS).
MAX_BODY = 10_000
TRUE = ("1", "on", "true")


def unsaved_template(data: dict[str, str]) -> tuple[NotificationTemplate, dict[str, str]]:
    """A template from the form's current values, and errors on values that cannot be used."""
    errors: dict[str, str] = {}
    event = data.get("event", "")
    if event not in Event.values:
        errors["event"] = "Choose an event to see which variables the text may use."
        event = ""
    audience = data.get("audience", "")
    if audience not in Audience.values:
        audience = Audience.CUSTOMER
    provider = None
    provider_id = data.get("provider", "")
    if provider_id:
        if provider_id.isdigit():
            provider = Provider.objects.filter(pk=int(provider_id)).first()
        if provider is None:
            errors["provider"] = f"Provider {provider_id!r} does not exist."
    body = data.get("body", "")
    if len(body) > MAX_BODY:
        errors["body"] = f"The text is longer than {MAX_BODY} characters."
        body = body[:MAX_BODY]
    template = NotificationTemplate(
        body=body,
        event=event,
        audience=audience,
        provider=provider,
        smart_replace=data.get("smart_replace", "").lower() in TRUE,
        quiet_hours=data.get("quiet_hours", "")[:20],
        urgent=data.get("urgent", "").lower() in TRUE,
    )
    quiet = template.quiet_hours_error()
    if quiet:
        errors["quiet_hours"] = quiet
        template.quiet_hours = ""
    return template, errors


def live_preview(
    model_admin: ModelAdmin[NotificationTemplate], request: HttpRequest
) -> HttpResponse:
    """{"html": the preview, "errors": {field: message}} for the posted form values."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not (model_admin.has_change_permission(request) or model_admin.has_add_permission(request)):
        return JsonResponse({"error": "You may not edit templates."}, status=403)
    template, errors = unsaved_template(request.POST.dict())
    if "body" not in errors:
        body_error = template.body_error()
        if body_error:
            errors["body"] = body_error
    return JsonResponse({"html": str(preview_html(template)), "errors": errors})
