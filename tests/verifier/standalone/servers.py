"""Real processes and small local servers for the stand-alone verifier tests.

`Service` runs a `certmanager` command (the issuer's `serve`, the verifier's `serve-verifier`)
as a separate process on a loopback port. `Site` is a tiny threaded HTTP/1.0 server that records
every request it gets; `FakeIssuer` is a third-party issuer built on it (its own key, JWKS, status
list and credential documents), whose behaviour each test switches through `modes`.
"""

from __future__ import annotations

import json
import secrets
import signal
import socket
import string
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import requests

from tests.verifier.tokens import (
    LIST_BYTES,
    OB3_CONTEXT,
    VCDM1_CONTEXT,
    IssuerKey,
    credential_payload,
    iso,
    make_key,
    status_entry,
    status_list_payload,
    ts,
)

ROOT = Path(__file__).resolve().parents[3]
LIST_TTL_MS = 1000  # every status list in these tests: 1 s
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    probe: Callable[[], Any], done: Callable[[Any], bool], *, timeout: float, interval: float = 0.1
) -> tuple[Any, list[tuple[float, Any]]]:
    """Call `probe` until `done(result)` or the deadline; returns the last result and the history
    of (monotonic time, result). Never raises on timeout: the caller asserts on the result."""
    deadline = time.monotonic() + timeout
    history: list[tuple[float, Any]] = []
    while True:
        result = probe()
        history.append((time.monotonic(), result))
        if done(result) or time.monotonic() >= deadline:
            return result, history
        time.sleep(interval)


# --------------------------------------------------------------------------- processes


def certmanager_command() -> list[str]:
    """The installed console script next to this interpreter, else the same entry point via -c."""
    script = Path(sys.executable).with_name("certmanager")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from issuer.cli import main; main()"]


class Service:
    """One `certmanager` server process on 127.0.0.1:`port`; its output goes to a log file."""

    def __init__(self, name: str, args: list[str], *, env: Mapping[str, str], port: int, log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.env = dict(env)
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, *, ready_path: str = "/healthz", timeout: float = 30.0) -> None:
        assert self.proc is None, f"{self.name} is already running"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*certmanager_command(), *self.args],
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        with requests.Session() as http:
            http.trust_env = False
            while True:
                if self.proc.poll() is not None:
                    code = self.proc.returncode
                    self.stop()
                    raise AssertionError(f"{self.name} exited with {code} while starting:\n{self.log_tail()}")
                try:
                    if http.get(self.base + ready_path, timeout=2).status_code == 200:
                        return
                except requests.RequestException:
                    pass
                if time.monotonic() >= deadline:
                    self.stop()
                    raise AssertionError(f"{self.name} not ready after {timeout:g} s:\n{self.log_tail()}")
                time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown (SIGTERM waits for keep-alives)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=20)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


# --------------------------------------------------------------------------- local HTTP sites


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # A body of unknown length, written chunk by chunk until exhausted or the client goes away
    # (no Content-Length; HTTP/1.0 so the end of the body is the end of the connection).
    stream: Callable[[threading.Event], Iterator[bytes]] | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers after a stop
    timeout = 10  # a write to a client that stopped reading never blocks a thread for long
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        site = self.server.site
        site.record(self.path)
        try:
            reply = site.respond(self.path)
        except Exception as exc:  # noqa: BLE001 - a bug in the test server must show up in the test
            site.errors.append(f"{self.path}: {exc!r}")
            reply = Reply(500, b"test server error")
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.stream is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self._send(site, [reply.body])
            return
        self.end_headers()
        self._send(site, reply.stream(site.stopping))

    def _send(self, site: Site, chunks: Iterable[bytes]) -> None:
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
                site.streamed[self.path] = site.streamed.get(self.path, 0) + len(chunk)
        except TimeoutError:  # the client keeps the connection open but stopped reading
            site.stalled.setdefault(self.path, time.monotonic())
        except OSError:  # the client hung up (refusing the body: that is the point)
            site.hung_up.setdefault(self.path, time.monotonic())

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins every handler thread
    site: Site


class Site:
    """A threaded local HTTP server that records every request path it gets."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[str] = []
        self.streamed: dict[str, int] = {}
        self.hung_up: dict[str, float] = {}  # path → when the client hung up while we were still writing
        self.stalled: dict[str, float] = {}  # path → when a write timed out (client open, not reading)
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._bind(port)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _bind(self, port: int) -> None:
        server = _Server(("127.0.0.1", port), _Handler)
        server.site = self
        self._server = server
        self.port = int(server.server_address[1])

    def start(self) -> None:
        if self._server is None:
            self.stopping = threading.Event()
            self._bind(self.port)
        assert self._server is not None
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"site-{self.port}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (connections are refused from now on) and end every handler thread."""
        self.stopping.set()
        server, self._server = self._server, None
        if server is not None:
            if self._thread is not None:
                server.shutdown()
                self._thread.join(timeout=10)
                self._thread = None
            server.server_close()

    def record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def respond(self, path: str) -> Reply:
        return Reply(404, b"not found")


