"""Watch any ticket model's saves and send helpdesk_sms's signals from them.

For a site with its own ticket model and no code of its own to send our signals. Configured
once, at startup, by ``HELPDESK_SMS["MODEL_WATCHER"]``::

    HELPDESK_SMS = {
        "MODEL_WATCHER": {
            "TICKET_MODEL": "support.Ticket",   # app_label.ModelName
            "ASSIGNEE_FIELD": "assigned_to",    # a ForeignKey to the user model
            "TASK_MODEL": "support.Task",       # optional: each new one is a task_added
            "TASK_TICKET_FIELD": "ticket",      # the task's ForeignKey to the ticket
        },
    }

* A ticket saved for the first time sends ``ticket_created``.
* A save that changes the assignee *in the database* to a user sends ``ticket_assigned``
  (see :class:`AssigneeTracker`); re-saving without a change, or unassigning, sends nothing.
* A new task sends ``task_added``.
* A save that corrects the customer's number sends the ticket's acknowledgement, if it was
  suppressed for want of a valid number, to the new one, once (see :mod:`.number_watch`).

Only saves are seen: ``QuerySet.update()`` and raw SQL send no model signals, so they send
no SMS either. Fixture loading (``raw`` saves) is ignored on purpose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import connections, models
from django.db.models import Subquery
from django.db.models.signals import post_save, pre_save

from .. import conf, resend, signals
from ..notifications import one_pass
from ..savepoints import host_transaction_lost, inside_host_transaction, related
from .number_watch import NumberWatch

logger = logging.getLogger(__name__)

#: Every key MODEL_WATCHER knows, with its default.
DEFAULTS: dict[str, Any] = {
    "TICKET_MODEL": None,
    "ASSIGNEE_FIELD": "assigned_to",
    "TASK_MODEL": None,
    "TASK_TICKET_FIELD": "ticket",
    # Whether a ticket is still open, for threading replies (reply_threading.py): the name
    # of a field, property or method of the ticket; None: every ticket is open. Its value
    # is compared with OPEN_VALUES, or, when that is None, taken as true or false.
    "OPEN_FIELD": None,
    "OPEN_VALUES": None,
    # A customer's SMS reply becomes a new REPLY_MODEL row (app_label.Model), its
    # REPLY_TICKET_FIELD the ticket, REPLY_TEXT_FIELD the text and REPLY_NUMBER_FIELD (if
    # named) the number. None: replies are only signalled (sms_received).
    "REPLY_MODEL": None,
    "REPLY_TICKET_FIELD": "ticket",
    "REPLY_TEXT_FIELD": "text",
    "REPLY_NUMBER_FIELD": None,
}

#: Set on a reply row (or django-helpdesk follow-up) that a customer's SMS created: its
#: save must not text the customer back (an echo of their own words, and a loop if their
#: phone answers automatically).
INBOUND_REPLY = "_helpdesk_sms_inbound_reply"


def watcher_settings() -> dict[str, Any] | None:
    """The effective MODEL_WATCHER settings, defaults filled in; None when not configured."""
    configured = conf.get("MODEL_WATCHER")
    if not configured:
        return None
    return {**DEFAULTS, **configured}


@dataclass(frozen=True)
class AssigneeChange:
    """What one save did to the assignee, found in pre_save and acted on in post_save."""

    previous_id: Any
    assignee_id: Any
    occurrence: str


class AssigneeTracker:
    """Tells, for each save of ``model``, whether it changed the stored assignee to a user.

    pre_save reads the assignee the database holds *now* (not the one the instance was
    loaded with), so a stale copy saved after another process assigned the same agent is no
    change, and a stale copy that puts back an older assignee is one. Inside a transaction
    the read locks the row (``select_for_update``, where the database has it), so two
    transactions changing the same ticket are compared one after the other.

    Outside a transaction two saves can still both read the old assignee; for that case the
    change carries an ``occurrence`` built from what was read before the save: the new
    assignee and the id of the newest assignment message the ticket had. Racing saves of the
    same change compute the same occurrence, so notify's unique idempotency key lets one
    message through; a genuine re-assignment to the same agent later comes after a newer
    message, so it is a new occurrence and texts again.

    The finding is kept on the instance being saved, never in shared state, so saves of
    other instances (other threads, other copies of the same row) cannot mix findings.
    """

    def __init__(
        self,
        model: type[models.Model],
        field_name: str,
        on_change: Callable[[models.Model, AssigneeChange], None],
        uid: str,
    ) -> None:
        self.model = model
        field = _foreign_key(model, field_name)
        if field is None:  # the configuration check refuses this before any watcher is made
            raise ImproperlyConfigured(f"{model.__name__}.{field_name} is not a foreign key")
        self.field: models.ForeignKey[Any, Any] = field
        self.on_change = on_change
        self.uid = uid
        self.flag = f"_helpdesk_sms_assignee_change_{uid}"

    def connect(self, *, announce: bool = True) -> None:
        """Compare on pre_save; announce on post_save unless the caller does (``take``)."""
        pre_save.connect(self._pre_save, sender=self.model, weak=False, dispatch_uid=self.uid)
        if announce:
            post_save.connect(self._post_save, sender=self.model, weak=False, dispatch_uid=self.uid)

    def disconnect(self) -> None:
        pre_save.disconnect(sender=self.model, dispatch_uid=self.uid)
        post_save.disconnect(sender=self.model, dispatch_uid=self.uid)

    def _pre_save(
        self,
        sender: Any,
        instance: models.Model,
        raw: bool = False,
        using: str | None = None,
        update_fields: Any = None,
        **kwargs: Any,
    ) -> None:
        instance.__dict__.pop(self.flag, None)
        if raw or not self._may_change(instance, update_fields):
            return  # nothing to read: no query, and no savepoint either
        using = using or "default"
        try:
            if instance.pk is None:  # a new ticket: nobody was assigned, nothing to read
                self._compare(instance, None, None)
                return
            # A savepoint: a database error here must not abort the host's transaction.
            with inside_host_transaction(using):
                self._compare(instance, *self._stored(instance, using))
        except Exception:  # never into the host's save, unless the database already lost it
            if host_transaction_lost(using):
                raise
            logger.exception("helpdesk_sms: assignee of %r not compared", instance)

    def _may_change(self, instance: models.Model, update_fields: Any) -> bool:
        """Whether this save can assign someone, decided without the database."""
        if update_fields is not None and not {self.field.name, self.field.attname} & set(
            update_fields
        ):
            return False  # this save does not write the assignee
        return getattr(instance, self.field.attname) is not None  # unassigning texts nobody

    def _compare(self, instance: models.Model, previous: Any, last: Any) -> None:
        """Flag a change from the stored ``previous`` assignee; ``last``: see _stored."""
        new = getattr(instance, self.field.attname)
        if previous is not None and str(previous) == str(new):
            return
        instance.__dict__[self.flag] = AssigneeChange(
            previous_id=previous,
            assignee_id=new,
            occurrence=f"assigned-{new}-after-{last or 0}",
        )

    def take(self, instance: models.Model) -> AssigneeChange | None:
        """What this save did to the assignee (None: nothing to announce); once per save."""
        return instance.__dict__.pop(self.flag, None)

    def _post_save(
        self, sender: Any, instance: models.Model, raw: bool = False, **kwargs: Any
    ) -> None:
        change = self.take(instance)
        if change is not None and not raw:
            self.announce(instance, change)

    def announce(self, instance: models.Model, change: AssigneeChange) -> None:
        """Tell ``on_change``; never into the host's save."""
        try:
            # No savepoint here: notify takes the one its queries need, and nesting a second
            # around it would only cost two statements more on every assignment.
            self.on_change(instance, change)
        except Exception:  # never into the host's save, unless the database already lost it
            if host_transaction_lost(instance._state.db or "default"):
                raise
            logger.exception("helpdesk_sms: assignment of %r not announced", instance)

    def _stored(self, instance: models.Model, using: str) -> tuple[Any, Any]:
        """What the database holds now: the assignee id, and the newest assignment message.

        One query: the message's pk comes as a subquery of the ticket's row. Both are read
        in the same statement, so they are one snapshot (see the class docstring for why
        the pair is what keeps racing saves from texting twice). (None, None) for a ticket
        not yet in the database.
        """
        from django.contrib.contenttypes.models import ContentType

        from ..models import Event, Message

        ticket_type = ContentType.objects.get_for_model(instance, for_concrete_model=False)
        newest = (
            Message.objects.filter(
                ticket_type=ticket_type, ticket_id=str(instance.pk), event=Event.TICKET_ASSIGNED
            )
            .order_by("-pk")
            .values("pk")[:1]
        )
        query = self.model._base_manager.using(using).filter(pk=instance.pk)
        connection = connections[using]
        if connection.in_atomic_block and connection.features.has_select_for_update:
            query = query.select_for_update()
        rows = list(
            query.annotate(_hsms_last=Subquery(newest)).values_list(
                self.field.attname, "_hsms_last"
            )[:1]
        )
        return rows[0] if rows else (None, None)


