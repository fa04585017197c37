"""Test helpers: issuer keys, Open Badges 3.0 payloads, status lists and hand-forged tokens.

`forge` builds a compact JWS from raw JSON *strings* (so a test can write duplicate members,
odd spellings or non-JSON), and `sign_raw` signs such raw segments with a real key, so a token
can be validly signed and still carry whatever the attack needs.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from keys import (
    KeyRing,
    KeyState,
    RingEntry,
    SigningKey,
    b64url_encode,
    generate_key,
    load_signing_key,
)
from verifier import (
    InMemoryKeySource,
    InMemoryStatusSource,
    RevocationInfo,
    StatusList,
    VerificationResult,
    Verifier,
    encode_list,
    verify_status_list,
)
from verifier.errors import StatusUnavailable

BASE = "https://cm.example"
ISSUER = f"{BASE}/issuer"
STATUS_URL = f"{BASE}/status/L1a2B3c4D5e6F7g8H9i0Jk"
CRED_URL = f"{BASE}/c/Q8mZr2XyT4bN7pLw9KcD1vF"
HOLDER = "urn:uuid:6f1c2a7e-3b1d-4c55-9a0e-2f7b1d9c8e41"
PASSPHRASE = "tokens-test-passphrase-0123456789"
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
VALID_FROM = NOW - timedelta(days=30)
VALID_UNTIL = NOW + timedelta(days=3 * 365)
STATUS_INDEX = 4242
LIST_BYTES = 16384  # 131,072 entries, the minimum

VCDM2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VCDM1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


# --------------------------------------------------------------------------- encoding


def b64(data: bytes | str) -> str:
    """Unpadded base64url of bytes, or of a string's UTF-8 bytes (the string is kept verbatim)."""
    return b64url_encode(data.encode("utf-8") if isinstance(data, str) else data)


def to_json(value: Mapping[str, Any] | str) -> str:
    """A raw JSON text: strings pass through untouched, mappings are dumped compactly."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def forge(header: Mapping[str, Any] | str, payload: Mapping[str, Any] | str, signature: bytes | str = b"") -> str:
    """A compact JWS by hand. `signature` is raw bytes, or an already-encoded segment (str)."""
    sig = signature if isinstance(signature, str) else b64(signature)
    return f"{b64(to_json(header))}.{b64(to_json(payload))}.{sig}"


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class IssuerKey:
    """A signing key made the product's way (generate_key + load_signing_key)."""

    signing: SigningKey

    @property
    def kid(self) -> str:
        return self.signing.kid

    @property
    def alg(self) -> str:
        return self.signing.alg

    @property
    def public_jwk(self) -> dict[str, Any]:
        return dict(self.signing.public.jwk)

    def entry(self, state: KeyState = KeyState.ACTIVE) -> RingEntry:
        return RingEntry(self.signing.public, state)

    def sign(self, claims: Mapping[str, Any], *, typ: str | None = "JWT") -> str:
        """The product's own signing path (header `alg`, `kid`, `typ`)."""
        return self.signing.sign(claims, typ=typ)

    def raw_signature(self, signing_input: bytes) -> bytes:
        """JWS signature bytes (RFC 7518: raw r||s for ES256) over arbitrary input."""
        algorithm = jwt.algorithms.get_default_algorithms()[self.alg]
        # SigningKey deliberately hides its private key; a test that forges validly signed
        # tokens needs it, so it reaches into the slot.
        return algorithm.sign(signing_input, self.signing._private)  # noqa: SLF001


def make_key(alg: str = "ES256", base: str = BASE) -> IssuerKey:
    generated = generate_key(alg, PASSPHRASE)
    kid = f"{base}/keys/{generated.thumbprint}"
    signing = load_signing_key(
        generated.encrypted_private_key, PASSPHRASE, public_jwk=generated.public_jwk, kid=kid, alg=alg
    )
    return IssuerKey(signing)


def sign_raw(key: IssuerKey, header: Mapping[str, Any] | str, payload: Mapping[str, Any] | str) -> str:
    """Sign raw header/payload JSON texts with `key` (header is used verbatim: put `alg`/`kid` in)."""
    signing_input = f"{b64(to_json(header))}.{b64(to_json(payload))}"
    return f"{signing_input}.{b64(key.raw_signature(signing_input.encode('ascii')))}"


def header(key: IssuerKey, **extra: Any) -> dict[str, Any]:
    """The header our issuer writes: alg, kid, typ JWT (override or drop members with None)."""
    out: dict[str, Any] = {"alg": key.alg, "kid": key.kid, "typ": "JWT"}
    for name, value in extra.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


# --------------------------------------------------------------------------- payloads


