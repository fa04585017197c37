"""ISO 8601 date-times as the credential formats use them (always with a UTC offset)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


def parse_datetime(value: str) -> datetime:
    """Parse an XML Schema dateTimeStamp; a value without an offset is refused."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("date-time without a time zone offset")
    return parsed


@lru_cache(maxsize=4096)  # bulk issuance formats the same few dates over and over
def format_datetime(value: datetime) -> str:
    """UTC, second precision, `Z` suffix: `2026-11-28T12:00:00Z`."""
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
