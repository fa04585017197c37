"""Regression tests for what a probe of the CSV imports found (SPEC §3.5, §6), through the real
command (`certmanager import …`):

- dates that overflow when converted to UTC (`9999-12-31T23:59:59-23:59`,
  `0001-01-01T00:00:00+23:59`) and digits of other scripts in scores ('٣', '²') crashed the
  import: exit 1 with a traceback, no `line N:` report, the rest of the file lost and the
  chunks before it committed;
- names with NUL, control or bidirectional-override characters, and a 100 KB name, were
  accepted, signed and mailed.

And two found while writing them: a date with a NUL in its time part was imported as the time
before the NUL, and control characters that Python's `str.split` counts as whitespace (U+000B,
U+001F, U+0085, U+2028, …) became spaces in a signed name instead of being refused.

Every bad value sits between good rows, in files imported whole (one unit of work) and one row
per unit of work: the rows before and after it are applied, nothing of the bad row is, each is
reported on its own physical line, and importing the file again changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from issuer import inputs
from issuer.cli import main
from issuer.db import get_session
from issuer.models import Candidate, CredentialRecord, ExamResult, MailMessage, Registration
from issuer.services import imports
from tests.issuer.feeds_support import REG_HEADER, RES_HEADER, registration, result, write

OVERFLOWING = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "9999-12-31T12:00-12:00"]
FOREIGN_DIGITS = ["٣", "²", "١٢٠٠", "１２", "۸۰۰", "८००", "³⁰⁰", "٨00"]
CONTROL_DATES = ["2026-10-01T09:00:00\x00+05:00", "2026-10-01T09\x00", "2026-10-01T09:00\x1f:00"]
BAD_CHARACTERS = {
    "controls": ["\x00", "\x07", "\x1b", "\x7f", "\x9b"],
    "bidi": ["\u202e", "\u202a", "\u202c", "\u2067", "\u2069", "\u200e"],
    "invisible": ["\u200b", "\u2060", "\ufeff", "\u00ad"],
    # Letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern, …): a name
    # made of them looks empty or like another name.
    "blank": ["\u3164", "\u115f", "\u1160", "\uffa0", "\u2800", "\u034f", "\u17b4", "\u17b5", "\ufffc"],
    # Python's str.split counts these as whitespace: they must not become spaces silently.
    "split-whitespace": ["\x0b", "\x0c", "\x1f", "\x85", "\u2028", "\u2029"],
}
LONG_NAMES = ["A" * 100_000, "É" * 50_000, "Dorothy " * 12_500, "x" * 101]


def cli(*args: str) -> Any:
    outcome = CliRunner().invoke(main, list(args))
    assert "Traceback" not in outcome.output, outcome.output[:3000]
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.exc_info
    return outcome


def report(outcome: Any) -> list[str]:
    return [line for line in outcome.output.splitlines() if line.startswith("line ")]


def codes(outcome: Any) -> list[tuple[int, str]]:
    return [(int(line.split(":")[0][5:]), line.split(":")[1].strip()) for line in report(outcome)]


@pytest.fixture(params=[1, 2000], ids=["chunk-1", "chunk-2000"])
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Rows per unit of work: one (each bad row between committed ones) or the whole file."""
    monkeypatch.setattr(imports, "CHUNK", request.param)
    return int(request.param)


def between_good_rows(bad: list[str], exam: str = "EX-ENT-101") -> tuple[list[str], list[int]]:
    """`G0, bad[0], G1, bad[1], …, Gn`: the rows, and the physical lines of the bad ones."""
    rows: list[str] = []
    for n, row in enumerate(bad):
        rows += [registration(f"G{n}", f"g{n}@example.org", exam, first="Zoë", last=f"Good{n}"), row]
    rows.append(registration(f"G{len(bad)}", f"g{len(bad)}@example.org", exam, first="Zoë", last=f"Good{len(bad)}"))
    return rows, [3 + 2 * n for n in range(len(bad))]


def good_ids(count: int) -> list[str]:
    return sorted(f"G{n}" for n in range(count + 1))


