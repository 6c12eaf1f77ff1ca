"""Include in the site's URLconf: ``path("sms/", include("helpdesk_sms.urls"))``."""

from django.urls import path

from . import inbound_views, webhooks

app_name = "helpdesk_sms"

urlpatterns = [
    path("callback/<int:provider_id>/<str:secret>/", webhooks.callback, name="callback"),
    path("inbound/<int:provider_id>/<str:secret>/", inbound_views.receive_sms, name="inbound"),
]
