"""The stand-alone verifier (`certmanager serve-verifier`) as a separate process, against real
issuers on loopback (SPEC §3.3, §3.4 `/verify`, §3.6, §4 'Stand-alone verifier trust' and
'Status list'):

* our issuer, served by `certmanager serve` as another process on its own database, and
* a small third-party issuer the tests run themselves (`FakeIssuer`: its own EdDSA key, JWKS,
  status list and credential documents, in both Open Badges shapes).

Both status lists have a ttl (and max-age) of 1 s. The verifier trusts exactly those two base
URLs; a third local origin (`elsewhere`, a complete issuer of its own) is never trusted and must
never receive a request from the verifier.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from issuer import runtime
from issuer.db import get_session
from issuer.services.setup import initialize
from tests.cli_support import run_cli
from tests.conftest import Factory, FakeClock, make_app
from tests.verifier.standalone.servers import (
    LIST_TTL_MS,
    FakeIssuer,
    Service,
    VerifierClient,
    free_port,
    wait_for,
)

pytestmark = pytest.mark.slow

TTL = LIST_TTL_MS / 1000
ALL_CHECKS = {"format", "signature", "issuer", "validity_period", "status"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def issuer_port() -> int:
    return free_port()


@dataclass
class OurIssuer:
    """Our issuer: an in-process app on the test database (to issue credentials) and the same
    database served by `certmanager serve` as a separate process at `base`."""

    base: str
    app: Any
    factory: Factory
    service: Service

    def issue(self) -> Any:
        return self.factory.certified("CNA-ENT")

    def start(self) -> None:
        self.service.start(ready_path="/readyz")

    def stop(self) -> None:
        self.service.stop()

    def link(self, record: Any) -> str:
        return f"{self.base}/c/{record.id}"


@pytest.fixture
def our_issuer(
    app_env: dict[str, str], clock: FakeClock, issuer_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OurIssuer]:
    base = f"http://127.0.0.1:{issuer_port}"
    # The base URL is set before anything is signed: key ids, status list and credential ids embed it.
    env = {
        **app_env,
        "CERTMANAGER_BASE_URL": base,
        "CERTMANAGER_STATUS_TTL": str(LIST_TTL_MS),
        "CERTMANAGER_RATELIMIT_VERIFY": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # `certmanager revoke`, run in-process, reads these
    app = make_app(env, clock, status_ttl_ms=LIST_TTL_MS)
    with app.app_context():
        initialize(get_session(), runtime.of(app).ctx, now=clock())
    service = Service(
        "issuer",
        ["serve", "--host", "127.0.0.1", "--port", str(issuer_port), "--workers", "1"],
        env={**os.environ, **env},
        port=issuer_port,
        log_dir=tmp_path,
    )
    try:
        yield OurIssuer(base, app, Factory(app, clock), service)
    finally:
        service.stop()
        app.extensions["certmanager.db"].dispose()


@pytest.fixture
def third_party() -> Iterator[FakeIssuer]:
    site = FakeIssuer()
    site.start()
    try:
        yield site
    finally:
        site.stop()
    assert not site.errors, site.errors


@pytest.fixture
def elsewhere() -> Iterator[FakeIssuer]:
    """Another origin, a complete issuer of its own, that the verifier does not trust."""
    site = FakeIssuer()
    site.start()
    try:
        yield site
    finally:
        site.stop()
    assert not site.errors, site.errors


@pytest.fixture
def verifier(issuer_port: int, third_party: FakeIssuer, tmp_path: Path) -> Iterator[VerifierClient]:
    """`certmanager serve-verifier` trusting our issuer's and the third party's base URLs; no
    database in its environment."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CERTMANAGER_")}
    env["CERTMANAGER_RATELIMIT_VERIFY"] = "0"
    port = free_port()
    service = Service(
        "verifier",
        [
            "serve-verifier",
            "--port",
            str(port),
            "--workers",
            "1",
            "--trust",
            f"http://127.0.0.1:{issuer_port}",
            "--trust",
            third_party.base,
        ],
        env=env,
        port=port,
        log_dir=tmp_path,
    )
    service.start()
    client = VerifierClient(service.base)
    try:
        yield client
    finally:
        client.close()
        service.stop()


# --------------------------------------------------------------------------- helpers


