"""The favicon: an SVG linked from every issuer page, a PNG fallback, and /favicon.ico (asked for by
browsers on their own) answering with an icon instead of a 404."""

from __future__ import annotations

import io
import re

from PIL import Image


def icon_links(html: str) -> dict[str, str]:
    """rel → href of every <link rel="…icon…"> in the page's head."""
    links = re.findall(r"<link\b[^>]*>", html)
    out = {}
    for link in links:
        rel = re.search(r'rel="([^"]+)"', link)
        href = re.search(r'href="([^"]+)"', link)
        if rel and href and "icon" in rel.group(1):
            out.setdefault(rel.group(1), href.group(1))
            if 'type="image/svg+xml"' in link:
                out["svg"] = href.group(1)
    return out


def fetch(client, path: str):
    """GET `path`, read it whole and close it (static files are streamed from disk)."""
    with client.get(path) as response:
        response.get_data()
        return response


def test_favicon_ico_is_an_icon_not_a_404(client):
    response = fetch(client, "/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert "max-age" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers
    icon = Image.open(io.BytesIO(response.data))
    assert icon.format == "ICO" and {(16, 16), (32, 32)} <= set(icon.info["sizes"])


def test_pages_link_an_svg_favicon_and_a_png_fallback(client):
    for path in ("/", "/login", "/verify", "/no-such-page"):
        html = client.get(path).get_data(as_text=True)
        links = icon_links(html)
        assert "svg" in links and links["icon"].endswith(".png"), (path, links)
        svg = fetch(client, links["svg"])
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
        assert b"<svg" in svg.data and b"viewBox" in svg.data
        png = fetch(client, links["icon"])
        assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
        assert "apple-touch-icon" in links, (path, links)
        touch = Image.open(io.BytesIO(fetch(client, links["apple-touch-icon"]).data))
        assert touch.size == (180, 180)


def test_the_stand_alone_verifier_has_the_same_icons():
    from verifier.settings import verifier_settings
    from verifier.standalone import create_verifier_app

    client = create_verifier_app(verifier_settings(env={}, trusted=("http://127.0.0.1:5000",))).test_client()
    assert fetch(client, "/favicon.ico").status_code == 200
    links = icon_links(client.get("/verify").get_data(as_text=True))
    assert links["svg"].endswith("favicon.svg")
    assert fetch(client, links["svg"]).mimetype == "image/svg+xml"
