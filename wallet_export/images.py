"""Pictures people download: the certification logo and the eCertificate (PNG).

Pure functions: data in, PNG bytes out. Fonts: DejaVu (Debian `fonts-dejavu-core`) when present,
else Pillow's built-in font.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from wallet_export.qr import qr_png

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
LEVEL_COLOURS = {
    "associate": ((21, 101, 192), (13, 71, 161)),
    "specialist": ((0, 121, 107), (0, 77, 64)),
    "professional": ((106, 27, 154), (74, 20, 140)),
    "expert": ((191, 54, 12), (140, 34, 0)),
}
INK = (27, 31, 36)
MUTED = (90, 100, 114)
NAVY = (16, 42, 67)


@lru_cache(maxsize=32)
def font(size: int, *, bold: bool = False, serif: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = ("DejaVuSerif" if serif else "DejaVuSans") + ("-Bold" if bold else "") + ".ttf"
    for folder in _FONT_DIRS:
        if (folder / name).is_file():
            return ImageFont.truetype(str(folder / name), size)
    return ImageFont.load_default(size)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _centered(draw: ImageDraw.ImageDraw, y: int, text: str, face: ImageFont.ImageFont | ImageFont.FreeTypeFont,
              width: int, fill: tuple[int, int, int]) -> int:  # fmt: skip
    box = draw.textbbox((0, 0), text, font=face)
    draw.text(((width - (box[2] - box[0])) // 2, y), text, font=face, fill=fill)
    return y + int(box[3] - box[1])


def _fit(
    draw: ImageDraw.ImageDraw, text: str, max_width: int, size: int, **style: bool
) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    while size > 12:
        face = font(size, **style)
        box = draw.textbbox((0, 0), text, font=face)
        if box[2] - box[0] <= max_width:
            return face
        size -= 2
    return font(size, **style)


def logo_png(*, code: str, level: str, track_name: str, program: str, size: int = 600) -> bytes:
    """A round certification badge: level colour, the code in the middle, track and program."""
    light, dark = LEVEL_COLOURS.get(level, ((55, 71, 79), (38, 50, 56)))
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    margin = size // 40
    draw.ellipse((margin, margin, size - margin, size - margin), fill=dark)
    inner = size // 12
    draw.ellipse(
        (inner, inner, size - inner, size - inner), fill=light, outline=(255, 255, 255), width=max(2, size // 120)
    )
    white = (255, 255, 255)
    _centered(
        draw,
        int(size * 0.25),
        level.upper(),
        _fit(draw, level.upper(), int(size * 0.6), size // 14, bold=True),
        size,
        white,
    )
    _centered(draw, int(size * 0.40), code, _fit(draw, code, int(size * 0.7), size // 6, bold=True), size, white)
    _centered(draw, int(size * 0.62), track_name, _fit(draw, track_name, int(size * 0.62), size // 20), size, white)
    _centered(draw, int(size * 0.70), program, _fit(draw, program, int(size * 0.55), size // 26), size, white)
    return _png(image)


def ecertificate_png(
    *,
    holder: str,
    certification_name: str,
    code: str,
    level: str,
    program: str,
    valid_from: datetime,
    valid_until: datetime,
    credential_url: str,
    credential_id: str,
) -> bytes:
    """A landscape certificate (A4 proportions) with the QR code of the live credential page."""
    width, height = 2000, 1414
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    light, dark = LEVEL_COLOURS.get(level, ((55, 71, 79), (38, 50, 56)))
    draw.rectangle((30, 30, width - 30, height - 30), outline=dark, width=12)
    draw.rectangle((58, 58, width - 58, height - 58), outline=light, width=3)
    y = _centered(draw, 130, program.upper(), font(40, bold=True), width, NAVY)
    y = _centered(draw, y + 70, "Certificate of Achievement", font(84, serif=True), width, INK)
    y = _centered(draw, y + 60, "This certifies that", font(38), width, MUTED)
    y = _centered(draw, y + 40, holder, _fit(draw, holder, width - 300, 96, bold=True, serif=True), width, INK)
    y = _centered(draw, y + 50, "has earned the certification", font(38), width, MUTED)
    y = _centered(
        draw, y + 40, certification_name, _fit(draw, certification_name, width - 300, 64, bold=True), width, dark
    )
    y = _centered(draw, y + 24, code, font(44), width, dark)
    dates = f"Valid from {valid_from.day} {valid_from:%B %Y} until {valid_until.day} {valid_until:%B %Y}"
    _centered(draw, y + 60, dates, font(36), width, INK)

    qr = Image.open(io.BytesIO(qr_png(credential_url, scale=8, border=2))).convert("RGB")
    qr = qr.resize((260, 260), Image.Resampling.NEAREST)
    image.paste(qr, (width - 130 - 260, height - 130 - 300))
    draw.text((130, height - 250), "Verify this certificate: scan the code or open", font=font(30), fill=MUTED)
    draw.text((130, height - 205), credential_url, font=_fit(draw, credential_url, width - 700, 30), fill=NAVY)
    draw.text((130, height - 160), f"Credential ID {credential_id}", font=font(26), fill=MUTED)
    return _png(image)
