"""django-helpdesk (2.6) as the host: its tickets, assignments and follow-ups become SMS.

The only module of the app that imports django-helpdesk, and only once the integration is
enabled (``HELPDESK_SMS["DJANGO_HELPDESK"]["ENABLED"]``; by default: when ``helpdesk`` is in
INSTALLED_APPS), so the app works the same without it.

How each event is caught, whatever path made it:

* **Ticket created.** django-helpdesk's ``new_ticket_done`` covers its staff and public
  forms, the API (which saves through the staff form) and e-mail import; it is sent after
  the ticket's custom fields are saved, so the customer's phone is known. Paths that never
  send it (the Django admin's "add ticket", a custom public form class, the host's own ORM
  code) are caught from the ticket's first save and announced at the first of: the phone
  custom field being saved, or the commit of the surrounding transaction.
* **Ticket assigned.** From the ticket's own saves (an :class:`AssigneeTracker`), not from
  helpdesk signals: bulk assign, "take", hold, merge and the API's ticket update send none,
  but every one of them saves the ticket row by row (none uses ``QuerySet.update()``).
  A ticket created already assigned inside a transaction (the staff form, ATOMIC_REQUESTS)
  is announced to its agent together with its creation, in one pass (one template query,
  one provider lookup, one insert); in autocommit, at once.
* **Follow-up added** (``task_added``). From each new FollowUp row (bulk actions and holds
  send no helpdesk signal either). A follow-up acknowledges the customer, like
  django-helpdesk's own e-mail to the submitter, when it carries a comment or resolves or
  closes the ticket, when it is public (``FOLLOWUPS="public"``) or whatever it is
  (``"all"``), and when it is not the opening follow-up every new ticket gets.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.core import checks
from django.db import connections, transaction
from django.db.models.signals import post_init, post_save, pre_save

from .. import conf, resend, resolvers, signals
from ..notifications import one_pass
from ..savepoints import host_transaction_lost, inside_host_transaction, related
from .model_watcher import INBOUND_REPLY, AssigneeChange, AssigneeTracker
from .posted_fields import MIDDLEWARE_PATH, helpdesk_form_left_out

logger = logging.getLogger(__name__)

#: Every key DJANGO_HELPDESK knows, with its default.
DEFAULTS: dict[str, Any] = {
    # True / False; None: on when "helpdesk" is in INSTALLED_APPS. Read once, at startup.
    "ENABLED": None,
    # Name of the django-helpdesk custom field holding the customer's mobile number.
    "PHONE_FIELD": "phone",
    # Slugs of the queues whose tickets send SMS; None: every queue.
    "QUEUES": None,
    # {queue slug: provider name}: send that queue's SMS through its own provider.
    "QUEUE_PROVIDERS": {},
    # Which follow-ups acknowledge the customer: "public", "all" (private too) or "none".
    "FOLLOWUPS": "public",
}
FOLLOWUP_CHOICES = ("public", "all", "none")

#: What this module calls a customer's number, for CUSTOMER_PHONE_RESOLVER.
RESOLVER_PATH = "helpdesk_sms.integrations.django_helpdesk.customer_phone"

UID = "helpdesk_sms_django_helpdesk"
# Marks kept on the saved ticket instance for the length of one operation.
NEW = "_helpdesk_sms_new"
ANNOUNCED = "_helpdesk_sms_announced"
HELD = "_helpdesk_sms_held_assignments"  # made before the creation was announced
FIRST_FOLLOWUP = "_helpdesk_sms_first_followup"  # the pk of the opening follow-up
LOADED_VALUE = "_helpdesk_sms_loaded_value"  # a custom field's value as it was loaded

_tracker: AssigneeTracker | None = None


def helpdesk_settings() -> dict[str, Any]:
    """The effective DJANGO_HELPDESK settings, defaults filled in."""
    return {**DEFAULTS, **(conf.get("DJANGO_HELPDESK") or {})}


def is_enabled() -> bool:
    """Whether the integration should run: the ENABLED setting, or helpdesk installed."""
    enabled = helpdesk_settings()["ENABLED"]
    installed = apps.is_installed("helpdesk")
    return installed if enabled is None else bool(enabled) and installed


def never_raise(func: Callable[..., Any]) -> Callable[..., None]:
    """A receiver that logs its failures: a helpdesk save must never fail because of SMS.

    It takes no savepoint itself: most of these receivers read nothing from the database
    (what they need is in memory), and notify takes its own for its queries. Where one does
    read, it does so through :func:`_in_savepoint` or ``savepoints.related``, because a
    database error inside the host's transaction would otherwise abort it, and the ticket
    save with it.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except Exception:
            if host_transaction_lost():
                raise  # the host's own transaction is gone: never pretend it saved
            logger.exception("helpdesk_sms: django-helpdesk %s failed", func.__name__)

    return wrapper


