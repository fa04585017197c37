"""Properties of the vendor feeds (SPEC §3.5, §6) over generated input (hypothesis).

Row by row: every field parser, `parse_result` and the registration rows, given any strings
(control characters, NUL, bidirectional overrides, zero-width characters, lone surrogates, very
long strings, dates that overflow in UTC, digits of other scripts), either parses or raises
`RowRejected` with a code — nothing else. What they accept is what `issuer.inputs` promises.

Whole files, through `certmanager import …`: a generated file mixing good rows, bad rows, repeats,
conflicts and blank lines exits 0 or 3 (never 1, never a traceback); each rejected row is
reported once as `line N: <code>: <reason>` with the physical line it starts on; afterwards
exactly the good rows are in the database (registrations, accounts, results, credentials, mail),
names stored and signed as `clean_name` promises; importing the file again changes nothing."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select

from issuer import inputs, runtime
from issuer.cli import main
from issuer.db import get_session, unit_of_work
from issuer.models import Candidate, CredentialRecord, ExamResult, MailMessage, Registration
from issuer.services import feeds, imports
from issuer.services.feeds import FeedRow, RowRejected
from issuer.services.import_report import ImportReport
from issuer.services.registration_rows import apply_registrations
from issuer.services.result_rows import ParsedResult, parse_result


def examples(count: int, *, shrink: bool = True) -> settings:
    """`count` examples; no deadline (timings vary by machine). The whole-file properties run the
    CLI two or three times per example, so shrinking a failure would take Hypothesis's full five
    minutes: they report the generated file as it was instead (every draw is labelled)."""
    return settings(
        max_examples=count,
        deadline=None,
        phases=[phase for phase in Phase if shrink or phase is not Phase.shrink],
        database=None,  # no .hypothesis/ example database needed in CI
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # one app per test function, many examples in it
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


ROW_CODES = frozenset({
    "malformed_row", "missing_fields", "extra_fields", "bad_registration_id", "malformed_email", "bad_name",
    "unknown_exam", "bad_date", "bad_score", "bad_result", "inconsistent_result", "unknown_registration",
    "conflicting_data",
})  # fmt: skip
REGISTRATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
REPORT_LINE = re.compile(r"line (\d+): ([a-z_]+): (.+)")
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what the CSV reader counts as a physical line
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
JOINERS = frozenset("\u200c\u200d")
FIRST_EXAMS = ["EX-ENT-101", "EX-SEC-101", "EX-DC-101", "EX-SP-101"]  # no prerequisites: a pass grants
CERT_OF = {"EX-ENT-101": "CNA-ENT", "EX-SEC-101": "CNA-SEC", "EX-DC-101": "CNA-DC", "EX-SP-101": "CNA-SP"}
ALL_EXAMS = [*FIRST_EXAMS, "EX-ENT-201", "EX-SEC-301", "EX-DC-401"]

# --------------------------------------------------------------------------- hostile strings

CONTROLS = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0)]]
BIDI = [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]]
INVISIBLE = ["\u200b", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u2028", "\u2029", "\ue000", "\u0378", "\U000e0041"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
# Control and separator characters that Python's `str.split` counts as whitespace: collapsing
# whitespace first would turn them silently into spaces.
SPLIT_CONTROLS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029"]
IN_A_FILE = CONTROLS + BIDI + INVISIBLE  # what a UTF-8 file can carry (no lone surrogates)
SPECIALS = IN_A_FILE + SURROGATES + ["\u200c", "\u200d"]
OVERFLOWING_DATES = [
    "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59.999999-00:01",
    "0001-01-01T00:00:00+00:01", "9999-12-31T12:00-12:00", "0001-01-01T01:00+01:00:01",
]  # fmt: skip
BAD_DATES = [
    *OVERFLOWING_DATES, "٢٠٢٦-١٠-٠١", "２０２６-10-01", "2026-1٠-01", "2026-10-01T0٩:00", "2026-02-30", "2026-13-01",
    "1969-12-31", "1969-12-31T23:59:59Z", "2200-01-01", "0000-01-01", "01/10/2026", "2026-10-01T25:00",
    "2026-10-01T09:00\x00", "2026-10-01T09:00:00\x00+05:00", "2026-10-01\x00", "2026-10-01T09:00\x1f:00",
    "2026-10-01T09:00:00+24:00", "2026-10-01T09:00:00Z\u202e", "tomorrow", "2026-10-01T09:00:00+05:00:00.5x",
]  # fmt: skip
CONTROL_DATES = [d for d in BAD_DATES if not d.isprintable()]
NON_ASCII_NUMBERS = ["٣", "²", "١٢٠٠", "１２", "۸۰۰", "८००", "Ⅻ", "½", "³⁰⁰", "𝟖𝟎𝟎", "٨00", "8٠0"]
BAD_NUMBERS = [*NON_ASCII_NUMBERS, "-5", "+5", "5.0", "1e3", "0x10", "1_000", "1 000", "9999999999", "", "\x00"]

any_char = st.characters(exclude_categories=())  # lone surrogates included: they can come from code
special_char = st.sampled_from(SPECIALS)


def _insert(text: str, char: str, at: int) -> str:
    position = at % (len(text) + 1)
    return text[:position] + char + text[position:]


hostile_text = st.one_of(
    st.text(any_char, max_size=60),
    st.text(st.sampled_from(SPECIALS + list("aZé0 9-:T+.,'\"")), max_size=30),
    st.tuples(
        st.sampled_from(["Ada", "2026-10-01", "800", "R1", "x@example.org", "EX-ENT-101"]),
        special_char,
        st.integers(0, 20),
    ).map(lambda t: _insert(*t)),  # fmt: skip
    st.sampled_from(BAD_DATES + BAD_NUMBERS),
    st.tuples(
        st.sampled_from(["Ada Lovelace", "2026-10-01T09:00:00"]),
        st.sampled_from(["\x00", *SPLIT_CONTROLS]),
        st.integers(1, 11),
    ).map(lambda t: _insert(*t)),  # fmt: skip
    st.integers(min_value=0, max_value=300_000).map(lambda n: "a" * n),
    st.integers(min_value=90, max_value=120).map(lambda n: "É" * n),
    st.tuples(st.datetimes(), st.integers(-(23 * 60 + 59), 23 * 60 + 59)).map(
        lambda t: t[0].replace(tzinfo=timezone(timedelta(minutes=t[1]))).isoformat()
    ),
    st.dates().map(date.isoformat),
)


def check_name_as_signed(name: str) -> None:
    """What `clean_name` promises of every name it lets through (SPEC §5.5; issuer/inputs.py)."""
    assert unicodedata.is_normalized("NFC", name), ascii(name)
    assert 0 < len(name) <= inputs.NAME_MAX, len(name)
    assert name == " ".join(name.split()), ascii(name)  # single spaces, nothing at the ends
    assert any(char.isalpha() for char in name), ascii(name)
    for position, char in enumerate(name):
        if char in JOINERS:  # only inside a word (scripts such as Persian need them)
            assert 0 < position < len(name) - 1 and name[position - 1].isalpha(), ascii(name)
            continue
        assert unicodedata.category(char) not in FORBIDDEN_CATEGORIES, ascii(name)


def _raw_has_control(value: str) -> bool:
    """A character a name may never contain, even one that Python's `split` counts as space."""
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") and c not in "\t\n\r" for c in value)


