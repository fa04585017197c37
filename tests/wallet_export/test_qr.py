"""QR codes of a credential's short URL, read back by an independent decoder (zxing-cpp)."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image

from wallet_export import qr_png, qr_svg

URL = "https://certs.example.org/c/4fJq9ZxKc2Lw8PnR3tYvB1"


def _decode(image: Image.Image) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(image.convert("RGB"))]


def test_the_png_decodes_to_the_url_and_is_a_small_symbol() -> None:
    image = Image.open(io.BytesIO(qr_png(URL)))
    assert _decode(image) == [URL]
    # A short URL is a small symbol (version ≤ 5: at most 37 modules + 2 × 4 quiet modules).
    assert image.width == image.height <= (37 + 8) * 10


def test_the_png_still_decodes_when_printed_small() -> None:
    image = Image.open(io.BytesIO(qr_png(URL, scale=2, border=2)))
    assert _decode(image.resize((image.width * 2, image.height * 2))) == [URL]


def test_the_svg_is_accessible_and_scales() -> None:
    svg = qr_svg(URL, title="QR code of the credential page").decode("utf-8")
    assert svg.startswith("<?xml") and "<title>QR code of the credential page</title>" in svg
    assert re.search(r'viewBox="0 0 \d+ \d+"', svg) or re.search(r'width="\d+"', svg)


@pytest.mark.parametrize(
    "url", [URL, "http://127.0.0.1:5000/c/AAAAAAAAAAAAAAAAAAAAAA", "https://x.example/c/" + "a" * 64]
)
def test_every_credential_url_round_trips(url: str) -> None:
    assert _decode(Image.open(io.BytesIO(qr_png(url)))) == [url]