# -- connecting ------------------------------------------------------------------------


def connect() -> bool:
    """Connect the receivers when the integration is enabled; True if it was."""
    global _tracker
    if not is_enabled():
        return False
    from helpdesk.models import FollowUp, Ticket, TicketCustomFieldValue
    from helpdesk.signals import new_ticket_done

    post_save.connect(_ticket_saved, sender=Ticket, dispatch_uid=UID)
    post_save.connect(_custom_field_saved, sender=TicketCustomFieldValue, dispatch_uid=UID)
    pre_save.connect(_phone_field_saving, sender=TicketCustomFieldValue, dispatch_uid=UID)
    post_init.connect(_custom_field_loaded, sender=TicketCustomFieldValue, dispatch_uid=UID)
    post_save.connect(_followup_saved, sender=FollowUp, dispatch_uid=UID)
    new_ticket_done.connect(_new_ticket_done, dispatch_uid=UID)
    _tracker = AssigneeTracker(Ticket, "assigned_to", _assigned, uid=f"{UID}_assignee")
    _tracker.connect()
    return True


def disconnect() -> None:
    """Undo :func:`connect` (for tests and for sites that switch it off at runtime)."""
    global _tracker
    if not apps.is_installed("helpdesk"):
        return
    from helpdesk.models import FollowUp, Ticket, TicketCustomFieldValue
    from helpdesk.signals import new_ticket_done

    post_save.disconnect(sender=Ticket, dispatch_uid=UID)
    post_save.disconnect(sender=TicketCustomFieldValue, dispatch_uid=UID)
    pre_save.disconnect(sender=TicketCustomFieldValue, dispatch_uid=UID)
    post_init.disconnect(sender=TicketCustomFieldValue, dispatch_uid=UID)
    post_save.disconnect(sender=FollowUp, dispatch_uid=UID)
    new_ticket_done.disconnect(dispatch_uid=UID)
    if _tracker is not None:
        _tracker.disconnect()
        _tracker = None


# -- the customer's phone and the template context -------------------------------------


def is_helpdesk_ticket(ticket: Any) -> bool:
    meta = getattr(ticket, "_meta", None)
    return meta is not None and meta.concrete_model._meta.label_lower == "helpdesk.ticket"


def customer_phone(ticket: Any) -> str | None:
    """A CUSTOMER_PHONE_RESOLVER: a helpdesk ticket's PHONE_FIELD custom field.

    Any other ticket (or a helpdesk ticket without that field) goes to the default
    resolver, so one site can run django-helpdesk and a ticket model of its own.
    """
    if is_helpdesk_ticket(ticket) and ticket.pk is not None:
        name = helpdesk_settings()["PHONE_FIELD"]
        value = (
            ticket.ticketcustomfieldvalue_set.filter(field__name=name)
            .values_list("value", flat=True)
            .first()
        )
        if value and str(value).strip():
            return str(value).strip()
    return resolvers.customer_phone_from_ticket(ticket)


def public_url(ticket: Any) -> str:
    """The page where the submitter follows the ticket without logging in ("" if unknown)."""
    from django.urls import NoReverseMatch, reverse
    from helpdesk.lib import build_base_url

    try:
        path = reverse("helpdesk:public_view")
    except NoReverseMatch:
        return ""
    query = urlencode(
        {
            "ticket": ticket.ticket_for_url,
            "email": ticket.submitter_email or "",
            "key": ticket.secret_key,
        }
    )
    return f"{build_base_url()}{path}?{query}"


def ticket_context(ticket: Any, followup: Any = None) -> dict[str, Any]:
    """What templates get besides ``ticket``: plain values an operator can use directly."""
    assignee = ticket.assigned_to
    return {
        "ticket_id": ticket.pk,
        "ticket_ref": ticket.ticket_for_url,
        "title": ticket.title,
        "queue": ticket.queue.title,
        "priority": str(ticket.get_priority_display()),
        "status": str(ticket.get_status_display()),
        "ticket_url": public_url(ticket),
        "submitter": ticket.submitter_email or "",
        "assignee_name": (assignee.get_full_name() or assignee.get_username()) if assignee else "",
        "followup": followup,
        "followup_title": (followup.title or "") if followup is not None else "",
        "followup_comment": (followup.comment or "") if followup is not None else "",
    }


