"""Card artwork with Pillow: check uploads, resize for Apple and Google, draw stamp strips.

Everything takes and returns bytes (PNG out), so callers can store the results
wherever they like. Apple wants each image at @1x, @2x and @3x
(``apple_image_set``); Google fetches one logo and one hero image from public
URLs (``google_logo``, ``google_hero``).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Literal

from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_DIMENSION = 4096
MIN_DIMENSION = 16
ALLOWED_FORMATS = ("PNG", "JPEG")
APPLE_SCALES = (1, 2, 3)
MAX_STAMPS = 20
# Drawn this many times larger, then scaled down: Pillow has no anti-aliasing.
_SUPERSAMPLE = 4

RGB = tuple[int, int, int]


class ImageError(ValueError):
    """An upload we cannot use; ``message`` says why, for the merchant."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class AppleImageSpec:
    name: str
    width: int  # points, i.e. pixels at @1x
    height: int
    fit: Literal["contain", "cover", "square"]


APPLE_IMAGES: dict[str, AppleImageSpec] = {
    # Notifications and Mail; square.
    "icon": AppleImageSpec("icon", 29, 29, "square"),
    # Top-left of the card; at most 160×50, keeps its aspect ratio.
    "logo": AppleImageSpec("logo", 160, 50, "contain"),
    # Behind the primary field of a store card; filled edge to edge.
    "strip": AppleImageSpec("strip", 375, 123, "cover"),
}
GOOGLE_LOGO_SIZE = (660, 660)
GOOGLE_HERO_SIZE = (1032, 336)


def hex_to_rgb(value: str) -> RGB:
    """``#rrggbb`` or ``#rgb`` → (r, g, b); ValueError otherwise."""
    text = value.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    if len(text) != 6:
        raise ValueError(f"not a colour: {value!r}")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def open_upload(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES, max_dimension: int = MAX_DIMENSION) -> Image.Image:
    """A checked upload as an RGBA image, rotated upright per its EXIF orientation."""
    if not data:
        raise ImageError(_("The file is empty."))
    if len(data) > max_bytes:
        raise ImageError(
            _("The image is too large (%(size)s MB); the limit is %(limit)s MB.")
            % {"size": f"{len(data) / 1048576:.1f}", "limit": f"{max_bytes / 1048576:g}"}
        )
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ImageError(_("The file is not an image. Upload a PNG or JPEG."))
    if image.format not in ALLOWED_FORMATS:
        raise ImageError(_("%(format)s images are not accepted. Upload a PNG or JPEG.") % {"format": image.format})
    width, height = image.size
    if width > max_dimension or height > max_dimension:
        raise ImageError(
            _("The image is %(width)sx%(height)s pixels; the largest side may be %(limit)s pixels.")
            % {"width": width, "height": height, "limit": max_dimension}
        )
    if width < MIN_DIMENSION or height < MIN_DIMENSION:
        raise ImageError(
            _("The image is too small (%(width)sx%(height)s pixels).") % {"width": width, "height": height}
        )
    try:
        image.load()
    except (OSError, SyntaxError, Image.DecompressionBombError):
        raise ImageError(_("The image file is damaged."))
    return ImageOps.exif_transpose(image).convert("RGBA")


def apple_image_set(kind: str, source: bytes | Image.Image, *, background: str | None = None) -> dict[str, bytes]:
    """``{"logo.png": …, "logo@2x.png": …, "logo@3x.png": …}`` for ``kind`` in APPLE_IMAGES."""
    spec = APPLE_IMAGES[kind]
    image = source if isinstance(source, Image.Image) else open_upload(source)
    fill = hex_to_rgb(background) if background else None
    files = {}
    for scale in APPLE_SCALES:
        size = (spec.width * scale, spec.height * scale)
        if spec.fit == "cover":
            out = ImageOps.fit(image, size, Image.Resampling.LANCZOS)
        elif spec.fit == "contain":
            out = ImageOps.contain(image, size, Image.Resampling.LANCZOS)
        else:
            out = _pad(image, size, fill)
        files[apple_filename(spec.name, scale)] = to_png(out)
    return files


def apple_filename(name: str, scale: int) -> str:
    return f"{name}.png" if scale == 1 else f"{name}@{scale}x.png"


def google_logo(source: bytes | Image.Image, *, background: str | None = None) -> bytes:
    """660×660 PNG; Google masks it to a circle, so it is padded rather than cropped."""
    image = source if isinstance(source, Image.Image) else open_upload(source)
    fill = hex_to_rgb(background) if background else (255, 255, 255)
    inner = ImageOps.contain(image, (int(GOOGLE_LOGO_SIZE[0] * 0.74), int(GOOGLE_LOGO_SIZE[1] * 0.74)))
    return to_png(_pad(inner, GOOGLE_LOGO_SIZE, fill))


