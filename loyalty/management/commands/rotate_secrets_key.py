"""Re-encrypt every secret stored at rest under the first SECRETS_ENCRYPTION_KEY.

Rotation: put the new key first and keep the old one after it
(``SECRETS_ENCRYPTION_KEY=NEW,OLD``), restart, run this command, then drop OLD.
Each merchant's row (and each two-factor authenticator's key) is locked and
rewritten in its own transaction; a secret
that no configured key opens stops the command (nothing is lost: the row keeps
its old ciphertext) and is reported.
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from loyalty.models import WalletCredentials
from merchants import audit, secretbox
from merchants.models import AuthenticatorDevice

SECRET_FIELDS = ("apple_certificate", "google_service_account")


class Command(BaseCommand):
    help = "Re-encrypt stored certificates and keys under the first SECRETS_ENCRYPTION_KEY (key rotation)."

    def handle(self, *args, **options) -> None:
        rotated = 0
        for pk in WalletCredentials.objects.order_by("pk").values_list("pk", flat=True):
            with transaction.atomic():
                creds = WalletCredentials.objects.select_for_update().get(pk=pk)
                changed = []
                for field in SECRET_FIELDS:
                    token = getattr(creds, field)
                    if not token:
                        continue
                    try:
                        setattr(creds, field, secretbox.rotate(bytes(token)))
                    except InvalidToken:
                        raise CommandError(
                            f"Merchant {creds.merchant_id}: {field} opens with none of the configured keys; "
                            "add the key it was encrypted with (after the new one) and run again."
                        )
                    changed.append(field)
                if changed:
                    creds.save(update_fields=changed)
                    audit.record(
                        action="secrets.rotated", merchant=creds.merchant_id, target=creds, after={"fields": changed}
                    )
                    rotated += len(changed)
        rotated += self._rotate_authenticators()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} stored secrets under the first key."))

    def _rotate_authenticators(self) -> int:
        rotated = 0
        for pk in AuthenticatorDevice.objects.order_by("pk").values_list("pk", flat=True):
            with transaction.atomic():
                device = AuthenticatorDevice.objects.select_for_update().get(pk=pk)
                try:
                    device.encrypted_key = secretbox.rotate(bytes(device.encrypted_key))
                except InvalidToken:
                    raise CommandError(
                        f"Two-factor device {device.pk} (user {device.user_id}): its key opens with none of the "
                        "configured keys; add the key it was encrypted with (after the new one) and run again."
                    )
                device.save(update_fields=["encrypted_key"])
                rotated += 1
        if rotated:
            audit.record(action="secrets.rotated", after={"authenticator_keys": rotated})
        return rotated
