"""Provider credentials encrypted at rest (issue 9).

The columns become text (a token is longer than the 255 characters a key may have), then
every stored API key, password and callback secret is encrypted with the first key of
HELPDESK_SMS['CREDENTIAL_KEYS'] (outside DEBUG the migration refuses to run without one).
Reversing writes the plain text back.
"""

import django.core.validators
from django.db import migrations, models

import helpdesk_sms.fields

CREDENTIALS = ("api_key", "password", "callback_secrets")


def encrypt_existing(apps, schema_editor):
    """Read each row (plain text is read as it is) and write it back through the field."""
    from helpdesk_sms import credentials

    Provider = apps.get_model("helpdesk_sms", "Provider")
    for row in Provider.objects.using(schema_editor.connection.alias).values("pk", *CREDENTIALS):
        plain = {name: row[name] for name in CREDENTIALS if row[name]}
        if plain:
            credentials.cipher()  # a missing key stops the migration with the reason
            Provider.objects.using(schema_editor.connection.alias).filter(pk=row["pk"]).update(
                **plain
            )


def decrypt_existing(apps, schema_editor):
    """Write the plain text back with SQL (the field would encrypt it again)."""
    Provider = apps.get_model("helpdesk_sms", "Provider")
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(name)} = %s" for name in CREDENTIALS)
    table = quote(Provider._meta.db_table)
    # Only quoted identifiers are interpolated; the values are parameters.
    sql = f"UPDATE {table} SET {assignments} WHERE {quote('id')} = %s"  # noqa: S608
    rows = Provider.objects.using(connection.alias).values_list("pk", *CREDENTIALS)
    with connection.cursor() as cursor:
        for pk, *values in rows:
            cursor.execute(sql, [*(v or "" for v in values), pk])


class Migration(migrations.Migration):

    dependencies = [
        ('helpdesk_sms', '0006_safe_template_variables'),
    ]

    operations = [
        migrations.AddField(
            model_name='provider',
            name='credentials_changed_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='When the API key, password or callback secrets were last set or cleared.', null=True, verbose_name='credentials last changed'),
        ),
        migrations.AlterField(
            model_name='provider',
            name='api_key',
            field=helpdesk_sms.fields.EncryptedTextField(blank=True, help_text='Write-only: never shown again, stored encrypted. Leave empty to keep the stored key.', validators=[django.core.validators.MaxLengthValidator(255)], verbose_name='API key'),
        ),
        migrations.AlterField(
            model_name='provider',
            name='callback_secrets',
            field=helpdesk_sms.fields.EncryptedTextField(blank=True, help_text="Write-only, stored encrypted. Secrets accepted in this provider's delivery-report URL, one per line; several during a rotation. Leave empty to keep the stored ones.", verbose_name='callback secrets'),
        ),
        migrations.AlterField(
            model_name='provider',
            name='password',
            field=helpdesk_sms.fields.EncryptedTextField(blank=True, help_text='Write-only: never shown again, stored encrypted. Leave empty to keep the stored password.', validators=[django.core.validators.MaxLengthValidator(255)], verbose_name='password'),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
    ]
