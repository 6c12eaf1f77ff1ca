"""Consent: the numbers that asked not to be texted, and the history of every change.

Kept apart from ``models`` (which imports this module at its end), as the health and budget
models are; the foreign keys name Provider by string. The rules (keywords, suppression,
replies) live in ``consent``: these models only hold the list and its audit trail.

The list is authoritative: a number with an :class:`OptOut` row gets no message from any
path (notifications, ``send_sms``, group sends, re-sends). ``Contact.opted_out`` mirrors it
for the contacts with that number (``consent.opt_out``/``opt_in`` keep it in sync).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

#: The provider option (``Provider.options``) holding its own answer to HELP.
HELP_REPLY_OPTION = "help_reply"

#: Provider options holding its own keyword replies, with the setting each one overrides.
REPLY_OPTIONS = {
    "opt_out_reply": "OPT_OUT_REPLY",
    "opt_in_reply": "OPT_IN_REPLY",
    HELP_REPLY_OPTION: "HELP_REPLY",
}

#: The longest reply text a setting or provider option may hold (three GSM-7 parts).
MAX_REPLY_LENGTH = 459


def reply_option_errors(options: dict[str, Any]) -> list[str]:
    """Why the keyword-reply options in ``options`` cannot be used (sentences); here, not
    in ``consent``, so ``Provider.clean`` can ask without importing the sending machinery.
    An empty confirmation means none for that provider; HELP is always answered."""
    problems = []
    for name in REPLY_OPTIONS:
        if name not in options:
            continue
        value = options[name]
        if not isinstance(value, str) or (name == HELP_REPLY_OPTION and not value.strip()):
            wanted = "a non-empty text" if name == HELP_REPLY_OPTION else "a text"
            problems.append(f"{name} must be {wanted}, not {value!r}")
        elif len(value) > MAX_REPLY_LENGTH:
            problems.append(
                f"{name} may have at most {MAX_REPLY_LENGTH} characters (three parts); it "
                f"has {len(value)}"
            )
    return problems


#: How an opt-out entry erased on request (retention.erase_number) starts: the rest of its
#: ``number`` is a keyed hash of the number, never a phone number (those start with "+").
ERASED_PREFIX = "#"


def pseudonym(number: str) -> str:
    """What replaces the (E.164) ``number`` in the opt-out list and the consent history when
    it is erased on request: a keyed hash (HMAC-SHA256 with the site's SECRET_KEY), so a
    later message to the number still matches the entry while nobody can read the number
    back. 76 bits, to fit the column; changing SECRET_KEY orphans these entries."""
    digest = salted_hmac("helpdesk_sms.consent.pseudonym", number, algorithm="sha256")
    return ERASED_PREFIX + digest.hexdigest()[: 20 - len(ERASED_PREFIX)]


class ConsentSource(models.TextChoices):
    """How a consent change came about."""

    REPLY = "reply", _("reply keyword")
    ADMIN = "admin", _("admin")
    API = "api", _("API / code")
    IMPORT = "import", _("import")


class ConsentKind(models.TextChoices):
    OPT_OUT = "opt_out", _("opted out")
    OPT_IN = "opt_in", _("opted in")


def _nullable_link(to: str, label: Any, help_text: Any) -> models.ForeignKey[Any, Any]:
    """A link kept for the record: emptied, not cascaded, when its target is deleted."""
    return models.ForeignKey(
        to,
        verbose_name=label,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=help_text,
    )


class OptOut(models.Model):
    """One number on the opt-out list: it is texted nothing until it opts in again."""

    Source = ConsentSource

    number = models.CharField(
        _("number"),
        max_length=20,
        unique=True,
        help_text=_(
            "The mobile number in international (E.164) form, +CC…; “#” and a keyed hash "
            "of it once the number was erased on request (the opt-out still holds)."
        ),
    )
    opted_out_at = models.DateTimeField(
        _("opted out at"), default=timezone.now, help_text=_("When the number opted out.")
    )
    source = models.CharField(
        _("how"),
        max_length=10,
        choices=ConsentSource.choices,
        default=ConsentSource.ADMIN,
        help_text=_("A reply keyword (STOP…), an operator in the admin, code, or an import."),
    )
    keyword = models.CharField(
        _("keyword"),
        max_length=50,
        blank=True,
        help_text=_("The word the customer replied, as they typed it (for a reply)."),
    )
    provider = _nullable_link(
        "helpdesk_sms.Provider",
        _("provider"),
        _("The provider the reply came through (for a reply)."),
    )
    note = models.TextField(_("note"), blank=True, help_text=_("Anything worth keeping."))

    class Meta:
        verbose_name = _("opted-out number")
        verbose_name_plural = _("opt-out list")
        ordering = ("-opted_out_at", "-pk")

    def __str__(self) -> str:
        return self.number

    def clean(self) -> None:
        from .phones import PhoneNumberError, normalize

        super().clean()
        try:
            self.number = normalize(self.number or "")
        except PhoneNumberError as exc:
            raise ValidationError({"number": str(exc)}) from None


class ConsentChange(models.Model):
    """One opt-out or opt-in that changed the list: who, when, how. Never edited."""

    Kind = ConsentKind
    Source = ConsentSource

    number = models.CharField(
        _("number"),
        max_length=20,
        db_index=True,
        help_text=_("The number, E.164; “#” and a keyed hash once erased on request."),
    )
    change = models.CharField(
        _("change"),
        max_length=10,
        choices=ConsentKind.choices,
        help_text=_("Opted out (added to the list) or opted in (removed from it)."),
    )
    source = models.CharField(
        _("how"),
        max_length=10,
        choices=ConsentSource.choices,
        help_text=_("A reply keyword, an operator in the admin, code, or an import."),
    )
    keyword = models.CharField(
        _("keyword"), max_length=50, blank=True, help_text=_("The keyword replied, if any.")
    )
    provider = _nullable_link(
        "helpdesk_sms.Provider", _("provider"), _("The provider a reply came through.")
    )
    by = _nullable_link(
        settings.AUTH_USER_MODEL, _("by"), _("The operator who made the change in the admin.")
    )
    at = models.DateTimeField(_("at"), default=timezone.now, help_text=_("When it changed."))
    note = models.TextField(_("note"), blank=True, help_text=_("Why, in words."))

    class Meta:
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        ordering = ("-at", "-pk")
        indexes = [models.Index(fields=["number", "at"], name="hsms_consent_number_at")]

    def __str__(self) -> str:
        return f"{self.number} {self.get_change_display()}"