def assert_valid(result: dict[str, Any], *, issuer: str, cred_id: str | None = None) -> None:
    assert result["status"] == "valid", result
    assert result["verified"] is True
    assert {c["check"] for c in result["checks"]} >= ALL_CHECKS, result["checks"]
    assert all(c["ok"] for c in result["checks"]), result["checks"]
    assert result["credential"]["issuer"]["id"] == issuer
    if cred_id is not None:
        assert result["credential"]["id"] == cred_id


def assert_refused(result: dict[str, Any], status: str) -> None:
    assert result["status"] == status, result
    assert result["verified"] is False
    assert any(not c["ok"] for c in result["checks"]), result["checks"]


def status_check(result: dict[str, Any]) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in result["checks"] if c["check"] == "status"]
    assert len(found) == 1, result["checks"]
    return found[0]


def statuses(history: list[tuple[float, Any]]) -> list[str]:
    return [r if isinstance(r, str) else r["status"] for _, r in history]


def assert_down_then_unavailable(verifier: VerifierClient, token: str, stopped_at: float) -> None:
    """After the issuer went away: cached verdicts last at most the list's ttl, then the verifier
    says `status_unavailable`, never `valid`, and keeps saying it (failures are not cached)."""
    last, history = wait_for(
        lambda: verifier.api(token), lambda r: r["status"] == "status_unavailable", timeout=TTL + 5
    )
    assert last["status"] == "status_unavailable", statuses(history)
    assert set(statuses(history)) <= {"valid", "status_unavailable"}, statuses(history)
    late = [round(t - stopped_at, 2) for t, r in history if r["status"] == "valid" and t - stopped_at > TTL + 0.5]
    assert not late, f"still valid {late} s after the issuer stopped (list ttl {TTL:g} s)"
    assert last["verified"] is False
    assert status_check(last)["ok"] is False
    for _ in range(3):
        assert verifier.status(token) == "status_unavailable"


# --------------------------------------------------------------------------- our issuer


def test_our_credential_valid_then_revoked_within_the_ttl(our_issuer: OurIssuer, verifier: VerifierClient) -> None:
    record = our_issuer.issue()
    bystander = our_issuer.issue()
    our_issuer.start()

    assert_valid(verifier.api(record.jwt), issuer=f"{our_issuer.base}/issuer", cred_id=our_issuer.link(record))
    # A pasted link to a trusted issuer's credential page is resolved by its id.
    by_link = verifier.paste(our_issuer.link(record))
    assert by_link.status_code == 200, by_link.text[:1000]
    assert_valid(by_link.json(), issuer=f"{our_issuer.base}/issuer", cred_id=our_issuer.link(record))
    assert verifier.status(bystander.jwt) == "valid"

    revoked = run_cli(CliRunner(), "revoke", record.id, "--reason", "withdrawn")
    assert revoked.exit_code == 0, revoked.output

    last, history = wait_for(lambda: verifier.status(record.jwt), lambda s: s == "revoked", timeout=TTL + 5)
    assert last == "revoked", statuses(history)
    assert set(statuses(history)) <= {"valid", "revoked"}, statuses(history)
    result = verifier.api(record.jwt)
    assert_refused(result, "revoked")
    assert status_check(result)["ok"] is False
    by_link = verifier.paste(our_issuer.link(record))
    assert by_link.status_code == 200
    assert by_link.json()["status"] == "revoked"
    # Only that credential's bit changed.
    assert verifier.status(bystander.jwt) == "valid"


def test_our_issuer_unreachable_is_status_unavailable_never_valid(
    our_issuer: OurIssuer, verifier: VerifierClient
) -> None:
    record = our_issuer.issue()

    # Before the issuer ever ran: its key set cannot be fetched.
    result = verifier.api(record.jwt)
    assert_refused(result, "status_unavailable")
    assert "credential" not in result  # the signature could not be checked: nothing is vouched for

    our_issuer.start()
    # Failed fetches are not cached: the very next verification fetches the key set.
    assert_valid(verifier.api(record.jwt), issuer=f"{our_issuer.base}/issuer", cred_id=our_issuer.link(record))

    # The issuer goes down while the verifier holds its key set and list.
    our_issuer.stop()
    stopped_at = time.monotonic()
    assert_down_then_unavailable(verifier, record.jwt, stopped_at)
    # A pasted link cannot be resolved while the issuer is down: 503 with a §3.6 body.
    by_link = verifier.paste(our_issuer.link(record))
    assert by_link.status_code == 503, by_link.text[:1000]
    assert by_link.json()["status"] == "status_unavailable"
    assert by_link.json()["verified"] is False
    assert by_link.headers.get("Retry-After")

    our_issuer.start()  # the same port, the same database
    last, history = wait_for(lambda: verifier.status(record.jwt), lambda s: s == "valid", timeout=TTL + 5)
    assert last == "valid", statuses(history)
    by_link = verifier.paste(our_issuer.link(record))
    assert by_link.status_code == 200
    assert by_link.json()["status"] == "valid"


