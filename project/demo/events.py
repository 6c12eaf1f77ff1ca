"""The demo host sends helpdesk_sms's signals from its own model saves.

This is the "host sends our signals" recipe: a pre_save remembers the old assignee, a
post_save compares, and the signals carry the ticket to helpdesk_sms.
"""

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from helpdesk_sms import signals

from .models import Task, Ticket


@receiver(pre_save, sender=Ticket, dispatch_uid="demo_ticket_pre_save")
def remember_assignee(sender, instance: Ticket, **kwargs) -> None:
    previous = None
    if instance.pk:
        previous = Ticket.objects.filter(pk=instance.pk).values_list("assigned_to_id", flat=True)
        previous = previous.first()
    instance._previous_assignee_id = previous


@receiver(post_save, sender=Ticket, dispatch_uid="demo_ticket_post_save")
def announce_ticket(sender, instance: Ticket, created: bool, **kwargs) -> None:
    if created:
        signals.ticket_created.send(sender=Ticket, ticket=instance)
    previous = getattr(instance, "_previous_assignee_id", None)
    if instance.assigned_to_id and instance.assigned_to_id != previous:
        signals.ticket_assigned.send(sender=Ticket, ticket=instance, assignee=instance.assigned_to)


@receiver(post_save, sender=Task, dispatch_uid="demo_task_post_save")
def announce_task(sender, instance: Task, created: bool, **kwargs) -> None:
    if created:
        signals.task_added.send(sender=Ticket, ticket=instance.ticket, task=instance)
