from django.contrib import admin

from .models import Task, Ticket


class TaskInline(admin.TabularInline):
    model = Task
    extra = 1


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "customer_name", "customer_phone", "assigned_to", "status")
    list_filter = ("status", "assigned_to")
    search_fields = ("title", "customer_name", "customer_phone")
    inlines = [TaskInline]
