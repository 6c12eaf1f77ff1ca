"""One time format in every admin page of the app: to the second, in the site's zone."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.utils import timezone
from django.utils.formats import date_format

#: One time format on the message page and its timeline: to the second, in the site's zone.
SECONDS_FORMAT = "Y-m-d H:i:s"


def to_the_second(value: Any) -> str:
    """A datetime as the message page shows it; '' for none."""
    return date_format(timezone.localtime(value), SECONDS_FORMAT) if value else ""


def seconds_field(name: str, model: type[models.Model]) -> Any:
    """A read-only display of ``model``.``name`` to the second, under the field's own label.

    Django shows a datetime in DATETIME_FORMAT, minutes only by default: two events in the
    same minute would look simultaneous, and the timeline shows seconds. The lists of
    messages, events and balances use it too: one time format everywhere.
    """
    field = model._meta.get_field(name)

    @admin.display(description=getattr(field, "verbose_name", name), ordering=name)
    def shown(self: Any, obj: Any) -> str:
        return to_the_second(getattr(obj, name)) or self.get_empty_value_display()

    return shown
