"""Outbox rows as RFC 5322 messages, handed to an SMTP server or written to the spool dir (SPEC §3.2)."""

from __future__ import annotations

import ipaddress
import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from issuer.config import Settings
from issuer.errors import ConfigError, IssuerError

SMTP_TIMEOUT = 20.0  # seconds, per connect and per command: a stuck server never blocks a sender for long
SCHEMES = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}


class DeliveryError(IssuerError):
    """A message could not be handed over; it is retried later."""

    code = "mail_delivery_failed"


class TransportUnavailable(DeliveryError):
    """The server cannot be reached or refuses us (connection, TLS, login): no message can go now."""

    code = "mail_transport_unavailable"


class MessageRejected(DeliveryError):
    """The server refused this message for good (5xx on its recipient or content): never retried."""

    code = "mail_rejected"


@dataclass(frozen=True)
class Sender:
    """Who the mail is from: the program's name at `no-reply@` the host of the base URL."""

    name: str
    domain: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Sender:
        host = urlsplit(settings.base_url).hostname or "localhost"
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return cls(settings.issuer_name, host)
        # An address literal (RFC 5321 §4.1.3): a bare IP is not a valid mail domain.
        return cls(settings.issuer_name, f"[{ip}]" if ip.version == 4 else f"[IPv6:{ip}]")

    @property
    def address(self) -> Address:
        return Address(display_name=self.name, addr_spec=f"no-reply@{self.domain}")


def build_message(
    *, sender: Sender, to: str, subject: str, text: str, html: str | None, message_id: str, now: datetime
) -> EmailMessage:
    """A text message, or multipart/alternative text + HTML. Raises MessageRejected on a bad header."""
    email = EmailMessage()
    try:
        email["From"] = sender.address
        email["To"] = to
        email["Subject"] = subject
        email["Date"] = format_datetime(now)
        email["Message-ID"] = message_id
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    except ValueError as exc:  # CR/LF in a header value, a malformed address
        raise MessageRejected(f"cannot build the message: {exc}") from None
    email.set_content(text)
    if html is not None:
        email.add_alternative(html, subtype="html")
    return email


class Transport(Protocol):
    def send(self, email: EmailMessage, *, outbox_id: int, now: datetime) -> None:
        """Hand one message over, or raise a DeliveryError."""

    def close(self) -> None:
        """Release any connection; the next send opens a new one."""


# --------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class SmtpConfig:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = SMTP_TIMEOUT

    @property
    def where(self) -> str:
        """host:port, for messages (never the credentials)."""
        return f"{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpConfig:
    """`smtp://host:port`, `smtps://user:pass@host:port` or `smtp+starttls://user:pass@host:port`.
    Raises ConfigError, whose message never repeats the password."""
    name = "CERTMANAGER_SMTP_URL"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ConfigError(f"{name} is not a valid URL (expected smtp://host:port)") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"{name} must start with smtp://, smtps:// or smtp+starttls://, got {scheme or 'none'!r}")
    host = parts.hostname
    if not host:
        raise ConfigError(f"{name} has no host (expected {scheme}://host:port)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be just {scheme}://[user:pass@]host[:port], without a path or query")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if (username is None) != (password is None):
        raise ConfigError(f"{name} needs both a user and a password, or neither")
    if username is not None and scheme == "smtp":
        # Credentials are never sent in clear text: plain smtp:// is for a local relay.
        raise ConfigError(f"{name}: a user and password need smtps:// or smtp+starttls://")
    return SmtpConfig(scheme, host, port or SCHEMES[scheme], username, password)


def _describe(exc: BaseException, config: SmtpConfig) -> str:
    """What went wrong, for `last_error` and logs: the server's answer or the socket error."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = "; ".join(f"{code} {_text(msg)}" for code, msg in exc.recipients.values())
        return f"recipient refused: {answers}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code} from {config.where}: {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"{config.where} closed the connection"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"{config.where} does not support STARTTLS"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {config.where} failed: {exc.reason or exc.__class__.__name__}"
    if isinstance(exc, TimeoutError):
        return f"{config.where} timed out"
    if isinstance(exc, OSError):
        return f"cannot reach {config.where}: {exc.strerror or exc.__class__.__name__}"
    return f"SMTP error with {config.where}: {exc.__class__.__name__}"


def _text(raw: bytes | str) -> str:
    value = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(value.split())[:300]


class SmtpTransport:
    """Sends over one SMTP connection, opened on the first message and kept until `close()`."""

    def __init__(self, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self._ssl_context = ssl_context
        self._conn: smtplib.SMTP | None = None

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        conn: smtplib.SMTP | None = None
        try:
            if config.scheme == "smtps":
                conn = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=self._tls())
            else:
                conn = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            conn.ehlo()
            if config.scheme == "smtp+starttls":
                conn.starttls(context=self._tls())
                conn.ehlo()
            if config.username is not None and config.password is not None:
                conn.login(config.username, config.password)
        except (smtplib.SMTPException, OSError) as exc:
            if conn is not None:
                _close_quietly(conn)
            raise TransportUnavailable(_describe(exc, config)) from None
        return conn

    def send(self, email: EmailMessage, *, outbox_id: int, now: datetime) -> None:
        if self._conn is None:
            self._conn = self._connect()
        try:
            self._conn.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            permanent = all(500 <= code < 600 for code, _ in exc.recipients.values())
            raise (MessageRejected if permanent else DeliveryError)(_describe(exc, self.config)) from None
        except smtplib.SMTPNotSupportedError:
            raise MessageRejected(f"{self.config.where} does not accept international addresses (SMTPUTF8)") from None
        except smtplib.SMTPDataError as exc:
            # The server stays in a usable state after a refused DATA (smtplib sends RSET).
            cls = MessageRejected if 500 <= exc.smtp_code < 600 else DeliveryError
            raise cls(_describe(exc, self.config)) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransportUnavailable(_describe(exc, self.config)) from None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            _close_quietly(conn)


def _close_quietly(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


# --------------------------------------------------------------------------- spool


class SpoolTransport:
    """Writes each message to `<directory>/<timestamp>-<id>.eml` (0600), atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, outbox_id: int, now: datetime) -> Path:
        return self.directory / f"{now.astimezone(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{outbox_id}.eml"

    def send(self, email: EmailMessage, *, outbox_id: int, now: datetime) -> None:
        target = self.path_for(outbox_id, now)
        tmp: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")  # created 0600
            with os.fdopen(fd, "wb") as handle:
                handle.write(email.as_bytes())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)  # readers see the whole message or none of it
        except OSError as exc:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
            raise TransportUnavailable(f"cannot write to the mail spool {self.directory}: {exc.strerror}") from None

    def close(self) -> None:
        pass


def transport_for(settings: Settings) -> SmtpTransport | SpoolTransport:
    """SMTP when CERTMANAGER_SMTP_URL is set, else the spool in `instance/mail`. Raises ConfigError."""
    if settings.smtp_url:
        return SmtpTransport(parse_smtp_url(settings.smtp_url))
    return SpoolTransport(settings.instance_dir / "mail")