def google_hero(source: bytes | Image.Image) -> bytes:
    image = source if isinstance(source, Image.Image) else open_upload(source)
    return to_png(ImageOps.fit(image, GOOGLE_HERO_SIZE, Image.Resampling.LANCZOS))


def to_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _pad(image: Image.Image, size: tuple[int, int], fill: RGB | None) -> Image.Image:
    inner = ImageOps.contain(image, size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", size, (*fill, 255) if fill else (0, 0, 0, 0))
    canvas.alpha_composite(inner, ((size[0] - inner.width) // 2, (size[1] - inner.height) // 2))
    return canvas


# --- Generated artwork -------------------------------------------------------


def _luminance(color: RGB) -> float:
    def channel(c: int) -> float:
        x = c / 255
        return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

    r, g, b = color
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: RGB, b: RGB) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(background: RGB, preferred: RGB) -> RGB:
    """``preferred`` if it stands out on ``background``, else near-white or near-black."""
    if _contrast(background, preferred) >= 2.5:
        return preferred
    return (250, 250, 250) if _luminance(background) < 0.35 else (28, 28, 30)


def _shade(color: RGB, amount: float) -> RGB:
    """Towards white (amount > 0) or black (amount < 0)."""
    r, g, b = (round(c + (255 - c) * amount) if amount >= 0 else round(c * (1 + amount)) for c in color)
    return (r, g, b)


def stamp_strip(
    *,
    filled: int,
    total: int,
    background: str,
    foreground: str,
    scale: int = 1,
    mark: Literal["cup", "check"] = "cup",
) -> bytes:
    """The store-card strip (375×123 pt at ``scale``) with ``filled`` of ``total`` stamps.

    With ``total`` ≥ 2 the last place is the free visit ("every N-th visit is
    free": N − 1 paid visits fill the others), drawn as a gift."""
    if not 1 <= total <= MAX_STAMPS:
        raise ValueError(f"total must be 1..{MAX_STAMPS}, got {total}")
    filled = max(0, min(filled, total))
    spec = APPLE_IMAGES["strip"]
    width, height = spec.width * scale * _SUPERSAMPLE, spec.height * scale * _SUPERSAMPLE
    bg = hex_to_rgb(background)
    fg = readable_on(bg, hex_to_rgb(foreground))

    # A soft vertical gradient gives the strip some depth without a new colour.
    top, bottom = _shade(bg, 0.08 if _luminance(bg) < 0.5 else -0.04), _shade(bg, -0.08)
    gradient = Image.linear_gradient("L").resize((width, height))
    canvas = Image.composite(
        Image.new("RGBA", (width, height), (*bottom, 255)), Image.new("RGBA", (width, height), (*top, 255)), gradient
    )
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)

    rows = 1 if total <= 8 else 2
    cols = math.ceil(total / rows)
    pad_x, pad_y = width * 0.06, height * 0.14
    cell_w, cell_h = (width - 2 * pad_x) / cols, (height - 2 * pad_y) / rows
    diameter = min(cell_w * 0.78, cell_h * 0.84)
    for index in range(total):
        row, col = divmod(index, cols)
        in_row = cols if row < rows - 1 else total - cols * (rows - 1)
        # Centre a shorter last row.
        offset = (cols - in_row) * cell_w / 2
        cx = pad_x + offset + cell_w * (col + 0.5)
        cy = pad_y + cell_h * (row + 0.5)
        gift = total >= 2 and index == total - 1
        _draw_stamp(draw, cx, cy, diameter, filled=index < filled, bg=bg, fg=fg, mark="gift" if gift else mark)

    canvas.alpha_composite(layer)
    out = canvas.resize((width // _SUPERSAMPLE, height // _SUPERSAMPLE), Image.Resampling.LANCZOS)
    return to_png(out)


def stamp_strip_set(
    *, filled: int, total: int, background: str, foreground: str, mark: Literal["cup", "check"] = "cup"
) -> dict[str, bytes]:
    return {
        apple_filename("strip", scale): stamp_strip(
            filled=filled, total=total, background=background, foreground=foreground, scale=scale, mark=mark
        )
        for scale in APPLE_SCALES
    }


def _draw_stamp(
    draw: ImageDraw.ImageDraw, cx: float, cy: float, d: float, *, filled: bool, bg: RGB, fg: RGB, mark: str
) -> None:
    r = d / 2
    box = (cx - r, cy - r, cx + r, cy + r)
    if filled:
        draw.ellipse(box, fill=(*fg, 255))
        ink = (*bg, 255)
    else:
        draw.ellipse(box, fill=(*fg, 28), outline=(*fg, 150), width=max(1, round(d * 0.05)))
        ink = (*fg, 80)
    if mark == "gift":
        if not filled:
            # The free visit's place stands out before it is reached.
            draw.ellipse(box, outline=(*fg, 230), width=max(1, round(d * 0.06)))
            ink = (*fg, 200)
        _draw_gift(draw, cx, cy, d, ink)
    elif mark == "check":
        _draw_check(draw, cx, cy, d, ink)
    else:
        _draw_cup(draw, cx, cy, d, ink)


def _draw_gift(draw: ImageDraw.ImageDraw, cx: float, cy: float, d: float, ink) -> None:
    stroke = max(1, round(d * 0.05))
    w, h = d * 0.40, d * 0.28
    left, top = cx - w / 2, cy - h / 2 + d * 0.06
    # Box and lid.
    draw.rounded_rectangle((left, top, left + w, top + h), radius=d * 0.03, fill=ink)
    draw.rounded_rectangle((left - d * 0.03, top - d * 0.09, left + w + d * 0.03, top), radius=d * 0.02, fill=ink)
    # Bow: two loops above the lid.
    for sign in (-1, 1):
        x = cx + sign * d * 0.07
        draw.ellipse((x - d * 0.065, top - d * 0.2, x + d * 0.065, top - d * 0.09), outline=ink, width=stroke)


def _draw_cup(draw: ImageDraw.ImageDraw, cx: float, cy: float, d: float, ink) -> None:
    stroke = max(1, round(d * 0.055))
    # Body: a rounded trapezoid-ish mug.
    body_w, body_h = d * 0.40, d * 0.32
    left, top = cx - body_w / 2 - d * 0.05, cy - body_h / 2 + d * 0.05
    draw.rounded_rectangle((left, top, left + body_w, top + body_h), radius=d * 0.09, fill=ink)
    # Handle: a ring on the right.
    hr = d * 0.09
    hx, hy = left + body_w + hr * 0.35, top + body_h * 0.42
    draw.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), outline=ink, width=stroke)
    # Saucer.
    draw.rounded_rectangle(
        (left - d * 0.07, top + body_h + d * 0.035, left + body_w + d * 0.07, top + body_h + d * 0.035 + stroke),
        radius=stroke / 2,
        fill=ink,
    )
    # Steam: two short arcs above the cup.
    for dx in (-d * 0.07, d * 0.07):
        x = left + body_w / 2 + dx
        draw.arc((x - d * 0.05, top - d * 0.22, x + d * 0.05, top - d * 0.12), 90, 270, fill=ink, width=stroke)
        draw.arc((x - d * 0.05, top - d * 0.13, x + d * 0.05, top - d * 0.03), 270, 90, fill=ink, width=stroke)


def _draw_check(draw: ImageDraw.ImageDraw, cx: float, cy: float, d: float, ink) -> None:
    points = [(cx - d * 0.2, cy + d * 0.0), (cx - d * 0.05, cy + d * 0.15), (cx + d * 0.22, cy - d * 0.14)]
    draw.line(points, fill=ink, width=max(1, round(d * 0.09)), joint="curve")


_FONT_CANDIDATES = (
    "DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in _FONT_CANDIDATES:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def letter_image(name: str, size: tuple[int, int], *, background: str, foreground: str) -> Image.Image:
    """The first letter of ``name`` centred on the background colour."""
    bg = hex_to_rgb(background)
    fg = readable_on(bg, hex_to_rgb(foreground))
    letter = next((ch for ch in name.strip() if ch.isalnum()), "•").upper()
    big = (size[0] * _SUPERSAMPLE, size[1] * _SUPERSAMPLE)
    image = Image.new("RGBA", big, (*bg, 255))
    draw = ImageDraw.Draw(image)
    font = _font(round(min(big) * 0.6))
    draw.text((big[0] / 2, big[1] / 2), letter, font=font, fill=(*fg, 255), anchor="mm")
    return image.resize(size, Image.Resampling.LANCZOS)


def default_icon_set(name: str, *, background: str, foreground: str) -> dict[str, bytes]:
    """Apple icons from the merchant's initial, for merchants who uploaded none."""
    spec = APPLE_IMAGES["icon"]
    return {
        apple_filename("icon", scale): to_png(
            letter_image(name, (spec.width * scale, spec.height * scale), background=background, foreground=foreground)
        )
        for scale in APPLE_SCALES
    }


def default_google_logo(name: str, *, background: str, foreground: str) -> bytes:
    return to_png(letter_image(name, GOOGLE_LOGO_SIZE, background=background, foreground=foreground))