def _queue_slug(ticket: Any) -> str | None:
    return ticket.queue.slug if ticket.queue_id else None


def _queue_sends(ticket: Any) -> bool:
    queues = helpdesk_settings()["QUEUES"]
    return queues is None or _queue_slug(ticket) in queues


def _queue_provider(ticket: Any) -> str | None:
    providers = helpdesk_settings()["QUEUE_PROVIDERS"] or {}
    return providers.get(_queue_slug(ticket)) if providers else None


def _in_memory(ticket: Any) -> bool:
    """Whether what :func:`ticket_context` reads is loaded: then it runs no query at all.

    The form or view that saved the ticket assigned its queue and owner as objects, and the
    current Site is cached after its first use; so this is the usual case, and it costs the
    save no savepoint.
    """
    from django.conf import settings
    from django.contrib.sites.models import SITE_CACHE

    fields = type(ticket)._meta
    for name in ("queue", "assigned_to"):
        field = fields.get_field(name)
        if getattr(ticket, field.attname) is not None and not field.is_cached(ticket):
            return False
    return getattr(settings, "SITE_ID", None) in SITE_CACHE


def _in_savepoint(compute: Callable[[], Any], ticket: Any) -> Any:
    """``compute()``, in a savepoint when it may read the host's tables (see _in_memory)."""
    if _in_memory(ticket):
        return compute()
    with inside_host_transaction():
        return compute()


def _signal_kwargs(ticket: Any, followup: Any = None) -> dict[str, Any] | None:
    """What our signal carries for ``ticket``; None when its queue sends no SMS."""

    def compute() -> dict[str, Any] | None:
        if not _queue_sends(ticket):
            return None
        return {"provider": _queue_provider(ticket), **ticket_context(ticket, followup)}

    return _in_savepoint(compute, ticket)


# -- the phone kept through django-helpdesk's quick-assign -----------------------------


@never_raise
def _phone_field_saving(
    sender: Any, instance: Any, raw: bool = False, using: str = "default", **kwargs: Any
) -> None:
    """Keep the customer's number when a helpdesk form that never showed it empties it.

    django-helpdesk 2.6's quick-assign box (the ticket page's header) posts only the owner,
    and its update view then saves every custom field as empty: the customer would never be
    texted again. A form post to a helpdesk view that lacks ``custom_<PHONE_FIELD>`` cannot
    have meant to clear it, so the stored number is kept, and the "Changed phone from … to ."
    line helpdesk has just written for it is removed. A number cleared on a form that shows
    the field, in the admin, through the API or in code is cleared (needs
    :class:`~.posted_fields.CurrentRequestMiddleware`).
    """
    name = helpdesk_settings()["PHONE_FIELD"]
    if raw or instance.pk is None or (instance.value and str(instance.value).strip()):
        return
    if not helpdesk_form_left_out(f"custom_{name}"):
        return
    if related(instance, "field", using).name != name:
        return
    with inside_host_transaction(using):
        stored = (
            type(instance)
            ._default_manager.using(using)
            .filter(pk=instance.pk)
            .values_list("value", flat=True)
            .first()
        )
        if not (stored and str(stored).strip()):
            return
        instance.value = stored
        _forget_emptying_change(instance.ticket_id, name, stored, using)
    logger.info(
        "helpdesk_sms: kept the %s of ticket %s: the helpdesk form posted no %s field",
        name,
        instance.ticket_id,
        name,
    )


def _forget_emptying_change(ticket_id: Any, name: str, stored: str, using: str) -> None:
    """Delete the TicketChange helpdesk wrote for the emptying we undid (its latest one)."""
    from helpdesk.models import TicketChange

    change = (
        TicketChange.objects.using(using)
        .filter(followup__ticket_id=ticket_id, field=name, old_value=stored)
        .order_by("-pk")
        .first()
    )
    if change is not None and not (change.new_value or "").strip():
        change.delete()


# -- ticket created --------------------------------------------------------------------


@never_raise
def _ticket_saved(
    sender: Any, instance: Any, created: bool, raw: bool = False, using: str = "default", **kw: Any
) -> None:
    if not created or raw:
        return
    instance.__dict__[NEW] = True
    if connections[using].in_atomic_block:
        # The admin and ATOMIC_REQUESTS views: by the commit everything is saved. (Outside
        # a transaction on_commit would run right now, before the custom fields exist.)
        transaction.on_commit(lambda: _announce_created(instance), using=using)


