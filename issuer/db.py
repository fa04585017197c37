"""Engine and sessions: one Database per app; a session per request or per CLI command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import Table, create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_begin), instead of pysqlite's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A unit of work that will write takes the write lock up front (BEGIN IMMEDIATE), so two
    # processes never both read and then fail to upgrade their lock; readers stay concurrent.
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write(session: Session) -> None:
    """Start `session`'s transaction as a writer (BEGIN IMMEDIATE on SQLite; no-op elsewhere)."""
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            return  # already writing: the caller's unit of work continues
        session.commit()  # end the read-only transaction; loaded objects stay usable
    session.connection(execution_options={"sqlite_immediate": True})


def fast_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """executemany of `rows` into `table` straight through the driver, with each column's own
    bind processing (so values are stored exactly as the ORM stores them). For bulk imports,
    where SQLAlchemy's per-row parameter handling costs more than the row itself."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    names = list(rows[0])
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in names]  # noqa: SLF001
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    # Identifiers come from our own Table and are quoted; every value is a bound parameter.
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "  # noqa: S608
        f"VALUES ({', '.join([placeholder] * len(names))})"
    )
    # Only typed columns (timestamps) need processing, and a batch repeats the same few values:
    # process each distinct value once per column.
    typed = [(i, proc, {}) for i, proc in enumerate(processors) if proc is not None]
    take = itemgetter(*names)
    params: list[Any] = []
    for row in rows:
        values = list(take(row)) if len(names) > 1 else [take(row)]
        for i, proc, memo in typed:
            value = values[i]
            if value is not None:
                done = memo.get(value)
                if done is None:
                    done = memo[value] = proc(value)
                values[i] = done
        params.append(tuple(values))
    connection.exec_driver_sql(sql, params)


class Database:
    def __init__(self, url: str) -> None:
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=5, max_overflow=10, connect_args={"connect_timeout": 5})
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self.sessions()
        try:
            yield session
        finally:
            session.close()

    def upgrade(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        with self.engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def is_initialized(self) -> bool:
        return inspect(self.engine).has_table("issuer_state")

    def dispose(self) -> None:
        self.engine.dispose()


def init_app(app: Flask, database: Database) -> None:
    app.extensions["certmanager.db"] = database
    app.teardown_appcontext(_close_session)


def get_db() -> Database:
    db: Database = current_app.extensions["certmanager.db"]
    return db


def get_session() -> Session:
    """The session of the current request (or CLI command), opened on first use."""
    if "db_session" not in g:
        g.db_session = get_db().sessions()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
