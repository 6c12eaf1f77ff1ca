"""The demo's "reply as a customer" page: text the helpdesk through a gateway simulator.

The operator writes as the customer; the page asks the simulator of the provider that last
texted that number to push the SMS to the app's inbound URL (``POST /_sim/reply``), exactly
as the real gateway would. The reply then takes the app's own path: stored once, threaded
onto its ticket, STOP/START/HELP applied.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from helpdesk_sms import conf
from helpdesk_sms.models import Message
from helpdesk_sms.phones import PhoneNumberError, normalize

#: Seconds to wait for the simulator to push the reply and for the app to answer it.
SIMULATOR_TIMEOUT = 15


class CustomerReplyForm(forms.Form):
    number = forms.CharField(
        label="customer's number",
        max_length=30,
        help_text="The number the helpdesk texted, e.g. +919812345678.",
    )
    text = forms.CharField(
        label="text",
        max_length=918,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the customer answers: '#12 still broken', 'STOP', 'START' or 'HELP'.",
    )
    repeat = forms.IntegerField(
        label="pushes",
        min_value=1,
        max_value=5,
        initial=1,
        help_text="How often the gateway pushes it (gateways repeat): it lands once.",
    )

    def clean_number(self) -> str:
        try:
            return normalize(self.cleaned_data["number"], conf.get("DEFAULT_REGION"))
        except PhoneNumberError as exc:
            raise forms.ValidationError(str(exc)) from exc


@staff_member_required
def reply_as_customer(request: HttpRequest) -> HttpResponse:
    """Show the form; on a valid post, have the simulator text the app."""
    form = CustomerReplyForm(request.POST or None, initial={"number": request.GET.get("number")})
    if request.method == "POST" and form.is_valid():
        last = _last_texted(form.cleaned_data["number"])
        if last is None:
            form.add_error(
                "number", "The helpdesk has not texted this number: raise a ticket first."
            )
        elif error := _push(last, form.cleaned_data):
            form.add_error(None, error)
        else:
            messages.success(request, "The customer's SMS was sent; it is on its way in.")
            return HttpResponseRedirect(_where_it_lands(last))
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": "Reply as a customer",
        "form": form,
    }
    return render(request, "demo/reply_as_customer.html", context)


def _last_texted(number: str) -> Message | None:
    """The newest message to ``number`` that went to a gateway: its provider and sender."""
    found = Message.objects.filter(recipient=number, provider__isnull=False).exclude(sender="")
    return found.select_related("provider").order_by("-pk").first()


def _push(last: Message, data: dict[str, Any]) -> str:
    """Ask the simulator of ``last``'s provider to push the SMS; an error sentence or ''."""
    assert last.provider is not None
    parts = urlsplit(last.provider.base_url)
    url = f"{parts.scheme}://{parts.netloc}/_sim/reply"
    payload = {
        "from": data["number"],
        "to": last.sender,
        "text": data["text"],
        "repeat": data["repeat"],
    }
    try:
        response = requests.post(url, data=payload, timeout=SIMULATOR_TIMEOUT)
    except requests.RequestException:
        return f"The simulator at {parts.netloc} did not answer: is `make demo` running?"
    if response.status_code != 200:
        return f"The simulator at {parts.netloc} refused the reply: {response.text[:200]}"
    return ""


def _where_it_lands(last: Message) -> str:
    """The page of the ticket last texted (the demo's or django-helpdesk's), else the log."""
    ticket_type = last.ticket_type
    if ticket_type is not None and last.ticket_id:
        if ticket_type.app_label == "helpdesk":
            return reverse("helpdesk:view", args=[last.ticket_id])
        name = f"admin:{ticket_type.app_label}_{ticket_type.model}_change"
        return reverse(name, args=[last.ticket_id])
    return reverse("admin:helpdesk_sms_inboundmessage_changelist")
