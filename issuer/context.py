"""What every service needs besides a session: settings, catalog, clock, mail rendering, the
throttles, URL builders and the per-process caches (decrypted keys, achievements)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from issuer.catalog import Catalog
from issuer.config import Settings
from issuer.mail_templates import JinjaMailRenderer, MailRenderer
from issuer.models import SigningKeyRecord
from issuer.throttle import Throttle, store_for
from keys import SigningKey, load_signing_key


def utcnow() -> datetime:
    return datetime.now(UTC)


class IssuerContext:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        clock: Callable[[], datetime] = utcnow,
        mail: MailRenderer | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.clock = clock
        self.mail: MailRenderer = mail or JinjaMailRenderer(
            issuer_name=settings.issuer_name, base_url=settings.base_url
        )
        self.throttle = Throttle(store_for(settings.ratelimit_storage_url))
        self._signers: dict[str, SigningKey] = {}
        self.achievements: dict[str, dict[str, Any]] = {}  # Open Badges Achievement per code

    # Identifiers (SPEC §4)
    @property
    def issuer_id(self) -> str:
        return f"{self.settings.base_url}/issuer"

    @property
    def keys_prefix(self) -> str:
        return f"{self.settings.base_url}/keys/"

    def kid(self, thumbprint: str) -> str:
        return self.keys_prefix + thumbprint

    def credential_url(self, cred_id: str) -> str:
        return f"{self.settings.base_url}/c/{cred_id}"

    def status_url(self, list_id: str) -> str:
        return f"{self.settings.base_url}/status/{list_id}"

    def achievement_url(self, code: str) -> str:
        return f"{self.settings.base_url}/achievements/{code}"

    def decrypt(self, record: SigningKeyRecord) -> SigningKey:
        """The decrypted signing key of `record`, decrypted once per process (scrypt is slow)."""
        cached = self._signers.get(record.thumbprint)
        if cached is None:
            cached = load_signing_key(
                record.encrypted_private_key,
                self.settings.key_passphrase,
                public_jwk=record.public_jwk,
                kid=self.kid(record.thumbprint),
                alg=record.alg,
            )
            self._signers[record.thumbprint] = cached
        return cached
