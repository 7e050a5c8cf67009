"""Defect 14 on the wallet pass: "every N-th visit is free" is said on the card's
back, and the strip's last place (the free visit) is drawn as a gift."""

from __future__ import annotations

import io
import json

import pytest
from django.conf import settings
from django.utils import translation
from PIL import Image, ImageStat

from loyalty.display import free_visit_text
from loyalty.enrollment.services import enroll_customer
from loyalty.program.services import program_for, save_program
from loyalty.wallet import images, passes
from tests.wallet.pipeline_support import unzip, wallet_settings  # noqa: F401


@pytest.mark.django_db
def test_stamp_pass_says_which_visit_is_free(merchant, owner, location, wallet_settings, pki):  # noqa: F811
    from loyalty.wallet import credentials as wallet_credentials

    wallet_credentials.upload_apple_certificate(merchant=merchant, data=pki.pass_cert.p12(b"pw"), password="pw")
    program_for(merchant=merchant)
    save_program(merchant=merchant, actor=owner, mechanic="stamps", stamps_per_reward=6, welcome_bonus=0)
    card = enroll_customer(merchant=merchant, phone="+79160000001", name="Анна", location=location)
    files = unzip(passes.build_pass(wallet_pass=passes.wallet_pass_for(card=card)))
    back = [f["value"] for f in json.loads(files["pass.json"])["storeCard"]["backFields"]]
    with translation.override(settings.LANGUAGE_CODE):  # the pass's language, as for its other back fields
        rule = free_visit_text(6)
    assert rule in {"Pay for 5 visits, the next one is free", "Оплатите 5 визитов — следующий бесплатно"}
    assert rule in back


def test_last_place_of_the_strip_is_the_free_visit_drawn_as_a_gift():
    # Two empty places: the first an empty cup, the second the free visit, which stands out.
    strip = Image.open(io.BytesIO(images.stamp_strip(filled=0, total=2, background="#000000", foreground="#ffffff")))
    width, height = strip.size
    grey = strip.convert("L")
    first = ImageStat.Stat(grey.crop((0, 0, width // 2, height))).mean[0]
    last = ImageStat.Stat(grey.crop((width // 2, 0, width, height))).mean[0]
    assert last > first * 1.2