# --------------------------------------------------------------------------- field parsers


@examples(400)
@given(hostile_text)
def test_every_field_parser_parses_or_rejects_with_a_code(value: str) -> None:
    values = {name: value for name in (*feeds.REGISTRATION_COLUMNS, *feeds.RESULT_COLUMNS)}
    parsers: list[tuple[str, Any]] = [
        ("registration_id", lambda: feeds.registration_id(values)),
        ("email", lambda: feeds.email(values)),
        ("first_name", lambda: feeds.name(values, "first_name")),
        ("exam_date", lambda: feeds.iso_date(values, "exam_date")),
        ("exam_date?", lambda: feeds.iso_date(values, "exam_date", optional=True)),
        ("registered_at", lambda: feeds.iso_datetime(values, "registered_at")),
        ("score", lambda: feeds.integer(values, "score")),
    ]
    for what, parse in parsers:
        try:
            parsed = parse()
        except RowRejected as exc:
            assert exc.code in ROW_CODES and exc.reason, (what, exc.code)
            continue
        if what == "registration_id":
            assert REGISTRATION_ID.fullmatch(parsed), ascii(parsed)
        elif what == "email":
            assert parsed.isascii() and parsed == parsed.strip().lower() and "@" in parsed, ascii(parsed)
        elif what == "first_name":
            check_name_as_signed(parsed)
            assert not _raw_has_control(value), ascii(value)
        elif what == "registered_at":
            assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)
            assert inputs.EARLIEST <= parsed.date() <= inputs.LATEST
        elif what.startswith("exam_date") and parsed is not None:
            assert inputs.EARLIEST <= parsed <= inputs.LATEST
        elif what == "score":
            assert value.strip().isascii() and value.strip().isdigit() and 0 <= parsed < 10**9, ascii(value)
        if what in ("exam_date", "registered_at") or (what == "exam_date?" and parsed is not None):
            # A date is ISO 8601 text: ASCII, printable. A NUL or a control character is not
            # part of a date, whatever the C parser does with the rest.
            assert value.strip().isascii() and value.strip().isprintable(), ascii(value)


