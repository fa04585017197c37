"""Reading the vendor feeds (SPEC §3.5): CSV, UTF-8 (with or without BOM), header row, blank
lines skipped, each row with the physical line it starts on. Streaming: a file is read twice
(a quick pass checks the encoding and counts rows for the progress bar), never held in memory;
standard input is spooled to a temporary file first."""

from __future__ import annotations

import codecs
import csv
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, NamedTuple

from issuer import inputs
from issuer.errors import IssuerError

REGISTRATION_COLUMNS = ("registration_id", "email", "first_name", "last_name", "exam_code", "registered_at")
REGISTRATION_OPTIONAL = ("exam_date",)
RESULT_COLUMNS = ("registration_id", "exam_code", "exam_date", "score", "passing_score", "result")

_REGISTRATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")


class FeedError(IssuerError):
    """The file as a whole cannot be imported (exit 2): unreadable, wrong header, not UTF-8."""

    code = "bad_feed"
    exit_code = 2


class RowRejected(IssuerError):
    """One row is rejected with a stable code; the other rows go on."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class FeedRow(NamedTuple):
    line: int  # the 1-based physical line the row starts on (the header is line 1)
    values: dict[str, str]


@contextmanager
def open_feed(path: str) -> Iterator[Path]:
    """A readable path for `path` (`-` spools standard input to a temporary file)."""
    if path != "-":
        source = Path(path)
        if source.is_dir():
            raise FeedError(f"cannot read {path}: it is a directory, not a file")
        if not source.is_file():
            raise FeedError(f"cannot read {path}: no such file")
        yield source
        return
    import sys

    with tempfile.NamedTemporaryFile(prefix="certmanager-feed-", suffix=".csv") as spool:
        shutil.copyfileobj(sys.stdin.buffer, spool, 1024 * 1024)
        spool.flush()
        yield Path(spool.name)


def check_encoding(path: Path) -> int:
    """Validate UTF-8 throughout (exit 2 otherwise) and count the lines, without holding the file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    try:
        with path.open("rb") as handle:
            chunk = b""
            while chunk := handle.read(1024 * 1024):
                decoder.decode(chunk)
                lines += chunk.count(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        line = lines + chunk[: exc.start].count(b"\n") + 1
        raise FeedError(
            f"{path.name} is not valid UTF-8 on line {line}: save it as UTF-8 and import it again"
        ) from None
    except OSError as exc:
        raise FeedError(f"cannot read {path.name}: {exc.strerror}") from None
    return lines


def read_rows(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> Iterator[FeedRow]:
    """Rows as dicts of trimmed strings; raises FeedError for a wrong header."""
    try:
        handle: IO[str] = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise FeedError(f"cannot read {path.name}: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle, strict=False)
        try:
            header = next(reader)
        except StopIteration:
            raise FeedError("the file is empty: a header row is required") from None
        except csv.Error as exc:
            raise FeedError(f"the header row is not valid CSV: {exc}") from None
        columns = [h.strip().lower() for h in header]
        if columns not in (list(required), list(required) + list(optional)):
            expected = ",".join(required) + "".join(f"[,{o}]" for o in optional)
            raise FeedError(f"wrong header: expected {expected}, got {','.join(columns)}")
        last_line = reader.line_num
        while True:
            start = last_line + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                last_line = reader.line_num
                yield FeedRow(start, {"__error__": f"not valid CSV: {exc}"})
                continue
            last_line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue  # blank line
            if len(fields) != len(columns):
                detail = f"expected {len(columns)} fields, found {len(fields)}"
                yield FeedRow(
                    start,
                    {
                        "__error__": detail,
                        "__code__": "missing_fields" if len(fields) < len(columns) else "extra_fields",
                    },
                )
                continue
            yield FeedRow(start, {name: value.strip() for name, value in zip(columns, fields, strict=True)})


# Field parsers: each raises RowRejected with the stable code of SPEC §3.5; the checks
# themselves are the input boundary's (`issuer.inputs`).


def required(values: dict[str, str], name: str) -> str:
    value = values.get(name, "")
    if not value:
        raise RowRejected("missing_fields", f"{name} is empty")
    return value


def registration_id(values: dict[str, str]) -> str:
    value = required(values, "registration_id")
    if not _REGISTRATION_ID.fullmatch(value):  # `match` with `$` would let a trailing newline through
        raise RowRejected("bad_registration_id", f"registration_id {value[:80]!r} is not a valid identifier")
    return value


def email(values: dict[str, str]) -> str:
    try:
        return inputs.clean_email(required(values, "email"))
    except inputs.InvalidInput as exc:
        raise RowRejected("malformed_email", exc.message) from None


def name(values: dict[str, str], field: str) -> str:
    try:
        return inputs.clean_name(required(values, field), field=field)
    except inputs.InvalidInput as exc:
        raise RowRejected("bad_name", exc.message) from None


def iso_date(values: dict[str, str], name: str, *, optional: bool = False) -> date | None:
    value = values.get(name, "")
    if not value:
        if optional:
            return None
        raise RowRejected("missing_fields", f"{name} is empty")
    try:
        return inputs.parse_date(value, field=name)
    except inputs.InvalidInput as exc:
        raise RowRejected("bad_date", exc.message) from None


def iso_datetime(values: dict[str, str], name: str) -> datetime:
    try:
        return inputs.parse_datetime(required(values, name), field=name)
    except inputs.InvalidInput as exc:
        raise RowRejected("bad_date", exc.message) from None


def integer(values: dict[str, str], name: str) -> int:
    try:
        return inputs.parse_count(required(values, name), field=name)
    except inputs.InvalidInput as exc:
        raise RowRejected("bad_score", exc.message) from None
