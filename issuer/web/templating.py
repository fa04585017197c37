"""Template filters: dates as people read them."""

from __future__ import annotations

from datetime import datetime

from verifier.timeutil import parse_datetime


def long_date(value: str | datetime) -> str:
    """`2029-10-19T23:59:59Z` → `19 October 2029` (UTC)."""
    moment = parse_datetime(value) if isinstance(value, str) else value
    return f"{moment.day} {moment:%B %Y}"