def drip(stopping: threading.Event) -> Iterator[bytes]:
    """A response that never ends: one byte every 50 ms (for at most a minute, or until stopped)."""
    end = time.monotonic() + 60
    while not stopping.is_set() and time.monotonic() < end:
        yield b"e"
        time.sleep(0.05)


def flood(stopping: threading.Event) -> Iterator[bytes]:
    """64 KiB chunks, up to 64 MiB (what a declared 64 MiB body would be), until stopped."""
    for _ in range(1024):
        if stopping.is_set():
            return
        yield b"e" * (64 * 1024)


def oversized(stopping: threading.Event) -> Iterator[bytes]:
    """2 MiB, streamed in 64 KiB chunks without a Content-Length."""
    for _ in range(32):
        if stopping.is_set():
            return
        yield b"e" * (64 * 1024)


# --------------------------------------------------------------------------- the third-party issuer


def new_credential_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(24))


class FakeIssuer(Site):
    """A small third-party issuer at http://127.0.0.1:<port>: an EdDSA key published in its JWKS
    (kid `{base}/keys/<thumbprint>`), one status list at `/status/1` (ttl 1 s, max-age 1) and the
    credentials it issued at `/c/<id>` (as `application/vc+jwt`).

    `modes[resource]` for `jwks` and `status`: normal | redirect-other | redirect-same |
    oversized-declared | oversized-streamed | huge-declared | drip
    `redirect_to`: the other origin's base URL used by `redirect-other`.
    `overrides`: path → Reply, served instead of anything else.
    """

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.key: IssuerKey = make_key("EdDSA", base=self.base)
        self.bits = bytearray(LIST_BYTES)
        self.modes: dict[str, str] = {"jwks": "normal", "status": "normal"}
        self.redirect_to: str | None = None
        self.overrides: dict[str, Reply] = {}
        self.documents: dict[str, str] = {}  # credential id → its JWT

    @property
    def issuer_id(self) -> str:
        return f"{self.base}/issuer"

    @property
    def status_url(self) -> str:
        return f"{self.base}/status/1"

    def set_bit(self, index: int) -> None:
        self.bits[index // 8] |= 0x80 >> (index % 8)

    # -- documents

    def jwks_reply(self) -> Reply:
        body = json.dumps({"keys": [self.key.public_jwk]}).encode()
        return Reply(200, body, {"Content-Type": "application/jwk-set+json", "Cache-Control": "public, max-age=300"})

    def status_list_jwt(self, url: str | None = None) -> str:
        """The status list signed by this issuer's key, published at `url` (default its own)."""
        now = datetime.now(UTC).replace(microsecond=0)
        payload = status_list_payload(
            bytes(self.bits), issuer=self.issuer_id, url=url or self.status_url, valid_from=now - timedelta(seconds=5)
        )
        payload["credentialSubject"]["ttl"] = LIST_TTL_MS
        return self.key.sign(payload, typ="vc+jwt")

    def status_reply(self, url: str | None = None) -> Reply:
        return Reply(
            200,
            self.status_list_jwt(url).encode("ascii"),
            {"Content-Type": "application/vc+jwt", "Cache-Control": f"public, max-age={LIST_TTL_MS // 1000}"},
        )

    def respond(self, path: str) -> Reply:
        path = path.split("?", 1)[0]
        if path in self.overrides:
            return self.overrides[path]
        if path == "/.well-known/jwks.json":
            return self._switched(self.modes["jwks"], path, self.jwks_reply, "/keys-moved/jwks.json")
        if path == "/keys-moved/jwks.json":
            return self.jwks_reply()
        if path == f"/keys/{self.key.kid.rsplit('/', 1)[1]}":
            return Reply(200, json.dumps(self.key.public_jwk).encode(), {"Content-Type": "application/jwk+json"})
        if path == "/status/1":
            return self._switched(self.modes["status"], path, self.status_reply, "/status-moved/1")
        if path == "/status-moved/1":
            return self.status_reply()  # still the list at /status/1 (same origin)
        if path.startswith("/c/") and path[3:] in self.documents:
            return Reply(200, self.documents[path[3:]].encode("ascii"), {"Content-Type": "application/vc+jwt"})
        return Reply(404, b"not found")

    def _switched(self, mode: str, path: str, normal: Callable[[], Reply], same_origin_target: str) -> Reply:
        if mode == "normal":
            return normal()
        if mode == "redirect-other":
            assert self.redirect_to, "redirect-other needs redirect_to"
            return Reply(302, b"", {"Location": self.redirect_to + path})
        if mode == "redirect-same":
            return Reply(302, b"", {"Location": same_origin_target})
        if mode == "oversized-declared":
            return Reply(200, b"e" * (MIB + 1024), {"Content-Type": "application/octet-stream"})
        if mode == "oversized-streamed":
            return Reply(200, headers={"Content-Type": "application/octet-stream"}, stream=oversized)
        if mode == "huge-declared":  # says 64 MiB up front, and keeps sending while it can
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(64 * MIB)}
            return Reply(200, headers=headers, stream=flood)
        if mode == "drip":
            return Reply(200, headers={"Content-Type": "application/vc+jwt"}, stream=drip)
        raise ValueError(f"unknown mode {mode!r}")

    # -- credentials

    def ob3_credential(
        self,
        index: int,
        *,
        signer: IssuerKey | None = None,
        issuer_id: str | None = None,
        status_url: str | None = None,
    ) -> tuple[str, str]:
        """An Open Badges 3.0 (VCDM 2.0) credential; returns (id, JWT). `signer`, `issuer_id` and
        `status_url` let a test put another origin's key, issuer or status list in it."""
        cred_id = new_credential_id()
        now = datetime.now(UTC).replace(microsecond=0)
        payload = credential_payload(
            issuer=issuer_id or self.issuer_id,
            cred_id=f"{self.base}/c/{cred_id}",
            valid_from=now - timedelta(days=30),
            valid_until=now + timedelta(days=3 * 365),
            status_index=index,
            status_url=status_url or self.status_url,
            code="NET-201",
            cert_name="Network Engineering",
        )
        token = (signer or self.key).sign(payload, typ="JWT")
        self.documents[cred_id] = token
        return cred_id, token

    def vcdm11_credential(self, index: int) -> tuple[str, str]:
        """The older Open Badges shape: the credential inside a `vc` claim, issuanceDate/expirationDate."""
        cred_id = new_credential_id()
        url = f"{self.base}/c/{cred_id}"
        now = datetime.now(UTC).replace(microsecond=0)
        issued, expires = now - timedelta(days=60), now + timedelta(days=700)
        holder = "urn:uuid:0d6f7c36-8f0e-4b7e-9d0a-7a1f5b3c2e19"
        vc = {
            "@context": [VCDM1_CONTEXT, OB3_CONTEXT],
            "id": url,
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": self.issuer_id, "type": "Profile", "name": "Example University"},
            "issuanceDate": iso(issued),
            "expirationDate": iso(expires),
            "name": "Networking Fundamentals",
            "credentialSubject": {
                "id": holder,
                "type": "AchievementSubject",
                "identifier": [
                    {"type": "IdentityObject", "identityType": "name", "hashed": False, "identityHash": "Grace Hopper"}
                ],
                "achievement": {
                    "id": f"{self.base}/achievements/net-101",
                    "type": "Achievement",
                    "humanCode": "NET-101",
                    "name": "Networking Fundamentals",
                    "description": "Introductory networking.",
                    "criteria": {"narrative": "Pass NET-101."},
                },
            },
            "credentialStatus": status_entry(index, self.status_url),
        }
        payload = {
            "iss": self.issuer_id,
            "jti": url,
            "sub": holder,
            "nbf": ts(issued),
            "iat": ts(issued),
            "exp": ts(expires),
            "vc": vc,
        }
        token = self.key.sign(payload, typ="JWT")
        self.documents[cred_id] = token
        return cred_id, token


# --------------------------------------------------------------------------- talking to the verifier


class VerifierClient:
    """POSTs to the stand-alone verifier process."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.trust_env = False

    def close(self) -> None:
        self.http.close()

    def api(self, token: str) -> dict[str, Any]:
        response = self.http.post(f"{self.base}/api/v1/verify", json={"credential": token}, timeout=30)
        assert response.status_code == 200, (response.status_code, response.text[:1000])
        body: dict[str, Any] = response.json()
        return body

    def paste(self, text: str) -> requests.Response:
        """The /verify form's `credential` field (multipart, as the page posts it), answer as JSON."""
        return self.http.post(
            f"{self.base}/verify",
            files={"credential": (None, text)},
            headers={"Accept": "application/json"},
            timeout=30,
        )

    def status(self, token: str) -> str:
        return str(self.api(token)["status"])
