"""ISO 8601 date-times as the credential formats use them (always with a UTC offset).

`parse_datetime` is the one boundary for date-times from outside (tokens, status lists): what it
returns is aware UTC, so formatting and comparing it can never overflow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


def parse_datetime(value: str) -> datetime:
    """Parse an XML Schema dateTimeStamp into aware UTC; ValueError for anything UTC cannot hold."""
    if not isinstance(value, str):
        raise ValueError("a date-time must be a string")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("date-time without a time zone offset")
    if parsed.tzinfo is UTC:  # the usual `Z`: nothing to convert
        return parsed
    try:
        # 9999-12-31T23:59:59-23:59 exists with its offset but is year 10000 in UTC.
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("date-time outside the range UTC can represent") from None


@lru_cache(maxsize=4096)  # bulk issuance formats the same few dates over and over
def format_datetime(value: datetime) -> str:
    """UTC, second precision, `Z` suffix: `2026-11-28T12:00:00Z`."""
    # isoformat, not strftime: strftime("%Y") writes year 1 as "1", which is not ISO 8601.
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


@lru_cache(maxsize=4096)  # every verification words its credential's expiry this way
def long_date(moment: datetime) -> str:
    """A date as people read it: `19 October 2029` (UTC)."""
    utc = moment.astimezone(UTC)
    return f"{utc.day} {utc:%B} {utc.year}"