class ModelWatcher:
    """Sends ticket_created / ticket_assigned / task_added from one ticket model's saves."""

    def __init__(
        self,
        ticket_model: type[models.Model],
        assignee_field: str = "assigned_to",
        task_model: type[models.Model] | None = None,
        task_ticket_field: str = "ticket",
        uid: str = "helpdesk_sms_model_watcher",
    ) -> None:
        self.ticket_model = ticket_model
        self.task_model = task_model
        self.task_ticket_field = task_ticket_field
        self.uid = uid
        self.tracker = AssigneeTracker(
            ticket_model, assignee_field, self._assigned, uid=f"{uid}_assignee"
        )
        self.numbers = NumberWatch(ticket_model, uid=f"{uid}_number")

    def connect(self) -> None:
        post_save.connect(
            self._ticket_saved, sender=self.ticket_model, weak=False, dispatch_uid=self.uid
        )
        self.numbers.connect()
        self.tracker.connect(announce=False)  # _ticket_saved announces its findings
        if self.task_model is not None:
            post_save.connect(
                self._task_saved, sender=self.task_model, weak=False, dispatch_uid=self.uid
            )

    def disconnect(self) -> None:
        post_save.disconnect(sender=self.ticket_model, dispatch_uid=self.uid)
        self.tracker.disconnect()
        self.numbers.disconnect()
        if self.task_model is not None:
            post_save.disconnect(sender=self.task_model, dispatch_uid=self.uid)

    def _ticket_saved(
        self, sender: Any, instance: models.Model, created: bool, raw: bool = False, **kw: Any
    ) -> None:
        change = self.tracker.take(instance)
        if raw:
            return
        # A ticket created already assigned is two events of one save: announced in one
        # pass, they share the template query, the provider lookup and the inserts.
        with one_pass():
            if created:
                signals.ticket_created.send(sender=sender, ticket=instance)
            if change is not None:
                self.tracker.announce(instance, change)
        if self.numbers.corrected(instance) and not created:
            resend.customer_number_changed(instance)  # never raises into the save

    def _assigned(self, ticket: models.Model, change: AssigneeChange) -> None:
        signals.ticket_assigned.send(
            sender=type(ticket),
            ticket=ticket,
            assignee=related(ticket, self.tracker.field.name),
            occurrence=change.occurrence,
        )

    def _task_saved(
        self, sender: Any, instance: models.Model, created: bool, raw: bool = False, **kw: Any
    ) -> None:
        if not created or raw or instance.__dict__.get(INBOUND_REPLY):
            return
        try:
            ticket = related(instance, self.task_ticket_field, kw.get("using") or "default")
        except Exception:  # never into the host's save, unless the database already lost it
            if host_transaction_lost(kw.get("using") or "default"):
                raise
            logger.exception("helpdesk_sms: ticket of task %r not found", instance)
            return
        if ticket is not None:
            signals.task_added.send(sender=type(ticket), ticket=ticket, task=instance)


