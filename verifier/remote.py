"""Key and status-list sources over HTTP, for issuers trusted by base URL (SPEC §4).

Base URL B is trusted for a credential when `iss` is `B/issuer`, `kid` starts with `B/keys/` and
is in `B/.well-known/jwks.json`, and `statusListCredential` starts with `B/`. Responses are
cached per process for their `Cache-Control: max-age` (status lists: the smaller of that and
their `ttl`) and revalidated with `ETag`; failures are never cached; nothing outside a trusted
base is ever fetched.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keys import SUPPORTED_ALGORITHMS, KeyState, RingEntry, UnsupportedAlgorithm, public_key_from_jwk
from verifier.errors import KeyCompromised, StatusUnavailable, UnknownKey, UntrustedIssuer
from verifier.fetch import Fetcher, FetchError, fetchable
from verifier.statuslist import StatusList, verify_status_list

DEFAULT_MAX_AGE = 300  # seconds, when a response says nothing
MIN_JWKS_REFRESH = 10.0  # an unknown kid re-fetches the key set at most this often


def normalize_base(url: str) -> str:
    base = url.strip().rstrip("/")
    if not fetchable(base + "/"):
        raise ValueError(f"a trusted issuer must be https, or http on loopback: {url!r}")
    return base


class TrustPolicy:
    """The trusted issuer base URLs."""

    def __init__(self, bases: Iterable[str]) -> None:
        self.bases = tuple(dict.fromkeys(normalize_base(b) for b in bases))
        if not self.bases:
            raise ValueError("trust at least one issuer base URL")
        self._by_issuer = {f"{b}/issuer": b for b in self.bases}

    def base_for(self, issuer: str) -> str:
        base = self._by_issuer.get(issuer)
        if base is None:
            raise UntrustedIssuer("this verifier does not trust the credential's issuer")
        return base

    def base_of_url(self, url: str) -> str | None:
        """The trusted base a URL lives under (for links pasted into /verify)."""
        return next((b for b in self.bases if url.startswith(b + "/")), None)


@dataclass
class _KeySet:
    keys: dict[str, RingEntry]
    fetched_at: float
    expires_at: float
    etag: str | None


def _algorithm_for(jwk: dict[str, Any]) -> str | None:
    declared = jwk.get("alg")
    if declared is not None:
        return declared if declared in SUPPORTED_ALGORITHMS else None
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "EC" and crv == "P-256":
        return "ES256"
    if kty == "OKP" and crv == "Ed25519":
        return "EdDSA"
    return "RS256" if kty == "RSA" else None


def parse_jwks(body: bytes, prefix: str) -> dict[str, RingEntry]:
    """Verification keys from a JWKS: only signing keys whose `kid` lives under `prefix`."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StatusUnavailable("the issuer's key set is not JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise StatusUnavailable("the issuer's key set has no keys array")
    keys: dict[str, RingEntry] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        kid, alg = jwk.get("kid"), _algorithm_for(jwk)
        if not isinstance(kid, str) or not kid.startswith(prefix) or alg is None:
            continue
        try:
            keys[kid] = RingEntry(public_key_from_jwk(jwk, kid=kid, alg=alg), KeyState.VERIFY)
        except UnsupportedAlgorithm:
            continue
    return keys


