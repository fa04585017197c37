"""The logo and the eCertificate images: real PNGs of the promised sizes, and the eCertificate's QR
code leads to the credential page."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import zxingcpp
from PIL import Image

from wallet_export.images import ecertificate_png, logo_png

URL = "https://certs.example.org/c/4fJq9ZxKc2Lw8PnR3tYvB1"


def test_the_logo_is_a_transparent_square_png() -> None:
    image = Image.open(io.BytesIO(logo_png(code="CNA-ENT", level="associate", track_name="Enterprise", program="X")))
    assert image.format == "PNG" and image.size == (600, 600) and image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0  # transparent corners: a round badge
    assert image.getpixel((300, 300))[3] == 255


def test_levels_have_their_own_colours() -> None:
    def centre(level: str) -> tuple[int, ...]:
        data = logo_png(code="C", level=level, track_name="T", program="P")
        return tuple(Image.open(io.BytesIO(data)).convert("RGB").getpixel((300, 40)))

    assert len({centre(level) for level in ("associate", "specialist", "professional", "expert")}) == 4


def test_the_ecertificate_carries_the_qr_code_of_the_credential_page() -> None:
    data = ecertificate_png(
        holder="Amélie Nakamura-Okafor",
        certification_name="Certified Network Associate (Enterprise)",
        code="CNA-ENT",
        level="associate",
        program="Example Certification Program",
        valid_from=datetime(2026, 1, 15, tzinfo=UTC),
        valid_until=datetime(2029, 1, 15, 23, 59, 59, tzinfo=UTC),
        credential_url=URL,
        credential_id="4fJq9ZxKc2Lw8PnR3tYvB1",
    )
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (2000, 1414)  # A4 proportions
    assert [code.text for code in zxingcpp.read_barcodes(image.convert("RGB"))] == [URL]