#: The watcher connected from settings at startup, if any (tests may disconnect it).
active: ModelWatcher | None = None


def connect_from_settings() -> ModelWatcher | None:
    """Connect the watcher MODEL_WATCHER describes; nothing when unset or invalid.

    An invalid configuration is left to ``manage.py check`` (which ``runserver`` and
    ``migrate`` run) to report, rather than failing every command at startup.
    """
    global active
    config = watcher_settings()
    if config is None or _problems(config):
        return None
    task_model = apps.get_model(config["TASK_MODEL"]) if config["TASK_MODEL"] else None
    watcher = ModelWatcher(
        apps.get_model(config["TICKET_MODEL"]),
        assignee_field=config["ASSIGNEE_FIELD"],
        task_model=task_model,
        task_ticket_field=config["TASK_TICKET_FIELD"],
    )
    watcher.connect()
    active = watcher
    return watcher


def _model(label: Any) -> type[models.Model] | None:
    try:
        return apps.get_model(str(label))
    except (LookupError, ValueError):
        return None


def _foreign_key(model: type[models.Model], name: str) -> models.ForeignKey[Any, Any] | None:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if isinstance(field, models.ForeignKey) else None


def _problems(config: dict[str, Any]) -> list[str]:
    """What is wrong with a MODEL_WATCHER configuration, in words ([] when nothing)."""
    problems = [f"unknown key {key!r}" for key in sorted(set(config) - set(DEFAULTS))]
    ticket_model = _model(config["TICKET_MODEL"]) if config["TICKET_MODEL"] else None
    if ticket_model is None:
        problems.append(
            f"TICKET_MODEL {config['TICKET_MODEL']!r} is not an installed model "
            "('app_label.ModelName')"
        )
        return problems
    from django.contrib.auth import get_user_model

    assignee = _foreign_key(ticket_model, str(config["ASSIGNEE_FIELD"]))
    if assignee is None or assignee.related_model is not get_user_model():
        problems.append(
            f"ASSIGNEE_FIELD {config['ASSIGNEE_FIELD']!r} is not a ForeignKey from "
            f"{ticket_model._meta.label} to the user model"
        )
    if config["TASK_MODEL"]:
        task_model = _model(config["TASK_MODEL"])
        if task_model is None:
            problems.append(f"TASK_MODEL {config['TASK_MODEL']!r} is not an installed model")
        else:
            link = _foreign_key(task_model, str(config["TASK_TICKET_FIELD"]))
            if link is None or link.related_model is not ticket_model:
                problems.append(
                    f"TASK_TICKET_FIELD {config['TASK_TICKET_FIELD']!r} is not a ForeignKey "
                    f"from {task_model._meta.label} to {ticket_model._meta.label}"
                )
    return problems + _reply_problems(config, ticket_model)


