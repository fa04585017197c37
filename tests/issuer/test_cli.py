"""The `certmanager` command line (SPEC §3.3), run in-process as an operator would run it."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from issuer.catalog import BUNDLED
from issuer.cli import main
from issuer.db import get_session
from issuer.server import Preflight, preflight
from issuer.services import accounts
from tests.cli_support import run_cli as cli
from tests.cli_support import tracked_databases
from tests.conftest import BASE_URL, PASSPHRASE, FakeClock, make_app

CATALOG_KEYS = {"code", "name", "track", "level", "exams", "prerequisites", "validity_years"}


def keys_list(runner: Any) -> list[dict[str, Any]]:
    result = cli(runner, "keys", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- init -------------------------------------------------------------------------------------


def test_init_is_idempotent(runner: Any) -> None:
    before = keys_list(runner)
    for _ in range(2):
        result = cli(runner, "init")
        assert result.exit_code == 0, result.output
        assert "Created" not in result.stderr  # the fixture's init already made the key
    after = keys_list(runner)
    assert after == before
    assert [k["state"] for k in after] == ["active"]


def test_init_creates_schema_and_key_on_an_empty_database(
    runner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTMANAGER_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    uninitialised = cli(runner, "credentials", "list")
    assert uninitialised.exit_code != 0
    assert "init" in uninitialised.stderr
    first = cli(runner, "init")
    assert first.exit_code == 0, first.output
    assert "Created" in first.stderr
    second = cli(runner, "init")
    assert second.exit_code == 0, second.output
    assert "Created" not in second.stderr
    assert [k["state"] for k in keys_list(runner)] == ["active"]


def test_init_demo_prints_a_login_and_credential_urls(runner: Any, app: Any) -> None:
    result = cli(runner, "init", "--demo")
    assert result.exit_code == 0, result.output
    ids = re.findall(r"\bJPR\d{9}\b", result.stdout)
    assert len(set(ids)) == 1, result.stdout
    urls = re.findall(re.escape(BASE_URL) + r"/c/([A-Za-z0-9]+)", result.stdout)
    assert urls, result.stdout
    for short in urls:
        assert len(short) >= 22
        shown = cli(runner, "credentials", "show", short, "--format", "jwt")
        assert shown.exit_code == 0, shown.output
        verified = cli(runner, "verify", shown.stdout.strip(), "--format", "json")
        assert verified.exit_code == 0, verified.stdout
        assert json.loads(verified.stdout)["status"] == "valid"

    again = cli(runner, "init", "--demo")
    assert again.exit_code == 0, again.output
    assert set(re.findall(r"\bJPR\d{9}\b", again.stdout)) == set(ids)
    assert sorted(re.findall(re.escape(BASE_URL) + r"/c/([A-Za-z0-9]+)", again.stdout)) == sorted(urls)
    listed = json.loads(cli(runner, "credentials", "list", "--candidate", ids[0], "--format", "json").stdout)
    assert sorted(r["id"] for r in listed if r["status"] == "valid") == sorted(urls)
    # The demo went through the feeds: its associate certification was recertified once.
    assert any(r["status"] == "superseded" for r in listed)
    password = re.search(r"Password:\s+(\S+)", again.stdout).group(1)  # the newest one works
    with app.app_context():
        assert accounts.authenticate(get_session(), ids[0], password, now=datetime.now(UTC)).certmanager_id == ids[0]


# --- catalog ------------------------------------------------------------------------------------


def test_catalog_json_matches_the_bundled_catalog(runner: Any) -> None:
    result = cli(runner, "catalog", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"certifications"}
    source = tomllib.loads(BUNDLED.read_text(encoding="utf-8"))
    default_years = source["program"]["default_validity_years"]
    expected = [
        {
            "code": c["code"],
            "name": c["name"],
            "track": c["track"],
            "level": c["level"],
            "exams": c["exams"],
            "prerequisites": c.get("prerequisites", []),
            "validity_years": c.get("validity_years", default_years),
        }
        for c in source["certifications"]
    ]
    assert document["certifications"] == expected
    codes = {c["code"] for c in document["certifications"]}
    for cert in document["certifications"]:
        assert set(cert) == CATALOG_KEYS
        assert cert["exams"] and all(isinstance(e, str) for e in cert["exams"])
        assert set(cert["prerequisites"]) <= codes
        assert isinstance(cert["validity_years"], int) and cert["validity_years"] >= 1


def test_catalog_follows_certmanager_catalog(runner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(
        '[program]\nname = "Tiny"\ndefault_validity_years = 2\n'
        '[[tracks]]\ncode = "T"\nname = "Track"\n'
        '[[certifications]]\ncode = "A1"\nname = "Alpha"\ntrack = "T"\nlevel = "associate"\nexams = ["E1", "E2"]\n'
        '[[certifications]]\ncode = "B1"\nname = "Beta"\ntrack = "T"\nlevel = "specialist"\nexams = ["E3"]\n'
        'prerequisites = ["A1"]\nvalidity_years = 5\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CERTMANAGER_CATALOG", str(path))
    result = cli(runner, "catalog", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "certifications": [
            {
                "code": "A1",
                "name": "Alpha",
                "track": "T",
                "level": "associate",
                "exams": ["E1", "E2"],
                "prerequisites": [],
                "validity_years": 2,
            },
            {
                "code": "B1",
                "name": "Beta",
                "track": "T",
                "level": "specialist",
                "exams": ["E3"],
                "prerequisites": ["A1"],
                "validity_years": 5,
            },
        ]
    }
    table = cli(runner, "catalog")
    assert table.exit_code == 0 and "Alpha" in table.stdout


# --- credentials list / show -------------------------------------------------------------------


def issue_in_the_past(factory: Any, clock: FakeClock, code: str) -> Any:
    """A credential issued in 2022 for a 2020 exam: it expired on 2023-03-01 23:59:59 UTC."""
    today = clock.now
    clock.now = datetime(2022, 6, 1, 9, 0, tzinfo=UTC)
    try:
        return factory.certified(code, exam_date=date(2020, 3, 1))
    finally:
        clock.now = today


def test_credentials_list_json(app: Any, runner: Any, factory: Any, clock: FakeClock) -> None:
    old = issue_in_the_past(factory, clock, "CNA-SEC")
    first = factory.certified("CNA-ENT")
    clock.advance(seconds=5)
    second = factory.certified("CNS-ENT")
    clock.advance(seconds=5)
    revoked = factory.certified("CNS-DC")
    assert cli(runner, "revoke", revoked.id, "--reason", "misconduct").exit_code == 0
    clock.advance(seconds=5)
    replaced = factory.certified("CNA-ENT")
    assert cli(runner, "revoke", replaced.id, "--reason", "superseded").exit_code == 0

    result = cli(runner, "credentials", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == [replaced.id, revoked.id, second.id, first.id, old.id]  # newest first
    by_id = {r["id"]: r for r in rows}
    for row in rows:
        assert {"id", "candidate_id", "certification", "kind", "status", "valid_until"} <= set(row)
        assert re.fullmatch(r"JPR\d{9}", row["candidate_id"])
        assert row["kind"] == "certification"
    assert by_id[first.id]["certification"] == "CNA-ENT"
    assert by_id[second.id]["certification"] == "CNS-ENT"
    assert by_id[first.id]["status"] == "valid"
    assert by_id[old.id]["status"] == "expired"
    assert by_id[revoked.id]["status"] == "revoked"
    assert by_id[replaced.id]["status"] == "superseded"
    assert datetime.fromisoformat(by_id[old.id]["valid_until"].replace("Z", "+00:00")) == datetime(
        2023, 3, 1, 23, 59, 59, tzinfo=UTC
    )

    candidate = by_id[second.id]["candidate_id"]
    only = cli(runner, "credentials", "list", "--candidate", candidate, "--format", "json")
    assert only.exit_code == 0
    assert [r["id"] for r in json.loads(only.stdout)] == [second.id]
    nobody = cli(runner, "credentials", "list", "--candidate", "JPR000000000", "--format", "json")
    assert nobody.exit_code == 0 and json.loads(nobody.stdout) == []

    table = cli(runner, "credentials", "list")
    assert table.exit_code == 0 and first.id in table.stdout


def test_credentials_show(runner: Any, factory: Any) -> None:
    record = factory.certified("CNA-ENT")
    shown = cli(runner, "credentials", "show", record.id, "--format", "json")
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["id"] == record.id and body["status"] == "valid" and body["jwt"] == record.jwt
    jwt_only = cli(runner, "credentials", "show", f"{BASE_URL}/c/{record.id}", "--format", "jwt")
    assert jwt_only.exit_code == 0 and jwt_only.stdout.strip() == record.jwt
    missing = cli(runner, "credentials", "show", "Z" * 22)
    assert missing.exit_code == 4
    assert "Traceback" not in missing.output


# --- verify -------------------------------------------------------------------------------------


def test_verify_token_file_and_stdin(runner: Any, factory: Any, tmp_path: Path) -> None:
    record = factory.certified("CNA-ENT")
    path = tmp_path / "credential.jwt"
    path.write_text(record.jwt + "\n", encoding="utf-8")
    for args, stdin in (([record.jwt], None), ([f"@{path}"], None), (["-"], record.jwt + "\n")):
        result = cli(runner, "verify", *args, "--format", "json", input=stdin)
        assert result.exit_code == 0, (args, result.output)
        body = json.loads(result.stdout)
        assert body["status"] == "valid" and body["verified"] is True
    text = cli(runner, "verify", f"@{path}")
    assert text.exit_code == 0 and "VALID" in text.stdout


def test_verify_not_valid_exits_1(runner: Any, factory: Any, clock: FakeClock) -> None:
    expired = issue_in_the_past(factory, clock, "CNA-ENT")
    result = cli(runner, "verify", expired.jwt, "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "expired"
    garbage = cli(runner, "verify", "not-a-token", "--format", "json")
    assert garbage.exit_code == 1
    assert json.loads(garbage.stdout)["status"] == "malformed"


def test_verify_missing_file_exits_2(runner: Any, tmp_path: Path) -> None:
    result = cli(runner, "verify", f"@{tmp_path / 'missing.jwt'}")
    assert result.exit_code == 2
    assert "missing.jwt" in result.stderr
    assert "Traceback" not in result.output


# --- a wrong key passphrase ---------------------------------------------------------------------


def test_preflight_names_the_passphrase_variable(app: Any, app_env: dict[str, str], clock: FakeClock) -> None:
    with tracked_databases() as connections:
        try:
            wrong = make_app(app_env, clock, key_passphrase="not-the-passphrase-0123456789")
            with wrong.app_context():
                message = preflight(wrong).problem
            right = make_app(app_env, clock)
            with right.app_context():
                assert preflight(right) == Preflight()
        finally:
            connections.close_all()
    assert message is not None
    assert "CERTMANAGER_KEY_PASSPHRASE" in message
    assert "Traceback" not in message


def test_commands_that_do_not_sign_work_without_the_key(
    runner: Any, factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = factory.certified("CNA-ENT")
    monkeypatch.setenv("CERTMANAGER_KEY_PASSPHRASE", "not-the-passphrase-0123456789")
    listed = cli(runner, "credentials", "list", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert [r["id"] for r in json.loads(listed.stdout)] == [record.id]
    verified = cli(runner, "verify", record.jwt, "--format", "json")
    assert verified.exit_code == 0, verified.output

    # Signing needs the key: a clear error, no traceback, nothing changed.
    revoke = cli(runner, "revoke", record.id, "--reason", "withdrawn")
    assert revoke.exit_code != 0
    assert "CERTMANAGER_KEY_PASSPHRASE" in revoke.stderr
    assert "Traceback" not in revoke.output
    monkeypatch.setenv("CERTMANAGER_KEY_PASSPHRASE", PASSPHRASE)
    after = json.loads(cli(runner, "credentials", "show", record.id, "--format", "json").stdout)
    assert after["status"] == "valid"


def test_commands_close_their_database_connections(runner: Any, factory: Any) -> None:
    """A command closes the connections it opened when it ends (in-process runs, embedding, and a
    clean disconnect on PostgreSQL instead of a dropped socket)."""
    record = factory.certified("CNA-ENT")
    commands = [
        ["init"],
        ["credentials", "list", "--format", "json"],
        ["credentials", "show", record.id],
        ["verify", record.jwt],
        ["keys", "list"],
        ["revoke", record.id, "--reason", "withdrawn"],
    ]
    for args in commands:
        with tracked_databases() as connections:
            try:
                runner.invoke(main, args, catch_exceptions=False)
                still_open = connections.still_open
            finally:
                connections.close_all()
        assert connections.databases, args
        assert still_open == 0, f"`certmanager {' '.join(args)}` left {still_open} database connection(s) open"


def test_preflight_leaves_no_connection_open(app: Any, app_env: dict[str, str], clock: FakeClock) -> None:
    """`certmanager serve` runs the preflight and then forks workers: no connection may survive it."""
    for passphrase in (PASSPHRASE, "not-the-passphrase-0123456789"):
        with tracked_databases() as connections:
            try:
                checked = make_app(app_env, clock, key_passphrase=passphrase)
                with checked.app_context():
                    preflight(checked)
                still_open = connections.still_open
            finally:
                connections.close_all()
        assert still_open == 0, f"preflight left {still_open} database connection(s) open"


@pytest.mark.parametrize(
    "note",
    ["see \u202eticket", "line\x00break", "x" * 501],
    ids=["bidi-override", "nul", "too-long"],
)
def test_a_revocation_note_with_hidden_characters_or_too_long_is_refused(
    app: Any, runner: Any, factory: Any, note: str
) -> None:
    """The note is kept in the audit log that support reads: it passes the same boundary as
    every other text from outside. Refused with exit 2, and nothing is revoked."""
    record = factory.certified()
    outcome = cli(runner, "revoke", record.id, "--reason", "withdrawn", "--note", note)
    assert outcome.exit_code == 2, outcome.output
    assert "The note" in outcome.stderr and "Traceback" not in outcome.output
    shown = cli(runner, "credentials", "show", record.id, "--format", "json")
    assert json.loads(shown.stdout)["status"] == "valid"


def test_a_revocation_note_is_kept_as_one_clean_line(app: Any, runner: Any, factory: Any) -> None:
    from issuer.db import get_session
    from issuer.models import CredentialRecord

    record = factory.certified()
    outcome = cli(runner, "revoke", record.id, "--reason", "withdrawn", "--note", "  Ticket 42:\n  candidate asked ")
    assert outcome.exit_code == 0, outcome.output
    with app.app_context():
        stored = get_session().get(CredentialRecord, record.id)
        assert stored is not None and stored.revocation_note == "Ticket 42: candidate asked"
