"""The typed failures of the account services; each has a stable `code` and a message for people."""

from __future__ import annotations

from issuer.errors import IssuerError


class AccountError(IssuerError):
    code = "account_error"


class InvalidCredentials(AccountError):
    """One message for unknown accounts, accounts without a password and wrong passwords."""

    code = "invalid_credentials"
    http_status = 401

    def __init__(self, reason: str) -> None:
        super().__init__("The CertManager ID or e-mail address and password do not match our records.")
        self.reason = reason  # for the audit log only; never shown


class LoginThrottled(AccountError):
    code = "login_throttled"
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LoginRequired(AccountError):
    code = "login_required"
    http_status = 401

    def __init__(self) -> None:
        super().__init__("Log in to your CertManager account to see this page.")


class TokenInvalid(AccountError):
    code = "token_invalid"

    def __init__(self, lifetime: str = "15 minutes", again: str = "Ask for a new one.") -> None:
        super().__init__(
            f"This link is no longer valid: each link works once, for {lifetime}, and only the newest one "
            f"works. {again}"
        )


class WeakPassword(AccountError):
    code = "weak_password"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BreachedPassword(WeakPassword):
    code = "breached_password"

    def __init__(self) -> None:
        super().__init__("common", "This password is on a list of common or leaked passwords. Choose another one.")


class PasswordMismatch(AccountError):
    code = "password_mismatch"

    def __init__(self) -> None:
        super().__init__("The two passwords are not the same.")


class CurrentPasswordIncorrect(AccountError):
    code = "current_password_incorrect"

    def __init__(self) -> None:
        super().__init__("Your current password is not correct.")


class InvalidProfile(AccountError):
    code = "invalid_profile"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("Some fields need attention: " + "; ".join(errors.values()))
        self.errors = errors


class EmailUnavailable(AccountError):
    code = "email_unavailable"
    http_status = 409

    def __init__(self) -> None:
        super().__init__(
            "This e-mail address cannot be used for your account. If it belongs to another CertManager "
            "account of yours, contact Certification Program Support."
        )
