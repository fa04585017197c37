"""Per-client rate limits for the public verify endpoints, on the `limits` library (moving window).
With Redis storage a limit holds across every worker and instance; with in-process memory (the
embedded default) each of the instance's `workers` enforces its share, so together they hold it
— and no request ever costs a database write. Checked only in the views that need it."""

from __future__ import annotations

import math
import time

import limits
import limits.storage
import limits.strategies
from werkzeug.exceptions import TooManyRequests


def share(item: limits.RateLimitItem, workers: int) -> limits.RateLimitItem:
    """One worker's share of `item` (at least one request per window)."""
    if workers <= 1:
        return item
    return type(item)(max(1, item.amount // workers), multiples=item.multiples)


class RateLimit:
    """`limit` like `300/minute`; `0` turns it off. `storage_uri`: `memory://` or `redis://…`."""

    def __init__(self, limit: str, storage_uri: str = "memory://", *, workers: int = 1) -> None:
        self.off = limit.strip() == "0"
        self._item: limits.RateLimitItem | None = None
        self._limiter: limits.strategies.MovingWindowRateLimiter | None = None
        if not self.off:
            item = limits.parse(limit)
            self._item = share(item, workers) if storage_uri.startswith("memory://") else item
            storage = limits.storage.storage_from_string(storage_uri)
            self._limiter = limits.strategies.MovingWindowRateLimiter(storage)

    def check(self, scope: str, client: str) -> None:
        """Count one request of `client` in `scope`; raise 429 (with Retry-After) past the limit."""
        if self._limiter is None or self._item is None:
            return
        if not self._limiter.hit(self._item, scope, client):
            reset = self._limiter.get_window_stats(self._item, scope, client).reset_time
            raise TooManyRequests(retry_after=max(1, math.ceil(reset - time.time())))