def credential_payload(
    *,
    issuer: str = ISSUER,
    cred_id: str = CRED_URL,
    holder: str = HOLDER,
    valid_from: datetime | None = VALID_FROM,
    valid_until: datetime | None = VALID_UNTIL,
    status_index: int | None = STATUS_INDEX,
    status_url: str = STATUS_URL,
    first: str = "Ada",
    last: str = "Lovelace",
    code: str = "CNA-ENT",
    cert_name: str = "Certified Network Associate - Enterprise",
) -> dict[str, Any]:
    """An Open Badges 3.0 certification payload shaped like issuer.services.credentials."""
    profile = {"id": issuer, "type": ["Profile"], "name": "CertManager Test Issuer", "url": issuer.rsplit("/", 1)[0]}
    payload: dict[str, Any] = {
        "@context": [VCDM2_CONTEXT, OB3_CONTEXT],
        "id": cred_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": profile,
        "name": cert_name,
        "credentialSubject": {
            "id": holder,
            "type": ["AchievementSubject"],
            "identifier": [
                {"type": "IdentityObject", "identityType": "name", "hashed": False, "identityHash": f"{first} {last}"},
                {
                    "type": "IdentityObject",
                    "identityType": "identifier",
                    "hashed": True,
                    "identityHash": "sha256$" + "ab" * 32,
                    "salt": "00112233445566778899aabbccddeeff",
                },
            ],
            "achievement": {
                "id": f"{issuer.rsplit('/', 1)[0]}/achievements/{code}",
                "type": ["Achievement"],
                "achievementType": "Certification",
                "humanCode": code,
                "name": cert_name,
                "description": "Enterprise networking, associate level.",
                "criteria": {"narrative": "Pass the exam."},
                "creator": profile,
            },
        },
        "credentialSchema": [
            {
                "id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
                "type": "1EdTechJsonSchemaValidator2019",
            }
        ],
        "iss": issuer,
        "jti": cred_id,
        "sub": holder,
    }
    if valid_from is not None:
        payload["validFrom"] = iso(valid_from)
        payload["nbf"] = ts(valid_from)
    if valid_until is not None:
        payload["validUntil"] = iso(valid_until)
        payload["exp"] = ts(valid_until)
    if status_index is not None:
        payload["credentialStatus"] = status_entry(status_index, status_url)
    return payload


def status_entry(index: int, url: str = STATUS_URL, purpose: str = "revocation") -> dict[str, Any]:
    return {
        "id": f"{url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": url,
    }


def status_list_payload(
    bits: bytes | None = None,
    *,
    issuer: str = ISSUER,
    url: str = STATUS_URL,
    purpose: str | list[str] = "revocation",
    valid_from: datetime | None = NOW - timedelta(hours=1),
    valid_until: datetime | None = None,
    encoded: str | None = None,
    types: list[str] | None = None,
) -> dict[str, Any]:
    """A Bitstring Status List credential shaped like issuer.services.status_lists.sign_list."""
    payload: dict[str, Any] = {
        "@context": [VCDM2_CONTEXT],
        "id": url,
        "type": types if types is not None else ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded
            if encoded is not None
            else encode_list(bits if bits is not None else bytes(LIST_BYTES)),
            "ttl": 300000,
        },
        "iss": issuer,
        "jti": url,
    }
    if valid_from is not None:
        payload["validFrom"] = iso(valid_from)
        payload["nbf"] = ts(valid_from)
        payload["iat"] = ts(valid_from)
    if valid_until is not None:
        payload["validUntil"] = iso(valid_until)
        payload["exp"] = ts(valid_until)
    return payload


def gzip_stream(total: int, chunk: int = 1 << 20) -> bytes:
    """gzip (RFC 1952) of `total` zero bytes, compressed in chunks (a decompression bomb)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(chunk)
    parts = [compressor.compress(zeros) for _ in range(total // chunk)]
    parts.append(compressor.compress(bytes(total % chunk)))
    parts.append(compressor.flush())
    return b"".join(parts)


# --------------------------------------------------------------------------- verifier wiring


def bits_with(*indexes: int, size: int = LIST_BYTES) -> bytes:
    """A status bitstring with `indexes` set (index 0 is the most significant bit of byte 0)."""
    bits = bytearray(size)
    for index in indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    return bytes(bits)


def status_list(
    *set_indexes: int, url: str = STATUS_URL, purposes: Iterable[str] = ("revocation",), size: int = LIST_BYTES
) -> StatusList:
    return StatusList(url=url, purposes=frozenset(purposes), bits=bits_with(*set_indexes, size=size), ttl_ms=None)


def make_verifier(
    *entries: RingEntry,
    issuer: str = ISSUER,
    lists: Mapping[str, StatusList] | None = None,
    details: Any = None,
) -> Verifier:
    """A Verifier over the in-memory sources; by default one clean status list at STATUS_URL."""
    if lists is None:
        lists = {STATUS_URL: status_list()}
    return Verifier(InMemoryKeySource(issuer, KeyRing(list(entries))), InMemoryStatusSource(dict(lists)), details)


@dataclass
class TokenStatusSource:
    """A host StatusSource that verifies status-list JWTs with the product's verify_status_list
    (what the issuer and the stand-alone verifier do after fetching), and records every call."""

    tokens: dict[str, str]
    keys: Any
    calls: list[str]

    def status_list(self, url: str, *, issuer: str, purpose: str, now: datetime) -> StatusList:
        self.calls.append(url)
        token = self.tokens.get(url)
        if token is None:
            raise StatusUnavailable("status list not available")
        return verify_status_list(token, url=url, issuer=issuer, purpose=purpose, keys=self.keys, now=now)


@dataclass
class DictDetails:
    """A host RevocationDetailsSource over a dict (credential id → RevocationInfo)."""

    info: dict[str, RevocationInfo]

    def revocation_details(self, credential_id: str) -> RevocationInfo | None:
        return self.info.get(credential_id)


def check_ok(result: VerificationResult, name: str) -> bool:
    """The `ok` of the result's check `name`, which must be present."""
    found = result.check(name)
    assert found is not None, f"no {name!r} check in {result.checks}"
    return found.ok
