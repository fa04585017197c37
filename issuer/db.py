"""Engine, sessions and the unit of work: the one place in the code base that commits.

Every change of state runs inside `unit_of_work(session)`: it begins (as a writer), commits once
at the end or rolls back once on any failure, and refuses to start over work that was written
outside it. A unit of work opened inside another one is a savepoint of the outer one: the inner
use case is all-or-nothing, and the outer one still commits once. Writes outside any unit of
work (a flush, an INSERT/UPDATE/DELETE statement) raise `UnitOfWorkMisuse`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVarTuple

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine, Row
from sqlalchemy.orm import (
    ORMExecuteState,
    QueryableAttribute,
    Session,
    SessionTransaction,
    UOWTransaction,
    sessionmaker,
)

MIGRATIONS = Path(__file__).parent / "migrations"
_Row = TypeVarTuple("_Row")

_IN_UNIT = "cm_unit_of_work"  # session.info: depth of the open units of work
_WROTE = "cm_wrote"  # session.info: the current transaction has written something


class UnitOfWorkMisuse(RuntimeError):
    """A programming error: state was changed outside a unit of work, or one was opened over
    uncommitted writes. Never caused by input."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_begin), instead of pysqlite's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # SQLite's default page cache is 2 MB: too small for the indexes of a database with a
    # million credentials, whose random ids spread every bulk insert over the whole index.
    cursor.execute("PRAGMA cache_size=-32768")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A unit of work takes the write lock up front (BEGIN IMMEDIATE), so two processes never
    # both read and then fail to upgrade their lock; readers stay concurrent.
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def in_unit_of_work(session: Session) -> bool:
    return bool(session.info.get(_IN_UNIT))


def _require_unit(session: Session, what: str) -> None:
    if not in_unit_of_work(session):
        raise UnitOfWorkMisuse(f"{what} outside a unit of work: wrap the use case in `unit_of_work(session)`")
    session.info[_WROTE] = True


def _before_flush(session: Session, _context: UOWTransaction, _instances: object) -> None:
    if session.new or session.dirty or session.deleted:
        _require_unit(session, "a flush")


def _on_execute(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _require_unit(state.session, "a write statement")


def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the root transaction committed or rolled back
        session.info.pop(_WROTE, None)


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Run a use case: begin as a writer, commit once at the end, roll back on any failure.

    Inside another unit of work this is a savepoint: a failure undoes this part only and is
    re-raised; the outermost unit still commits once."""
    if in_unit_of_work(session):
        session.info[_IN_UNIT] += 1
        try:
            with session.begin_nested():
                yield session
        finally:
            session.info[_IN_UNIT] -= 1
        return
    if session.new or session.dirty or session.deleted or session.info.get(_WROTE):
        raise UnitOfWorkMisuse("a unit of work cannot start over changes made outside one")
    if session.in_transaction():
        # Only reads happened since the last unit of work (checked above). Roll that read
        # transaction back rather than commit it: nothing written by a path the guards cannot
        # see is ever committed, and loaded objects are expired, so the use case decides on
        # what the database holds now, not on an older snapshot.
        session.rollback()
    session.info[_IN_UNIT] = 1
    try:
        session.connection(execution_options={"sqlite_immediate": True})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_IN_UNIT, None)


def fast_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """executemany of `rows` into `table` straight through the driver, with each column's own
    bind processing (so values are stored exactly as the ORM stores them). For bulk issuance,
    where SQLAlchemy's per-row parameter handling costs more than the row itself."""
    if not rows:
        return
    _require_unit(session, "a bulk insert")
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
    # Only typed columns need processing. Timestamps repeat the same few values in a batch:
    # each distinct one is processed once; JSON values (unhashable) are processed each time.
    typed: list[tuple[int, Any, dict[Any, Any] | None]] = [
        (i, proc, None if isinstance(table.c[name].type, JSON) else {})
        for i, (name, proc) in enumerate(zip(names, processors, strict=True))
        if proc is not None
    ]
    take = itemgetter(*names)
    params: list[Any] = []
    for row in rows:
        values = list(take(row)) if len(names) > 1 else [take(row)]
        for i, proc, memo in typed:
            value = values[i]
            if value is None:
                continue
            if memo is None:
                values[i] = proc(value)
                continue
            done = memo.get(value)
            if done is None:
                done = memo[value] = proc(value)
            values[i] = done
        params.append(tuple(values))
    connection.exec_driver_sql(sql, params)


def among(
    session: Session, column: ColumnElement[Any] | QueryableAttribute[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    """`column IN (values)` as ONE bound parameter, however many values: a JSON array read by
    `json_each` on SQLite, an array with `= ANY` on PostgreSQL. For the bulk paths, where
    SQLAlchemy's per-value expansion of `IN` costs more than the lookups."""
    items = list(values)
    expression = column.expression if isinstance(column, QueryableAttribute) else column
    if session.get_bind().dialect.name == "postgresql":
        return expression == any_(bindparam(None, items, type_=postgresql.ARRAY(expression.type)))
    table: Select[Any] = select(literal_column("value")).select_from(func.json_each(bindparam(None, json.dumps(items))))
    return expression.in_(table.scalar_subquery())


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` new primary keys of `table` for rows about to be inserted with them (bulk paths:
    no read-back of generated ids). PostgreSQL draws them from the column's sequence; SQLite
    counts on from the largest id, which the unit of work's write lock keeps ours."""
    _require_unit(session, "reserving ids")
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, "id")
        drawn = connection.execute(select(func.nextval(sequence)).select_from(func.generate_series(1, count)))
        return [int(value) for (value,) in drawn]
    largest = connection.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(int(largest) + 1, int(largest) + 1 + count))


def read_rows(session: Session, statement: Select[*_Row]) -> Sequence[Row[*_Row]]:
    """A column-only SELECT on the session's connection, as plain Core rows: for the bulk paths,
    where the ORM's per-row result processing costs more than the query (nothing is loaded into
    the identity map; typed columns are still converted). Pending changes are flushed first, as
    the ORM would."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection().execute(statement).all()  # fetched at once, not row by row


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
        event.listen(self.sessions, "before_flush", _before_flush)
        event.listen(self.sessions, "do_orm_execute", _on_execute)
        event.listen(self.sessions, "after_transaction_end", _transaction_ended)

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self.sessions()
        try:
            yield session
        finally:
            session.close()

    def upgrade(self) -> None:
        """Create or upgrade the schema to the newest migration (Alembic's own transaction)."""
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