def registration_ids(app: Any) -> list[str]:
    with app.app_context():
        return sorted(get_session().execute(select(Registration.registration_id)).scalars())


def result_ids(app: Any) -> list[str]:
    with app.app_context():
        rows = get_session().execute(
            select(Registration.registration_id).join(ExamResult, ExamResult.registration_id == Registration.id)
        )
        return sorted(rows.scalars())


def credentials(app: Any) -> list[tuple[str, str]]:
    with app.app_context():
        rows = get_session().execute(select(CredentialRecord.certification_code, CredentialRecord.subject_name))
        return sorted((code or "", name) for code, name in rows)


def everything_stored(app: Any) -> str:
    """Every name, address, signed credential and e-mail in the database, as one text."""
    with app.app_context():
        session = get_session()
        parts: list[str] = []
        for columns in [
            (Candidate.email, Candidate.first_name, Candidate.last_name),
            (Registration.email, Registration.first_name, Registration.last_name),
            (CredentialRecord.subject_name, CredentialRecord.jwt),
            (MailMessage.to_addr, MailMessage.subject, MailMessage.body_text),
        ]:
            for row in session.execute(select(*columns)):
                parts.extend(str(value) for value in row)
        return "\n".join(parts)


def import_twice(app: Any, kind: str, feed: Path, lines: list[int], code: str) -> None:
    """Exit 3, each bad row reported with `code` on its line, and the same again, changing nothing."""
    outcome = cli("import", kind, str(feed))
    assert outcome.exit_code == 3, outcome.output[:3000]
    assert codes(outcome) == [(line, code) for line in lines], outcome.output[:3000]
    before = everything_stored(app)
    again = cli("import", kind, str(feed))
    assert again.exit_code == 3 and report(again) == report(outcome)
    assert ", 0 applied" in again.output and everything_stored(app) == before


# --------------------------------------------------------------------------- dates


def test_registration_dates_that_overflow_in_utc_are_bad_date_rows(app: Any, tmp_path: Path, chunk: int) -> None:
    bad = [
        registration(f"B{n}", f"b{n}@example.org", "EX-DC-101", registered=value) for n, value in enumerate(OVERFLOWING)
    ]
    bad += [registration(f"E{n}", f"e{n}@example.org", "EX-DC-101", exam_date=v) for n, v in enumerate(OVERFLOWING)]
    rows, lines = between_good_rows(bad)
    import_twice(app, "registrations", write(tmp_path / "reg.csv", REG_HEADER, rows), lines, "bad_date")
    assert registration_ids(app) == good_ids(len(bad))
    stored = everything_stored(app)
    assert "b0@" not in stored and "e0@" not in stored


def test_result_dates_that_overflow_in_utc_are_bad_date_rows(app: Any, tmp_path: Path, chunk: int) -> None:
    rows, _ = between_good_rows([registration("R9", "r9@example.org", "EX-ENT-101")] * 3)
    assert cli("import", "registrations", str(write(tmp_path / "reg.csv", REG_HEADER, rows))).exit_code == 0
    results = write(tmp_path / "res.csv", RES_HEADER, [
        result("G0", "EX-ENT-101", "2026-10-15"), result("R9", "EX-ENT-101", OVERFLOWING[0]),
        result("G1", "EX-ENT-101", "2026-10-15"), result("R9", "EX-ENT-101", OVERFLOWING[1]),
        result("G2", "EX-ENT-101", "2026-10-15"), result("R9", "EX-ENT-101", OVERFLOWING[2]),
        result("G3", "EX-ENT-101", "2026-10-15"),
    ])  # fmt: skip
    import_twice(app, "results", results, [3, 5, 7], "bad_date")
    assert result_ids(app) == ["G0", "G1", "G2", "G3"]
    assert credentials(app) == [("CNA-ENT", f"Zoë Good{n}") for n in range(4)]


def test_a_date_with_a_nul_or_control_character_is_a_bad_date_row(app: Any, tmp_path: Path) -> None:
    """CPython's ISO parser stops at a NUL in the time part and keeps what came before it: such
    a date must be refused, not imported as another time."""
    bad = [registration(f"B{n}", f"b{n}@example.org", "EX-DC-101", registered=v) for n, v in enumerate(CONTROL_DATES)]
    rows, lines = between_good_rows(bad)
    import_twice(app, "registrations", write(tmp_path / "reg.csv", REG_HEADER, rows), lines, "bad_date")
    assert registration_ids(app) == good_ids(len(bad))