class RemoteKeySource:
    def __init__(self, trust: TrustPolicy, fetcher: Fetcher, clock: Callable[[], float] = time.monotonic) -> None:
        self._trust = trust
        self._fetcher = fetcher
        self._clock = clock
        self._sets: dict[str, _KeySet] = {}
        self._lock = threading.Lock()

    def resolve(self, issuer: str, kid: str) -> RingEntry:
        base = self._trust.base_for(issuer)
        prefix = f"{base}/keys/"
        if not kid.startswith(prefix):
            raise UntrustedIssuer("the key is not published under the trusted issuer's base URL")
        key_set = self._key_set(base, refresh=False)
        entry = key_set.keys.get(kid)
        if entry is None and self._clock() - key_set.fetched_at >= MIN_JWKS_REFRESH:
            key_set = self._key_set(base, refresh=True)  # the issuer may have rotated
            entry = key_set.keys.get(kid)
        if entry is None:
            self._probe_compromised(kid)
            raise UnknownKey("the issuer's published key set has no key with this kid")
        return entry

    def _key_set(self, base: str, *, refresh: bool) -> _KeySet:
        now = self._clock()
        cached = self._sets.get(base)
        if cached is not None and not refresh and now < cached.expires_at:
            return cached
        url = f"{base}/.well-known/jwks.json"
        try:
            fetched = self._fetcher.get(
                url, accept="application/jwk-set+json, application/json", etag=cached.etag if cached else None
            )
        except FetchError as exc:
            raise StatusUnavailable(f"the issuer's key set cannot be fetched: {exc.detail}") from exc
        max_age = fetched.max_age if fetched.max_age is not None else DEFAULT_MAX_AGE
        if fetched.status == 304 and cached is not None:
            fresh = _KeySet(cached.keys, now, now + max_age, fetched.etag or cached.etag)
        elif fetched.status == 200:
            fresh = _KeySet(parse_jwks(fetched.body, f"{base}/keys/"), now, now + max_age, fetched.etag)
        else:
            raise StatusUnavailable(f"the issuer's key set answered HTTP {fetched.status}")
        with self._lock:
            self._sets[base] = fresh
        return fresh

    def _probe_compromised(self, kid: str) -> None:
        """Ask the key's own URL: a `410 key_compromised` there is reported as such."""
        try:
            fetched = self._fetcher.get(kid, accept="application/jwk+json, application/problem+json")
        except FetchError:
            return
        if fetched.status == 410:
            try:
                code = json.loads(fetched.body.decode("utf-8")).get("code")
            except (UnicodeDecodeError, ValueError, AttributeError):
                return
            if code == "key_compromised":
                raise KeyCompromised("the issuer reported this signing key compromised")


@dataclass
class _CachedList:
    status_list: StatusList
    expires_at: float
    etag: str | None
    token: str


class RemoteStatusSource:
    def __init__(
        self,
        trust: TrustPolicy,
        fetcher: Fetcher,
        keys: RemoteKeySource,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._trust = trust
        self._fetcher = fetcher
        self._keys = keys
        self._clock = clock
        self._lists: dict[tuple[str, str], _CachedList] = {}
        self._lock = threading.Lock()

    def status_list(self, url: str, *, issuer: str, purpose: str, now: datetime) -> StatusList:
        base = self._trust.base_for(issuer)
        if not url.startswith(base + "/"):
            raise UntrustedIssuer("the status list is not published under the trusted issuer's base URL")
        key = (url, purpose)
        cached = self._lists.get(key)
        mono = self._clock()
        if cached is not None and mono < cached.expires_at:
            return cached.status_list
        try:
            fetched = self._fetcher.get(
                url, accept="application/vc+jwt, application/jwt", etag=cached.etag if cached else None
            )
        except FetchError as exc:
            raise StatusUnavailable(f"the status list cannot be fetched: {exc.detail}") from exc
        if fetched.status == 304 and cached is not None:
            token = cached.token
        elif fetched.status == 200:
            try:
                token = fetched.body.decode("ascii").strip()
            except UnicodeDecodeError as exc:
                raise StatusUnavailable("the status list is not a compact JWT") from exc
        else:
            raise StatusUnavailable(f"the status list answered HTTP {fetched.status}")
        status_list = verify_status_list(token, url=url, issuer=issuer, purpose=purpose, keys=self._keys, now=now)
        lifetimes: list[float] = [fetched.max_age if fetched.max_age is not None else DEFAULT_MAX_AGE]
        if status_list.ttl_ms is not None:
            lifetimes.append(status_list.ttl_ms / 1000)
        with self._lock:
            self._lists[key] = _CachedList(status_list, mono + min(lifetimes), fetched.etag, token)
        return status_list
