"""A text column whose values are encrypted at rest (provider credentials).

Python code sees plain text; the database, ``dumpdata``, Django's SQL log and
``connection.queries`` see only Fernet tokens (:mod:`helpdesk_sms.credentials`). A dump
loads back on any site that holds the key. An empty value stays empty, so "not set" can be
queried. A row written before encryption (plain text, no token prefix) is read as it is until
the migration or ``sms_credentials rotate`` encrypts it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from . import credentials


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Text encrypted with the HELPDESK_SMS credential keys; never filterable but by ''."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return credentials.encrypt(value)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if not value or not credentials.is_token(value):
            return value
        return credentials.decrypt(value)

    def to_python(self, value: Any) -> Any:
        """A token (from a dump being loaded) is opened; anything else is plain text."""
        value = super().to_python(value)
        if isinstance(value, str) and credentials.is_token(value):
            try:
                return credentials.decrypt(value)
            except credentials.CredentialKeyError as exc:
                raise ValidationError(f"{self.name}: {exc}", code="undecryptable") from None
        return value

    def value_to_string(self, obj: models.Model) -> str:
        """What serializers (``dumpdata``) write: the token, never the plain text."""
        value = self.value_from_object(obj)
        return credentials.encrypt(value) if value else ""
