"""Shared fixtures: an app on a real database (SQLite by default, PostgreSQL when
CERTMANAGER_TEST_DATABASE_URL is set), a test clock, a client, a CLI runner and factories."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from issuer import create_app, runtime
from issuer.db import Database, get_session, unit_of_work
from issuer.models import Base
from issuer.services import candidates, certifications
from issuer.services.setup import initialize

BASE_URL = "http://cm.test"
SECRET = "test-secret-key-0123456789"
PASSPHRASE = "test-key-passphrase-0123456789"
PG_URL = os.environ.get("CERTMANAGER_TEST_DATABASE_URL")


class FakeClock:
    """Injected `now`: tests move time instead of sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class DatabaseTarget:
    url: str
    template: Path | None  # SQLite: a migrated file copied for each test


@pytest.fixture(scope="session")
def database_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseTarget]:
    if PG_URL:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        name = f"cm_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        db = Database(url)
        db.upgrade()
        db.dispose()
        try:
            yield DatabaseTarget(url, None)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        template = tmp_path_factory.mktemp("template") / "template.sqlite3"
        db = Database(f"sqlite:///{template}")
        db.upgrade()
        db.dispose()
        yield DatabaseTarget(f"sqlite:///{template}", template)


def _fresh_database(target: DatabaseTarget, instance_dir: Path) -> str:
    if target.template is not None:
        path = instance_dir / "certmanager.sqlite3"
        shutil.copyfile(target.template, path)
        return f"sqlite:///{path}"
    engine = create_engine(target.url)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO issuer_state (id, generation) VALUES (1, 0)"))
    engine.dispose()
    return target.url


@pytest.fixture
def clock() -> FakeClock:
    # Real time, frozen: processes started by a test (CLI, servers) read the same hour.
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    path = tmp_path / "instance"
    path.mkdir()
    return path


@pytest.fixture
def app_env(database_target: DatabaseTarget, instance_dir: Path) -> dict[str, str]:
    """The environment of a process (CLI, server) that shares the test's database."""
    return {
        "CERTMANAGER_INSTANCE_DIR": str(instance_dir),
        "CERTMANAGER_DATABASE_URL": _fresh_database(database_target, instance_dir),
        "CERTMANAGER_BASE_URL": BASE_URL,
        "CERTMANAGER_SECRET_KEY": SECRET,
        "CERTMANAGER_KEY_PASSPHRASE": PASSPHRASE,
        "CERTMANAGER_RATELIMIT_VERIFY": "0",
    }


def make_app(app_env: dict[str, str], clock: FakeClock | None = None, **overrides: Any) -> Any:
    config: dict[str, Any] = {
        "instance_dir": app_env["CERTMANAGER_INSTANCE_DIR"],
        "database_url": app_env["CERTMANAGER_DATABASE_URL"],
        "base_url": app_env["CERTMANAGER_BASE_URL"],
        "secret_key": SECRET,
        "key_passphrase": PASSPHRASE,
        "ratelimit_verify": "0",
        **overrides,
    }
    if clock is not None:
        config["clock"] = clock
    app = create_app(config)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(app_env: dict[str, str], clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in app_env.items():
        monkeypatch.setenv(key, value)
    application = make_app(app_env, clock)
    with application.app_context():
        initialize(get_session(), runtime.of(application).ctx, now=clock())
    yield application
    application.extensions["certmanager.db"].dispose()


@pytest.fixture
def ctx(app: Any) -> Any:
    return runtime.of(app).ctx


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> CliRunner:
    """Runs `certmanager` in-process against the same database (via the environment)."""
    return CliRunner()


class Factory:
    """Creates candidates and certified credentials through the real services."""

    def __init__(self, app: Any, clock: FakeClock) -> None:
        self.app = app
        self.clock = clock
        self._n = 0

    def certified(
        self, code: str = "CNA-ENT", *, exam_date: date | None = None, first: str = "Ada", last: str = "Lovelace"
    ) -> Any:
        """A new candidate holding `code`; returns the credential record."""
        self._n += 1
        ctx = runtime.of(self.app).ctx
        with self.app.app_context():
            session = get_session()
            now = self.clock()
            with unit_of_work(session):
                candidate = candidates.create_candidate(
                    session,
                    email=f"cand{self._n}-{uuid.uuid4().hex[:6]}@example.org",
                    first_name=first,
                    last_name=last,
                    now=now,
                )
                _, record = certifications.grant(
                    session, ctx, candidate, code, exam_date or (now - timedelta(days=3)).date(), now=now
                )
            session.refresh(record)
            session.expunge(record)
            return record


@pytest.fixture
def factory(app: Any, clock: FakeClock) -> Factory:
    return Factory(app, clock)
