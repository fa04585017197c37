"""The boundary for text and dates from outside (vendor feeds, forms): everything is checked here,
before it is stored, signed, mailed or formatted. Each refusal is an `InvalidInput` with a stable
code and a sentence a person can act on.

Names are signed into credentials and shown to employers, so they are held to the strictest
rule: Unicode NFC; no control characters, no bidirectional overrides or isolates, no invisible
format characters or blank letters (zero-width joiners only between two letters, where scripts
such as Persian need them), no unassigned or private-use code points; single spaces; a bounded length."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime

from issuer.errors import IssuerError

NAME_MAX = 100
EARLIEST = date(1970, 1, 1)  # NumericDates in credentials are never negative
LATEST = date(2199, 12, 31)
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: needed inside words of some scripts
# The only control characters a single line may arrive with (a textarea, a quoted CSV field that
# spans lines); each becomes one space. Every other one is refused *before* whitespace is
# collapsed: `str.split` also splits on U+000B, U+000C, U+001C-U+001F, U+0085, U+2028 and U+2029,
# and would otherwise turn them silently into spaces.
_LINE_WHITESPACE = frozenset("\t\n\r")
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Letters, marks and symbols that draw nothing, though not in a "format" category: the Hangul
# fillers, the blank Braille pattern, the combining grapheme joiner, Khmer's inherent vowels,
# the object replacement character. A name of them would look empty, or like another name.
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5\ufffc")
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_ASCII_DIGITS = re.compile(r"[0-9]{1,9}")


class InvalidInput(IssuerError):
    """A value from outside that we refuse; `code` is stable, the message is for people. On the
    command line it is a usage error (exit 2)."""

    exit_code = 2

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _forbidden(text: str) -> str | None:
    """The first character `text` may not contain (described), or None."""
    for position, char in enumerate(text):
        if char in _LINE_WHITESPACE:
            continue
        category = unicodedata.category(char)
        if char in _JOINERS:
            before = text[position - 1] if position else ""
            after = text[position + 1] if position + 1 < len(text) else ""
            if before.isalpha() and (after.isalpha() or unicodedata.category(after or " ").startswith("M")):
                continue
            return f"an invisible joiner (U+{ord(char):04X}) outside a word"
        if category in _FORBIDDEN_CATEGORIES or char in _BLANK:
            name = unicodedata.name(char, "") if category != "Cs" else "a lone surrogate"
            return f"the invisible or control character U+{ord(char):04X}" + (f" ({name})" if name else "")
    return None


def clean_line(value: str, *, field: str, limit: int, required: bool = False) -> str:
    """A single line of text: NFC, whitespace collapsed, no invisible or control characters."""
    if len(value) > 4 * limit:  # refused before any work on it
        raise InvalidInput("too_long", f"{field} is longer than {limit} characters.")
    normalized = unicodedata.normalize("NFC", value)
    problem = _forbidden(normalized)
    if problem is not None:
        raise InvalidInput("bad_characters", f"{field} contains {problem}.")
    text = " ".join(normalized.split())
    if required and not text:
        raise InvalidInput("missing", f"{field} is empty.")
    if len(text) > limit:
        raise InvalidInput("too_long", f"{field} is longer than {limit} characters.")
    return text


def clean_name(value: str, *, field: str = "The name") -> str:
    """A person's first or last name as we sign it."""
    name = clean_line(value, field=field, limit=NAME_MAX, required=True)
    if not any(char.isalpha() for char in name):
        raise InvalidInput("bad_name", f"{field} has no letters.")
    return name


def clean_email(value: str) -> str:
    """An e-mail address, trimmed and lower-cased (two addresses equal after that are one account)."""
    address = value.strip().lower()
    if len(address) > 254 or not _EMAIL.fullmatch(address) or ".." in address or address.startswith("."):
        raise InvalidInput("malformed_email", f"{value[:80]!r} is not an e-mail address.")
    return address


def _iso_text(value: str, field: str) -> str:
    """The trimmed text of a date: ISO 8601 is printable ASCII. Checked before parsing because
    CPython's parser stops at a NUL in the time part and accepts what came before it."""
    text = value.strip()
    if not (text.isascii() and text.isprintable()):
        raise InvalidInput("bad_date", f"{field} {text[:40]!r} is not an ISO 8601 date or date-time.")
    return text


def parse_date(value: str, *, field: str) -> date:
    """An ISO 8601 date (or the date of an ISO 8601 date-time, in UTC) within 1970–2199."""
    text = _iso_text(value, field)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = parse_datetime(text, field=field).date()
    return _in_range(day, field)


def parse_datetime(value: str, *, field: str) -> datetime:
    """An ISO 8601 date-time as aware UTC (no offset means UTC) within 1970–2199."""
    text = _iso_text(value, field)
    try:
        parsed = datetime.fromisoformat(text)
        moment = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput("bad_date", f"{field} {text[:40]!r} is not an ISO 8601 date or date-time.") from None
    _in_range(moment.date(), field)
    return moment


def _in_range(day: date, field: str) -> date:
    if not EARLIEST <= day <= LATEST:
        raise InvalidInput("bad_date", f"{field} {day.isoformat()} is outside {EARLIEST.year}–{LATEST.year}.")
    return day


def parse_count(value: str, *, field: str) -> int:
    """A whole number written in ASCII digits (at most 9 of them)."""
    text = value.strip()
    if not _ASCII_DIGITS.fullmatch(text):
        raise InvalidInput("bad_number", f"{field} {text[:20]!r} is not a whole number.")
    return int(text)
