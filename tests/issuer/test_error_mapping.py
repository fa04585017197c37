"""What a database failure becomes (issuer/web/errors.py): an outage is a 503 to try again, a
refused value a 400, a write that collided with another a 409 — and a bug in our own SQL a
logged 500, never mistaken for an outage. Logs name the route, not the path."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, ProgrammingError

from tests.issuer.test_http import assert_problem

FAILURES: dict[str, Exception] = {
    "down": OperationalError("SELECT 1", None, Exception("connection refused")),
    "gone": InterfaceError("SELECT 1", None, Exception("connection closed")),
    "value": DataError("INSERT", None, Exception("NUL byte")),
    "collision": IntegrityError("INSERT", None, Exception("duplicate key")),
    "bug": ProgrammingError("SELECT nope", None, Exception("no such column")),
}


@pytest.fixture
def failing(app: Any) -> Any:
    def fail(kind: str, secret: str) -> str:
        raise FAILURES[kind]

    app.add_url_rule("/api/test-fail/<kind>/<secret>", view_func=fail)
    return app.test_client()


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("down", 503, "database_unavailable"),
        ("gone", 503, "database_unavailable"),
        ("value", 400, "invalid_input"),
        ("collision", 409, "conflict"),
        ("bug", 500, "internal_error"),
    ],
)
def test_each_database_failure_gets_its_own_answer(failing: Any, kind: str, status: int, code: str) -> None:
    response = failing.get(f"/api/test-fail/{kind}/s3cret", headers={"Accept": "application/json"})
    body = assert_problem(response, status)
    assert body["code"] == code
    assert ("Retry-After" in response.headers) == (status == 503)


def test_a_bug_is_logged_with_its_traceback_under_the_route_not_the_path(
    failing: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        failing.get("/api/test-fail/bug/s3cret-token-value", headers={"Accept": "application/json"})
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged and logged[-1].exc_info is not None  # a bug keeps its traceback
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/api/test-fail/<kind>/<secret>" in text
    assert "s3cret-token-value" not in text


def test_an_unexpected_error_is_logged_under_the_route(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    def explode(token: str) -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/api/test-explode/<token>", view_func=explode)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/api/test-explode/live-reset-token", headers={"Accept": "application/json"})
    assert assert_problem(response, 500)["code"] == "internal_error"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/api/test-explode/<token>" in text and "live-reset-token" not in text
