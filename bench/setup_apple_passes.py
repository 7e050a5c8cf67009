"""Give every card of the bench merchant an Apple Wallet pass registered on a
device, as in production (a customer adds the card to Apple Wallet), through
the wallet's own contract. Run by bench/pos_accrual.py with DATABASE_URL
pointing at the bench database: ``setup_apple_passes.py <merchant id>``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    import django

    django.setup()

    from django.db import connection

    from loyalty.models import AppleDevice, AppleRegistration, Card, WalletPass
    from loyalty.wallet import contract as wallet

    merchant_id = int(sys.argv[1])
    registered = 0
    for card in Card.objects.filter(merchant_id=merchant_id).order_by("pk"):
        wallet_pass = wallet.wallet_pass_for(card=card)
        device, _created = AppleDevice.objects.get_or_create(
            device_library_identifier=f"bench-device-{card.pk}", defaults={"push_token": f"{card.pk:064x}"}
        )
        _registration, created = AppleRegistration.objects.get_or_create(
            merchant_id=merchant_id, device=device, wallet_pass=wallet_pass
        )
        registered += created
    # Start from passes that are not waiting for a sync.
    WalletPass.objects.filter(merchant_id=merchant_id).update(needs_sync_since=None)
    print(f"{registered} Apple registrations added")
    connection.close()


if __name__ == "__main__":
    main()
