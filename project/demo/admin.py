from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .models import Task, Ticket


class TaskInline(admin.TabularInline):
    model = Task
    extra = 1


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "customer_name", "customer_phone", "assigned_to", "status")
    list_filter = ("status", "assigned_to")
    search_fields = ("title", "customer_name", "customer_phone")
    readonly_fields = ("customer_replies", "reply_as_customer")
    inlines = [TaskInline]

    @admin.display(description="customer's SMS replies")
    def customer_replies(self, obj: Ticket) -> str:
        """What the customer answered by SMS (helpdesk_sms's REPLY_MODEL rows), oldest first."""
        rows = obj.replies.values_list("received_at", "number", "text") if obj.pk else []
        if not rows:
            return "-"
        return format_html_join(
            "", "<p>{} {}: {}</p>", ((f"{at:%Y-%m-%d %H:%M}", n, t) for at, n, t in rows)
        )

    @admin.display(description="customer's SMS")
    def reply_as_customer(self, obj: Ticket) -> str:
        if not obj.pk or not obj.customer_phone:
            return "-"
        url = reverse("demo-reply") + "?" + urlencode({"number": obj.customer_phone})
        return format_html('<a href="{}">Reply to the helpdesk as the customer</a>', url)
