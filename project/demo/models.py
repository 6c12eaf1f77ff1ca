"""A minimal ticket model, standing in for the host helpdesk in the demo and the tests."""

from django.conf import settings
from django.db import models


class Ticket(models.Model):
    title = models.CharField("title", max_length=200, help_text="What the customer needs.")
    description = models.TextField("description", blank=True, help_text="Details.")
    customer_name = models.CharField("customer name", max_length=150, help_text="Who asked.")
    customer_phone = models.CharField(
        "customer phone", max_length=30, blank=True, help_text="Texted when the ticket is raised."
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="assigned to",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        help_text="The agent; texted when assigned.",
    )
    status = models.CharField(
        "status",
        max_length=20,
        default="open",
        choices=[("open", "open"), ("closed", "closed")],
        help_text="Open or closed.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "ticket"
        verbose_name_plural = "tickets"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class Task(models.Model):
    ticket = models.ForeignKey(
        Ticket, verbose_name="ticket", on_delete=models.CASCADE, related_name="tasks"
    )
    title = models.CharField("title", max_length=200, help_text="What will be done.")
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "task"
        verbose_name_plural = "tasks"

    def __str__(self) -> str:
        return self.title


class CustomerReply(models.Model):
    """A customer's SMS answer, put on its ticket by helpdesk_sms (MODEL_WATCHER REPLY_MODEL)."""

    ticket = models.ForeignKey(
        Ticket, verbose_name="ticket", on_delete=models.CASCADE, related_name="replies"
    )
    number = models.CharField("from", max_length=30, help_text="The customer's number.")
    text = models.TextField("text", help_text="What the customer wrote.")
    received_at = models.DateTimeField("received", auto_now_add=True)

    class Meta:
        verbose_name = "customer SMS reply"
        verbose_name_plural = "customer SMS replies"
        ordering = ("received_at",)

    def __str__(self) -> str:
        return f"{self.number}: {self.text[:40]}"
