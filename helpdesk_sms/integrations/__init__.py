"""Hooks into host helpdesks, connected by ``HelpdeskSmsConfig.ready()``.

* :mod:`.django_helpdesk`: django-helpdesk's tickets, assignments and follow-ups.
* :mod:`.model_watcher`: any ticket model, described by ``HELPDESK_SMS["MODEL_WATCHER"]``.

Neither imports the host app unless it is configured, so the app runs without either.
"""

from __future__ import annotations


def connect_all() -> None:
    """Connect every integration the settings enable (importing one also registers its checks)."""
    from . import django_helpdesk, model_watcher

    model_watcher.connect_from_settings()
    django_helpdesk.connect()
