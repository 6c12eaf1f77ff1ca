"""Shared fixtures: simulators on free ports, providers pointing at them, test users."""

from __future__ import annotations

import pytest

from helpdesk_sms.gateways.memory import MemoryGateway

pytest_plugins = [
    "tests.fixtures_simulators",
    "tests.fixtures_unified",
    "tests.fixtures_atl",
    "tests.fixtures_sms1601",
    "tests.fixtures_smsclone",
]


@pytest.fixture(autouse=True)
def _sms_defaults(settings):
    """Tests dispatch explicitly; no broker is kicked unless a test asks for it.

    The credential keys stay the site's (the demo's var/credential-key), so the worker and
    dispatcher subprocesses some tests start read what the test wrote.
    """
    settings.HELPDESK_SMS = {
        "DEFAULT_REGION": "IN",
        "DISPATCH": "none",
        "READ_TIMEOUT": 2,
        "CREDENTIAL_KEYS": settings.HELPDESK_SMS["CREDENTIAL_KEYS"],
    }
    MemoryGateway.reset()
    yield
    MemoryGateway.reset()


@pytest.fixture
def memory_provider(db):
    from helpdesk_sms.models import Provider, SenderID

    provider = Provider.objects.create(name="Memory", gateway="memory", priority=1)
    sender = SenderID.objects.create(provider=provider, value="HELPDK")
    provider.default_sender = sender
    provider.save()
    return provider


@pytest.fixture
def agent(db, django_user_model):
    from helpdesk_sms.models import AgentProfile

    user = django_user_model.objects.create_user(
        "asha", password="pw", first_name="Asha", last_name="Rao"
    )
    AgentProfile.objects.create(user=user, phone="+919812345670")
    return user


@pytest.fixture
def shipped_templates(db):
    """Transactional tests flush the tables, data-migration rows included: put them back."""
    import importlib

    from django.apps import apps

    shipped = importlib.import_module("helpdesk_sms.migrations.0002_default_templates")
    shipped.create_defaults(apps, None)


@pytest.fixture
def demo_watcher(settings):
    """The demo site's MODEL_WATCHER (its Ticket, Task and CustomerReply models): tests run
    with none configured unless they ask for it."""
    from project.settings import HELPDESK_SMS as DEMO_SETTINGS

    settings.HELPDESK_SMS = {
        **settings.HELPDESK_SMS,
        "MODEL_WATCHER": DEMO_SETTINGS["MODEL_WATCHER"],
    }
