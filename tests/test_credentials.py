"""Provider credentials at rest: encrypted, rotatable, absent from dumps and the SQL log."""

from __future__ import annotations

import io
import json
import logging

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.core.management import call_command
from django.db import connection, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models.functions import Cast
from django.test.utils import CaptureQueriesContext

from helpdesk_sms.checks import check_credential_keys
from helpdesk_sms.credentials import CredentialKeyError, configured_keys
from helpdesk_sms.models import Provider

API_KEY = "sk-live-CRED-4242"
PASSWORD = "pw-CRED-hunter2"
CALLBACK = "cb-CRED-s3cret"
PLAIN = (API_KEY, PASSWORD, CALLBACK)


def use_keys(settings, *keys: str) -> None:
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "CREDENTIAL_KEYS": list(keys)}


def stored(provider: Provider) -> list[str]:
    """What the database holds in the credential columns, bypassing the field."""
    names = ("api_key", "password", "callback_secrets")
    raw = {f"raw_{n}": Cast(n, models.TextField()) for n in names}
    return list(Provider.objects.annotate(**raw).values_list(*raw).get(pk=provider.pk))


def make_provider(**extra) -> Provider:
    return Provider.objects.create(
        name="Live", gateway="memory", api_key=API_KEY, password=PASSWORD,
        callback_secrets=CALLBACK, **extra,
    )  # fmt: skip


def own_checks() -> list[checks.CheckMessage]:
    return check_credential_keys()


@pytest.mark.django_db
def test_the_database_holds_tokens_and_the_model_plain_text():
    provider = make_provider()

    columns = stored(provider)
    assert all(value.startswith("gAAAAA") for value in columns)
    assert not any(secret in value for value in columns for secret in PLAIN)
    fresh = Provider.objects.get(pk=provider.pk)
    assert (fresh.api_key, fresh.password, fresh.callback_secrets) == PLAIN


@pytest.mark.django_db
def test_an_empty_credential_stays_empty_and_queryable():
    provider = Provider.objects.create(name="Bare", gateway="memory")

    assert stored(provider) == ["", "", ""]
    assert Provider.objects.filter(callback_secrets="").get() == provider


@pytest.mark.django_db
def test_dumpdata_shows_no_credential_and_loads_back(tmp_path):
    provider = make_provider()
    out = io.StringIO()

    call_command("dumpdata", "helpdesk_sms.provider", stdout=out)

    dump = out.getvalue()
    assert not any(secret in dump for secret in PLAIN)
    fields = json.loads(dump)[0]["fields"]
    assert fields["api_key"].startswith("gAAAAA")
    Provider.objects.all().delete()
    path = tmp_path / "providers.json"
    path.write_text(dump)
    call_command("loaddata", str(path), verbosity=0)
    restored = Provider.objects.get(pk=provider.pk)
    assert (restored.api_key, restored.password, restored.callback_secrets) == PLAIN


@pytest.mark.django_db
def test_a_dump_made_with_another_key_is_refused_naming_the_field(settings, tmp_path):
    make_provider()
    out = io.StringIO()
    call_command("dumpdata", "helpdesk_sms.provider", stdout=out)
    Provider.objects.all().delete()
    use_keys(settings, Fernet.generate_key().decode())
    path = tmp_path / "providers.json"
    path.write_text(out.getvalue())

    with pytest.raises(Exception, match="api_key") as caught:
        call_command("loaddata", str(path), verbosity=0)
    assert "cannot be decrypted" in str(caught.value)
    assert not Provider.objects.exists()


