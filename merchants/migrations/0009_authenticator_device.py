"""Two-factor keys encrypted at rest (issue 13): authenticators move from django-otp's
TOTPDevice (key in plain hex) to merchants.AuthenticatorDevice (key encrypted with
secretbox under SECRETS_ENCRYPTION_KEY), keeping each device's state (confirmed,
drift, last code used, throttling); the plain rows are then deleted."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def encrypt_existing_keys(apps, schema_editor):
    from binascii import unhexlify

    from merchants import secretbox

    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    AuthenticatorDevice = apps.get_model("merchants", "AuthenticatorDevice")
    for old in TOTPDevice.objects.order_by("pk"):
        AuthenticatorDevice.objects.create(
            user_id=old.user_id,
            name=old.name,
            confirmed=old.confirmed,
            encrypted_key=secretbox.encrypt(unhexlify(old.key.encode())),
            step=old.step,
            t0=old.t0,
            digits=old.digits,
            tolerance=old.tolerance,
            drift=old.drift,
            last_t=old.last_t,
            throttling_failure_timestamp=old.throttling_failure_timestamp,
            throttling_failure_count=old.throttling_failure_count,
            created_at=old.created_at,
            last_used_at=old.last_used_at,
        )
        old.delete()


def decrypt_back(apps, schema_editor):
    from merchants import secretbox

    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    AuthenticatorDevice = apps.get_model("merchants", "AuthenticatorDevice")
    for new in AuthenticatorDevice.objects.order_by("pk"):
        TOTPDevice.objects.create(
            user_id=new.user_id,
            name=new.name,
            confirmed=new.confirmed,
            key=secretbox.decrypt(bytes(new.encrypted_key)).hex(),
            step=new.step,
            t0=new.t0,
            digits=new.digits,
            tolerance=new.tolerance,
            drift=new.drift,
            last_t=new.last_t,
        )


class Migration(migrations.Migration):

    dependencies = [
        ('merchants', '0008_support_console'),
        ('otp_static', '0003_add_timestamps'),
        ('otp_totp', '0003_add_timestamps'),
    ]

    operations = [
        migrations.CreateModel(
            name='RecoveryCodeSet',
            fields=[
            ],
            options={
                'verbose_name': 'recovery code set',
                'verbose_name_plural': 'recovery code sets',
                'proxy': True,
                'indexes': [],
                'constraints': [],
            },
            bases=('otp_static.staticdevice',),
        ),
        migrations.CreateModel(
            name='AuthenticatorDevice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text='The human-readable name of this device.', max_length=64)),
                ('confirmed', models.BooleanField(default=True, help_text='Is this device ready for use?')),
                ('throttling_failure_timestamp', models.DateTimeField(blank=True, default=None, help_text='A timestamp of the last failed verification attempt. Null if last attempt succeeded.', null=True)),
                ('throttling_failure_count', models.PositiveIntegerField(default=0, help_text='Number of successive failed attempts.')),
                ('created_at', models.DateTimeField(auto_now_add=True, help_text='The date and time when this device was initially created in the system.', null=True)),
                ('last_used_at', models.DateTimeField(blank=True, help_text='The most recent date and time this device was used.', null=True)),
                ('encrypted_key', models.BinaryField()),
                ('step', models.PositiveSmallIntegerField(default=30)),
                ('t0', models.BigIntegerField(default=0)),
                ('digits', models.PositiveSmallIntegerField(default=6)),
                ('tolerance', models.PositiveSmallIntegerField(default=1)),
                ('drift', models.SmallIntegerField(default=0)),
                ('last_t', models.BigIntegerField(default=-1)),
                ('user', models.ForeignKey(help_text='The user that this device belongs to.', on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'authenticator app',
                'verbose_name_plural': 'authenticator apps',
                'abstract': False,
            },
        ),
        migrations.RunPython(encrypt_existing_keys, decrypt_back),
    ]
