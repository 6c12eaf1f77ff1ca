"""Notice, without a query, that a save corrected a ticket's customer number.

A ticket whose acknowledgement was suppressed (no number, an invalid one) gets it once the
number is corrected (``resend.customer_number_changed``). Asking the database on every
save whether such a message exists would cost every ticket save a query; instead the
number the ticket had when it was loaded is kept on the instance (``post_init``, read from
memory only) and compared after the save: only a save that changes it costs anything.

It reads the attributes the default resolver reads (``resolvers.CUSTOMER_PHONE_ATTRIBUTES``),
and only the loaded ones (a deferred field is never fetched), whatever resolver the site
names: resolvers that fall back to the default one (django-helpdesk's, for any other ticket
model) read them too, and for one that does not, a change there costs one query and the
re-send finds no valid number, writing nothing. A site whose resolver reads the number
elsewhere calls ``helpdesk_sms.resend.customer_number_changed(ticket)`` after changing it.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.signals import post_init

from ..resolvers import CUSTOMER_PHONE_ATTRIBUTES

#: Where the number as loaded is kept on the instance.
LOADED = "_helpdesk_sms_loaded_phone"


def phone_in_memory(instance: models.Model) -> str:
    """The customer number as the default resolver reads it, from loaded fields only."""
    for name in CUSTOMER_PHONE_ATTRIBUTES:
        value = instance.__dict__.get(name)
        if value:
            return str(value)
    return ""


class NumberWatch:
    """Keeps each loaded ticket's number; tells a save that changed it to a non-empty one."""

    def __init__(self, model: type[models.Model], uid: str) -> None:
        self.model = model
        self.uid = uid

    def connect(self) -> None:
        post_init.connect(self._loaded, sender=self.model, weak=False, dispatch_uid=self.uid)

    def disconnect(self) -> None:
        post_init.disconnect(sender=self.model, dispatch_uid=self.uid)

    def _loaded(self, sender: Any, instance: models.Model, **kwargs: Any) -> None:
        instance.__dict__[LOADED] = phone_in_memory(instance)

    def corrected(self, instance: models.Model) -> bool:
        """Whether the number differs from the one last loaded or saved (and is not empty).

        Remembers the current one, so the next save of the same instance compares with it.
        """
        now = phone_in_memory(instance)
        before = instance.__dict__.get(LOADED, now)
        instance.__dict__[LOADED] = now
        return bool(now) and now != before
