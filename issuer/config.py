"""Settings from the environment (SPEC §3.2), with generated secrets for the embedded default."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from issuer.errors import ConfigError

SIGNING_ALGS = ("ES256", "EdDSA", "RS256")
STATUS_LIST_ENTRIES = 131_072


@dataclass(frozen=True)
class Settings:
    base_url: str
    database_url: str
    instance_dir: Path
    secret_key: str = field(repr=False)
    key_passphrase: str = field(repr=False)
    signing_alg: str = "ES256"
    smtp_url: str | None = None
    issuer_name: str = "Example Certification Program"
    catalog_path: Path | None = None
    ratelimit_storage_url: str = "memory://"
    status_ttl_ms: int = 300_000
    ratelimit_verify: str = "300/minute"
    trusted_issuers: tuple[str, ...] = ()
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0: none).
    trusted_proxies: int = 0
    # Not environment variables: knobs for tests and benchmarks.
    status_list_capacity: int = STATUS_LIST_ENTRIES * 3 // 4
    status_index_range: int = STATUS_LIST_ENTRIES

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def issuer_id(self) -> str:
        return f"{self.base_url}/issuer"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"CERTMANAGER_BASE_URL must be an http(s) origin, got {value!r}")
    return value.rstrip("/")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def _instance_secret(instance_dir: Path, name: str) -> str:
    """Read or create a 0600 secret file in the instance dir (embedded default only)."""
    path = instance_dir / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text(encoding="ascii").strip()
        if not value:
            raise ConfigError(f"{path} is empty; delete it or set the variable") from None
        return value
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text(encoding="ascii").strip()


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from `env` (default os.environ); `overrides` win. Raises ConfigError."""
    env = os.environ if env is None else env
    instance_dir = Path(overrides.pop("instance_dir", None) or env.get("CERTMANAGER_INSTANCE_DIR") or "instance")
    instance_dir = instance_dir.resolve()
    try:
        instance_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"cannot create the instance dir {instance_dir}: {exc.strerror}") from None

    database_url = (
        overrides.pop("database_url", None)
        or env.get("CERTMANAGER_DATABASE_URL")
        or (f"sqlite:///{instance_dir / 'certmanager.sqlite3'}")
    )
    if database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    is_sqlite = database_url.startswith("sqlite")

    def secret(name: str, var: str) -> str:
        value = overrides.pop(name, None) or env.get(var)
        if value:
            return str(value)
        if not is_sqlite:
            raise ConfigError(f"{var} is required with a database other than SQLite: every instance must share it")
        return _instance_secret(instance_dir, name)

    alg = overrides.pop("signing_alg", None) or env.get("CERTMANAGER_SIGNING_ALG") or "ES256"
    if alg not in SIGNING_ALGS:
        raise ConfigError(f"CERTMANAGER_SIGNING_ALG must be one of {', '.join(SIGNING_ALGS)}, got {alg!r}")
    base_url = _base_url(overrides.pop("base_url", None) or env.get("CERTMANAGER_BASE_URL") or "http://127.0.0.1:5000")
    catalog = overrides.pop("catalog_path", None) or env.get("CERTMANAGER_CATALOG")
    trusted = overrides.pop("trusted_issuers", None)
    if trusted is None:
        raw = env.get("CERTMANAGER_TRUSTED_ISSUERS", "")
        trusted = tuple(_base_url(u.strip()) for u in raw.split(",") if u.strip()) or (base_url,)
    ratelimit = overrides.pop("ratelimit_verify", None) or env.get("CERTMANAGER_RATELIMIT_VERIFY") or "300/minute"

    settings = Settings(
        base_url=base_url,
        database_url=database_url,
        instance_dir=instance_dir,
        secret_key=secret("secret_key", "CERTMANAGER_SECRET_KEY"),
        key_passphrase=secret("key_passphrase", "CERTMANAGER_KEY_PASSPHRASE"),
        signing_alg=alg,
        smtp_url=overrides.pop("smtp_url", None) or env.get("CERTMANAGER_SMTP_URL") or None,
        issuer_name=overrides.pop("issuer_name", None)
        or env.get("CERTMANAGER_ISSUER_NAME")
        or "Example Certification Program",
        catalog_path=Path(catalog) if catalog else None,
        ratelimit_storage_url=overrides.pop("ratelimit_storage_url", None)
        or env.get("CERTMANAGER_RATELIMIT_STORAGE_URL")
        or "memory://",
        status_ttl_ms=overrides.pop("status_ttl_ms", None) or _int(env, "CERTMANAGER_STATUS_TTL", 300_000),
        ratelimit_verify=str(ratelimit),
        trusted_issuers=tuple(trusted),
        trusted_proxies=overrides.pop("trusted_proxies", None) or _int(env, "CERTMANAGER_TRUSTED_PROXIES", 0),
    )
    if overrides:
        settings = settings.with_overrides(**overrides)
    return settings
