"""Capped HTTP GET for the stand-alone verifier (SPEC §4 'Stand-alone verifier trust').

Only https, or http to a loopback address; a redirect only within the same origin; at most
1 MiB and 5 s per fetch in total (connect, redirects and body together); no content decoding
(`Accept-Encoding: identity`), no proxies from the environment, no cookies.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3

MAX_BYTES = 1024 * 1024
TOTAL_SECONDS = 5.0
MAX_REDIRECTS = 3
USER_AGENT = "CertManager-Verifier/1"


class FetchError(Exception):
    """The resource could not be fetched within the rules; never cached."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    body: bytes
    etag: str | None
    max_age: int | None
    content_type: str


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def fetchable(url: str) -> bool:
    """https anywhere, or http on loopback; no credentials in the URL."""
    parts = urlsplit(url)
    if parts.username or parts.password or not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and is_loopback_host(parts.hostname)


def parse_max_age(cache_control: str | None) -> int | None:
    if not cache_control:
        return None
    directives = [d.strip().lower() for d in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0
    for directive in directives:
        if directive.startswith("max-age="):
            try:
                return max(0, int(directive.split("=", 1)[1].strip('"')))
            except ValueError:
                return None
    return None


class Fetcher:
    def __init__(
        self,
        *,
        max_bytes: int = MAX_BYTES,
        total_seconds: float = TOTAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.total_seconds = total_seconds
        self._clock = clock
        self._pool = urllib3.PoolManager(num_pools=32, maxsize=4, retries=False)

    def get(self, url: str, *, accept: str, etag: str | None = None) -> Fetched:
        """GET `url` under the rules above. Any status is returned; transport failures raise."""
        deadline = self._clock() + self.total_seconds
        start_origin = origin(url)
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            if not fetchable(current):
                raise FetchError(f"refusing to fetch {current!r}: only https, or http on loopback")
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise FetchError(f"fetch took longer than {self.total_seconds:g} s")
            headers = {"Accept": accept, "Accept-Encoding": "identity", "User-Agent": USER_AGENT}
            if etag:
                headers["If-None-Match"] = etag
            try:
                response = self._pool.request(
                    "GET",
                    current,
                    headers=headers,
                    redirect=False,
                    preload_content=False,
                    decode_content=False,
                    timeout=urllib3.Timeout(connect=remaining, read=remaining),
                )
            except urllib3.exceptions.HTTPError as exc:
                raise FetchError(f"cannot fetch {current}: {exc.__class__.__name__}") from None
            try:
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchError("redirect without a Location")
                    target = urljoin(current, location)
                    if origin(target) != start_origin:
                        raise FetchError("redirect to another origin refused")
                    current = target
                    continue
                body = self._read(response, deadline)
            except BaseException:
                response.close()  # hang up now on a body we refuse; never pool a half-read connection
                raise
            finally:
                response.release_conn()
            return Fetched(
                url=current,
                status=response.status,
                body=body,
                etag=response.headers.get("ETag"),
                max_age=parse_max_age(response.headers.get("Cache-Control")),
                content_type=(response.headers.get("Content-Type") or "").split(";")[0].strip().lower(),
            )
        raise FetchError("too many redirects")

    def _read(self, response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError("response larger than 1 MiB")
        chunks: list[bytes] = []
        total = 0
        try:
            while True:
                # read1 returns as soon as any bytes arrive, so a server that drips one byte at a
                # time still meets the deadline check below.
                chunk = response.read1(16 * 1024, decode_content=False)
                if not chunk:
                    break
                total += len(chunk)
                if total > self.max_bytes:
                    raise FetchError("response larger than 1 MiB")
                if self._clock() > deadline:
                    raise FetchError(f"fetch took longer than {self.total_seconds:g} s")
                chunks.append(chunk)
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(f"connection failed while reading: {exc.__class__.__name__}") from None
        return b"".join(chunks)
