"""Inbound SMS: each customer reply a gateway pushed us, stored once, and what became of it.

Kept apart from ``models`` (which imports this module at its end) as the route and health
models are. Receiving is in ``inbound``; deciding what a reply means is in
``inbound_processing``: these models only hold the record every worker must agree on.
"""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class InboundAction(models.TextChoices):
    """What was done with a reply."""

    PENDING = "pending", _("not handled yet")
    TICKET = "ticket", _("added to a ticket")
    NEW_TICKET = "new_ticket", _("opened a new ticket")
    UNASSIGNED = "unassigned", _("kept for a human")
    KEYWORD = "keyword", _("changed consent")
    HANDLED = "handled", _("handled by a human")
    ERROR = "error", _("could not be handled")


class InboundMessage(models.Model):
    """One SMS a customer sent us, stored once however often the gateway pushed it."""

    Action = InboundAction

    provider = models.ForeignKey(
        "helpdesk_sms.Provider",
        verbose_name=_("provider"),
        on_delete=models.PROTECT,
        related_name="inbound_messages",
        help_text=_("The gateway account that pushed it."),
    )
    sender = models.CharField(
        _("from"), max_length=32, help_text=_("The customer's number, in E.164 (+919812345678).")
    )
    recipient = models.CharField(
        _("to"),
        max_length=32,
        blank=True,
        help_text=_("Our number or sender ID it was sent to, as the gateway wrote it."),
    )
    text = models.TextField(_("text"), blank=True, help_text=_("What the customer wrote."))
    encoding = models.CharField(
        _("encoding"),
        max_length=10,
        blank=True,
        help_text=_("gsm7, 8bit or ucs2 as the gateway said; empty when it did not say."),
    )
    received_at = models.DateTimeField(
        _("received"),
        help_text=_("When the gateway received it, or when it first pushed it if it gave no time."),
    )
    gateway_id = models.CharField(
        _("gateway's id"),
        max_length=100,
        blank=True,
        help_text=_("The gateway's own id of the SMS, when it sends one."),
    )
    dedup_key = models.CharField(
        _("deduplication key"),
        max_length=120,
        editable=False,
        help_text=_(
            "The gateway's id, or a hash of sender, text and time: a push with a key already "
            "stored for the provider is a repeat."
        ),
    )
    repeat_count = models.PositiveIntegerField(
        _("pushes"), default=1, help_text=_("How often the gateway pushed this SMS.")
    )
    last_pushed_at = models.DateTimeField(
        _("last pushed"), help_text=_("When the gateway last pushed it.")
    )
    raw = models.JSONField(
        _("pushed data"),
        default=dict,
        blank=True,
        help_text=_("The push's parameters as received, credentials and secrets masked."),
    )
    action = models.CharField(
        _("what was done"),
        max_length=12,
        choices=InboundAction.choices,
        default=InboundAction.PENDING,
        help_text=_("What became of it: a ticket, a consent change, kept for a human…"),
    )
    action_detail = models.TextField(
        _("detail"), blank=True, help_text=_("Why, in a sentence (e.g. “no ticket matched”).")
    )
    ticket_type = models.ForeignKey(
        ContentType,
        verbose_name=_("ticket type"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The host's ticket model."),
    )
    ticket_id = models.CharField(
        _("ticket id"),
        max_length=64,
        blank=True,
        help_text=_("The primary key of the ticket it went to."),
    )
    ticket = GenericForeignKey("ticket_type", "ticket_id")
    handled_at = models.DateTimeField(
        _("handled"), null=True, blank=True, help_text=_("When it was handled; empty until then.")
    )
    created_at = models.DateTimeField(
        _("stored"), auto_now_add=True, help_text=_("When the first push was stored.")
    )
    purged_at = models.DateTimeField(
        _("purged on"),
        null=True,
        blank=True,
        help_text=_(
            "When its text, number and pushed data were erased (retention, or an erasure "
            "request); what was done with it and when are kept."
        ),
    )

    class Meta:
        verbose_name = _("inbound SMS")
        verbose_name_plural = _("inbound SMS")
        ordering = ("-received_at", "-pk")
        constraints = [
            models.UniqueConstraint(fields=["provider", "dedup_key"], name="hsms_inbound_once"),
        ]
        indexes = [
            models.Index(fields=["sender", "received_at"], name="hsms_inbound_sender"),
            models.Index(fields=["action", "received_at"], name="hsms_inbound_action"),
            models.Index(
                fields=["created_at"],
                condition=models.Q(purged_at__isnull=True),
                name="hsms_inbound_unpurged",
            ),
        ]

    def __str__(self) -> str:
        return f"SMS from {self.sender} ({self.get_action_display()})"