@never_raise
def _new_ticket_done(sender: Any, ticket: Any, **kwargs: Any) -> None:
    _announce_created(ticket)


def _custom_field_loaded(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Keep the value as loaded: a save can then tell, in memory, whether it changed it."""
    instance.__dict__[LOADED_VALUE] = instance.__dict__.get("value")


@never_raise
def _custom_field_saved(
    sender: Any,
    instance: Any,
    created: bool = False,
    raw: bool = False,
    using: str = "default",
    **kwargs: Any,
) -> None:
    """The phone custom field of a ticket being created: the customer can be told now.

    Of an existing ticket, a number added or changed: its acknowledgement, if it was
    suppressed for want of a valid number, goes to the new one (once; see resend.py).
    """
    loaded, instance.__dict__[LOADED_VALUE] = instance.__dict__.get(LOADED_VALUE), instance.value
    if raw or related(instance, "field", using).name != helpdesk_settings()["PHONE_FIELD"]:
        return
    ticket = related(instance, "ticket", using)
    if ticket.__dict__.get(NEW):
        _announce_created(ticket)
    elif str(instance.value or "").strip() and (created or instance.value != loaded):
        resend.customer_number_changed(ticket, provider=_queue_provider(ticket))


@never_raise
def _announce_created(ticket: Any) -> None:
    if ticket.__dict__.get(ANNOUNCED):
        return
    ticket.__dict__[ANNOUNCED] = True
    held = ticket.__dict__.pop(HELD, [])
    kwargs = _signal_kwargs(ticket)
    if kwargs is None:
        return
    # The assignments made while the ticket was being created go out with it, in one pass.
    with one_pass():
        signals.ticket_created.send(sender=type(ticket), ticket=ticket, **kwargs)
        for change, assignee in held:
            _send_assigned(ticket, change, assignee, kwargs)


# -- ticket assigned -------------------------------------------------------------------


def _assigned(ticket: Any, change: AssigneeChange) -> None:
    assignee = related(ticket, "assigned_to")
    if (
        ticket.__dict__.get(NEW)
        and not ticket.__dict__.get(ANNOUNCED)
        and connections[ticket._state.db or "default"].in_atomic_block
    ):
        # Created already assigned, in a transaction: the creation is announced by the
        # commit at the latest (see _ticket_saved), and this assignment with it.
        ticket.__dict__.setdefault(HELD, []).append((change, assignee))
        return
    kwargs = _signal_kwargs(ticket)
    if kwargs is not None:
        _send_assigned(ticket, change, assignee, kwargs)


def _send_assigned(
    ticket: Any, change: AssigneeChange, assignee: Any, kwargs: dict[str, Any]
) -> None:
    signals.ticket_assigned.send(
        sender=type(ticket),
        ticket=ticket,
        assignee=assignee,
        occurrence=change.occurrence,
        **kwargs,
    )


# -- follow-up added -------------------------------------------------------------------


def followup_acknowledges_customer(followup: Any) -> bool:
    """Whether a new follow-up texts the customer (see the module's docstring)."""
    mode = helpdesk_settings()["FOLLOWUPS"]
    if mode == "none" or not (followup.public or mode == "all"):
        return False
    ticket = related(followup, "ticket")
    closing = followup.new_status in (ticket.RESOLVED_STATUS, ticket.CLOSED_STATUS)
    if not (followup.comment or closing):
        return False
    return not _is_opening(followup)


def _is_opening(followup: Any) -> bool:
    """The follow-up every form and e-mail import writes when it creates the ticket.

    That is the first follow-up saved for the ticket being created; ``_followup_saved``
    notes which one it was on the ticket, so telling costs no query. Asked about one it did
    not see, this looks in the database for any other.
    """
    ticket = related(followup, "ticket")
    if not ticket.__dict__.get(NEW):
        return False
    if FIRST_FOLLOWUP in ticket.__dict__:
        return ticket.__dict__[FIRST_FOLLOWUP] == followup.pk
    with inside_host_transaction():  # a query of ours on the host's save path
        others = type(followup)._default_manager.filter(ticket=ticket).exclude(pk=followup.pk)
        return not others.exists()


def _note_followup(followup: Any) -> None:
    """Remember the first follow-up of a ticket being created (see _is_opening)."""
    if not type(followup)._meta.get_field("ticket").is_cached(followup):
        return  # saved through another copy of the ticket: not the one being created here
    ticket = followup.ticket
    if ticket.__dict__.get(NEW):
        ticket.__dict__.setdefault(FIRST_FOLLOWUP, followup.pk)


@never_raise
def _followup_saved(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if not created or raw:
        return
    _note_followup(instance)
    if instance.__dict__.get(INBOUND_REPLY) or not followup_acknowledges_customer(instance):
        return
    ticket = instance.ticket
    signal_kwargs = _signal_kwargs(ticket, instance)
    if signal_kwargs is None:
        return
    signals.task_added.send(sender=type(ticket), ticket=ticket, task=instance, **signal_kwargs)


# -- checks ----------------------------------------------------------------------------


@checks.register()
def check_django_helpdesk(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report DJANGO_HELPDESK settings that cannot work, and a resolver that cannot see phones."""
    configured = conf.get("DJANGO_HELPDESK") or {}
    if not isinstance(configured, dict):
        return [
            checks.Error("HELPDESK_SMS['DJANGO_HELPDESK'] must be a dict.", id="helpdesk_sms.E101")
        ]
    errors: list[checks.CheckMessage] = [
        checks.Error(
            f"HELPDESK_SMS['DJANGO_HELPDESK'] has an unknown key {key!r}.",
            hint="Known keys: " + ", ".join(sorted(DEFAULTS)),
            id="helpdesk_sms.E102",
        )
        for key in sorted(set(configured) - set(DEFAULTS))
    ]
    options = helpdesk_settings()
    if options["ENABLED"] and not apps.is_installed("helpdesk"):
        errors.append(
            checks.Error(
                "HELPDESK_SMS['DJANGO_HELPDESK']['ENABLED'] is True but 'helpdesk' is not in "
                "INSTALLED_APPS.",
                id="helpdesk_sms.E103",
            )
        )
    if options["FOLLOWUPS"] not in FOLLOWUP_CHOICES:
        errors.append(
            checks.Error(
                "HELPDESK_SMS['DJANGO_HELPDESK']['FOLLOWUPS'] must be one of "
                + ", ".join(repr(c) for c in FOLLOWUP_CHOICES)
                + ".",
                id="helpdesk_sms.E104",
            )
        )
    queues, providers = options["QUEUES"], options["QUEUE_PROVIDERS"]
    if queues is not None and (isinstance(queues, str) or not hasattr(queues, "__iter__")):
        errors.append(
            checks.Error(
                "HELPDESK_SMS['DJANGO_HELPDESK']['QUEUES'] must be None or a list of queue slugs.",
                id="helpdesk_sms.E105",
            )
        )
    if not isinstance(providers, dict):
        errors.append(
            checks.Error(
                "HELPDESK_SMS['DJANGO_HELPDESK']['QUEUE_PROVIDERS'] must be a dict of "
                "{queue slug: provider name}.",
                id="helpdesk_sms.E106",
            )
        )
    if is_enabled():
        errors.extend(_enabled_problems())
    return errors


def _enabled_problems() -> list[checks.CheckMessage]:
    problems: list[checks.CheckMessage] = []
    if conf.get("CUSTOMER_PHONE_RESOLVER") == conf.DEFAULTS["CUSTOMER_PHONE_RESOLVER"]:
        problems.append(
            checks.Warning(
                "django-helpdesk tickets keep the customer's phone in a custom field, which "
                "the default CUSTOMER_PHONE_RESOLVER does not read: every customer SMS about "
                "them will be suppressed for want of a number.",
                hint=f"Set HELPDESK_SMS['CUSTOMER_PHONE_RESOLVER'] = {RESOLVER_PATH!r} "
                "(or to your own resolver).",
                id="helpdesk_sms.W101",
            )
        )
    from django.conf import settings

    if MIDDLEWARE_PATH not in (getattr(settings, "MIDDLEWARE", None) or []):
        problems.append(
            checks.Warning(
                "django-helpdesk's quick-assign box (the ticket page's header) saves the "
                "customer's phone custom field as empty, and without the middleware that "
                "lets us see it was not posted the number is lost: that customer is never "
                "texted again.",
                hint=f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE.",
                id="helpdesk_sms.W102",
            )
        )
    watched = (conf.get("MODEL_WATCHER") or {}).get("TICKET_MODEL")
    if isinstance(watched, str) and watched.lower() == "helpdesk.ticket":
        problems.append(
            checks.Error(
                "HELPDESK_SMS['MODEL_WATCHER'] watches helpdesk.Ticket, which the "
                "django-helpdesk integration already does: tickets would be announced twice.",
                hint="Remove MODEL_WATCHER, or set DJANGO_HELPDESK['ENABLED'] = False.",
                id="helpdesk_sms.E107",
            )
        )
    return problems
