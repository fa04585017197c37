"""W3C Bitstring Status List: encode, decode, and validate a status-list credential (JWT)."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from keys import b64url_decode, b64url_encode
from verifier.errors import Malformed, StatusUnavailable, Unsupported, VerificationError
from verifier.jws import parse_compact
from verifier.timeutil import parse_datetime

MIN_ENTRIES = 131_072  # 16 KiB: the Recommendation's minimum, for herd privacy
MAX_DECOMPRESSED = 16 * 1024 * 1024
ACCEPTED_LIST_TYP = frozenset({None, "jwt", "vc+jwt"})


def encode_list(bits: bytes) -> str:
    """GZIP then multibase base64url (no padding, `u` prefix)."""
    return "u" + b64url_encode(gzip.compress(bits, compresslevel=9, mtime=0))


def decode_list(encoded: str, *, max_bytes: int = MAX_DECOMPRESSED) -> bytes:
    """Inverse of `encode_list`, refusing anything that inflates past `max_bytes`."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("encodedList is not multibase base64url")
    compressed = b64url_decode(encoded[1:])
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise ValueError("encodedList is not gzip") from exc
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise ValueError("status list inflates past the limit")
    if not inflater.eof:
        raise ValueError("truncated gzip stream")
    return data


def bit_at(bits: bytes, index: int) -> int:
    """Index 0 is the most significant bit of the first byte."""
    return (bits[index >> 3] >> (7 - (index & 7))) & 1


def set_bit(bits: bytearray, index: int) -> None:
    bits[index >> 3] |= 0x80 >> (index & 7)


@dataclass(frozen=True)
class StatusList:
    """A decoded, verified status list."""

    url: str
    purposes: frozenset[str]
    bits: bytes
    ttl_ms: int | None

    @property
    def size(self) -> int:
        return len(self.bits) * 8

    def is_set(self, index: int) -> bool:
        if index >= self.size:
            raise StatusUnavailable(f"status index {index} is outside the list ({self.size} entries)")
        return bool(bit_at(self.bits, index))


class _KeyLookup(Protocol):
    def resolve(self, issuer: str, kid: str) -> Any: ...


def normalized_typ(header: dict[str, Any]) -> str | None:
    typ = header.get("typ")
    if typ is None:
        return None
    if not isinstance(typ, str):
        raise Unsupported("typ is not a string")
    typ = typ.lower()
    return typ[len("application/") :] if typ.startswith("application/") else typ


def verify_status_list(
    token: str, *, url: str, issuer: str, purpose: str, keys: _KeyLookup, now: datetime, leeway: int = 60
) -> StatusList:
    """Verify a status-list JWT as SPEC §4 requires; any failure is StatusUnavailable."""
    try:
        return _verify_status_list(token, url=url, issuer=issuer, purpose=purpose, keys=keys, now=now, leeway=leeway)
    except StatusUnavailable:
        raise
    except VerificationError as exc:
        raise StatusUnavailable(f"status list did not verify: {exc.detail}") from exc


def _verify_status_list(
    token: str, *, url: str, issuer: str, purpose: str, keys: _KeyLookup, now: datetime, leeway: int
) -> StatusList:
    jws = parse_compact(token.strip())
    unverified_header = jws.unverified_header
    if normalized_typ(unverified_header) not in ACCEPTED_LIST_TYP or "crit" in unverified_header:
        raise StatusUnavailable("status list header refused")
    unverified_kid = unverified_header.get("kid")
    if not isinstance(unverified_kid, str):
        raise StatusUnavailable("status list has no kid")
    entry = keys.resolve(issuer, unverified_kid)
    key = entry.key
    if unverified_header.get("alg") != key.alg:
        raise StatusUnavailable("status list alg is not its key's")
    if getattr(entry, "state", None) == "compromised":
        raise StatusUnavailable("status list is signed by a compromised key")
    if not key.verify(jws.signing_input, jws.signature):
        raise StatusUnavailable("status list signature does not verify")
    payload = jws.unverified_payload  # verified from here on
    vc = payload.get("vc")
    credential: dict[str, Any] = vc if isinstance(vc, dict) else payload
    if payload.get("iss", issuer) != issuer or _issuer_id(credential.get("issuer")) not in (None, issuer):
        raise StatusUnavailable("status list was issued by someone else")
    list_id = credential.get("id", url)
    if list_id != url and not (isinstance(list_id, str) and list_id.startswith(url + "#")):
        raise StatusUnavailable("the list served is not the list the credential names")
    types = credential.get("type")
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or "BitstringStatusListCredential" not in types:
        raise StatusUnavailable("not a BitstringStatusListCredential")
    _check_window(payload, credential, now, leeway)
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict):
        raise StatusUnavailable("status list has no credentialSubject")
    purposes = subject.get("statusPurpose")
    purposes = [purposes] if isinstance(purposes, str) else purposes
    if not isinstance(purposes, list) or purpose not in purposes:
        raise StatusUnavailable(f"status list purpose is not {purpose!r}")
    try:
        bits = decode_list(subject.get("encodedList"))  # type: ignore[arg-type]
    except ValueError as exc:
        raise StatusUnavailable(f"encodedList cannot be decoded: {exc}") from exc
    if len(bits) * 8 < MIN_ENTRIES:
        raise StatusUnavailable("status list is shorter than 131,072 entries")
    ttl = subject.get("ttl")
    ttl_ms = ttl if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl >= 0 else None
    return StatusList(url=url, purposes=frozenset(p for p in purposes if isinstance(p, str)), bits=bits, ttl_ms=ttl_ms)


def _issuer_id(issuer: Any) -> str | None:
    if isinstance(issuer, dict):
        value = issuer.get("id")
        return value if isinstance(value, str) else ""
    return issuer if isinstance(issuer, str) or issuer is None else ""


def _check_window(payload: dict[str, Any], credential: dict[str, Any], now: datetime, leeway: int) -> None:
    ts = now.timestamp()
    for claim in ("nbf", "exp"):
        value = payload.get(claim)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise Malformed(f"{claim} is not an integer")
    # Every bound present must hold: the JWT's nbf/exp and the credential's validFrom/validUntil.
    starts: list[float] = [payload["nbf"]] if payload.get("nbf") is not None else []
    ends: list[float] = [payload["exp"]] if payload.get("exp") is not None else []
    try:
        if isinstance(credential.get("validFrom"), str):
            starts.append(parse_datetime(credential["validFrom"]).timestamp())
        if isinstance(credential.get("validUntil"), str):
            ends.append(parse_datetime(credential["validUntil"]).timestamp())
    except ValueError as exc:
        raise StatusUnavailable("status list validity dates are malformed") from exc
    if any(start > ts + leeway for start in starts):
        raise StatusUnavailable("status list is not yet valid")
    if any(end < ts - leeway for end in ends):
        raise StatusUnavailable("status list has expired")
