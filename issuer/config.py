"""The issuer's settings from the environment (SPEC §3.2), read with the one reader of
`verifier.settings`, with generated secrets for the embedded default."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from issuer.errors import ConfigError
from verifier.settings import DEFAULT_BASE_URL, DEFAULT_RATELIMIT, SettingsError, integer, normalize_origin, text

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
    ratelimit_verify: str = DEFAULT_RATELIMIT
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0: none).
    trusted_proxies: int = 0
    workers: int = 1  # worker processes of this instance (`serve --workers`)
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
    try:
        return _load(os.environ if env is None else env, overrides)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None


def _load(env: Mapping[str, str], overrides: dict[str, Any]) -> Settings:
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

    alg = overrides.pop("signing_alg", None) or text(env, "CERTMANAGER_SIGNING_ALG", "ES256")
    if alg not in SIGNING_ALGS:
        raise ConfigError(f"CERTMANAGER_SIGNING_ALG must be one of {', '.join(SIGNING_ALGS)}, got {alg!r}")
    base_url = normalize_origin(overrides.pop("base_url", None) or text(env, "CERTMANAGER_BASE_URL", DEFAULT_BASE_URL))
    catalog = overrides.pop("catalog_path", None) or env.get("CERTMANAGER_CATALOG")
    settings = Settings(
        base_url=base_url,
        database_url=database_url,
        instance_dir=instance_dir,
        secret_key=secret("secret_key", "CERTMANAGER_SECRET_KEY"),
        key_passphrase=secret("key_passphrase", "CERTMANAGER_KEY_PASSPHRASE"),
        signing_alg=alg,
        smtp_url=overrides.pop("smtp_url", None) or env.get("CERTMANAGER_SMTP_URL") or None,
        issuer_name=overrides.pop("issuer_name", None)
        or text(env, "CERTMANAGER_ISSUER_NAME", "Example Certification Program"),
        catalog_path=Path(catalog) if catalog else None,
        ratelimit_storage_url=overrides.pop("ratelimit_storage_url", None)
        or text(env, "CERTMANAGER_RATELIMIT_STORAGE_URL", "memory://"),
        status_ttl_ms=overrides.pop("status_ttl_ms", None) or integer(env, "CERTMANAGER_STATUS_TTL", 300_000),
        ratelimit_verify=str(
            overrides.pop("ratelimit_verify", None) or text(env, "CERTMANAGER_RATELIMIT_VERIFY", DEFAULT_RATELIMIT)
        ),
        trusted_proxies=overrides.pop("trusted_proxies", None) or integer(env, "CERTMANAGER_TRUSTED_PROXIES", 0),
    )
    if overrides:
        settings = settings.with_overrides(**overrides)
    return settings
