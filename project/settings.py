"""Demo site settings, read from the environment (see .env.example).

Defaults need no server: SQLite under var/ and kombu's filesystem broker.
"""

from importlib.util import find_spec
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env(
    DEBUG=(bool, True),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    SECRET_KEY=(str, "demo-only-insecure-key-change-me"),
    DATABASE_URL=(str, f"sqlite:///{VAR_DIR / 'demo.sqlite3'}"),
    CELERY_BROKER_URL=(str, "filesystem://"),
    HELPDESK_SMS_DEFAULT_REGION=(str, "IN"),
    HELPDESK_SMS_DISPATCH=(str, "celery"),
    HELPDESK_SMS_DEMO_HELPDESK=(bool, True),
    HELPDESK_SMS_CREDENTIAL_KEYS=(str, ""),
)
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env("DEBUG")
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "helpdesk_sms",
    "project.demo",
]

# django-helpdesk (the `demo` extra) joins the demo when it is installed, unless
# HELPDESK_SMS_DEMO_HELPDESK=0: the same settings then serve a site without it.
DEMO_HELPDESK = env("HELPDESK_SMS_DEMO_HELPDESK") and find_spec("helpdesk") is not None
if DEMO_HELPDESK:
    INSTALLED_APPS += [
        "django.contrib.sites",  # django-helpdesk builds its links from the current Site
        "django.contrib.humanize",
        "rest_framework",  # django-helpdesk's API
        "helpdesk",
    ]
    SITE_ID = 1
    HELPDESK_TEAMS_MODE_ENABLED = False  # teams need pinax-teams, which we do not install
    LOGIN_URL = "helpdesk:login"
    LOGIN_REDIRECT_URL = "helpdesk:home"
    MEDIA_ROOT = VAR_DIR / "media"  # ticket attachments

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # keeps a helpdesk ticket's phone through django-helpdesk's quick-assign (README)
    "helpdesk_sms.integrations.posted_fields.CurrentRequestMiddleware",
]

ROOT_URLCONF = "project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "project.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL")}
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # Keep connections between requests: a gateway's report pushes arrive by the hundred, and
    # a new PostgreSQL connection per push costs more than the push's own work.
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # The demo's web server and Celery worker share one SQLite file: wait, don't fail, on a lock.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # WAL: readers never block the writer, and a commit need not wait for the disk each
    # time (a crash may lose the last commits, never corrupt the file): the demo's web
    # server, worker and webhook pushes share the file.
    DATABASES["default"]["OPTIONS"]["init_command"] = (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

ADMINS = [("Demo admin", "admin@example.com")]
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

CELERY_BROKER_URL = env("CELERY_BROKER_URL")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue = VAR_DIR / "broker"
    for _folder in ("processed", "control"):
        (_queue / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(_queue / "processed"),
        "control_folder": str(_queue / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Bounded waits on the broker: a frozen or unreachable one costs a publish seconds, not
    # forever (saves never wait at all: helpdesk_sms publishes from a background thread).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 5, "socket_connect_timeout": 2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE



def demo_credential_keys() -> str:
    """The demo's own credential key, made once in var/ (readable by this user only).

    A real site sets HELPDESK_SMS_CREDENTIAL_KEYS from its secret store instead. Created by
    linking a finished file into place, so processes starting together agree on one key.
    """
    import os
    import tempfile

    from cryptography.fernet import Fernet

    path = VAR_DIR / "credential-key"
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=VAR_DIR)  # mode 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


HELPDESK_SMS = {
    # Keys encrypting provider credentials (first writes, all read): from the environment,
    # comma-separated; the demo makes its own.
    "CREDENTIAL_KEYS": env("HELPDESK_SMS_CREDENTIAL_KEYS") or demo_credential_keys(),
    "DEFAULT_REGION": env("HELPDESK_SMS_DEFAULT_REGION") or None,
    "DISPATCH": env("HELPDESK_SMS_DISPATCH"),
    # The demo polls often so a message visibly reaches "delivered" within seconds.
    "SWEEP_INTERVAL": 30,
    "REPORT_POLL_INTERVAL": 10,
    "BALANCE_CHECK_INTERVAL": 300,
    # The demo's own Ticket model is watched by its saves; its Task is the "task added",
    # its CustomerReply a customer's SMS answer.
    "MODEL_WATCHER": {
        "TICKET_MODEL": "demo.Ticket",
        "ASSIGNEE_FIELD": "assigned_to",
        "TASK_MODEL": "demo.Task",
        "TASK_TICKET_FIELD": "ticket",
        # A customer's SMS answer to one of its tickets becomes a CustomerReply on it.
        "REPLY_MODEL": "demo.CustomerReply",
        "REPLY_TEXT_FIELD": "text",
        "REPLY_NUMBER_FIELD": "number",
    },
    # django-helpdesk tickets keep the customer's mobile in their "phone" custom field;
    # other tickets (the demo's own) fall back to the default resolver.
    "CUSTOMER_PHONE_RESOLVER": "helpdesk_sms.integrations.django_helpdesk.customer_phone",
    "DJANGO_HELPDESK": {"PHONE_FIELD": "phone", "FOLLOWUPS": "public"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"helpdesk_sms": {"handlers": ["console"], "level": "INFO"}},
}
