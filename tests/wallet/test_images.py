import hashlib
import io
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from loyalty.wallet import images, qr
from loyalty.wallet.images import ImageError


def _upload(size=(800, 400), fmt="PNG", color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def _brightness(image: Image.Image) -> int:
    return sum(image.convert("L").histogram()[v] * v for v in range(256))


def _size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_png_and_jpeg_uploads_are_accepted(fmt):
    assert images.open_upload(_upload(fmt=fmt)).mode == "RGBA"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"GIF89a not really", "not an image"),
        (_upload(fmt="GIF"), "GIF images are not accepted"),
        (_upload(fmt="BMP"), "BMP images are not accepted"),
        (_upload(size=(5000, 100)), "largest side may be 4096"),
        (_upload(size=(8, 8)), "too small"),
        (_upload()[:200], "damaged"),
    ],
)
def test_bad_uploads_are_rejected_with_a_message(data, message):
    with pytest.raises(ImageError, match=message):
        images.open_upload(data)


def test_oversize_file_is_rejected():
    with pytest.raises(ImageError, match="too large"):
        images.open_upload(b"\x89PNG" + b"\0" * (2 * 1024 * 1024 + 1))


def test_apple_sizes_at_each_scale():
    upload = _upload(size=(1200, 600))
    icon = images.apple_image_set("icon", upload)
    logo = images.apple_image_set("logo", upload)
    strip = images.apple_image_set("strip", upload)
    assert {n: _size(d) for n, d in icon.items()} == {
        "icon.png": (29, 29),
        "icon@2x.png": (58, 58),
        "icon@3x.png": (87, 87),
    }
    # A 2:1 logo fits the 160×50 box by height.
    assert {n: _size(d) for n, d in logo.items()} == {
        "logo.png": (100, 50),
        "logo@2x.png": (200, 100),
        "logo@3x.png": (300, 150),
    }
    assert {n: _size(d) for n, d in strip.items()} == {
        "strip.png": (375, 123), "strip@2x.png": (750, 246), "strip@3x.png": (1125, 369)
    }  # fmt: skip


def test_wide_logo_is_limited_by_width():
    assert _size(images.apple_image_set("logo", _upload(size=(1000, 100)))["logo@2x.png"]) == (320, 32)


def test_google_sizes():
    upload = _upload(size=(900, 300))
    assert _size(images.google_logo(upload, background="#ffffff")) == (660, 660)
    assert _size(images.google_hero(upload)) == (1032, 336)


def test_stamp_strip_differs_for_each_count():
    digests = {
        hashlib.sha256(images.stamp_strip(filled=n, total=6, background="#3b2417", foreground="#ffffff")).hexdigest()
        for n in range(7)
    }
    assert len(digests) == 7


def test_stamp_strip_sizes_and_filled_stamps_are_lighter():
    files = images.stamp_strip_set(filled=3, total=6, background="#3b2417", foreground="#ffffff")
    assert {n: _size(d) for n, d in files.items()} == {
        "strip.png": (375, 123), "strip@2x.png": (750, 246), "strip@3x.png": (1125, 369)
    }  # fmt: skip
    none = Image.open(io.BytesIO(images.stamp_strip(filled=0, total=6, background="#3b2417", foreground="#ffffff")))
    all_ = Image.open(io.BytesIO(images.stamp_strip(filled=6, total=6, background="#3b2417", foreground="#ffffff")))
    assert _brightness(all_) > _brightness(none) * 1.3


def test_stamp_strip_bounds():
    with pytest.raises(ValueError):
        images.stamp_strip(filled=0, total=0, background="#000000", foreground="#ffffff")
    # More stamps than the goal are drawn as a full card.
    assert images.stamp_strip(filled=9, total=6, background="#000", foreground="#fff") == images.stamp_strip(
        filled=6, total=6, background="#000", foreground="#fff"
    )


def test_default_icon_uses_background_and_has_every_scale():
    icons = images.default_icon_set("Зерно", background="#3b2417", foreground="#ffffff")
    assert {n: _size(d) for n, d in icons.items()} == {
        "icon.png": (29, 29),
        "icon@2x.png": (58, 58),
        "icon@3x.png": (87, 87),
    }
    corner = Image.open(io.BytesIO(icons["icon@3x.png"])).convert("RGB").getpixel((1, 1))
    assert corner == (59, 36, 23)
    # The letter is there: some pixels are near white.
    assert Image.open(io.BytesIO(icons["icon@3x.png"])).convert("L").getextrema()[1] > 200


def test_unreadable_foreground_is_replaced():
    assert images.readable_on((250, 250, 250), (255, 255, 255)) == (28, 28, 30)
    assert images.readable_on((20, 20, 20), (0, 0, 0)) == (250, 250, 250)
    assert images.readable_on((20, 20, 20), (255, 200, 0)) == (255, 200, 0)


def test_qr_png_and_svg():
    url = "https://loyalty.example/e/zerno?loc=3"
    png = qr.qr_png(url, scale=10, border=4)
    width, height = _size(png)
    assert width == height and width % 10 == 0 and width >= (21 + 8) * 10
    svg = qr.qr_svg(url)
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert qr.qr_svg("https://loyalty.example/e/other") != svg
    with pytest.raises(ValueError):
        qr.qr_png("")
