"""Reading the environment (SPEC §3.2): the one reader of every variable, and the settings the
verifier needs. The issuer's own settings (`issuer.config`) are built on these."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "http://127.0.0.1:5000"
DEFAULT_RATELIMIT = "300/minute"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class SettingsError(ValueError):
    """A variable has a value we cannot use; the message names it."""


def normalize_origin(value: str, *, name: str = "CERTMANAGER_BASE_URL") -> str:
    """A public origin as it is compared and signed: scheme and host lower-cased, the default
    port and a trailing `/` dropped, any path prefix kept. Raises SettingsError."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        raise SettingsError(f"{name} must be an http(s) origin, got {value!r}") from None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(f"{name} must be an http(s) origin, got {value!r}")
    if parts.username or parts.password:
        raise SettingsError(f"{name} must not carry a user name or password, got {value!r}")
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def integer(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative")
    return value


def text(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, "").strip() or default


def origins(raw: str, *, name: str) -> tuple[str, ...]:
    """A comma-separated list of origins, normalised, without repeats."""
    return tuple(dict.fromkeys(normalize_origin(u, name=name) for u in raw.split(",") if u.strip()))


@dataclass(frozen=True)
class VerifierSettings:
    base_url: str
    trusted_issuers: tuple[str, ...]
    ratelimit_verify: str = DEFAULT_RATELIMIT
    ratelimit_storage_url: str = "memory://"
    trusted_proxies: int = 0  # reverse proxies whose X-Forwarded-For/-Proto are trusted
    workers: int = 1  # worker processes of this instance (`--workers`): a memory:// limit is split


def verifier_settings(env: Mapping[str, str] | None = None, *, trusted: tuple[str, ...] = ()) -> VerifierSettings:
    """The stand-alone verifier's settings; `trusted` (from `--trust`) wins over the variable."""
    env = os.environ if env is None else env
    base_url = normalize_origin(text(env, "CERTMANAGER_BASE_URL", DEFAULT_BASE_URL))
    issuers = tuple(dict.fromkeys(normalize_origin(u, name="--trust") for u in trusted)) or origins(
        env.get("CERTMANAGER_TRUSTED_ISSUERS", ""), name="CERTMANAGER_TRUSTED_ISSUERS"
    )
    return VerifierSettings(
        base_url=base_url,
        trusted_issuers=issuers or (base_url,),
        ratelimit_verify=text(env, "CERTMANAGER_RATELIMIT_VERIFY", DEFAULT_RATELIMIT),
        ratelimit_storage_url=text(env, "CERTMANAGER_RATELIMIT_STORAGE_URL", "memory://"),
        trusted_proxies=integer(env, "CERTMANAGER_TRUSTED_PROXIES", 0),
    )
