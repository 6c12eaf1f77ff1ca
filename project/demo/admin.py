from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .models import CustomerReply, Task, Ticket


class TaskInline(admin.TabularInline):
    model = Task
    extra = 1


class CustomerReplyInline(admin.TabularInline):
    """The customer's SMS answers, put here by helpdesk_sms; read-only."""

    model = CustomerReply
    extra = 0
    fields = ("received_at", "number", "text")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "customer_name", "customer_phone", "assigned_to", "status")
    list_filter = ("status", "assigned_to")
    search_fields = ("title", "customer_name", "customer_phone")
    readonly_fields = ("reply_as_customer",)
    inlines = [TaskInline, CustomerReplyInline]

    @admin.display(description="customer's SMS")
    def reply_as_customer(self, obj: Ticket) -> str:
        if not obj.pk or not obj.customer_phone:
            return "-"
        url = reverse("demo-reply") + "?" + urlencode({"number": obj.customer_phone})
        return format_html('<a href="{}">Reply to the helpdesk as the customer</a>', url)