@pytest.mark.parametrize("value", OVERFLOWING_DATES + ["٢٠٢٦-١٠-٠١", "2026-10-01T09:00\x00", "2026-10-01\x00x"])
def test_overflowing_and_foreign_dates_are_bad_dates(value: str) -> None:
    for parse in (lambda: feeds.iso_date({"d": value}, "d"), lambda: feeds.iso_datetime({"d": value}, "d")):
        with pytest.raises(RowRejected) as caught:
            parse()
        assert caught.value.code == "bad_date"


@pytest.mark.parametrize("value", NON_ASCII_NUMBERS)
def test_digits_of_other_scripts_are_bad_scores(value: str) -> None:
    with pytest.raises(RowRejected) as caught:
        feeds.integer({"score": value}, "score")
    assert caught.value.code == "bad_score"


GOOD_RESULT = {
    "registration_id": st.sampled_from(["R1", "R-2.x"]),
    "exam_code": st.sampled_from(ALL_EXAMS),
    "exam_date": st.dates(min_value=date(1970, 1, 1), max_value=date(2026, 12, 2)).map(date.isoformat),
    "score": st.integers(0, 10**9 - 1).map(str),
    "passing_score": st.integers(0, 1000).map(str),
    "result": st.sampled_from(["pass", "fail", "PASS", "Fail"]),
}
result_values = st.one_of(
    st.tuples(
        st.fixed_dictionaries(GOOD_RESULT),
        st.dictionaries(
            st.sampled_from(list(GOOD_RESULT)),
            st.sampled_from(BAD_DATES + BAD_NUMBERS + ["maybe", "", "EX-NOPE-1", "2300-01-01"]) | hostile_text,
            max_size=2,
        ),
    ).map(lambda t: {**t[0], **t[1]}),
    st.fixed_dictionaries({name: hostile_text for name in GOOD_RESULT}),
    st.fixed_dictionaries(GOOD_RESULT).map(
        lambda v: {**v, "__error__": "expected 6 fields, found 2", "__code__": "missing_fields"}
    ),  # fmt: skip
)


@examples(400)
@given(result_values)
def test_parse_result_parses_or_rejects_with_a_code(values: dict[str, str]) -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    exams = {code: code for code in ALL_EXAMS}
    try:
        parsed = parse_result(values, exams, now)
    except RowRejected as exc:
        assert exc.code in ROW_CODES and exc.reason
        return
    assert isinstance(parsed, ParsedResult) and "__error__" not in values
    assert parsed.exam_code in exams and REGISTRATION_ID.fullmatch(parsed.registration_id)
    assert inputs.EARLIEST <= parsed.exam_date <= now.date() + timedelta(days=1)
    assert parsed.passed is (parsed.score >= parsed.passing_score)


GOOD_REGISTRATION = {
    "registration_id": st.sampled_from(["R1", "R-2.x", "a:b/c_d"]),
    "email": st.sampled_from(["ada@example.org", " ADA@Example.org "]),
    "first_name": st.sampled_from(["Ada", "Zoë", "Zoe\u0308", "محمد\u200cرضا", "Line\nBreak", "  Jean   Luc "]),
    "last_name": st.sampled_from(["Lovelace", "Ångström", "O'Brien-Smith"]),
    "exam_code": st.sampled_from(ALL_EXAMS),
    "registered_at": st.sampled_from(["2026-10-01T09:00:00Z", "2026-10-01", "1970-01-01T23:59:00-23:59"]),
    "exam_date": st.sampled_from(["", "2026-12-01", "2199-12-31"]),
}
# A good row with one or two fields replaced by anything, or any strings everywhere.
registration_values = st.one_of(
    st.tuples(
        st.fixed_dictionaries(GOOD_REGISTRATION),
        st.dictionaries(
            st.sampled_from(list(GOOD_REGISTRATION)), st.sampled_from(BAD_DATES) | hostile_text, max_size=2
        ),
    ).map(lambda t: {**t[0], **t[1]}),
    st.fixed_dictionaries({name: hostile_text for name in GOOD_REGISTRATION}),
)


