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
* ``provider_health_changed`` (sender=Provider, provider=…, from_state=…, to_state=…,
  reason=…) sent after the change is committed, when a provider's circuit breaker moves
  between "closed", "open" and "half_open"; receivers are called robustly (errors logged).
* ``budget_cap_reached`` (sender=BudgetCap, cap=BudgetCap, spent=Decimal, period_start=datetime)
  sent once per crossing: the first time in a period (day or month, site time zone) that the
  cap's spend reaches its limit. Called robustly (receivers' errors are logged); the log
  warning and the mail to ADMINS go out as well.
* ``notification_messages_created`` (sender=Message, messages=[Message, …]) sent by
  ``notify()`` right after it wrote the messages of an event (queued, suppressed or failed,
  each with its reason), inside the host's transaction; receivers must not raise (they are
  called robustly and their errors logged). The admin's save feedback listens to it.
* ``sms_received`` (sender=InboundMessage, message=InboundMessage, ticket=the matched ticket
  or None) sent once per customer SMS, when it is first stored and processed (a repeated
  push of the same SMS sends nothing), after ``message.action`` is set. Called robustly:
  a receiver's error is logged and the push is still answered 200.
"""

import logging
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger(__name__)

ticket_created = Signal()
ticket_assigned = Signal()
task_added = Signal()

message_status_changed = Signal()
balance_low = Signal()
budget_cap_reached = Signal()
notification_messages_created = Signal()
provider_health_changed = Signal()
sms_received = Signal()


def send_robustly(signal: Signal, name: str, sender: Any, **kwargs: Any) -> None:
    """Call every receiver of ``signal``; one that raises is logged, never propagated.

    For signals sent from the middle of our own work (a notification, a dispatch pass):
    a host's faulty receiver must not undo or stop it.
    """
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            logger.error("helpdesk_sms: %r failed on %s", receiver, name, exc_info=result)
