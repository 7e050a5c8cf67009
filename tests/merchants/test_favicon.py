"""The product's icon: /favicon.ico (asked for by every browser on every page) and the
icons the pages link to are served by the project itself, over real HTTP."""

import io
import re

import httpx
from PIL import Image


def test_favicon_ico_is_an_image(live_server):
    response = httpx.get(f"{live_server.url}/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/")
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "ICO"
    assert (32, 32) in image.info["sizes"]


def test_pages_link_icons_that_answer(live_server, db):
    page = httpx.get(f"{live_server.url}/login/").text
    links = re.findall(r'<link rel="(?:icon|apple-touch-icon)" href="([^"]+)"(?: type="([^"]+)")?', page)
    assert {href for href, _type in links} >= {"/favicon.ico"}
    assert any(kind == "image/svg+xml" for _href, kind in links)
    for href, _type in links:
        response = httpx.get(f"{live_server.url}{href}")
        assert response.status_code == 200, href
        assert response.headers["content-type"].split(";")[0] in {
            "image/svg+xml",
            "image/x-icon",
            "image/vnd.microsoft.icon",
            "image/png",
        }, href
