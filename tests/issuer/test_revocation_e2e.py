"""The revocation loop of SPEC §5.6, end to end like Let's Encrypt's revocation test: a valid
credential, `certmanager revoke`, then every public view of it agrees (status list bit, verify API,
credential page, JSON view, CLI verify, CLI show)."""

from __future__ import annotations

import base64
import gzip
import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from issuer import runtime
from issuer.db import get_db, get_session
from issuer.models import CredentialRecord
from issuer.services import revocation
from tests.cli_support import run_cli as cli
from tests.conftest import BASE_URL


def payload_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def status_path(record: Any) -> tuple[str, int]:
    entry = payload_of(record.jwt)["credentialStatus"]
    return entry["statusListCredential"].removeprefix(BASE_URL), int(entry["statusListIndex"])


def bit_is_set(client: Any, record: Any) -> bool:
    path, index = status_path(record)
    response = client.get(path)
    assert response.status_code == 200
    subject = payload_of(response.get_data(as_text=True))["credentialSubject"]
    encoded = subject["encodedList"]
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def api_verify(client: Any, token: str) -> dict[str, Any]:
    response = client.post("/api/v1/verify", json={"credential": token})
    assert response.status_code == 200
    return response.get_json()


def status_etag(client: Any, record: Any) -> str:
    response = client.get(status_path(record)[0])
    assert response.status_code == 200
    return response.headers["ETag"]


