"""Throttles (SECURITY A4 #3, SPEC §3.4) for logins, e-mailed links and 'Check a CertManager ID':
exact moving windows in storage every worker shares — the issuer's database in the embedded
default, Redis when `CERTMANAGER_RATELIMIT_STORAGE_URL` names one (shared by every instance).

An attempt is counted *before* the work it guards (a password check, say) and atomically with
the check of every limit it falls under: concurrent requests cannot all slip under a limit, and a
refused attempt counts nowhere. Keys are SHA-256 hashes: the store never holds an identifier, an
address or an IP."""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol

import redis
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from issuer.db import among, unit_of_work
from issuer.models import ThrottleHit

SWEEP_EVERY = timedelta(minutes=1)  # expired rows of other keys are deleted at most this often


class Rule(NamedTuple):
    """At most `limit` attempts per `window` for one key."""

    name: str
    limit: int
    window: timedelta


class Throttled(Exception):
    def __init__(self, retry_after: int, rule: str) -> None:
        super().__init__(f"throttled by {rule}; retry after {retry_after} s")
        self.retry_after = retry_after
        self.rule = rule


class Wanted(NamedTuple):
    """One attempt to count: its key, and the rule it falls under."""

    key: str
    rule: Rule


class Hit(NamedTuple):
    """A counted attempt, which `release` can take back."""

    key: str
    member: str


class Store(Protocol):
    def take(self, session: Session, wanted: Sequence[Wanted], now: datetime) -> list[Hit]:
        """Count one attempt for each of `wanted` if none of their rules is used up — all or
        nothing, atomically. Raises Throttled (counting nothing) otherwise."""
        ...

    def release(self, session: Session, hits: Sequence[Hit]) -> None: ...

    def clear(self, session: Session, key: str) -> None: ...


def _retry_after(oldest: datetime, rule: Rule, now: datetime) -> int:
    return max(1, math.ceil((oldest + rule.window - now).total_seconds()))


def _lock_id(key: str) -> int:
    """A signed 64-bit number for PostgreSQL's advisory locks, from the key's hash."""
    return int.from_bytes(bytes.fromhex(key[:16]), "big", signed=True)


class DatabaseStore:
    """Attempts as rows of `throttle_hits`, each `take` one unit of work: SQLite's write lock,
    or PostgreSQL advisory locks on the keys (taken in a fixed order), make check and count one."""

    def __init__(self) -> None:
        self._swept: datetime | None = None

    def take(self, session: Session, wanted: Sequence[Wanted], now: datetime) -> list[Hit]:
        with unit_of_work(session):
            if session.get_bind().dialect.name == "postgresql":
                for key in sorted({w.key for w in wanted}):
                    session.execute(select(func.pg_advisory_xact_lock(_lock_id(key))))
            for key, rule in wanted:
                since = now - rule.window
                query = select(func.count(), func.min(ThrottleHit.at)).where(
                    ThrottleHit.key == key, ThrottleHit.at > since
                )
                count, oldest = session.execute(query).one()
                if count >= rule.limit:
                    raise Throttled(_retry_after(oldest or now, rule, now), rule.name)
            self._sweep(session, [w.key for w in wanted], now)
            rows = [ThrottleHit(key=key, at=now, expires_at=now + rule.window) for key, rule in wanted]
            session.add_all(rows)
            session.flush()
            return [Hit(row.key, str(row.id)) for row in rows]

    def _sweep(self, session: Session, keys: list[str], now: datetime) -> None:
        expired = delete(ThrottleHit).where(ThrottleHit.expires_at <= now)
        if self._swept is not None and now - self._swept < SWEEP_EVERY:
            expired = expired.where(among(session, ThrottleHit.key, keys))
        else:
            self._swept = now
        session.execute(expired)

    def release(self, session: Session, hits: Sequence[Hit]) -> None:
        if hits:
            with unit_of_work(session):
                members = [int(hit.member) for hit in hits]
                session.execute(delete(ThrottleHit).where(among(session, ThrottleHit.id, members)))

    def clear(self, session: Session, key: str) -> None:
        with unit_of_work(session):
            session.execute(delete(ThrottleHit).where(ThrottleHit.key == key))


# KEYS: the sorted sets; ARGV: now, then limit, window (s) and member for each key. Atomic in Redis.
_TAKE = """
local now = tonumber(ARGV[1])
for i, name in ipairs(KEYS) do
  local limit, window = tonumber(ARGV[i * 3 - 1]), tonumber(ARGV[i * 3])
  redis.call('ZREMRANGEBYSCORE', name, '-inf', now - window)
  if redis.call('ZCARD', name) >= limit then
    local oldest = redis.call('ZRANGE', name, 0, 0, 'WITHSCORES')
    return {i, tostring(oldest[2])}
  end
end
for i, name in ipairs(KEYS) do
  redis.call('ZADD', name, now, ARGV[i * 3 + 1])
  redis.call('EXPIRE', name, math.ceil(tonumber(ARGV[i * 3])))
end
return {0, ''}
"""


class RedisStore:
    """Attempts as members of a sorted set per key (score: the time), checked and counted by one
    Lua script, expiring with the window."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._take = self._redis.register_script(_TAKE)

    def take(self, session: Session, wanted: Sequence[Wanted], now: datetime) -> list[Hit]:
        members = [uuid.uuid4().hex for _ in wanted]
        args: list[str | float] = [now.timestamp()]
        for (_, rule), member in zip(wanted, members, strict=True):
            args += [rule.limit, rule.window.total_seconds(), member]
        refused, oldest = self._take(keys=[self._name(w.key) for w in wanted], args=args)
        if int(refused):
            rule = wanted[int(refused) - 1].rule
            raise Throttled(_retry_after(datetime.fromtimestamp(float(oldest), UTC), rule, now), rule.name)
        return [Hit(w.key, member) for w, member in zip(wanted, members, strict=True)]

    def release(self, session: Session, hits: Sequence[Hit]) -> None:
        for hit in hits:
            self._redis.zrem(self._name(hit.key), hit.member)

    def clear(self, session: Session, key: str) -> None:
        self._redis.delete(self._name(key))

    @staticmethod
    def _name(key: str) -> str:
        return f"certmanager:throttle:{key}"


def store_for(storage_url: str) -> Store:
    """Redis when the storage URL names it; else the issuer's database."""
    if storage_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(storage_url)
    return DatabaseStore()


class Throttle:
    """Rules over a Store. `parts` name whom a rule counts (an account and a client, …)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def key(rule: Rule, *parts: str) -> str:
        joined = "\x1f".join((rule.name, *parts))
        return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:40]

    def take(self, session: Session, *limits: tuple[Rule, tuple[str, ...]], now: datetime) -> list[Hit]:
        """Count one attempt under every `(rule, parts)` at once, or raise Throttled (naming the
        first rule used up) and count none."""
        return self._store.take(session, [Wanted(self.key(rule, *parts), rule) for rule, parts in limits], now)

    def release(self, session: Session, hits: Sequence[Hit]) -> None:
        """Take back counted attempts (an attempt that turned out not to count, e.g. a good login)."""
        self._store.release(session, hits)

    def clear(self, session: Session, rule: Rule, *parts: str) -> None:
        self._store.clear(session, self.key(rule, *parts))