# --------------------------------------------------------------------------- scores


@pytest.mark.parametrize("column", ["score", "passing_score"])
def test_digits_of_other_scripts_in_a_score_are_bad_score_rows(
    app: Any, tmp_path: Path, chunk: int, column: str
) -> None:
    count = len(FOREIGN_DIGITS)
    rows, _ = between_good_rows([registration("R9", "r9@example.org", "EX-ENT-101")] * count)
    assert cli("import", "registrations", str(write(tmp_path / "reg.csv", REG_HEADER, rows))).exit_code == 0
    lines = []
    for n, digits in enumerate(FOREIGN_DIGITS):
        bad = (
            f"R9,EX-ENT-101,2026-10-15,{digits},700,pass"
            if column == "score"
            else f"R9,EX-ENT-101,2026-10-15,800,{digits},pass"
        )
        lines += [result(f"G{n}", "EX-ENT-101", "2026-10-15"), bad]
    lines.append(result(f"G{count}", "EX-ENT-101", "2026-10-15"))
    import_twice(
        app, "results", write(tmp_path / "res.csv", RES_HEADER, lines), [3 + 2 * n for n in range(count)], "bad_score"
    )
    assert result_ids(app) == good_ids(count)
    assert credentials(app) == sorted(("CNA-ENT", f"Zoë Good{n}") for n in range(count + 1))


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("kind", list(BAD_CHARACTERS))
def test_names_with_control_bidi_or_invisible_characters_are_rejected_never_signed_or_mailed(
    app: Any, tmp_path: Path, kind: str
) -> None:
    chars = BAD_CHARACTERS[kind]
    bad = []
    for n, char in enumerate(chars):
        names = {"first": f"Dor{char}othy"} if n % 2 == 0 else {"last": f"Vau{char}ghan"}
        bad.append(registration(f"B{n}", f"b{n}@example.org", "EX-ENT-101", **names))
    rows, lines = between_good_rows(bad)
    outcome = cli("import", "registrations", str(write(tmp_path / "reg.csv", REG_HEADER, rows)))
    assert outcome.exit_code == 3, outcome.output[:3000]
    assert codes(outcome) == [(line, "bad_name") for line in lines]
    for n, line in enumerate(report(outcome)):
        assert f"{'first_name' if n % 2 == 0 else 'last_name'} contains " in line
        assert f"U+{ord(chars[n]):04X}" in line and chars[n] not in line  # named, never printed
    assert registration_ids(app) == good_ids(len(bad))

    # Their results find no registration, so nothing is signed with the name.
    graded = [result(f"G{n}", "EX-ENT-101", "2026-10-15") for n in range(len(bad) + 1)]
    graded += [result(f"B{n}", "EX-ENT-101", "2026-10-15") for n in range(len(bad))]
    outcome = cli("import", "results", str(write(tmp_path / "res.csv", RES_HEADER, graded)))
    assert {code for _, code in codes(outcome)} == {"unknown_registration"} and len(report(outcome)) == len(bad)
    assert credentials(app) == sorted(("CNA-ENT", f"Zoë Good{n}") for n in range(len(bad) + 1))
    stored = everything_stored(app)
    assert not [c for c in chars if c in stored] and "b0@" not in stored  # not stored, signed or mailed


def test_names_over_100_characters_are_bad_names_never_signed_or_mailed(app: Any, tmp_path: Path, chunk: int) -> None:
    bad = [registration(f"B{n}", f"b{n}@example.org", "EX-ENT-101", first=name) for n, name in enumerate(LONG_NAMES)]
    rows, lines = between_good_rows(bad)
    outcome = cli("import", "registrations", str(write(tmp_path / "reg.csv", REG_HEADER, rows)))
    assert outcome.exit_code == 3, outcome.output[:3000]
    assert report(outcome) == [f"line {line}: bad_name: first_name is longer than 100 characters." for line in lines]
    assert registration_ids(app) == good_ids(len(bad))
    stored = everything_stored(app)
    assert "A" * 101 not in stored and "É" * 101 not in stored and "b0@" not in stored