# --------------------------------------------------------------------------- the third-party issuer


def test_third_party_credentials_valid_in_both_shapes(third_party: FakeIssuer, verifier: VerifierClient) -> None:
    ob3_id, ob3 = third_party.ob3_credential(4242)
    v11_id, v11 = third_party.vcdm11_credential(77)

    assert_valid(verifier.api(ob3), issuer=third_party.issuer_id, cred_id=f"{third_party.base}/c/{ob3_id}")
    result = verifier.api(v11)
    assert_valid(result, issuer=third_party.issuer_id, cred_id=f"{third_party.base}/c/{v11_id}")
    assert result["credential"]["subject_name"] == "Grace Hopper"
    assert [c["code"] for c in result["credential"]["certifications"]] == ["NET-101"]

    by_link = verifier.paste(f"{third_party.base}/c/{v11_id}")
    assert by_link.status_code == 200, by_link.text[:1000]
    assert_valid(by_link.json(), issuer=third_party.issuer_id, cred_id=f"{third_party.base}/c/{v11_id}")
    # Only the issuer's published documents were fetched.
    assert set(third_party.requests) <= {"/.well-known/jwks.json", "/status/1", f"/c/{v11_id}"}


def test_third_party_revocation_within_the_ttl(third_party: FakeIssuer, verifier: VerifierClient) -> None:
    _, ob3 = third_party.ob3_credential(4242)
    _, v11 = third_party.vcdm11_credential(77)
    assert verifier.status(ob3) == "valid"
    assert verifier.status(v11) == "valid"

    third_party.set_bit(4242)
    last, history = wait_for(lambda: verifier.status(ob3), lambda s: s == "revoked", timeout=TTL + 5)
    assert last == "revoked", statuses(history)
    assert set(statuses(history)) <= {"valid", "revoked"}
    assert verifier.status(v11) == "valid"

    third_party.set_bit(77)
    last, history = wait_for(lambda: verifier.status(v11), lambda s: s == "revoked", timeout=TTL + 5)
    assert last == "revoked", statuses(history)


def test_third_party_down_is_status_unavailable_then_valid_again(
    third_party: FakeIssuer, verifier: VerifierClient
) -> None:
    _, v11 = third_party.vcdm11_credential(77)
    assert verifier.status(v11) == "valid"

    third_party.stop()
    assert_down_then_unavailable(verifier, v11, time.monotonic())

    third_party.start()  # the same port
    last, history = wait_for(lambda: verifier.status(v11), lambda s: s == "valid", timeout=TTL + 5)
    assert last == "valid", statuses(history)


# --------------------------------------------------------------------------- trust boundaries


def test_untrusted_issuer_is_refused_without_fetching(
    third_party: FakeIssuer, elsewhere: FakeIssuer, verifier: VerifierClient
) -> None:
    cred_id, token = elsewhere.ob3_credential(5)  # a working issuer, just not a trusted one

    assert_refused(verifier.api(token), "untrusted_issuer")
    # Its credential page link is not resolved either.
    by_link = verifier.paste(f"{elsewhere.base}/c/{cred_id}")
    assert 400 <= by_link.status_code < 500, by_link.text[:1000]
    assert by_link.json().get("verified") is not True
    assert elsewhere.requests == []


def test_kid_outside_the_trusted_base_is_refused_without_fetching(
    third_party: FakeIssuer, elsewhere: FakeIssuer, verifier: VerifierClient
) -> None:
    # iss is the trusted third party; the kid names a key published (and served) by another origin.
    _, token = third_party.ob3_credential(5, signer=elsewhere.key)

    assert_refused(verifier.api(token), "untrusted_issuer")
    assert elsewhere.requests == []


