"""Vendor feeds (SPEC §3.5): exit codes, the rejection report, idempotency, real-world CSV."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from issuer.cli import main
from issuer.db import get_session
from issuer.models import Candidate, CredentialRecord, ExamResult, MailMessage, Registration
from tests.issuer.feeds_support import REG_HEADER, RES_HEADER, registration, result, write


def cli(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def count(app, model) -> int:
    with app.app_context():
        return get_session().execute(select(func.count()).select_from(model)).scalar_one()


def test_registrations_create_accounts_and_mail_once(app, tmp_path):
    feed = write(tmp_path / "reg.csv", REG_HEADER, [
        registration("R1", "ada@example.org", "EX-ENT-101"),
        registration("R2", "  ADA@Example.org ", "EX-SEC-101", first="Someone", last="Else"),
        registration("R3", "grace@example.org", "EX-ENT-101", first="Grace", last="Hopper", exam_date="2026-12-01"),
    ])  # fmt: skip
    first = cli("import", "registrations", str(feed))
    assert first.exit_code == 0, first.output
    assert "3 rows read" in first.output and "2 accounts created" in first.output
    with app.app_context():
        session = get_session()
        ada = session.execute(select(Candidate).where(Candidate.email == "ada@example.org")).scalar_one()
        assert re.fullmatch(r"JPR\d{9}", ada.certmanager_id)
        assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")  # the account keeps its name
        mails = session.execute(select(MailMessage).where(MailMessage.kind == "account_created")).scalars().all()
        assert sorted(m.to_addr for m in mails) == ["ada@example.org", "grace@example.org"]
        assert ada.certmanager_id in next(m.body_text for m in mails if m.to_addr == "ada@example.org")
    again = cli("import", "registrations", str(feed))
    assert again.exit_code == 0 and "3 unchanged" in again.output
    assert count(app, Registration) == 3 and count(app, Candidate) == 2 and count(app, MailMessage) == 2


def test_rejected_rows_are_reported_with_their_physical_line(app, tmp_path):
    feed = write(tmp_path / "reg.csv", REG_HEADER, [
        registration("R1", "ok@example.org", "EX-ENT-101"),
        '"R2",multi@example.org,"Line',  # a quoted field that spans two physical lines…
        'Break",Name,EX-ENT-101,2026-10-01,',  # …so the next row starts on line 5
        registration("R3", "not-an-email", "EX-ENT-101"),
        registration("R4", "x@example.org", "EX-NOPE-1"),
        registration("R5", "y@example.org", "EX-ENT-101", registered="01/10/2026"),
        "R6,z@example.org,,Nolast,EX-ENT-101,2026-10-01,",
        "",
        "R7,short@example.org,Too,Short",
        registration("R1", "ok@example.org", "EX-SEC-101"),
    ], newline="\r\n", bom=True)  # fmt: skip
    outcome = cli("import", "registrations", str(feed))
    assert outcome.exit_code == 3
    lines = [line for line in outcome.output.splitlines() if line.startswith("line ")]
    assert [line.split(":")[0:2] for line in lines] == [
        ["line 5", " malformed_email"],
        ["line 6", " unknown_exam"],
        ["line 7", " bad_date"],
        ["line 8", " missing_fields"],
        ["line 10", " missing_fields"],
        ["line 11", " conflicting_data"],
    ]
    with app.app_context():
        regs = get_session().execute(select(Registration.registration_id)).scalars().all()
    assert sorted(regs) == ["R1", "R2"]  # good rows kept, bad rows not half-applied
    with app.app_context():
        multi = get_session().execute(select(Registration).where(Registration.registration_id == "R2")).scalar_one()
        assert multi.first_name == "Line Break"  # a line break inside a quoted name is whitespace: one space


def test_every_row_rejected_still_exits_3(app, tmp_path):
    feed = write(tmp_path / "reg.csv", REG_HEADER, [registration("R1", "bad", "EX-ENT-101")])
    assert cli("import", "registrations", str(feed)).exit_code == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"registration_id,email\nR1,a@b.org\n", "wrong header"),
        (b"", "empty"),
        (
            "registration_id,email,first_name,last_name,exam_code,registered_at\nR1,a@b.org,J\xe9r\xf4me".encode(
                "latin-1"
            ),
            "not valid UTF-8 on line 2",
        ),
    ],
)
def test_unusable_files_exit_2_and_change_nothing(app, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    outcome = cli("import", "registrations", str(path))
    assert outcome.exit_code == 2 and message in outcome.output
    assert count(app, Registration) == 0


def test_missing_file_exits_2(app, tmp_path):
    outcome = cli("import", "results", str(tmp_path / "nope.csv"))
    assert outcome.exit_code == 2 and "no such file" in outcome.output


def test_a_directory_is_not_a_feed(app, tmp_path):
    outcome = cli("import", "results", str(tmp_path))
    assert outcome.exit_code == 2 and "is a directory, not a file" in outcome.output


def test_stdin(app):
    data = "\n".join([REG_HEADER, registration("R1", "stdin@example.org", "EX-ENT-101")]) + "\n"
    assert cli("import", "registrations", "-", input=data).exit_code == 0
    assert count(app, Registration) == 1


def test_results_grant_issue_and_mail_once_per_candidate(app, tmp_path):
    write(tmp_path / "reg.csv", REG_HEADER, [
        registration("R1", "ada@example.org", "EX-ENT-101"),
        registration("R2", "ada@example.org", "EX-SEC-101"),
        registration("R3", "bob@example.org", "EX-ENT-101", first="Bob", last="Builder"),
    ])  # fmt: skip
    assert cli("import", "registrations", str(tmp_path / "reg.csv")).exit_code == 0
    feed = write(tmp_path / "res.csv", RES_HEADER, [
        result("R1", "EX-ENT-101", "2026-10-15"),
        result("R2", "EX-SEC-101", "2026-10-16"),
        result("R3", "EX-ENT-101", "2026-10-15", score=600),
    ])  # fmt: skip
    outcome = cli("import", "results", str(feed))
    assert outcome.exit_code == 0, outcome.output
    assert "3 results imported" in outcome.output and "2 certifications granted" in outcome.output
    assert "2 credentials issued" in outcome.output
    with app.app_context():
        session = get_session()
        creds = session.execute(select(CredentialRecord)).scalars().all()
        assert sorted(c.certification_code for c in creds) == ["CNA-ENT", "CNA-SEC"]
        notices = (
            session.execute(select(MailMessage.to_addr).where(MailMessage.kind == "results_imported")).scalars().all()
        )
        assert sorted(notices) == ["ada@example.org", "bob@example.org"]  # once each, passes and failures
    again = cli("import", "results", str(feed))
    assert again.exit_code == 0 and "3 unchanged" in again.output
    assert count(app, CredentialRecord) == 2 and count(app, ExamResult) == 3
    with app.app_context():
        kinds = get_session().execute(select(MailMessage.kind)).scalars().all()
    assert kinds.count("results_imported") == 2  # nothing sent twice


@pytest.mark.parametrize(
    ("row", "code"),
    [
        (result("R9", "EX-ENT-101", "2026-10-15"), "unknown_registration"),
        (result("R1", "EX-SEC-101", "2026-10-15"), "conflicting_data"),
        ("R1,EX-ENT-101,2026-10-15,800,700,maybe", "bad_result"),
        ("R1,EX-ENT-101,2026-10-15,600,700,pass", "inconsistent_result"),
        ("R1,EX-ENT-101,2026-10-15,eight,700,pass", "bad_score"),
        ("R1,EX-ENT-101,15.10.2026,800,700,pass", "bad_date"),
        ("R1,EX-ENT-101,2099-01-01,800,700,pass", "bad_date"),
        ("R1,EX-ENT-101,2026-10-15,800,700", "missing_fields"),
        ("R1,EX-ENT-101,2026-10-15,800,700,pass,extra", "extra_fields"),
    ],
)
def test_bad_result_rows(app, tmp_path, row, code):
    write(tmp_path / "reg.csv", REG_HEADER, [registration("R1", "ada@example.org", "EX-ENT-101")])
    cli("import", "registrations", str(tmp_path / "reg.csv"))
    outcome = cli("import", "results", str(write(tmp_path / "res.csv", RES_HEADER, [row])))
    assert outcome.exit_code == 3
    assert f"line 2: {code}:" in outcome.output
    assert count(app, ExamResult) == 0 and count(app, CredentialRecord) == 0


def test_a_changed_result_is_conflicting(app, tmp_path):
    write(tmp_path / "reg.csv", REG_HEADER, [registration("R1", "ada@example.org", "EX-ENT-101")])
    cli("import", "registrations", str(tmp_path / "reg.csv"))
    cli("import", "results", str(write(tmp_path / "a.csv", RES_HEADER, [result("R1", "EX-ENT-101", "2026-10-15")])))
    changed = cli(
        "import",
        "results",
        str(write(tmp_path / "b.csv", RES_HEADER, [result("R1", "EX-ENT-101", "2026-10-15", score=650)])),
    )
    assert changed.exit_code == 3 and "line 2: conflicting_data" in changed.output


def test_sample_feeds_ship_and_import(app):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    assert cli("import", "registrations", str(examples / "registrations.csv")).exit_code == 0
    assert cli("import", "results", str(examples / "results.csv")).exit_code == 0
    with_errors = cli("import", "results", str(examples / "results-with-errors.csv"))
    assert with_errors.exit_code == 3
    assert [line.split(":")[1].strip() for line in with_errors.output.splitlines() if line.startswith("line ")] == [
        "unknown_registration", "bad_date", "conflicting_data", "missing_fields",
    ]  # fmt: skip