@pytest.mark.parametrize(
    ("reason", "status", "public_reason", "page_word"),
    [
        ("withdrawn", "revoked", "withdrawn", "Revoked"),
        ("misconduct", "revoked", "revoked_by_issuer", "Revoked"),
        ("issued_in_error", "revoked", "revoked_by_issuer", "Revoked"),
        ("superseded", "superseded", "superseded", "Superseded"),
        # §3.6: reasons other than superseded give `revoked`; key_compromise is shown publicly.
        # (`key_compromised` is for credentials whose signing key is marked compromised, §5.7.)
        ("key_compromise", "revoked", "key_compromise", "Revoked"),
    ],
)
def test_revocation_loop(
    client: Any, runner: Any, factory: Any, reason: str, status: str, public_reason: str, page_word: str
) -> None:
    record = factory.certified("CNA-ENT")
    bystander = factory.certified("CNA-ENT")

    # Before: valid everywhere.
    assert not bit_is_set(client, record)
    before = api_verify(client, record.jwt)
    assert before["status"] == "valid" and before["verified"] is True
    ok = cli(runner, "verify", record.jwt, "--format", "json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["status"] == "valid"

    result = cli(runner, "revoke", record.id, "--reason", reason, "--note", "ticket 42")
    assert result.exit_code == 0, result.output

    # The status-list bit is set (and only this credential's).
    assert bit_is_set(client, record)
    assert not bit_is_set(client, bystander)

    # The verify API.
    after = api_verify(client, record.jwt)
    assert after["verified"] is False
    assert after["status"] == status
    assert after["revocation"]["reason"] == public_reason
    assert after["revocation"]["revoked_at"]
    assert "ticket 42" not in json.dumps(after)
    assert "superseded_by" not in after  # nothing replaced it
    assert api_verify(client, bystander.jwt)["status"] == "valid"

    # The page, for people (no JavaScript needed: the verdict is in the HTML) and for machines.
    page = client.get(f"/c/{record.id}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(rf"<h1[^>]*>\s*{page_word}\s*</h1>", html), html[:2000]
    assert "ticket 42" not in html
    as_json = client.get(f"/c/{record.id}", headers={"Accept": "application/json"})
    assert as_json.status_code == 200
    assert as_json.get_json()["status"] == status

    # The CLI.
    verified = cli(runner, "verify", record.jwt, "--format", "json")
    assert verified.exit_code == 1
    assert json.loads(verified.stdout)["status"] == status
    shown = cli(runner, "credentials", "show", record.id, "--format", "json")
    assert shown.exit_code == 0, shown.output
    described = json.loads(shown.stdout)
    assert described["status"] == status
    assert described["id"] == record.id


def test_revoking_twice_changes_nothing(client: Any, runner: Any, factory: Any) -> None:
    record = factory.certified("CNA-ENT")
    assert cli(runner, "revoke", record.id, "--reason", "withdrawn").exit_code == 0
    etag = status_etag(client, record)
    first = api_verify(client, record.jwt)

    again = cli(runner, "revoke", record.id, "--reason", "misconduct")
    assert again.exit_code == 0, again.output
    assert status_etag(client, record) == etag
    second = api_verify(client, record.jwt)
    assert second["status"] == "revoked"
    assert second["revocation"] == first["revocation"]  # the first reason stands: revocation is final


def test_revoke_by_full_url(client: Any, runner: Any, factory: Any) -> None:
    record = factory.certified("CNA-ENT")
    result = cli(runner, "revoke", f"{BASE_URL}/c/{record.id}", "--reason", "withdrawn")
    assert result.exit_code == 0, result.output
    assert api_verify(client, record.jwt)["status"] == "revoked"


def test_unknown_reason_exits_2_and_changes_nothing(client: Any, runner: Any, factory: Any) -> None:
    record = factory.certified("CNA-ENT")
    etag = status_etag(client, record)
    result = cli(runner, "revoke", record.id, "--reason", "because")
    assert result.exit_code == 2
    assert "because" in result.stderr
    assert status_etag(client, record) == etag
    assert api_verify(client, record.jwt)["status"] == "valid"


@pytest.mark.parametrize("cred_id", ["A" * 22, "no-such-id"])
def test_unknown_credential_exits_4(runner: Any, cred_id: str) -> None:
    result = cli(runner, "revoke", cred_id, "--reason", "withdrawn")
    assert result.exit_code == 4
    assert "Traceback" not in result.output


def test_status_list_etag_and_caching(app: Any, client: Any, runner: Any, factory: Any, ctx: Any) -> None:
    record = factory.certified("CNA-ENT")
    path, _ = status_path(record)

    first = client.get(path)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    max_age = re.search(r"max-age=(\d+)", first.headers["Cache-Control"])
    assert max_age is not None
    ttl = payload_of(first.get_data(as_text=True))["credentialSubject"]["ttl"]
    assert ttl == ctx.settings.status_ttl_ms
    assert int(max_age.group(1)) == ttl // 1000

    # Stable while no bit changes: repeated reads, and issuing another credential into the list.
    assert client.get(path).headers["ETag"] == etag
    other = factory.certified("CNS-ENT")
    assert status_path(other)[0] == path
    second = client.get(path)
    assert second.headers["ETag"] == etag
    assert second.data == first.data

    # Neither `init` nor a key rotation changes a bit, so neither re-signs the list.
    assert cli(runner, "init").exit_code == 0
    assert cli(runner, "keys", "rotate").exit_code == 0
    assert client.get(path).headers["ETag"] == etag

    not_modified = client.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.data == b""
    assert not_modified.headers["ETag"] == etag
    assert re.search(r"max-age=(\d+)", not_modified.headers["Cache-Control"]).group(1) == max_age.group(1)

    assert cli(runner, "revoke", record.id, "--reason", "withdrawn").exit_code == 0
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    new_etag = changed.headers["ETag"]
    assert new_etag != etag
    assert client.get(path, headers={"If-None-Match": new_etag}).status_code == 304


def test_status_list_revalidates_with_a_weak_validator(client: Any, factory: Any) -> None:
    """RFC 9110 §13.1.2: If-None-Match uses the weak comparison. A CDN or proxy that compresses
    (nginx gzip) hands clients W/"<etag>", and their revalidations must still get 304."""
    record = factory.certified("CNA-ENT")
    path, _ = status_path(record)
    etag = client.get(path).headers["ETag"]
    weak = client.get(path, headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304
    listed = client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304
    assert client.get(path, headers={"If-None-Match": "*"}).status_code == 304


def test_verification_never_reads_through_a_requests_older_snapshot(app: Any, factory: Any, clock: Any) -> None:
    """A request whose transaction began before a revocation (another worker's) must still see
    it — and must not leave the old status list cached for everyone after it."""
    record = factory.certified()
    verification = runtime.of(app).verification
    assert verification.verify(record.jwt, now=clock()).status == "valid"
    with app.app_context():
        request_session = get_session()
        request_session.execute(select(CredentialRecord.id)).all()  # its snapshot is fixed now (SQLite)
        with get_db().session() as other_worker:
            revocation.revoke_credential(
                other_worker, runtime.of(app).ctx, record.id, reason="withdrawn", note=None, actor="t", now=clock()
            )
        assert verification.verify(record.jwt, now=clock()).status == "revoked"
    assert verification.verify(record.jwt, now=clock()).status == "revoked"
