"""What an uploaded image carries: a baked Open Badges credential (PNG iTXt / SVG) or a QR code.

Checked by content (magic bytes), not by name; at most 5 MB and 25 megapixels, refused before
any pixel is decoded.
"""

from __future__ import annotations

import io

import zxingcpp
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from PIL import Image, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 25_000_000
_SCAN_EDGE = 2400  # large phone photos are scaled down before QR detection
OB_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"


class UploadError(Exception):
    """A bad upload; `code` is stable, `status` the HTTP status to answer with."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg"):
        return "svg"
    return None


def extract(data: bytes) -> str:
    """The credential token or link an uploaded image carries. Raises UploadError."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError("file_too_large", 413, "The image is larger than 5 MB.")
    if not data:
        raise UploadError("empty_file", 400, "The uploaded file is empty.")
    kind = sniff(data)
    if kind is None:
        raise UploadError(
            "unsupported_image", 415, "Upload a PNG, JPEG, GIF or WebP photo or screenshot, or an SVG badge."
        )
    if kind == "svg":
        return _from_svg(data)
    return _from_raster(data)


def _from_svg(data: bytes) -> str:
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError, LookupError):  # LookupError: unknown encoding
        raise UploadError("image_unreadable", 422, "The SVG file could not be read.") from None
    element = root.find(f"{{{OB_NAMESPACE}}}credential")
    token: str | None = element.get("verify") if element is not None else None
    if not token:
        raise UploadError(
            "no_credential_found", 422, "This SVG has no baked credential. Upload a photo or screenshot of a QR code."
        )
    return token.strip()


def _too_large() -> UploadError:
    return UploadError("image_too_large", 413, "The image has more than 25 megapixels.")


# Pillow's own pixel limit (MAX_IMAGE_PIXELS, about 89 MP: a warning, then an error past twice
# that) is above ours, so either means "too large". The warning is an exception only where
# warnings are errors (as under pytest); elsewhere Pillow prints it and our own check answers.
# Pillow's global limit is left as it is.
_PILLOW_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)
_UNREADABLE = (UnidentifiedImageError, OSError, ValueError, SyntaxError)


def _from_raster(data: bytes) -> str:
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise _too_large()
        image.load()
    except _PILLOW_BOMB:
        raise _too_large() from None
    except _UNREADABLE:
        raise UploadError("image_unreadable", 422, "The image could not be read.") from None
    baked = getattr(image, "text", {}).get("openbadgecredential") if image.format == "PNG" else None
    if baked:
        return str(baked).strip()
    try:
        # Converted first: Pillow cannot scale every mode (16-bit greyscale, for one).
        scan: Image.Image = image if image.mode in ("L", "RGB") else image.convert("RGB")
        if max(scan.size) > _SCAN_EDGE:
            scan.thumbnail((_SCAN_EDGE, _SCAN_EDGE))
    except _UNREADABLE:
        raise UploadError("image_unreadable", 422, "The image could not be read.") from None
    codes = zxingcpp.read_barcodes(scan, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    if not codes:
        raise UploadError(
            "no_code_found", 422, "No QR code was found in the image. Try a sharper photo, closer to the code."
        )
    return codes[0].text.strip()
