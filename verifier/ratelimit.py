"""Per-client rate limits for the public verify endpoints, on the `limits` library (memory or
Redis storage, moving window). Checked explicitly in the few views that need it, so every other
request pays nothing."""

from __future__ import annotations

import math
import time

import limits
import limits.storage
import limits.strategies
from werkzeug.exceptions import TooManyRequests


class RateLimit:
    """`limit` like `300/minute`; `0` turns it off. `storage_uri`: `memory://` or `redis://…`."""

    def __init__(self, limit: str, storage_uri: str = "memory://") -> None:
        self.off = limit.strip() == "0"
        self._item = None if self.off else limits.parse(limit)
        self._limiter = (
            None
            if self.off
            else limits.strategies.MovingWindowRateLimiter(limits.storage.storage_from_string(storage_uri))
        )

    def check(self, scope: str, client: str) -> None:
        """Count one request of `client` in `scope`; raise 429 (with Retry-After) past the limit."""
        if self._limiter is None or self._item is None:
            return
        if not self._limiter.hit(self._item, scope, client):
            reset = self._limiter.get_window_stats(self._item, scope, client).reset_time
            raise TooManyRequests(retry_after=max(1, math.ceil(reset - time.time())))
