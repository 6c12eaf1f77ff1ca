from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from project.demo.views import reply_as_customer

admin.site.site_header = "Helpdesk SMS demo"

urlpatterns = [
    path("admin/demo/reply/", reply_as_customer, name="demo-reply"),
    path("admin/", admin.site.urls),
    path("sms/", include("helpdesk_sms.urls")),
    *([path("helpdesk/", include("helpdesk.urls"))] if settings.DEMO_HELPDESK else []),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
