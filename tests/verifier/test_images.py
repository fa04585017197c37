"""Uploads past the pixel limit: every image above 25 megapixels is 413 `image_too_large`,
whether Pillow itself refuses it (DecompressionBombError), warns about it (DecompressionBombWarning,
an error under pytest's `filterwarnings = error`) or opens it quietly. The PNGs are a header and
one tiny IDAT chunk built here, so no pixel is ever decoded."""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import pytest
from PIL import Image

from verifier.images import MAX_PIXELS, UploadError, extract


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims `width`×`height` (8-bit greyscale) with a few bytes of pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def refusal(data: bytes) -> UploadError:
    with pytest.raises(UploadError) as caught:
        extract(data)
    return caught.value


@pytest.mark.parametrize(
    "width,height",
    [
        (5001, 5000),  # 25,005,000: just above the limit; Pillow is silent
        (10_000, 10_000),  # 100 MP: above Pillow's MAX_IMAGE_PIXELS, so it warns
        (30_000, 30_000),  # 900 MP: above twice that, so it raises DecompressionBombError
        (1, 2**31 - 1),  # a sliver, still 2 gigapixels
    ],
    ids=["just-above-25MP", "pillow-warns", "pillow-refuses", "sliver"],
)
def test_every_image_above_25_megapixels_is_413_image_too_large(width: int, height: int) -> None:
    assert width * height > MAX_PIXELS
    error = refusal(png_claiming(width, height))
    assert (error.status, error.code) == (413, "image_too_large")


def test_the_refusal_does_not_depend_on_the_warnings_filter() -> None:
    """Outside pytest the bomb warning is only printed; the answer must be the same."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        error = refusal(png_claiming(10_000, 10_000))
    assert (error.status, error.code) == (413, "image_too_large")


def test_exactly_25_megapixels_is_not_refused_for_its_size() -> None:
    error = refusal(png_claiming(5000, 5000))  # claims 25 MP but carries almost no pixel data
    assert error.code != "image_too_large"


def test_pillow_global_state_is_untouched() -> None:
    before = Image.MAX_IMAGE_PIXELS
    refusal(png_claiming(30_000, 30_000))
    import verifier.images  # noqa: F401 - importing must not change it either

    assert Image.MAX_IMAGE_PIXELS == before


@pytest.mark.parametrize("mode", ["I;16", "1", "LA", "P", "RGBA", "CMYK"])
@pytest.mark.parametrize("size", [(9600, 1), (1, 9600), (12000, 40)], ids=["wide", "tall", "strip"])
def test_a_large_image_in_any_mode_is_read_or_refused_never_an_error(mode: str, size: tuple[int, int]) -> None:
    """A probe found that a 16-bit greyscale PNG 9,600 px wide (98 bytes) crashed the scaling
    before the QR scan: every mode is scaled after it is converted to one the scanner reads."""
    image = Image.new(mode, size)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG" if mode == "CMYK" else "PNG")
    with pytest.raises(UploadError) as refused:
        extract(buffer.getvalue())
    assert refused.value.code in ("no_code_found", "image_unreadable")
