"""Candidate accounts (SPEC §5.1, §6; SECURITY A4), one module per concern: `passwords` (Argon2id
and the policy), `login`, `sessions` (server-side), `links` (the e-mailed single-use links),
`profile` and `email_change` (a new address, confirmed by a link sent to it). The names below are
the package's public interface."""

from issuer.services.accounts.email_change import (
    EMAIL_LINK_LIFETIME,
    Confirmation,
    PendingEmail,
)
from issuer.services.accounts.email_change import (
    confirm_change as confirm_email_change,
)
from issuer.services.accounts.email_change import (
    confirmation as email_confirmation,
)
from issuer.services.accounts.email_change import (
    pending as pending_email,
)
from issuer.services.accounts.errors import (
    AccountError,
    BreachedPassword,
    CurrentPasswordIncorrect,
    EmailUnavailable,
    InvalidCredentials,
    InvalidProfile,
    LoginRequired,
    LoginThrottled,
    PasswordMismatch,
    TokenInvalid,
    WeakPassword,
)
from issuer.services.accounts.links import (
    TOKEN_LIFETIME,
    complete_token,
    start_first_login,
    start_reset,
    token_candidate,
)
from issuer.services.accounts.login import authenticate, confirm_password, find_by_identifier, log_in
from issuer.services.accounts.passwords import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    PASSWORD_RECOMMENDED,
    check_password_policy,
    common_passwords,
    hash_password,
    set_password,
)
from issuer.services.accounts.profile import (
    PROFILE_FIELDS,
    change_password,
    countries,
    log_out_everywhere,
    update_profile,
)
from issuer.services.accounts.sessions import SESSION_IDLE, end_session, load_session, open_session

__all__ = [
    "EMAIL_LINK_LIFETIME",
    "PASSWORD_MAX",
    "PASSWORD_MIN",
    "PASSWORD_RECOMMENDED",
    "PROFILE_FIELDS",
    "SESSION_IDLE",
    "TOKEN_LIFETIME",
    "AccountError",
    "BreachedPassword",
    "Confirmation",
    "CurrentPasswordIncorrect",
    "EmailUnavailable",
    "InvalidCredentials",
    "InvalidProfile",
    "LoginRequired",
    "LoginThrottled",
    "PasswordMismatch",
    "PendingEmail",
    "TokenInvalid",
    "WeakPassword",
    "authenticate",
    "change_password",
    "check_password_policy",
    "common_passwords",
    "confirm_email_change",
    "confirm_password",
    "complete_token",
    "countries",
    "email_confirmation",
    "end_session",
    "find_by_identifier",
    "hash_password",
    "load_session",
    "log_in",
    "log_out_everywhere",
    "open_session",
    "pending_email",
    "set_password",
    "start_first_login",
    "start_reset",
    "token_candidate",
    "update_profile",
]
