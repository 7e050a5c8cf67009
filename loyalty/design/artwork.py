"""Card pictures drawn for screens, cached per process: the same few colour and
stamp combinations are asked for again and again (the designer's preview as the
merchant picks colours, every visit to a stamp card's web page), and drawing a
strip takes Pillow about 0.2 s."""

from __future__ import annotations

import functools

from loyalty.wallet import images

# Apple's @2x: sharp on phone screens, 750×246 px.
SCREEN_SCALE = 2


@functools.lru_cache(maxsize=512)
def stamp_strip_png(*, filled: int, total: int, background: str, foreground: str) -> bytes:
    return images.stamp_strip(
        filled=filled, total=total, background=background.lower(), foreground=foreground.lower(), scale=SCREEN_SCALE
    )