@pytest.mark.django_db
def test_rotation_reencrypts_with_the_first_key_so_the_old_one_can_go(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    use_keys(settings, old)
    provider = make_provider()
    use_keys(settings, new, old)
    status = io.StringIO()
    call_command("sms_credentials", "status", stdout=status)
    assert "key 2" in status.getvalue()

    out = io.StringIO()
    call_command("sms_credentials", "rotate", stdout=out)

    assert "1 provider(s)" in out.getvalue()
    status = io.StringIO()
    call_command("sms_credentials", "status", stdout=status)
    assert "key 1" in status.getvalue() and "key 2" not in status.getvalue()
    use_keys(settings, new)
    fresh = Provider.objects.get(pk=provider.pk)
    assert (fresh.api_key, fresh.password, fresh.callback_secrets) == PLAIN


@pytest.mark.django_db
def test_rotation_leaves_the_change_stamp_alone(settings):
    provider = make_provider()
    stamp = Provider.objects.get(pk=provider.pk).credentials_changed_at
    use_keys(settings, Fernet.generate_key().decode(), *configured_keys())

    call_command("sms_credentials", "rotate", stdout=io.StringIO())

    assert Provider.objects.get(pk=provider.pk).credentials_changed_at == stamp


@pytest.mark.django_db
def test_a_key_removed_too_soon_is_named_by_the_check_and_on_read(settings):
    make_provider()
    use_keys(settings, Fernet.generate_key().decode())

    errors = [m for m in own_checks() if m.id == "helpdesk_sms.E006"]
    assert len(errors) == 1 and "'Live'" in errors[0].msg
    with pytest.raises(CredentialKeyError, match="cannot be decrypted"):
        Provider.objects.get(name="Live")


def test_no_key_outside_debug_fails_the_check(settings):
    settings.DEBUG = False
    use_keys(settings)

    assert "helpdesk_sms.E005" in [m.id for m in own_checks()]


def test_no_key_in_debug_warns_and_still_encrypts(settings):
    settings.DEBUG = True
    use_keys(settings)

    assert "helpdesk_sms.W002" in [m.id for m in own_checks()]


def test_a_malformed_key_is_named_by_position_never_printed(settings):
    use_keys(settings, Fernet.generate_key().decode(), "not-a-key-SECRETISH")

    errors = [m for m in own_checks() if m.id == "helpdesk_sms.E005"]
    assert len(errors) == 1
    assert "key 2" in errors[0].msg and "SECRETISH" not in errors[0].msg + (errors[0].hint or "")


@pytest.mark.django_db
def test_saving_without_a_key_outside_debug_writes_nothing(settings):
    settings.DEBUG = False
    use_keys(settings)

    with pytest.raises(CredentialKeyError, match="CREDENTIAL_KEYS"), transaction.atomic():
        make_provider()
    assert not Provider.objects.exists()


def test_generate_key_prints_a_usable_key():
    out = io.StringIO()

    call_command("sms_credentials", "generate-key", stdout=out)

    Fernet(out.getvalue().strip())  # raises if it is not a key


@pytest.mark.django_db
def test_the_change_stamp_moves_when_a_credential_changes():
    provider = make_provider()
    first = provider.credentials_changed_at
    assert first is not None

    provider.api_key = "sk-live-ROTATED"
    provider.save()

    assert Provider.objects.get(pk=provider.pk).credentials_changed_at > first


@pytest.mark.django_db
def test_the_change_stamp_stays_when_other_fields_change():
    provider = make_provider()
    first = Provider.objects.get(pk=provider.pk).credentials_changed_at

    provider = Provider.objects.get(pk=provider.pk)
    provider.priority = 7
    provider.save()

    assert Provider.objects.get(pk=provider.pk).credentials_changed_at == first


@pytest.mark.django_db
def test_the_sql_log_and_connection_queries_never_hold_a_credential(settings, caplog):
    settings.DEBUG = True
    with (
        caplog.at_level(logging.DEBUG, logger="django.db.backends"),
        CaptureQueriesContext(connection) as queries,
    ):
        provider = make_provider()
        provider.password = "pw-CRED-changed"
        provider.save()
        Provider.objects.get(pk=provider.pk)

    sql = " ".join(q["sql"] for q in queries.captured_queries)
    logged = caplog.text + " ".join(repr(r.__dict__) for r in caplog.records)
    assert "INSERT" in sql.upper() and "INSERT" in caplog.text.upper()
    for secret in (*PLAIN, "pw-CRED-changed"):
        assert secret not in sql
        assert secret not in logged


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_credentials_stored_in_plain_text():
    before = ("helpdesk_sms", "0006_safe_template_variables")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps.get_model("helpdesk_sms", "Provider")
    old.objects.create(
        name="Legacy", gateway="memory", api_key=API_KEY, password=PASSWORD,
        callback_secrets=CALLBACK,
    )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    provider = Provider.objects.get(name="Legacy")
    assert all(value.startswith("gAAAAA") for value in stored(provider))
    assert (provider.api_key, provider.password, provider.callback_secrets) == PLAIN
