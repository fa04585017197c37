"""The pinned public origin (SPEC §3.2): the database records the `CERTMANAGER_BASE_URL` it was
initialised with, and every command and server refuses another one — exit 2, a message naming
both, nothing written — until the operator moves it with `init --move-origin`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from issuer.db import get_session
from issuer.models import AuditEvent, CredentialRecord, IssuerState, MailMessage, SigningKeyRecord
from issuer.server import preflight
from issuer.services import origin
from tests.cli_support import run_cli as cli
from tests.conftest import BASE_URL, make_app
from tests.issuer.feeds_support import REG_HEADER, registration, write

OTHER = "http://127.0.0.1:5055"


def _counts(app: Any) -> dict[str, int]:
    with app.app_context():
        session = get_session()
        return {
            model.__tablename__: session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (CredentialRecord, SigningKeyRecord, MailMessage, AuditEvent)
        }


def test_init_pins_the_origin(app: Any) -> None:
    with app.app_context():
        assert get_session().get(IssuerState, 1).base_url == BASE_URL


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "rotate"],
        ["revoke", "{cred}", "--reason", "withdrawn"],
        ["import", "registrations", "{feed}"],
        ["credentials", "list"],
        ["verify", "{jwt}"],
        ["reminders", "send"],
        ["init"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_every_command_refuses_another_origin_and_writes_nothing(
    app: Any, runner: Any, factory: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    record = factory.certified()
    feed = write(tmp_path / "reg.csv", REG_HEADER, [registration("R-1", "new@example.org", "EX-ENT-101")])
    before = _counts(app)
    monkeypatch.setenv("CERTMANAGER_BASE_URL", OTHER)
    argv = [a.format(cred=record.id, feed=feed, jwt=record.jwt) for a in args]
    result = cli(runner, *argv)
    assert result.exit_code == 2, result.output
    assert BASE_URL in result.stderr and OTHER in result.stderr
    assert "Traceback" not in result.output
    assert _counts(app) == before


def test_the_same_origin_written_differently_is_the_same(
    app: Any, runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTMANAGER_BASE_URL", "HTTP://CM.TEST:80/")
    result = cli(runner, "keys", "list", "--format", "json")
    assert result.exit_code == 0, result.output


def test_init_move_origin_says_what_it_moves(
    app: Any, runner: Any, factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory.certified()
    factory.certified()
    monkeypatch.setenv("CERTMANAGER_BASE_URL", OTHER)
    moved = cli(runner, "init", "--move-origin")
    assert moved.exit_code == 0, moved.output
    assert f"Moved from {BASE_URL} to {OTHER}: 2 valid credential(s)" in moved.stderr
    assert cli(runner, "keys", "list").exit_code == 0
    monkeypatch.setenv("CERTMANAGER_BASE_URL", BASE_URL)
    assert cli(runner, "keys", "list").exit_code == 2
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.action == "origin.pin").order_by(AuditEvent.id)
        first, moved_event = get_session().execute(query).scalars()
    assert (first.target, first.details["previous"]) == (BASE_URL, None)
    assert (moved_event.target, moved_event.details) == (OTHER, {"previous": BASE_URL, "valid": 2})


def test_serve_preflight_refuses_another_origin(app: Any, app_env: dict[str, str], clock: Any) -> None:
    other = make_app(app_env, clock, base_url=OTHER)
    try:
        with other.app_context():
            check = preflight(other)
    finally:
        other.extensions["certmanager.db"].dispose()
    assert check.problem is not None and BASE_URL in check.problem and OTHER in check.problem


def test_a_server_on_another_origin_answers_503_and_signs_nothing(
    app: Any, app_env: dict[str, str], clock: Any, factory: Any
) -> None:
    record = factory.certified()
    other = make_app(app_env, clock, base_url=OTHER)
    try:
        client = other.test_client()
        assert client.get("/healthz").status_code == 200
        page = client.get(f"/c/{record.id}")
        assert page.status_code == 503
        assert "not configured correctly" in page.get_data(as_text=True)
        assert OTHER not in page.get_data(as_text=True)  # the operator's detail is in the log
        api = client.post("/api/v1/verify", json={"credential": record.jwt})
        assert api.status_code == 503 and api.get_json()["code"] == "origin_mismatch"
    finally:
        other.extensions["certmanager.db"].dispose()
    with app.app_context():
        assert origin.pinned(get_session()) == BASE_URL


def test_a_server_whose_database_is_down_at_start_serves_503_then_checks(app_env: dict[str, str], clock: Any) -> None:
    down = make_app(app_env, clock, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        with down.app_context():
            check = preflight(down)
        assert check.problem is None and check.warning is not None  # it starts, and says why it is 503
        response = down.test_client().get("/c/AAAAAAAAAAAAAAAAAAAAAA", headers={"Accept": "application/json"})
        assert response.status_code == 503
    finally:
        down.extensions["certmanager.db"].dispose()


def test_demo_credentials_printed_by_init_verify_at_the_printed_origin(
    runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = cli(runner, "init", "--demo")
    assert shown.exit_code == 0, shown.output
    urls = [line.split(": ", 1)[1] for line in shown.stdout.splitlines() if "/c/" in line]
    assert urls and all(u.startswith(BASE_URL + "/c/") for u in urls)
    listed = json.loads(cli(runner, "credentials", "list", "--format", "json").stdout)
    assert {u.rsplit("/", 1)[1] for u in urls} <= {r["id"] for r in listed if r["status"] == "valid"}