@examples(300)
@given(values=registration_values)
def test_a_registration_row_is_applied_whole_or_rejected_with_a_code(app: Any, values: dict[str, str]) -> None:
    """`apply_registrations` on any row, against the real database (rolled back after each):
    it reports the row as applied or rejected, never raises, and stores only clean values."""
    prefix = uuid.uuid4().hex[:8]
    values = {**values, "registration_id": f"{prefix}-{values['registration_id']}"[:64]}
    ctx = runtime.of(app).ctx
    with app.app_context():
        session = get_session()
        report = ImportReport("registrations")
        try:
            with unit_of_work(session):
                apply_registrations(session, ctx, [FeedRow(2, values)], report, now=ctx.clock())
                _check_registration_row(session, ctx, values, prefix, report)
                raise _Undo  # every example starts from the same database
        except _Undo:
            pass


class _Undo(Exception):
    """Rolls an example's unit of work back."""


def _check_registration_row(session: Any, ctx: Any, values: dict[str, str], prefix: str, report: ImportReport) -> None:
    stored = session.execute(
        select(Registration).where(Registration.registration_id.startswith(prefix, autoescape=True))
    ).scalar_one_or_none()
    if report.rejected:
        [(line, code, reason)] = report.rejected
        assert line == 2 and code in ROW_CODES and reason
        assert report.rows_applied == 0 and stored is None
        event(f"rejected: {code}")
        return
    event("applied")
    assert report.rows_applied == 1 and stored is not None
    check_name_as_signed(stored.first_name)
    check_name_as_signed(stored.last_name)
    assert not _raw_has_control(values["first_name"] + values["last_name"])
    assert REGISTRATION_ID.fullmatch(stored.registration_id) and stored.exam_code in ctx.catalog.exams


# --------------------------------------------------------------------------- whole files

