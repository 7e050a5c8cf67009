"""The prepared images a pass is built from: cached per design version, default
icon and stamp count, and byte for byte what a fresh render gives."""

# ruff: noqa: F811  (fixtures imported from support modules)

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from loyalty.enrollment.services import enroll_customer
from loyalty.models import CardDesign
from loyalty.program.services import program_for, save_program
from loyalty.wallet import apple, images, passes, render
from tests.wallet.pipeline_support import apple_merchant, unzip, wallet_settings  # noqa: F401

pytestmark = pytest.mark.django_db


def png(colour, size=(320, 100)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def publish(merchant, version: int, *, background: str, logo: bytes) -> CardDesign:
    return CardDesign.objects.create(
        merchant=merchant,
        version=version,
        published_at=timezone.now(),
        background_color=background,
        foreground_color="#ffffff",
        logo=ContentFile(logo, name="logo.png"),
    )


@pytest.fixture
def stamp_card(apple_merchant, owner, location):
    program_for(merchant=apple_merchant)
    save_program(merchant=apple_merchant, actor=owner, mechanic="stamps", stamps_per_reward=6, welcome_bonus=0)
    card = enroll_customer(merchant=apple_merchant, phone="+79160000001", name="Анна", location=location)
    return set_stamps(card, 4)


def set_stamps(card, stamps: int):
    card.stamps = stamps
    card.save(update_fields=["stamps"])
    return card


def fresh(merchant, design: CardDesign, logo: bytes, stamps: int) -> dict[str, bytes]:
    """What the images are when drawn from scratch, with no cache involved."""
    colours = {"background": design.background_color, "foreground": design.foreground_color}
    return {
        **images.apple_image_set("logo", logo, background=design.background_color),
        **images.default_icon_set(merchant.name, **colours),
        **images.stamp_strip_set(filled=stamps, total=6, **colours),
    }


def current_images(card) -> apple.PassImages:
    return render.pass_images(render.card_view(passes.wallet_pass_for(card=card)))


def test_cached_images_are_the_freshly_rendered_ones(stamp_card):
    merchant = stamp_card.merchant
    logo = png((200, 40, 40, 255))
    design = publish(merchant, 1, background="#3b2417", logo=logo)

    cached = current_images(stamp_card)

    expected = fresh(merchant, design, logo, 4)
    assert dict(cached) == expected
    for name, data in expected.items():
        assert cached.digests[name] == hashlib.sha1(data).hexdigest()
    # the next card of the campaign gets the prepared set, not a new one
    assert current_images(stamp_card) is cached


def test_a_new_design_version_or_stamp_count_gets_its_own_images(stamp_card):
    merchant = stamp_card.merchant
    first_logo, second_logo = png((200, 40, 40, 255)), png((40, 40, 200, 255))
    first = publish(merchant, 1, background="#3b2417", logo=first_logo)
    before = current_images(stamp_card)

    second = publish(merchant, 2, background="#10365c", logo=second_logo)
    after = current_images(stamp_card)
    assert dict(after) == fresh(merchant, second, second_logo, 4)
    assert after["logo@2x.png"] != before["logo@2x.png"]
    assert after["strip@2x.png"] != before["strip@2x.png"]

    set_stamps(stamp_card, 5)
    five = current_images(stamp_card)
    assert dict(five) == fresh(merchant, second, second_logo, 5)
    assert five["strip@3x.png"] != after["strip@3x.png"]

    # the pass carries exactly these images and is one an iPhone accepts
    data = passes.build_pass(wallet_pass=passes.wallet_pass_for(card=stamp_card))
    assert apple.validate_pkpass(data) == []
    files = unzip(data)
    assert {name: files[name] for name in five} == dict(five)
    assert json.loads(files["manifest.json"])["strip@3x.png"] == hashlib.sha1(five["strip@3x.png"]).hexdigest()

    set_stamps(stamp_card, 4)
    assert current_images(stamp_card) is after
    assert dict(after) != fresh(merchant, first, first_logo, 4)
