from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Helpdesk SMS demo"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sms/", include("helpdesk_sms.urls")),
    *([path("helpdesk/", include("helpdesk.urls"))] if settings.DEMO_HELPDESK else []),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
