from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class HelpdeskSmsConfig(AppConfig):
    name = "helpdesk_sms"
    verbose_name = _("Helpdesk SMS")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, feedback, logredact, receivers  # noqa: F401  (registered on import)
        from .integrations import connect_all
        from .periodic import register_periodic_tasks

        logredact.install()
        connect_all()  # django-helpdesk and the model watcher, as the settings say
        post_migrate.connect(register_periodic_tasks, dispatch_uid="helpdesk_sms_periodic")