def test_a_name_of_exactly_100_characters_is_kept() -> None:
    """The other side of the limit, so the test above cannot pass by refusing every long name."""
    assert inputs.clean_name("É" * 100) == "É" * 100
    assert inputs.clean_name("E\u0301" * 100) == "É" * 100  # counted after NFC


def test_tabs_and_line_breaks_in_a_name_are_still_one_space() -> None:
    """Refusing U+000B and friends must not refuse what a quoted CSV field or a form may carry."""
    assert inputs.clean_name("Line\r\nBreak\tName") == "Line Break Name"
    assert inputs.clean_name("Jean\u00a0Luc") == "Jean Luc"


# --------------------------------------------------------------------------- all of it at once


def test_every_probe_value_in_one_file_leaves_every_good_row_around_it(app: Any, tmp_path: Path, chunk: int) -> None:
    """All the probe's values in one registration feed and one results feed, each between good
    rows: the good rows are all applied, the bad ones reported on their own lines and not applied."""
    rows, lines = between_good_rows([
        registration("B1", "b1@example.org", "EX-ENT-101", registered=OVERFLOWING[0]),
        registration("B2", "b2@example.org", "EX-ENT-101", exam_date=OVERFLOWING[1]),
        registration("B3", "b3@example.org", "EX-ENT-101", first="Ma\x00llory"),
        registration("B4", "b4@example.org", "EX-ENT-101", last="Evil\u202egnp.exe"),
        registration("B5", "b5@example.org", "EX-ENT-101", first="A" * 100_000),
        registration("B6", "b6@example.org", "EX-ENT-101", first="Tab\x0bbed"),
    ])  # fmt: skip
    feed = write(tmp_path / "reg.csv", REG_HEADER, rows)
    outcome = cli("import", "registrations", str(feed))
    assert outcome.exit_code == 3, outcome.output[:3000]
    assert codes(outcome) == list(zip(lines, ["bad_date"] * 2 + ["bad_name"] * 4, strict=True))
    assert registration_ids(app) == good_ids(6)
    with app.app_context():
        session = get_session()
        accounts = session.execute(select(Candidate.email)).scalars().all()
        mailed = session.execute(select(MailMessage.to_addr).where(MailMessage.kind == "account_created")).scalars()
        assert sorted(mailed) == sorted(accounts) == sorted(f"g{n}@example.org" for n in range(7))

    results = write(tmp_path / "res.csv", RES_HEADER, [
        result("G0", "EX-ENT-101", "2026-10-15"),
        "G1,EX-ENT-101,9999-12-31T23:59:59-23:59,800,700,pass",
        result("G2", "EX-ENT-101", "2026-10-15"),
        "G3,EX-ENT-101,2026-10-15,²,700,pass",
        result("G4", "EX-ENT-101", "2026-10-15"),
        "G5,EX-ENT-101,2026-10-15,800,٧٠٠,pass",
        result("G6", "EX-ENT-101", "2026-10-15"),
        result("B3", "EX-ENT-101", "2026-10-15"),
    ])  # fmt: skip
    graded = cli("import", "results", str(results))
    assert graded.exit_code == 3, graded.output
    assert codes(graded) == [(3, "bad_date"), (5, "bad_score"), (7, "bad_score"), (9, "unknown_registration")]
    assert result_ids(app) == ["G0", "G2", "G4", "G6"]
    assert credentials(app) == [("CNA-ENT", f"Zoë Good{n}") for n in (0, 2, 4, 6)]
    stored = everything_stored(app)
    for value in ("\x00", "\u202e", "\x0b", "A" * 101, "b1@", "b5@"):
        assert value not in stored
    assert cli("import", "registrations", str(feed)).exit_code == 3
    assert cli("import", "results", str(results)).exit_code == 3
    assert everything_stored(app) == stored  # re-importing changes nothing and mails nothing twice
