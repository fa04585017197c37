"""Throttles hold across the workers of an instance (shared storage: the database by default,
Redis when configured), count an account once whichever identifier is typed, store no
identifier, and the verify limit never costs a database write."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import limits
import pytest
import redis
from sqlalchemy import event, func, select

from issuer.db import get_session
from issuer.models import ThrottleHit
from issuer.services.id_check import PER_CLIENT
from issuer.throttle import DatabaseStore, RedisStore, Rule, Throttle, Throttled
from tests.conftest import make_app
from tests.issuer.portal_support import PASSWORD, Portal, use_fast_hashing
from verifier.ratelimit import RateLimit, share

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(monkeypatch)


@pytest.fixture
def portal(app: Any, clock: Any) -> Portal:
    return Portal(app, clock)


@pytest.fixture
def second_worker(app_env: dict[str, str], clock: Any) -> Iterator[Any]:
    """Another process of the same instance: its own app, the same database."""
    other = make_app(app_env, clock)
    yield other
    other.extensions["certmanager.db"].dispose()


def _from(address: str) -> dict[str, Any]:
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_the_login_throttle_holds_across_workers(portal: Portal, app: Any, second_worker: Any) -> None:
    candidate = portal.candidate()
    workers = [app.test_client(), second_worker.test_client()]
    for attempt in range(5):  # five failures, spread over both workers
        failed = portal.login(workers[attempt % 2], candidate.certmanager_id, "wrong guess", **_from("203.0.113.5"))
        assert failed.status_code == 401
    for client in workers:  # each worker now refuses, even the right password
        assert portal.login(client, candidate.certmanager_id, PASSWORD, **_from("203.0.113.5")).status_code == 429


def test_the_id_and_the_email_of_one_account_count_as_one(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    for identifier in [candidate.certmanager_id] * 3 + [candidate.email.upper(), candidate.email]:
        assert portal.login(client, identifier, "wrong guess", **_from("198.51.100.9")).status_code == 401
    refused = portal.login(client, candidate.email, PASSWORD, **_from("198.51.100.9"))
    assert refused.status_code == 429
    # From another network the owner still gets in: nobody can lock a candidate out.
    assert portal.login(app.test_client(), candidate.certmanager_id, **_from("192.0.2.44")).status_code == 303


def test_the_store_holds_no_identifier(portal: Portal, app: Any) -> None:
    candidate = portal.candidate()
    portal.login(app.test_client(), candidate.email, "wrong guess", **_from("203.0.113.77"))
    with app.app_context():
        keys = get_session().execute(select(ThrottleHit.key)).scalars().all()
    assert keys
    for key in keys:
        assert candidate.email not in key and candidate.certmanager_id not in key and "203.0.113" not in key
        assert len(key) == 40 and all(c in "0123456789abcdef" for c in key)


def test_the_throttle_window_moves_with_the_clock(portal: Portal, app: Any, clock: Any) -> None:
    candidate = portal.candidate()
    client = app.test_client()
    for _ in range(5):
        portal.login(client, candidate.certmanager_id, "wrong guess", **_from("203.0.113.8"))
    refused = portal.login(client, candidate.certmanager_id, **_from("203.0.113.8"))
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    clock.advance(minutes=16)
    assert portal.login(client, candidate.certmanager_id, **_from("203.0.113.8")).status_code == 303


@pytest.fixture
def redis_store() -> Iterator[RedisStore]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:  # the machine runs Redis for CI; say so plainly if it does not
        pytest.fail(f"Redis is not answering at {REDIS_URL}: {exc}")
    yield RedisStore(REDIS_URL)
    for key in client.scan_iter("certmanager:throttle:*"):
        client.delete(key)
    client.close()


def test_with_redis_a_throttle_holds_across_instances(redis_store: RedisStore, clock: Any) -> None:
    rule = Rule("test-" + uuid.uuid4().hex, 3, timedelta(minutes=1))
    one, two = Throttle(redis_store), Throttle(RedisStore(REDIS_URL))  # two instances, one Redis
    session: Any = None  # the Redis store needs no database session
    for throttle in (one, two, one):
        throttle.take(session, (rule, ("client-a",)), now=clock())
    for throttle in (one, two):
        with pytest.raises(Throttled) as refused:
            throttle.take(session, (rule, ("client-a",)), now=clock())
        assert 0 < refused.value.retry_after <= 60
    two.take(session, (rule, ("client-b",)), now=clock())  # another client is counted apart
    clock.advance(seconds=61)
    one.take(session, (rule, ("client-a",)), now=clock())


def test_an_app_with_redis_storage_keeps_login_counts_out_of_the_database(
    app_env: dict[str, str], clock: Any, redis_store: RedisStore
) -> None:
    redis_app = make_app(app_env, clock, ratelimit_storage_url=REDIS_URL)
    try:
        portal = Portal(redis_app, clock)
        candidate = portal.candidate()
        for _ in range(5):
            portal.login(redis_app.test_client(), candidate.certmanager_id, "wrong guess", **_from("203.0.113.99"))
        refused = portal.login(redis_app.test_client(), candidate.certmanager_id, **_from("203.0.113.99"))
        assert refused.status_code == 429
        with redis_app.app_context():
            assert get_session().execute(select(func.count()).select_from(ThrottleHit)).scalar_one() == 0
    finally:
        redis_app.extensions["certmanager.db"].dispose()


def _race(attempts: int, attempt: Callable[[int], Any]) -> list[Any]:
    """Run `attempt(i)` for each i at once (threads released together); what each returned or raised."""
    start = threading.Barrier(attempts)

    def run(i: int) -> Any:
        start.wait()
        try:
            return attempt(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test looks at
            return exc

    with ThreadPoolExecutor(attempts) as pool:
        return list(pool.map(run, range(attempts)))


def _database_throttles(app: Any, second_worker: Any) -> list[tuple[Any, Throttle]]:
    """Two workers' databases, each with its own store (as in two processes)."""
    return [(worker.extensions["certmanager.db"], Throttle(DatabaseStore())) for worker in (app, second_worker)]