letters = st.characters(categories=("Lu", "Ll", "Lo"))
good_name_text = st.tuples(
    letters,
    st.lists(
        st.one_of(
            letters,
            st.sampled_from(["\u0301", "\u0308", "\u030a", "\u0327"]),  # combining marks: stored NFC
            st.sampled_from([" ", "-", "'", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000"]),  # whitespace: one space
        ),
        max_size=24,
    ),
).map(lambda t: t[0] + "".join(t[1]))


def _expected_name(raw: str) -> str:
    return " ".join(unicodedata.normalize("NFC", raw.strip()).split())


bad_names = st.one_of(
    st.tuples(
        st.sampled_from(["Ada", "Grace Brewster", "Zoë"]), st.sampled_from(IN_A_FILE + ["\u200d "]), st.integers(1, 2)
    ).map(lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]),  # fmt: skip
    st.sampled_from(SPLIT_CONTROLS + ["\x00", "\u202e", "\u2066", "\u200b"]).map(lambda c: f"Ada{c}Lovelace"),
    st.sampled_from(["a" * 100_000, "É" * 101, "x" * 101, "1234", "-", "'", "٣٣"]),
    st.sampled_from(["Ada\u200d Lovelace", "\u200cAda", "Ada\u200c"]),  # a joiner outside a word
)


@dataclass
class Feed:
    """A generated feed: its CSV text, what the import must report, and what it must store."""

    header: list[str]
    records: list[str] = field(default_factory=list)  # CSV records (and blank lines), no terminators
    expected_rejections: list[tuple[int, str]] = field(default_factory=list)  # (physical line, code)
    good: list[dict[str, Any]] = field(default_factory=list)
    repeats: int = 0
    bad_emails: set[str] = field(default_factory=set)
    next_line: int = 2

    def add(self, record: str, code: str | None = None) -> None:
        if code is not None:
            self.expected_rejections.append((self.next_line, code))
        self.records.append(record)
        self.next_line += len(LINE_BREAK.findall(record)) + 1

    def write(self, path: Path, newline: str, bom: bool) -> Path:
        text = newline.join([",".join(self.header), *self.records]) + newline
        path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
        note(f"{path.name} (BOM: {bom}), expected rejections {self.expected_rejections}:\n{ascii(text)[:4000]}")
        return path


def csv_record(fields: list[str]) -> str:
    """One CSV record as a vendor writes it (a field with a line break, comma or quote quoted)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(fields)  # the terminator decides what gets quoted
    return out.getvalue()[:-2]


BLANKS = ["", "   ", ",,,,,", " , ,"]


def _registration_defect(data: st.DataObject, fields: dict[str, str], run: str, i: int) -> tuple[dict[str, str], str]:
    """One defect in an otherwise good row, and the code it must be rejected with."""
    kind = data.draw(st.sampled_from(
        ["id", "email", "first", "last", "empty_name", "exam", "registered", "exam_date", "fewer", "more"]
    ), label="defect")  # fmt: skip
    if kind == "id":
        return {**fields, "registration_id": data.draw(st.sampled_from(["-R", "R 1", "R1!", "Ŕ1", "R" * 65]))}, (
            "bad_registration_id"
        )
    if kind == "email":
        return {**fields, "email": data.draw(st.sampled_from(["not-an-email", "a@b", "x@@example.org", "ü@x.org"]))}, (
            "malformed_email"
        )
    if kind in ("first", "last"):
        return {**fields, f"{kind}_name": data.draw(bad_names, label="bad name")}, "bad_name"
    if kind == "empty_name":
        return {**fields, "last_name": data.draw(st.sampled_from(["", "   "]))}, "missing_fields"
    if kind == "exam":
        return {**fields, "exam_code": "EX-NOPE-1"}, "unknown_exam"
    if kind == "registered":
        bad_date = data.draw(st.sampled_from(BAD_DATES) | st.sampled_from(CONTROL_DATES), label="bad date")
        return {**fields, "registered_at": bad_date}, "bad_date"
    if kind == "exam_date" and "exam_date" in fields:
        return {**fields, "exam_date": data.draw(st.sampled_from(BAD_DATES), label="bad date")}, "bad_date"
    if kind == "more":
        return {**fields, "extra": "x"}, "extra_fields"
    return {k: v for k, v in fields.items() if k != "exam_code"}, "missing_fields"


valid_moments = st.tuples(
    st.datetimes(min_value=datetime(1971, 1, 2), max_value=datetime(2198, 12, 30)),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59),
    st.sampled_from(["offset", "Z", "naive", "date"]),
).map(
    lambda t: {
        "offset": t[0].replace(tzinfo=timezone(timedelta(minutes=t[1]))).isoformat(),
        "Z": t[0].isoformat(timespec="seconds") + "Z",
        "naive": t[0].isoformat(sep=" "),
        "date": t[0].date().isoformat(),
    }[t[2]]
)


def registration_feed(data: st.DataObject, run: str) -> Feed:
    with_exam_date = data.draw(st.booleans(), label="exam_date column")
    columns = list(feeds.REGISTRATION_COLUMNS) + (["exam_date"] if with_exam_date else [])
    feed = Feed(columns)
    pool = [f"{run}.{n}@example.org" for n in range(3)]
    for i in range(data.draw(st.integers(1, 10), label="rows")):
        kind = data.draw(st.sampled_from(["good", "good", "bad", "bad", "repeat", "conflict", "blank"]), label="kind")
        if kind in ("repeat", "conflict") and not feed.good:
            kind = "good"
        if kind == "blank":
            feed.add(data.draw(st.sampled_from(BLANKS)))
            continue
        if kind == "repeat":
            feed.add(data.draw(st.sampled_from(feed.good))["record"])
            feed.repeats += 1
            continue
        if kind == "conflict":
            earlier = data.draw(st.sampled_from(feed.good))
            other = next(e for e in ALL_EXAMS if e != earlier["fields"]["exam_code"])
            feed.add(csv_record(list({**earlier["fields"], "exam_code": other}.values())), "conflicting_data")
            continue
        email = data.draw(st.sampled_from(pool), label="email")
        fields = {
            "registration_id": f"{run}-{i}",
            "email": data.draw(st.sampled_from([email, email.upper(), f"  {email} "]), label="email case"),
            "first_name": data.draw(good_name_text, label="first"),
            "last_name": data.draw(good_name_text, label="last"),
            "exam_code": data.draw(st.sampled_from(ALL_EXAMS), label="exam"),
            "registered_at": data.draw(valid_moments, label="registered"),
        }
        if with_exam_date:
            fields["exam_date"] = data.draw(st.just("") | valid_moments.map(lambda m: m[:10]), label="exam_date")
        if kind == "good":
            record = csv_record(list(fields.values()))
            feed.add(record)
            feed.good.append({
                "record": record, "fields": fields, "reg_id": fields["registration_id"], "email": email,
                "first": _expected_name(fields["first_name"]), "last": _expected_name(fields["last_name"]),
            })  # fmt: skip
        else:
            bad = {**fields, "email": f"{run}.bad{i}@example.org"}
            broken, code = _registration_defect(data, bad, run, i)
            feed.bad_emails.add(bad["email"])
            feed.add(csv_record(list(broken.values())), code)
    return feed


def cli_import(kind: str, path: Path) -> Any:
    outcome = CliRunner().invoke(main, ["import", kind, str(path)])
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.exc_info
    assert "Traceback" not in outcome.output, outcome.output
    assert outcome.exit_code in (0, 3), (outcome.exit_code, outcome.output)
    return outcome


def reported(output: str) -> list[tuple[int, str]]:
    """Every `line N: code: reason` of the report, checked for shape."""
    rows = []
    for text in output.splitlines():
        if text.startswith("line "):
            match = REPORT_LINE.fullmatch(text)
            assert match is not None, ascii(text)
            assert match.group(2) in ROW_CODES, text
            rows.append((int(match.group(1)), match.group(2)))
    return rows


def summary(output: str) -> dict[str, int]:
    line = next(text for text in output.splitlines() if text.startswith("Summary: "))
    return {name: int(n) for n, name in re.findall(r"(\d+) ([a-z ]+?)(?:,|$)", line[len("Summary: ") :])}


def _state(app: Any, run: str) -> dict[str, Any]:
    """Everything an import of this run's rows may have written, by the run's prefix."""
    with app.app_context():
        session = get_session()
        like = f"{run}%"
        registrations = session.execute(
            select(Registration.registration_id, Registration.first_name, Registration.last_name, Registration.email)
            .where(Registration.registration_id.like(like))
        ).all()  # fmt: skip
        candidates = session.execute(
            select(Candidate.id, Candidate.email, Candidate.first_name, Candidate.last_name)
            .where(Candidate.email.like(like))
        ).all()  # fmt: skip
        ids = [c.id for c in candidates] or [-1]
        results = session.execute(
            select(Registration.registration_id, ExamResult.score, ExamResult.passed)
            .join(Registration, Registration.id == ExamResult.registration_id)
            .where(Registration.registration_id.like(like))
        ).all()  # fmt: skip
        credentials = session.execute(
            select(CredentialRecord.candidate_id, CredentialRecord.certification_code, CredentialRecord.jwt,
                   CredentialRecord.subject_name).where(CredentialRecord.candidate_id.in_(ids))
        ).all()  # fmt: skip
        mail = session.execute(
            select(MailMessage.kind, MailMessage.to_addr).where(MailMessage.to_addr.like(like))
        ).all()  # fmt: skip
    return {
        "registrations": sorted(tuple(r) for r in registrations),
        "candidates": sorted(tuple(c) for c in candidates),
        "results": sorted(tuple(r) for r in results),
        "credentials": sorted((c.candidate_id, c.certification_code, c.jwt, c.subject_name) for c in credentials),
        "mail": sorted(tuple(m) for m in mail),
    }


@examples(25, shrink=False)
@given(data=st.data())
def test_a_registration_feed_of_good_and_bad_rows(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: st.DataObject
) -> None:
    run = uuid.uuid4().hex[:10]
    feed = registration_feed(data, run)
    monkeypatch.setattr(imports, "CHUNK", data.draw(st.sampled_from([1, 2, 3, 2000]), label="chunk"))
    path = feed.write(tmp_path / f"{run}.csv", data.draw(st.sampled_from(["\n", "\r\n"])), data.draw(st.booleans()))

    first = cli_import("registrations", path)
    # (a, b) exit 3 exactly when a row was rejected; each reported once, on its own physical line
    assert first.exit_code == (3 if feed.expected_rejections else 0), first.output
    assert reported(first.output) == feed.expected_rejections, first.output
    counts = summary(first.output)
    assert counts["rejected"] == len(feed.expected_rejections)
    assert counts["applied"] == len(feed.good) and counts["unchanged"] == feed.repeats

    # (c) exactly the good rows, with clean names; an account per address, named by its first row
    state = _state(app, run)
    assert [r[0] for r in state["registrations"]] == sorted(g["reg_id"] for g in feed.good)
    stored = {r[0]: r for r in state["registrations"]}
    for good in feed.good:
        _, first_name, last_name, email = stored[good["reg_id"]]
        assert (first_name, last_name, email) == (good["first"], good["last"], good["email"])
        check_name_as_signed(first_name)
        check_name_as_signed(last_name)
    accounts: dict[str, tuple[str, str]] = {}
    for good in feed.good:
        accounts.setdefault(good["email"], (good["first"], good["last"]))
    assert {c[1]: (c[2], c[3]) for c in state["candidates"]} == accounts
    assert state["mail"] == sorted(("account_created", email) for email in accounts)  # once each
    assert not feed.bad_emails & {m[1] for m in state["mail"]}

    # (d) the same file again: nothing changes, nothing is mailed twice
    again = cli_import("registrations", path)
    assert again.exit_code == first.exit_code
    assert reported(again.output) == feed.expected_rejections
    assert summary(again.output)["applied"] == 0
    assert summary(again.output)["unchanged"] == len(feed.good) + feed.repeats
    assert _state(app, run) == state


def _signed_name(jwt: str) -> str:
    """The holder's name exactly as signed (the payload decoded here, without normalising)."""
    payload = jwt.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    vc = claims.get("vc", claims)
    [identifier] = [i for i in vc["credentialSubject"]["identifier"] if i.get("identityType") == "name"]
    name: str = identifier["identityHash"]
    return name


def results_feed(data: st.DataObject, run: str, registrations: list[dict[str, Any]], today: date) -> Feed:
    feed = Feed(list(feeds.RESULT_COLUMNS))
    unused = list(registrations)
    recent = st.dates(min_value=today - timedelta(days=700), max_value=today).map(date.isoformat)
    for i in range(data.draw(st.integers(1, 10), label="rows")):
        kind = data.draw(st.sampled_from(["good", "good", "bad", "bad", "repeat", "conflict", "blank"]), label="kind")
        if kind in ("repeat", "conflict") and not feed.good:
            kind = "good"
        if kind == "good" and not unused:
            kind = "bad"
        if kind == "blank":
            feed.add(data.draw(st.sampled_from(BLANKS)))
            continue
        if kind == "repeat":
            feed.add(data.draw(st.sampled_from(feed.good))["record"])
            feed.repeats += 1
            continue
        if kind == "conflict":
            earlier = data.draw(st.sampled_from(feed.good))["fields"]
            changed = data.draw(st.sampled_from(["score", "exam"]))
            if changed == "score":
                score = int(earlier["score"]) + 1
                fields = {**earlier, "score": str(score)}
                fields["result"] = "pass" if score >= int(earlier["passing_score"]) else "fail"
            else:
                fields = {**earlier, "exam_code": next(e for e in FIRST_EXAMS if e != earlier["exam_code"])}
            feed.add(csv_record(list(fields.values())), "conflicting_data")
            continue
        registration = data.draw(st.sampled_from(unused if kind == "good" else registrations), label="registration")
        passing = data.draw(st.integers(1, 1000), label="passing")
        score = data.draw(st.integers(0, 1000), label="score")
        fields = {
            "registration_id": registration["reg_id"],
            "exam_code": registration["exam"],
            "exam_date": data.draw(recent, label="exam_date"),
            "score": str(score),
            "passing_score": str(passing),
            "result": data.draw(st.sampled_from(["pass", "PASS", "Pass"]) if score >= passing else st.sampled_from(
                ["fail", "FAIL"])),
        }  # fmt: skip
        if kind == "good":
            unused.remove(registration)
            record = csv_record(list(fields.values()))
            feed.add(record)
            feed.good.append(
                {"record": record, "fields": fields, "registration": registration, "passed": score >= passing}
            )
            continue
        defect = data.draw(st.sampled_from(
            ["unknown", "id", "exam", "date", "future", "score", "passing", "result", "inconsistent", "fewer", "more",
             "empty"]), label="defect")  # fmt: skip
        if defect == "unknown":
            fields["registration_id"], code = f"{run}-nope-{i}", "unknown_registration"
        elif defect == "id":
            fields["registration_id"], code = data.draw(st.sampled_from(["-R", "R 1", "Ŕ1"])), "bad_registration_id"
        elif defect == "exam":
            fields["exam_code"], code = "EX-NOPE-1", "unknown_exam"
        elif defect == "date":
            bad_date = data.draw(st.sampled_from(BAD_DATES) | st.sampled_from(CONTROL_DATES), label="bad date")
            fields["exam_date"], code = bad_date, "bad_date"
        elif defect == "future":
            fields["exam_date"], code = (today + timedelta(days=30)).isoformat(), "bad_date"
        elif defect in ("score", "passing"):
            name = "score" if defect == "score" else "passing_score"
            fields[name], code = data.draw(st.sampled_from([b for b in BAD_NUMBERS if b.strip()])), "bad_score"
        elif defect == "result":
            fields["result"], code = data.draw(st.sampled_from(["maybe", "passed", "0", "ok"])), "bad_result"
        elif defect == "inconsistent":
            fields["result"], code = ("fail" if score >= passing else "pass"), "inconsistent_result"
        elif defect == "empty":
            fields["result"], code = "", "missing_fields"
        elif defect == "more":
            fields["extra"], code = "x", "extra_fields"
        else:
            del fields["passing_score"]
            code = "missing_fields"
        feed.add(csv_record(list(fields.values())), code)
    return feed


@examples(20, shrink=False)
@given(data=st.data())
def test_a_results_feed_of_good_and_bad_rows(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: st.DataObject
) -> None:
    run = uuid.uuid4().hex[:10]
    today = runtime.of(app).ctx.clock().date()
    registrations = []
    reg_feed = Feed(list(feeds.REGISTRATION_COLUMNS))
    for n in range(data.draw(st.integers(1, 5), label="registrations")):
        first, last = data.draw(good_name_text, label="first"), data.draw(good_name_text, label="last")
        exam = data.draw(st.sampled_from(FIRST_EXAMS), label="exam")
        reg = {"reg_id": f"{run}-{n}", "exam": exam, "email": f"{run}.{n}@example.org",
               "name": f"{_expected_name(first)} {_expected_name(last)}"}  # fmt: skip
        reg_feed.add(csv_record([reg["reg_id"], reg["email"], first, last, exam, "2026-01-05T09:00:00Z"]))
        registrations.append(reg)
    assert cli_import("registrations", reg_feed.write(tmp_path / f"{run}-reg.csv", "\n", False)).exit_code == 0
    mail_before = _state(app, run)["mail"]

    feed = results_feed(data, run, registrations, today)
    monkeypatch.setattr(imports, "CHUNK", data.draw(st.sampled_from([1, 2, 3, 2000]), label="chunk"))
    path = feed.write(tmp_path / f"{run}-res.csv", data.draw(st.sampled_from(["\n", "\r\n"])), data.draw(st.booleans()))

    first = cli_import("results", path)
    assert first.exit_code == (3 if feed.expected_rejections else 0), first.output
    assert reported(first.output) == feed.expected_rejections, first.output
    counts = summary(first.output)
    assert counts["rejected"] == len(feed.expected_rejections) and counts["unchanged"] == feed.repeats
    passes = [g for g in feed.good if g["passed"]]
    assert counts["results imported"] == len(feed.good) and counts["credentials issued"] == len(passes)

    state = _state(app, run)
    assert state["results"] == sorted(
        (g["registration"]["reg_id"], int(g["fields"]["score"]), g["passed"]) for g in feed.good
    )
    by_email = {c[1]: c[0] for c in state["candidates"]}
    assert sorted((c[0], c[1]) for c in state["credentials"]) == sorted(
        (by_email[g["registration"]["email"]], CERT_OF[g["registration"]["exam"]]) for g in passes
    )
    names = {by_email[r["email"]]: r["name"] for r in registrations}
    for candidate_id, _, jwt, subject_name in state["credentials"]:
        signed = _signed_name(jwt)
        assert signed == subject_name == names[candidate_id]
        assert len(signed) <= 2 * inputs.NAME_MAX + 1
        for part in signed.split(" ", 1):
            check_name_as_signed(part)
    notified = sorted({("results_imported", g["registration"]["email"]) for g in feed.good})
    assert state["mail"] == sorted(mail_before + notified)  # one e-mail per candidate and run

    again = cli_import("results", path)
    assert again.exit_code == first.exit_code
    assert reported(again.output) == feed.expected_rejections
    assert summary(again.output)["unchanged"] == len(feed.good) + feed.repeats
    assert _state(app, run) == state
