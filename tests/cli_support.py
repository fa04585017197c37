"""Running `certmanager` in-process from tests, and watching the database connections it opens.

Each command builds its own app and database engine. `run_cli` closes whatever connections a
command left open once it has finished, so none outlives its test (on PostgreSQL a leaked psycopg
connection is a ResourceWarning, an error under this suite's filterwarnings, raised later in
whatever test the garbage collector happens to run in). `test_cli.py` checks that the CLI and
the server preflight close them themselves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from sqlalchemy import event

from issuer import db as issuer_db
from issuer.cli import main


class Connections:
    """Every DBAPI connection opened by the `issuer.db.Database`s created while tracking."""

    def __init__(self) -> None:
        self.databases: list[Any] = []
        self._open: dict[int, Any] = {}

    def watch(self, database: Any) -> None:
        self.databases.append(database)
        event.listen(database.engine, "connect", self._opened)
        event.listen(database.engine, "close", self._closed)
        event.listen(database.engine, "close_detached", self._closed)

    def _opened(self, dbapi_connection: Any, _record: Any) -> None:
        self._open[id(dbapi_connection)] = dbapi_connection

    def _closed(self, dbapi_connection: Any, *_: Any) -> None:
        self._open.pop(id(dbapi_connection), None)

    @property
    def still_open(self) -> int:
        return len(self._open)

    def close_all(self) -> None:
        for database in self.databases:
            database.dispose()
        for dbapi_connection in list(self._open.values()):
            dbapi_connection.close()
        self._open.clear()


@contextmanager
def tracked_databases() -> Iterator[Connections]:
    """Watch every `issuer.db.Database` created inside the block (the caller closes them)."""
    connections = Connections()
    original = issuer_db.Database

    class Tracked(original):  # type: ignore[misc, valid-type]
        def __init__(self, url: str) -> None:
            super().__init__(url)
            connections.watch(self)

    with mock.patch.object(issuer_db, "Database", Tracked):
        yield connections


def run_cli(runner: Any, *args: str, input: str | None = None) -> Any:
    with tracked_databases() as connections:
        try:
            return runner.invoke(main, list(args), input=input, catch_exceptions=False)
        finally:
            connections.close_all()