def _reply_problems(config: dict[str, Any], ticket_model: type[models.Model]) -> list[str]:
    """What is wrong with the reply keys (OPEN_FIELD, OPEN_VALUES, REPLY_*)."""
    problems = []
    open_field, values = config["OPEN_FIELD"], config["OPEN_VALUES"]
    if open_field and not hasattr(ticket_model, str(open_field)):
        problems.append(
            f"OPEN_FIELD {open_field!r} is not a field, property or method of "
            f"{ticket_model._meta.label}"
        )
    if values is not None and (isinstance(values, str) or not hasattr(values, "__iter__")):
        problems.append(f"OPEN_VALUES must be None or a list of values, not {values!r}")
    if not config["REPLY_MODEL"]:
        return problems
    reply_model = _model(config["REPLY_MODEL"])
    if reply_model is None:
        problems.append(
            f"REPLY_MODEL {config['REPLY_MODEL']!r} is not an installed model "
            "('app_label.ModelName')"
        )
        return problems
    label = reply_model._meta.label
    link = _foreign_key(reply_model, str(config["REPLY_TICKET_FIELD"]))
    if link is None or link.related_model is not ticket_model:
        problems.append(
            f"REPLY_TICKET_FIELD {config['REPLY_TICKET_FIELD']!r} is not a ForeignKey from "
            f"{label} to {ticket_model._meta.label}"
        )
    for key in ("REPLY_TEXT_FIELD", "REPLY_NUMBER_FIELD"):
        name = config[key]
        if key == "REPLY_NUMBER_FIELD" and not name:
            continue
        try:
            field = reply_model._meta.get_field(str(name))
        except FieldDoesNotExist:
            field = None
        if not isinstance(field, (models.CharField, models.TextField)):
            problems.append(f"{key} {name!r} is not a text field (CharField, TextField) of {label}")
    named = {config[k] for k in ("REPLY_TICKET_FIELD", "REPLY_TEXT_FIELD", "REPLY_NUMBER_FIELD")}
    for field in reply_model._meta.concrete_fields:
        if field.name not in named and _required(field):
            problems.append(
                f"REPLY_MODEL {label} has a required field {field.name!r} that a reply cannot "
                "fill (give it a default, or allow null)"
            )
    return problems


def _required(field: models.Field[Any, Any]) -> bool:
    """Whether a new row cannot be saved without a value for ``field``."""
    if field.primary_key or field.null or getattr(field, "auto_now_add", False):
        return False
    return field.get_default() is None


@checks.register()
def check_model_watcher(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report a MODEL_WATCHER that names missing models or fields (it is then not connected)."""
    configured = conf.get("MODEL_WATCHER")
    if not configured:
        return []
    if not isinstance(configured, dict):
        return [
            checks.Error("HELPDESK_SMS['MODEL_WATCHER'] must be a dict.", id="helpdesk_sms.E111")
        ]
    return [
        checks.Error(
            f"HELPDESK_SMS['MODEL_WATCHER']: {problem}; no ticket model is watched.",
            id="helpdesk_sms.E112",
        )
        for problem in _problems({**DEFAULTS, **configured})
    ]
