"""A card's barcode as inline SVG for screens (the web card, the designer's
preview), in the format the merchant chose for the wallet pass, so the same
till scanner reads both.

QR comes from segno (as ``loyalty.wallet.qr`` makes it), PDF417 from pdf417gen, Code 128
from python-barcode; each is drawn here as one compact ``<path>`` of its dark
modules, scaled by the SVG's viewBox (crisp at any size)."""

from __future__ import annotations

import io
from collections.abc import Iterable

import barcode as python_barcode
import pdf417gen
import segno
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from pdf417gen.rendering import barcode_size, modules

from loyalty.models import BarcodeFormat

# PDF417 rows are drawn this many times taller than a module is wide, as scanners expect.
PDF417_ROW_RATIO = 3
QUIET = {"pdf417": 2, "code128": 10}


def _path(cells: Iterable[tuple[int, int, int, int]]) -> str:
    # One "M x y h w v h h -w z" rectangle per run of dark modules.
    return "".join(f"M{x} {y}h{w}v{h}h-{w}z" for x, y, w, h in cells)


def _svg(width: int, height: int, path: str, *, title: str, css_class: str) -> SafeString:
    return mark_safe(
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="xMidYMid meet" shape-rendering="crispEdges" role="img" aria-label="{escape(title)}">'
        f'<rect width="{width}" height="{height}" fill="#fff"/><path fill="#000" d="{path}"/></svg>'
    )


def _runs(bits: str) -> Iterable[tuple[int, int]]:
    """(start, length) of each run of "1" in a string of module bits."""
    start = None
    for index, bit in enumerate(bits + "0"):
        if bit == "1" and start is None:
            start = index
        elif bit != "1" and start is not None:
            yield start, index - start
            start = None


def code128_svg(payload: str, *, title: str = "Code 128") -> SafeString:
    bits = python_barcode.get("code128", payload).build()[0]
    quiet = QUIET["code128"]
    height = 60
    cells = ((quiet + start, 0, length, height) for start, length in _runs(bits))
    return _svg(len(bits) + 2 * quiet, height, _path(cells), title=title, css_class="barcode-svg code128")


def pdf417_svg(payload: str, *, title: str = "PDF417") -> SafeString:
    codes = pdf417gen.encode(payload, columns=4, security_level=2)
    width, rows = barcode_size(codes)
    quiet = QUIET["pdf417"]
    dark: dict[int, list[int]] = {}
    for x, y in modules(codes):
        dark.setdefault(y, []).append(x)
    cells = []
    for y, xs in dark.items():
        bits = ["0"] * width
        for x in xs:
            bits[x] = "1"
        for start, length in _runs("".join(bits)):
            cells.append((quiet + start, quiet + y * PDF417_ROW_RATIO, length, PDF417_ROW_RATIO))
    return _svg(
        width + 2 * quiet,
        rows * PDF417_ROW_RATIO + 2 * quiet,
        _path(cells),
        title=title,
        css_class="barcode-svg pdf417",
    )


def qr_code_svg(payload: str, *, title: str = "QR") -> SafeString:
    buffer = io.BytesIO()
    # Same symbol as the wallet QR (level M, boosted); a viewBox instead of a size, so CSS sizes it.
    segno.make_qr(payload, error="m", boost_error=True).save(
        buffer,
        kind="svg",
        scale=1,
        border=2,
        omitsize=True,
        xmldecl=False,
        svgclass="barcode-svg qr",
        lineclass=None,
        light="#fff",
    )
    svg = buffer.getvalue().decode()
    return mark_safe(svg.replace("<svg ", f'<svg role="img" aria-label="{escape(title)}" ', 1))


def barcode_svg(payload: str, barcode_format: str, *, title: str = "") -> SafeString:
    """The barcode of ``payload`` in ``barcode_format`` (a BarcodeFormat value; unknown → QR)."""
    if barcode_format == BarcodeFormat.PDF417:
        return pdf417_svg(payload, title=title or "PDF417")
    if barcode_format == BarcodeFormat.CODE128:
        return code128_svg(payload, title=title or "Code 128")
    return qr_code_svg(payload, title=title or "QR")
