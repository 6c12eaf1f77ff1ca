from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "project.demo"
    label = "demo"
    verbose_name = "Demo helpdesk"
    default_auto_field = "django.db.models.BigAutoField"
    # No ready(): helpdesk_sms watches Ticket and Task saves, as HELPDESK_SMS["MODEL_WATCHER"]
    # in project/settings.py describes (the "any ticket model" recipe).
