"""Store-card passes built and signed per CPU-second, for a warm design (a campaign: many cards, one design version).

    .venv/bin/python bench/pass_sign.py [--seconds 5]

Each pass is a full build: pass.json, ru/en strings, SHA-1 manifest, detached
PKCS#7 signature (SHA-256, signingTime, WWDR intermediate) and the ZIP. The
images are a stamp card's: the merchant's default icon and the stamp strip for
the card's count (0..6 of 6), taken from ``render.pass_images`` as the service
does, so the per-design cache is what is measured. A throwaway PKI is made on
the spot; every image set's pass is checked with validate_pkpass before timing.

Printed, CPU time (process_time) first, wall clock beside it (two shared cores:
other work on the machine moves the wall clock, much less the CPU time):
- warm design: the images come prepared from the cache;
- images prepared per pass: the same build handed plain image bytes each time;
- RSA-2048 signatures alone, in the same run: the floor of any pass build, as
  every pass needs one;
- a certificate-cache miss: decrypting and loading a stored certificate, with
  and without OpenSSL's RSA key check.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

TARGET_PER_CPU_SECOND = 1500


def measure(seconds: float, step: Callable[[int], object]) -> tuple[int, float, float]:
    """(operations, CPU seconds, wall seconds) of running ``step`` for ``seconds`` of CPU time."""
    count, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
    while time.process_time() - cpu0 < seconds:
        step(count)
        count += 1
    return count, time.process_time() - cpu0, time.perf_counter() - wall0


def rate(label: str, result: tuple[int, float, float]) -> float:
    count, cpu, wall = result
    per_cpu = count / cpu
    ms = cpu / count * 1000
    print(f"{label:<30} {per_cpu:6.0f} per CPU-second ({ms:.3f} ms CPU), {count / wall:6.0f} per wall-second")
    return per_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="CPU seconds per measurement")
    args = parser.parse_args()

    import django

    django.setup()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from loyalty.models import Card, Mechanic, Program, WalletPass
    from loyalty.wallet import apple, certificates, render
    from loyalty.wallet import credentials as wallet_credentials
    from merchants import secretbox
    from merchants.models import Merchant
    from tests.fakes.pki import make_pki

    pki = make_pki()
    signer = certificates.load_pem(pki.pass_cert.cert_pem, pki.pass_cert.key_pem())
    merchant = Merchant(name="Кофейня «Зерно»")
    program = Program(mechanic=Mechanic.STAMPS, stamps_per_reward=6)
    # One view per stamp count: a campaign's cards share the design and differ in their count.
    views = [
        render.CardView(Card(merchant=merchant, stamps=stamps), WalletPass(), render.DEFAULT_DESIGN, program)
        for stamps in range(7)
    ]
    content = apple.PassContent(
        serial_number="0",
        authentication_token="t" * 32,
        organization_name=merchant.name,
        description="Карта лояльности",
        barcode_message="ZRN-0",
        background_color="#3b2417",
        foreground_color="#ffffff",
        label_color="#e8d5c0",
        stamps=0,
        stamps_goal=6,
        tier="Золото",
        customer_name="Анна",
        terms="1 штамп за каждую покупку кофе",
        locations=(apple.PassLocation(Decimal("55.7558"), Decimal("37.6173"), "Заходите за кофе"),),
        web_service_url="https://loyalty.example/wallet/m1/",
    )

    def card(n: int) -> apple.PassContent:
        return replace(content, serial_number=f"card-{n}", barcode_message=f"ZRN-{n}", stamps=n % 7)

    def build_warm(n: int) -> bytes:
        images = render.pass_images(views[n % 7])
        return apple.build_pkpass(card(n), images=images, signer=signer, wwdr=pki.wwdr.cert)

    plain = [dict(render.pass_images(view)) for view in views]

    def build_plain(n: int) -> bytes:
        return apple.build_pkpass(card(n), images=plain[n % 7], signer=signer, wwdr=pki.wwdr.cert)

    for n in range(7):
        problems = apple.validate_pkpass(build_warm(n))
        if problems:
            sys.exit(f"the sample pass is invalid: {problems}")
    size = len(build_warm(4))

    print(f"stamp card, {len(plain[4])} images, .pkpass {size} bytes, RSA-{signer.private_key.key_size} signer")
    warm = rate("warm design (cached images)", measure(args.seconds, build_warm))
    rate("images prepared per pass", measure(args.seconds, build_plain))
    floor = rate(
        "RSA signature alone (floor)",
        measure(args.seconds, lambda n: signer.private_key.sign(b"%d" % n, padding.PKCS1v15(), hashes.SHA256())),
    )
    print(f"warm design / target {TARGET_PER_CPU_SECOND}: {warm / TARGET_PER_CPU_SECOND:.2f}")
    print(f"warm design / RSA signatures alone: {warm / floor:.2f}")

    ciphertext = secretbox.encrypt(signer.to_bundle())
    digest = hashlib.sha256(ciphertext).hexdigest()

    def miss(_n: int) -> None:
        wallet_credentials._decrypt_bundle.cache_clear()
        wallet_credentials._decrypt_bundle(digest, ciphertext)

    count, cpu, _wall = measure(min(args.seconds, 2.0), miss)
    print(f"certificate-cache miss (stored, trusted):   {cpu / count * 1000:6.2f} ms CPU")
    count, cpu, _wall = measure(
        min(args.seconds, 2.0), lambda _n: certificates.load_bundle(secretbox.decrypt(ciphertext))
    )
    print(f"same with OpenSSL's RSA key check (before): {cpu / count * 1000:6.2f} ms CPU")
    print(f"certificates cached per process: {wallet_credentials._decrypt_bundle.cache_info().maxsize}")


if __name__ == "__main__":
    main()
