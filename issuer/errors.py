"""Typed errors of the issuer's services; each has a stable `code` that the API and CLI report."""

from __future__ import annotations


class IssuerError(Exception):
    code = "issuer_error"
    http_status = 400
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(IssuerError):
    code = "config_error"
    exit_code = 2


class NotFound(IssuerError):
    code = "not_found"
    http_status = 404
    exit_code = 4


class CredentialNotFound(NotFound):
    code = "credential_not_found"


class KeyNotFound(NotFound):
    code = "key_not_found"


class CertificationNotHeld(NotFound):
    code = "certification_not_found"


class StatusListNotFound(NotFound):
    code = "status_list_not_found"


class UnknownReason(IssuerError):
    code = "unknown_reason"
    exit_code = 2


class KeyInUse(IssuerError):
    """A key cannot be retired while something valid still depends on it."""

    code = "key_in_use"
    http_status = 409
    exit_code = 1


class InvalidKeyState(IssuerError):
    code = "invalid_key_state"
    http_status = 409
    exit_code = 1


class UnknownCertification(IssuerError):
    code = "unknown_certification"


class NotInitialized(IssuerError):
    code = "not_initialized"
    http_status = 503
    exit_code = 1
