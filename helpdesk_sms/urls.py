"""Include in the site's URLconf: ``path("sms/", include("helpdesk_sms.urls"))``."""

from django.urls import path

from . import webhooks

app_name = "helpdesk_sms"

urlpatterns = [
    path("callback/<int:provider_id>/<str:secret>/", webhooks.callback, name="callback"),
]
