"""Errors for bad input: each names the field and the rule it broke.

The API raises them, the CLI prints them as one line, the admin shows them on the field.
"""

from __future__ import annotations


class SmsInputError(ValueError):
    """Input that cannot become an SMS. ``field`` names what to fix."""

    field = "__all__"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        if field:
            self.field = field
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidRecipient(SmsInputError):
    field = "to"


class UnknownProvider(SmsInputError):
    field = "provider"


class InvalidSender(SmsInputError):
    field = "sender"


class EmptyText(SmsInputError):
    field = "text"


class TextTooLong(SmsInputError):
    field = "text"


class UnsupportedFeature(SmsInputError):
    """The provider's gateway cannot do what was asked (flash, scheduling, unicode, groups)."""


class InvalidSchedule(SmsInputError):
    field = "send_at"


class InvalidGatewayOption(SmsInputError):
    """A per-message gateway option (Canlog's route, channel) the provider does not allow."""

    field = "gateway_options"


class InvalidPriority(SmsInputError):
    """A priority other than ``critical`` or ``normal``."""

    field = "priority"
