"""Signals: the three a host sends us, and the ones we send.

Incoming (send them from your ticket code, or let an integration do it):

* ``ticket_created``  (sender=ticket model, ticket=…)
* ``ticket_assigned`` (sender=ticket model, ticket=…, assignee=user, [occurrence=…])
* ``task_added``      (sender=ticket model, ticket=…, task=…)

Outgoing:

* ``message_status_changed`` (sender=Message, message=…, from_status=…, to_status=…, source=…)
  sent after the change is committed.
* ``balance_low`` (sender=Provider, provider=…, snapshot=BalanceSnapshot, threshold=Decimal)
  sent once each time a balance crosses below the provider's threshold.
* ``budget_cap_reached`` (sender=BudgetCap, cap=BudgetCap, spent=Decimal, period_start=datetime)
  sent once per crossing: the first time in a period (day or month, site time zone) that the
  cap's spend reaches its limit. Called robustly (receivers' errors are logged); the log
  warning and the mail to ADMINS go out as well.
* ``notification_messages_created`` (sender=Message, messages=[Message, …]) sent by
  ``notify()`` right after it wrote the messages of an event (queued, suppressed or failed,
  each with its reason), inside the host's transaction; receivers must not raise (they are
  called robustly and their errors logged). The admin's save feedback listens to it.
"""

from django.dispatch import Signal

ticket_created = Signal()
ticket_assigned = Signal()
task_added = Signal()

message_status_changed = Signal()
balance_low = Signal()
budget_cap_reached = Signal()
notification_messages_created = Signal()
