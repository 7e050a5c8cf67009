"""Store-card passes built and signed per second.

    .venv/bin/python bench/pass_sign.py [--seconds 10]

Each pass is a full build: pass.json, images (made once, as the designer
would cache them), ru/en strings, SHA-1 manifest, detached PKCS#7 signature
(SHA-256, signingTime, WWDR intermediate) and the ZIP. A throwaway PKI is made
on the spot; one pass is checked with validate_pkpass before timing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    import django

    django.setup()
    from loyalty.wallet import apple, certificates, images
    from tests.fakes.pki import make_pki

    pki = make_pki()
    signer = certificates.load_pem(pki.pass_cert.cert_pem, pki.pass_cert.key_pem())
    artwork = {
        **images.default_icon_set("Зерно", background="#3b2417", foreground="#ffffff"),
        **images.stamp_strip_set(filled=4, total=6, background="#3b2417", foreground="#ffffff"),
    }
    content = apple.PassContent(
        serial_number="0",
        authentication_token="t" * 32,
        organization_name="Кофейня «Зерно»",
        description="Карта лояльности",
        barcode_message="ZRN-0",
        background_color="#3b2417",
        foreground_color="#ffffff",
        label_color="#e8d5c0",
        points=0,
        tier="Золото",
        customer_name="Анна",
        terms="1 балл за каждые 10 ₽",
        locations=(apple.PassLocation(Decimal("55.7558"), Decimal("37.6173"), "Заходите за кофе"),),
        web_service_url="https://loyalty.example/wallet/m1/",
    )
    sample = apple.build_pkpass(content, images=artwork, signer=signer, wwdr=pki.wwdr.cert)
    problems = apple.validate_pkpass(sample)
    if problems:
        sys.exit(f"the sample pass is invalid: {problems}")

    count, total_bytes = 0, 0
    started = time.perf_counter()
    deadline = started + args.seconds
    while time.perf_counter() < deadline:
        data = apple.build_pkpass(
            replace(content, serial_number=f"card-{count}", barcode_message=f"ZRN-{count}", points=count),
            images=artwork,
            signer=signer,
            wwdr=pki.wwdr.cert,
        )
        total_bytes += len(data)
        count += 1
    elapsed = time.perf_counter() - started
    print(f"passes built and signed: {count} in {elapsed:.2f} s (one process, one core)")
    print(f"average .pkpass size:    {total_bytes // count} bytes ({len(artwork)} images)")
    print(f"passes per second:       {count / elapsed:.0f}")


if __name__ == "__main__":
    main()
