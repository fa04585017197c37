"""QR codes of a credential's short URL (never the JWT: a v3–v5 symbol, quick to scan)."""

from __future__ import annotations

import io

import segno

# Error correction M survives a scuffed print or a glare spot; the URL stays a small symbol.
_ERROR = "m"


def qr_png(url: str, *, scale: int = 10, border: int = 4) -> bytes:
    """A black-on-white PNG with the standard 4-module quiet zone."""
    buffer = io.BytesIO()
    segno.make_qr(url, error=_ERROR, boost_error=False).save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()


def qr_svg(url: str, *, title: str | None = None, border: int = 4) -> bytes:
    """A scalable SVG (with an accessible <title>) that prints sharp at any size."""
    buffer = io.BytesIO()
    segno.make_qr(url, error=_ERROR, boost_error=False).save(
        buffer, kind="svg", scale=10, border=border, title=title, xmldecl=True, svgclass=None, lineclass=None
    )
    return buffer.getvalue()