def test_status_list_outside_the_trusted_base_is_refused_without_fetching(
    third_party: FakeIssuer, elsewhere: FakeIssuer, verifier: VerifierClient
) -> None:
    # A good list signed by the trusted issuer's key, but published on another origin.
    elsewhere.overrides["/status/1"] = third_party.status_reply(elsewhere.status_url)
    _, token = third_party.ob3_credential(5, status_url=elsewhere.status_url)

    assert_refused(verifier.api(token), "untrusted_issuer")
    assert elsewhere.requests == []


@pytest.mark.parametrize("resource", ["jwks", "status"])
def test_redirect_to_another_origin_is_refused_within_the_origin_followed(
    third_party: FakeIssuer, elsewhere: FakeIssuer, verifier: VerifierClient, resource: str
) -> None:
    # The other origin serves exactly what the trusted issuer would: following the redirect
    # would end in `valid`.
    elsewhere.overrides["/.well-known/jwks.json"] = third_party.jwks_reply()
    elsewhere.overrides["/status/1"] = third_party.status_reply()
    third_party.redirect_to = elsewhere.base
    third_party.modes[resource] = "redirect-other"
    _, token = third_party.ob3_credential(9)

    result = verifier.api(token)
    assert_refused(result, "status_unavailable")
    assert elsewhere.requests == []
    assert ("/.well-known/jwks.json" if resource == "jwks" else "/status/1") in third_party.requests

    # A redirect within the issuer's own origin is followed (and the refusal was not cached).
    third_party.modes[resource] = "redirect-same"
    assert verifier.status(token) == "valid"
    assert ("/keys-moved/jwks.json" if resource == "jwks" else "/status-moved/1") in third_party.requests
    assert elsewhere.requests == []


@pytest.mark.parametrize("resource", ["jwks", "status"])
def test_oversized_response_is_refused(third_party: FakeIssuer, verifier: VerifierClient, resource: str) -> None:
    _, token = third_party.ob3_credential(12)
    for how in ("oversized-declared", "oversized-streamed"):  # > 1 MiB, with and without Content-Length
        third_party.modes[resource] = how
        assert_refused(verifier.api(token), "status_unavailable")

    third_party.modes[resource] = "normal"  # the refusals were not cached
    assert verifier.status(token) == "valid"


def test_never_ending_status_list_is_abandoned_after_the_fetch_cap(
    third_party: FakeIssuer, verifier: VerifierClient
) -> None:
    _, token = third_party.ob3_credential(13)
    third_party.modes["status"] = "drip"  # one byte every 50 ms, forever

    started = time.monotonic()
    result = verifier.api(token)
    elapsed = time.monotonic() - started
    assert_refused(result, "status_unavailable")
    assert status_check(result)["ok"] is False
    assert elapsed < 5 + 3, f"the verifier took {elapsed:.1f} s (cap: 5 s per fetch)"
    assert third_party.streamed.get("/status/1", 0) > 0  # it really was reading a never-ending body

    # The verifier is not stuck, and the failure was not cached.
    third_party.modes["status"] = "normal"
    started = time.monotonic()
    assert verifier.status(token) == "valid"
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("resource", ["jwks", "status"])
def test_a_refused_response_is_hung_up_on(third_party: FakeIssuer, verifier: VerifierClient, resource: str) -> None:
    """A fetch refused under the caps ends its connection then: the verifier hangs up on the
    body it will not read instead of leaving the socket open (and the server writing into it)
    until some later garbage collection in the verifier process."""
    path = "/.well-known/jwks.json" if resource == "jwks" else "/status/1"
    third_party.modes[resource] = "huge-declared"  # Content-Length: 64 MiB, then it keeps sending
    _, token = third_party.ob3_credential(14)

    assert verifier.status(token) == "status_unavailable"
    answered = time.monotonic()
    hung_up, _ = wait_for(lambda: dict(third_party.hung_up), lambda d: path in d, timeout=2)
    assert path in hung_up, (
        f"the verifier answered, but 2 s later the connection of the {resource} fetch it refused was still "
        f"open ({third_party.streamed.get(path, 0)} bytes written into it)"
    )
    assert hung_up[path] - answered < 2
