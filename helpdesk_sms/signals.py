"""Signals: the three a host sends us, and the two we send.

Incoming (send them from your ticket code, or let an integration do it):

* ``ticket_created``  (sender=ticket model, ticket=…)
* ``ticket_assigned`` (sender=ticket model, ticket=…, assignee=user, [occurrence=…])
* ``task_added``      (sender=ticket model, ticket=…, task=…)

Outgoing:

* ``message_status_changed`` (sender=Message, message=…, from_status=…, to_status=…, source=…)
  sent after the change is committed.
* ``balance_low`` (sender=Provider, provider=…, snapshot=BalanceSnapshot, threshold=Decimal)
  sent once each time a balance crosses below the provider's threshold.
"""

from django.dispatch import Signal

ticket_created = Signal()
ticket_assigned = Signal()
task_added = Signal()

message_status_changed = Signal()
balance_low = Signal()
