"""QR codes for enrolment URLs (segno), as SVG for the screen and PNG for download and print."""

from __future__ import annotations

import io

import segno


def _code(url: str) -> segno.QRCode:
    if not url:
        raise ValueError("a QR code needs a URL")
    # Level M survives a scuffed counter poster; boost_error raises it when the size allows.
    return segno.make_qr(url, error="m", boost_error=True)


def qr_svg(url: str, *, scale: int = 8, border: int = 4, dark: str = "#000000", light: str | None = "#ffffff") -> bytes:
    """A standalone SVG document (no XML declaration, so it can also be inlined in HTML)."""
    buffer = io.BytesIO()
    _code(url).save(buffer, kind="svg", scale=scale, border=border, dark=dark, light=light, xmldecl=False, unit=None)
    return buffer.getvalue()


def qr_png(url: str, *, scale: int = 10, border: int = 4, dark: str = "#000000", light: str = "#ffffff") -> bytes:
    buffer = io.BytesIO()
    _code(url).save(buffer, kind="png", scale=scale, border=border, dark=dark, light=light)
    return buffer.getvalue()
