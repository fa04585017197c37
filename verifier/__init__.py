"""Credential verification: parse, resolve the key, check signature, claims, period and status.

Imports only `keys`. Hosts supply a KeySource and a StatusSource (see `verifier.interfaces`).
"""

from verifier.core import LEEWAY, Verifier
from verifier.errors import PRIORITY, VerificationError
from verifier.interfaces import (
    InMemoryKeySource,
    InMemoryStatusSource,
    KeySource,
    RevocationDetailsSource,
    RevocationInfo,
    StatusSource,
)
from verifier.result import Check, VerificationResult
from verifier.statuslist import MIN_ENTRIES, StatusList, decode_list, encode_list, verify_status_list

__all__ = [
    "LEEWAY",
    "MIN_ENTRIES",
    "PRIORITY",
    "Check",
    "InMemoryKeySource",
    "InMemoryStatusSource",
    "KeySource",
    "RevocationDetailsSource",
    "RevocationInfo",
    "StatusList",
    "StatusSource",
    "VerificationError",
    "VerificationResult",
    "Verifier",
    "decode_list",
    "encode_list",
    "verify_status_list",
]