def test_parallel_attempts_cannot_slip_under_a_database_limit(app: Any, second_worker: Any, clock: Any) -> None:
    rule = Rule("race", 4, timedelta(minutes=5))
    workers = _database_throttles(app, second_worker)

    def attempt(i: int) -> Any:
        database, throttle = workers[i % 2]
        with database.session() as session:
            return throttle.take(session, (rule, ("client",)), now=clock())

    outcomes = _race(16, attempt)
    assert sum(isinstance(o, list) for o in outcomes) == 4
    assert all(isinstance(o, (list, Throttled)) for o in outcomes), outcomes
    with app.app_context():
        assert get_session().execute(select(func.count()).select_from(ThrottleHit)).scalar_one() == 4


def test_parallel_attempts_cannot_slip_under_a_redis_limit(redis_store: RedisStore, clock: Any) -> None:
    rule = Rule("race-" + uuid.uuid4().hex, 4, timedelta(minutes=5))
    throttles = [Throttle(redis_store), Throttle(RedisStore(REDIS_URL))]
    outcomes = _race(16, lambda i: throttles[i % 2].take(None, (rule, ("client",)), now=clock()))  # type: ignore[arg-type]
    assert sum(isinstance(o, list) for o in outcomes) == 4
    assert all(isinstance(o, (list, Throttled)) for o in outcomes), outcomes


@pytest.mark.parametrize("storage", ["database", "redis"])
def test_a_refused_attempt_counts_under_no_rule(storage: str, app: Any, clock: Any, redis_store: RedisStore) -> None:
    tight, loose = (
        Rule("tight-" + uuid.uuid4().hex, 1, timedelta(minutes=5)),
        Rule("loose-" + uuid.uuid4().hex, 2, timedelta(minutes=5)),
    )
    throttle = Throttle(DatabaseStore() if storage == "database" else redis_store)
    with app.app_context():
        session = get_session()
        throttle.take(session, (tight, ("a",)), now=clock())
        for _ in range(3):  # the tight rule refuses: the loose one must not be used up meanwhile
            with pytest.raises(Throttled) as refused:
                throttle.take(session, (loose, ("a",)), (tight, ("a",)), now=clock())
            assert refused.value.rule == tight.name
        hits = throttle.take(session, (loose, ("a",)), now=clock())
        throttle.release(session, hits)  # a released attempt no longer counts
        throttle.take(session, (loose, ("a",)), now=clock())
        throttle.take(session, (loose, ("a",)), now=clock())
        with pytest.raises(Throttled):
            throttle.take(session, (loose, ("a",)), now=clock())


def test_parallel_password_guesses_get_no_more_than_the_limit(portal: Portal, app: Any, second_worker: Any) -> None:
    candidate = portal.candidate()

    def guess(i: int) -> int:
        client = (app, second_worker)[i % 2].test_client()
        return int(portal.login(client, candidate.certmanager_id, f"guess {i}", **_from("203.0.113.66")).status_code)

    statuses = _race(12, guess)
    assert sorted(statuses) == [401] * 5 + [429] * 7


def test_parallel_id_checks_get_no_more_than_the_limit(app: Any, second_worker: Any, factory: Any) -> None:
    record = factory.certified()

    def check(i: int) -> int:
        client = (app, second_worker)[i % 2].test_client()
        form = {"certmanager_id": f"JPR{i:09d}"}
        headers = {"Accept": "application/json"}
        response = client.post(f"/c/{record.id}/check-id", data=form, headers=headers, **_from("198.51.100.66"))
        return int(response.status_code)

    statuses = _race(16, check)
    assert sorted(statuses) == [200] * PER_CLIENT.limit + [429] * (16 - PER_CLIENT.limit)


def test_the_verify_limit_is_shared_out_between_the_workers_of_an_instance() -> None:
    assert share(limits.parse("300/minute"), 2).amount == 150
    assert share(limits.parse("1/minute"), 4).amount == 1  # never zero
    per_worker = RateLimit("4/minute", "memory://", workers=2)
    per_worker.check("verify", "client")
    per_worker.check("verify", "client")
    with pytest.raises(Exception) as refused:
        per_worker.check("verify", "client")
    assert getattr(refused.value, "code", None) == 429
    shared = RateLimit("4/minute", REDIS_URL, workers=2)  # Redis holds the whole limit for all
    client = f"client-{uuid.uuid4().hex}"
    for _ in range(4):
        shared.check("verify", client)
    with pytest.raises(Exception) as refused:
        shared.check("verify", client)
    assert getattr(refused.value, "code", None) == 429


def test_verifications_never_write_to_the_database(app: Any, app_env: dict[str, str], clock: Any, factory: Any) -> None:
    record = factory.certified()
    limited = make_app(app_env, clock, ratelimit_verify="1000/minute")
    writes: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    engine = limited.extensions["certmanager.db"].engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        client = limited.test_client()
        assert client.get("/healthz").status_code == 200  # the first request checks the origin
        for _ in range(20):
            assert client.post("/api/v1/verify", json={"credential": record.jwt}).status_code == 200
            assert client.get(f"/c/{record.id}", headers={"Accept": "application/json"}).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        limited.extensions["certmanager.db"].dispose()
    assert writes == []
