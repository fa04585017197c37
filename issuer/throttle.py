"""Throttles (SECURITY A4 #3, SPEC §3.4) for logins, e-mailed links and 'Check a CertManager ID':
exact moving windows in storage every worker shares — the issuer's database in the embedded
default, Redis when `CERTMANAGER_RATELIMIT_STORAGE_URL` names one (shared by every instance).
Keys are SHA-256 hashes: the store never holds an identifier, an address or an IP."""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from issuer.db import unit_of_work
from issuer.models import ThrottleHit

SWEEP_EVERY = timedelta(minutes=1)  # expired rows of other keys are deleted at most this often


@dataclass(frozen=True)
class Rule:
    """At most `limit` hits per `window` for one key."""

    name: str
    limit: int
    window: timedelta


class Store(Protocol):
    def count(self, session: Session, key: str, since: datetime) -> int:
        """Hits of `key` after `since`."""
        ...

    def oldest(self, session: Session, key: str, since: datetime) -> datetime | None:
        """The earliest hit of `key` after `since`."""
        ...

    def add(self, session: Session, key: str, at: datetime, keep: timedelta) -> None:
        """Record a hit of `key` at `at`, kept for `keep`."""
        ...

    def clear(self, session: Session, key: str) -> None: ...


class DatabaseStore:
    """Hits as rows of `throttle_hits`, written in the caller's unit of work (or in one of their
    own): a failed login and its count commit together."""

    def __init__(self) -> None:
        self._swept: datetime | None = None

    def count(self, session: Session, key: str, since: datetime) -> int:
        query = select(func.count()).where(ThrottleHit.key == key, ThrottleHit.at > since)
        return session.execute(query).scalar_one()

    def oldest(self, session: Session, key: str, since: datetime) -> datetime | None:
        query = select(func.min(ThrottleHit.at)).where(ThrottleHit.key == key, ThrottleHit.at > since)
        return session.execute(query).scalar_one()

    def add(self, session: Session, key: str, at: datetime, keep: timedelta) -> None:
        with unit_of_work(session):
            expired = delete(ThrottleHit).where(ThrottleHit.expires_at <= at)
            if self._swept is not None and at - self._swept < SWEEP_EVERY:
                expired = expired.where(ThrottleHit.key == key)
            else:
                self._swept = at
            session.execute(expired)
            session.add(ThrottleHit(key=key, at=at, expires_at=at + keep))

    def clear(self, session: Session, key: str) -> None:
        with unit_of_work(session):
            session.execute(delete(ThrottleHit).where(ThrottleHit.key == key))


class RedisStore:
    """Hits as members of a sorted set per key (score: the time), expiring with the window."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def count(self, session: Session, key: str, since: datetime) -> int:
        return int(self._redis.zcount(self._name(key), f"({since.timestamp()}", "+inf"))

    def oldest(self, session: Session, key: str, since: datetime) -> datetime | None:
        found = self._redis.zrangebyscore(self._name(key), f"({since.timestamp()}", "+inf", 0, 1, withscores=True)
        if not found:
            return None
        return datetime.fromtimestamp(float(found[0][1]), since.tzinfo)

    def add(self, session: Session, key: str, at: datetime, keep: timedelta) -> None:
        name = self._name(key)
        pipe = self._redis.pipeline()
        pipe.zadd(name, {uuid.uuid4().hex: at.timestamp()})
        pipe.zremrangebyscore(name, "-inf", (at - keep).timestamp())
        pipe.expire(name, max(1, math.ceil(keep.total_seconds())))
        pipe.execute()

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


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"throttled; retry after {retry_after} s")
        self.retry_after = retry_after


class Throttle:
    """Rules over a Store; `parts` name whom a rule counts (an account and a client, …)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def key(rule: Rule, *parts: str) -> str:
        joined = "\x1f".join((rule.name, *parts))
        return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:40]

    def check(self, session: Session, rule: Rule, *parts: str, now: datetime) -> None:
        """Raise Throttled when `rule` is used up for `parts` (counts nothing)."""
        key = self.key(rule, *parts)
        since = now - rule.window
        if self._store.count(session, key, since) >= rule.limit:
            oldest = self._store.oldest(session, key, since) or now
            raise Throttled(max(1, math.ceil((oldest + rule.window - now).total_seconds())))

    def hit(self, session: Session, rule: Rule, *parts: str, now: datetime) -> None:
        """Count one attempt (in the caller's unit of work, with the database store)."""
        self._store.add(session, self.key(rule, *parts), now, rule.window)

    def take(self, session: Session, rule: Rule, *parts: str, now: datetime) -> None:
        """Check, then count one attempt: raise Throttled past the limit."""
        self.check(session, rule, *parts, now=now)
        self.hit(session, rule, *parts, now=now)

    def clear(self, session: Session, rule: Rule, *parts: str) -> None:
        self._store.clear(session, self.key(rule, *parts))
