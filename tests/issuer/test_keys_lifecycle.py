"""Key lifecycle (SPEC §5.7) through `certmanager keys …`, observed over HTTP as a verifier sees it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from typing import Any

from jwcrypto import jwk, jws

from tests.cli_support import run_cli as cli
from tests.conftest import BASE_URL, FakeClock


def header_of(token: str) -> dict[str, Any]:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def payload_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def published_kids(client: Any) -> set[str]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return {k["kid"] for k in response.get_json(force=True)["keys"]}


def keys_list(runner: Any) -> list[dict[str, Any]]:
    result = cli(runner, "keys", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def active_kid(runner: Any) -> str:
    active = [k["kid"] for k in keys_list(runner) if k["state"] == "active"]
    assert len(active) == 1, active
    return active[0]


def verify(client: Any, token: str) -> dict[str, Any]:
    response = client.post("/api/v1/verify", json={"credential": token})
    assert response.status_code == 200
    return response.get_json()


def status_lists_verify_against_jwks(client: Any, *records: Any) -> None:
    """Every status list these credentials point to verifies against the published JWKS."""
    keyset = jwk.JWKSet.from_json(client.get("/.well-known/jwks.json").get_data(as_text=True))
    for url in {payload_of(r.jwt)["credentialStatus"]["statusListCredential"] for r in records}:
        token = client.get(url.removeprefix(BASE_URL)).get_data(as_text=True)
        header = header_of(token)
        key = keyset.get_key(header["kid"])
        assert key is not None, f"status list {url} is signed by a key that is not published"
        signed = jws.JWS()
        signed.deserialize(token)
        signed.verify(key, alg=header["alg"])


def test_keys_list_json(runner: Any, ctx: Any) -> None:
    rows = keys_list(runner)
    assert len(rows) == 1
    row = rows[0]
    assert set(row) >= {"kid", "alg", "state", "created_at"}
    assert row["state"] == "active"
    assert row["alg"] == "ES256"
    assert row["kid"].startswith(f"{BASE_URL}/keys/")


def test_rotate_keeps_old_credentials_valid(client: Any, runner: Any, factory: Any) -> None:
    old_kid = active_kid(runner)
    old = factory.certified("CNA-ENT")
    assert header_of(old.jwt)["kid"] == old_kid

    result = cli(runner, "keys", "rotate")
    assert result.exit_code == 0, result.output
    new_kid = result.stdout.strip()
    assert new_kid.startswith(f"{BASE_URL}/keys/") and new_kid != old_kid
    assert active_kid(runner) == new_kid
    states = {k["kid"]: k["state"] for k in keys_list(runner)}
    assert states[old_kid] != "active"

    assert published_kids(client) == {old_kid, new_kid}
    assert verify(client, old.jwt)["status"] == "valid"
    still_served = client.get(f"/keys/{old_kid.rsplit('/', 1)[-1]}")
    assert still_served.status_code == 200
    assert still_served.get_json(force=True)["kid"] == old_kid

    new = factory.certified("CNA-ENT")
    assert header_of(new.jwt)["kid"] == new_kid
    assert verify(client, new.jwt)["status"] == "valid"
    status_lists_verify_against_jwks(client, old, new)


def test_retire_waits_until_nothing_valid_depends_on_the_key(client: Any, runner: Any, factory: Any) -> None:
    old_kid = active_kid(runner)
    thumbprint = old_kid.rsplit("/", 1)[-1]
    first, second = factory.certified("CNA-ENT"), factory.certified("CNS-ENT")
    assert cli(runner, "keys", "rotate").exit_code == 0
    new_kid = active_kid(runner)

    refused = cli(runner, "keys", "retire", old_kid)
    assert refused.exit_code != 0
    assert "Traceback" not in refused.output
    assert old_kid in published_kids(client)
    assert verify(client, first.jwt)["status"] == "valid"

    assert cli(runner, "revoke", first.id, "--reason", "withdrawn").exit_code == 0
    still = cli(runner, "keys", "retire", old_kid)
    assert still.exit_code != 0  # `second` is still valid
    assert old_kid in published_kids(client)

    assert cli(runner, "revoke", second.id, "--reason", "withdrawn").exit_code == 0
    retired = cli(runner, "keys", "retire", old_kid)
    assert retired.exit_code == 0, retired.output

    assert published_kids(client) == {new_kid}
    gone = client.get(f"/keys/{thumbprint}")
    assert gone.status_code == 410
    assert gone.mimetype == "application/problem+json"
    # Lists the retired key had signed are re-signed by a published key, so verifiers keep working.
    status_lists_verify_against_jwks(client, first, second)
    fresh = factory.certified("CNA-ENT")
    assert verify(client, fresh.jwt)["status"] == "valid"


def test_retire_refuses_the_active_key_and_unknown_keys(client: Any, runner: Any) -> None:
    kid = active_kid(runner)
    refused = cli(runner, "keys", "retire", kid)
    assert refused.exit_code != 0
    assert kid in published_kids(client)
    for command in ("retire", "compromised"):
        unknown = cli(runner, "keys", command, f"{BASE_URL}/keys/{'A' * 43}")
        assert unknown.exit_code == 4, command
    assert kid in published_kids(client)


def test_retire_once_what_the_key_signed_has_expired(client: Any, runner: Any, factory: Any, clock: FakeClock) -> None:
    today = clock.now
    clock.now = datetime(2022, 6, 1, 9, 0, tzinfo=UTC)
    expired = factory.certified("CNA-ENT", exam_date=date(2020, 3, 1))  # expired 2023-03-01
    clock.now = today
    old_kid = active_kid(runner)
    assert header_of(expired.jwt)["kid"] == old_kid
    assert verify(client, expired.jwt)["status"] == "expired"
    assert cli(runner, "keys", "rotate").exit_code == 0

    retired = cli(runner, "keys", "retire", old_kid)
    assert retired.exit_code == 0, retired.output
    assert old_kid not in published_kids(client)
    assert {k["kid"]: k["state"] for k in keys_list(runner)}[old_kid] == "retired"
    status_lists_verify_against_jwks(client, expired)
    again = cli(runner, "keys", "retire", old_kid)
    assert again.exit_code != 0


def test_compromised_key_is_unpublished_at_once(client: Any, runner: Any, factory: Any, clock: FakeClock) -> None:
    kid = active_kid(runner)
    thumbprint = kid.rsplit("/", 1)[-1]
    today = clock.now
    clock.now = datetime(2022, 6, 1, 9, 0, tzinfo=UTC)
    expired = factory.certified("CNA-SEC", exam_date=date(2020, 3, 1))  # expired 2023-03-01
    clock.now = today
    withdrawn = factory.certified("CNS-SEC")
    assert cli(runner, "revoke", withdrawn.id, "--reason", "withdrawn").exit_code == 0
    signed = [factory.certified("CNA-ENT"), factory.certified("CNS-ENT"), expired, withdrawn]

    result = cli(runner, "keys", "compromised", kid)
    assert result.exit_code == 0, result.output

    assert kid not in published_kids(client)
    response = client.get(f"/keys/{thumbprint}")
    assert response.status_code == 410
    assert response.mimetype == "application/problem+json"
    assert response.get_json(force=True)["code"] == "key_compromised"

    for record in signed:
        outcome = verify(client, record.jwt)
        assert outcome["status"] == "key_compromised", outcome
        assert outcome["verified"] is False

    # A new active key took over; what it signs verifies, and so do the re-signed status lists.
    new_kid = active_kid(runner)
    assert new_kid != kid and new_kid in published_kids(client)
    fresh = factory.certified("CNA-ENT")
    assert header_of(fresh.jwt)["kid"] == new_kid
    assert verify(client, fresh.jwt)["status"] == "valid"
    status_lists_verify_against_jwks(client, *signed, fresh)


def test_compromised_with_reissue(client: Any, runner: Any, factory: Any) -> None:
    kid = active_kid(runner)
    signed = [factory.certified("CNA-ENT"), factory.certified("CNS-ENT")]
    revoked_before = factory.certified("CNA-SEC")
    assert cli(runner, "revoke", revoked_before.id, "--reason", "withdrawn").exit_code == 0

    result = cli(runner, "keys", "compromised", kid, "--reissue")
    assert result.exit_code == 0, result.output
    pairs = dict(line.split(" -> ") for line in result.stdout.strip().splitlines())
    assert set(pairs) == {r.id for r in signed}  # only the still-valid ones are reissued

    new_kid = active_kid(runner)
    assert new_kid != kid
    for record in signed:
        new_id = pairs[record.id]
        shown = cli(runner, "credentials", "show", new_id, "--format", "jwt")
        assert shown.exit_code == 0, shown.output
        new_token = shown.stdout.strip()
        assert header_of(new_token)["kid"] == new_kid
        assert verify(client, new_token)["status"] == "valid"

        old = verify(client, record.jwt)
        assert old["status"] == "key_compromised"
        assert old["superseded_by"] == f"{BASE_URL}/c/{new_id}"


def test_a_reissue_tells_each_candidate_once_with_the_new_links(app: Any, runner: Any, factory: Any) -> None:
    from sqlalchemy import select

    from issuer.db import get_session
    from issuer.models import Candidate, MailMessage

    kept = [factory.certified("CNA-ENT", first="Ada"), factory.certified("CNS-ENT", first="Grace")]
    result = cli(runner, "keys", "compromised", active_kid(runner), "--reissue")
    assert result.exit_code == 0, result.output
    pairs = dict(line.split(" -> ") for line in result.stdout.strip().splitlines())
    with app.app_context():
        session = get_session()
        messages = session.execute(select(MailMessage).where(MailMessage.kind == "credentials_reissued")).scalars()
        by_address = {m.to_addr: m for m in messages}
        for record in kept:
            candidate = session.get(Candidate, record.candidate_id)
            message = by_address.pop(candidate.email)
            assert message.body_text is not None and message.body_html is not None
            assert f"{BASE_URL}/c/{pairs[record.id]}" in message.body_text
            assert f"Hello {candidate.first_name}," in message.body_text
    assert by_address == {}  # one message per candidate, nobody else


def test_a_candidate_is_told_once_even_when_the_reissue_runs_in_several_batches(
    app: Any, runner: Any, factory: Any, clock: FakeClock, monkeypatch: Any
) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from issuer import runtime
    from issuer.db import get_session, unit_of_work
    from issuer.models import Candidate, MailMessage
    from issuer.services import certifications, key_compromise

    monkeypatch.setattr(key_compromise, "REISSUE_BATCH", 2)
    first = factory.certified("CNA-ENT", first="Ada")  # Ada's first, then Grace's, then Ada's second
    factory.certified("CNA-ENT", first="Grace")
    clock.advance(minutes=1)
    with app.app_context():
        session = get_session()
        with unit_of_work(session):
            ada = session.get(Candidate, first.candidate_id)
            assert ada is not None
            certifications.grant(
                session, runtime.of(app).ctx, ada, "CNS-ENT", (clock() - timedelta(days=1)).date(), now=clock()
            )
    result = cli(runner, "keys", "compromised", active_kid(runner), "--reissue")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 3
    with app.app_context():
        session = get_session()
        messages = session.execute(select(MailMessage).where(MailMessage.kind == "credentials_reissued")).scalars()
        recipients = sorted(m.to_addr for m in messages)
    assert len(recipients) == 2 == len(set(recipients))  # Ada once (both links), Grace once


def test_concurrent_rotations_leave_exactly_one_active_key(app: Any, clock: FakeClock) -> None:
    """Two admins rotating at once: both rotations happen, one after the other, and there is
    always exactly one active key (never two, which would leave nothing able to sign)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import select

    from issuer import runtime
    from issuer.models import SigningKeyRecord
    from issuer.services import keyring
    from keys import KeyState

    database, ctx = app.extensions["certmanager.db"], runtime.of(app).ctx
    start = threading.Barrier(4)

    def rotate(_: int) -> str:
        with database.session() as session:
            start.wait()
            return keyring.rotate(session, ctx, now=clock(), actor="cli").thumbprint

    with ThreadPoolExecutor(4) as pool:
        made = list(pool.map(rotate, range(4)))
    with database.session() as session:
        states = dict(session.execute(select(SigningKeyRecord.thumbprint, SigningKeyRecord.state)).all())
    assert len(set(made)) == 4 and all(thumbprint in states for thumbprint in made)
    assert list(states.values()).count(KeyState.ACTIVE.value) == 1


def test_nothing_issued_during_a_compromise_is_left_valid_under_the_compromised_key(
    app: Any, factory: Any, clock: FakeClock
) -> None:
    """Issuance racing `keys compromised`: every credential either was signed before and is
    revoked, or is signed by the new key — none is left signed by the compromised key unrevoked."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import select

    from issuer import runtime
    from issuer.db import unit_of_work
    from issuer.models import Candidate, CredentialRecord
    from issuer.services import certifications, key_compromise, keyring

    database, ctx = app.extensions["certmanager.db"], runtime.of(app).ctx
    for _round in range(4):  # a race: several rounds, each compromising the then-active key
        holders = [factory.certified("CNA-ENT").candidate_id for _ in range(6)]
        with database.session() as session:
            active = keyring.active_key(session)
            assert active is not None
            compromised = active.thumbprint
        start = threading.Barrier(len(holders) + 1)

        def grant(candidate_id: int, start: threading.Barrier = start) -> None:
            with database.session() as session:
                start.wait()
                with unit_of_work(session):
                    holder = session.get(Candidate, candidate_id)
                    assert holder is not None
                    certifications.grant(session, ctx, holder, "CNS-ENT", clock().date(), now=clock())

        def compromise(start: threading.Barrier = start, thumbprint: str = compromised) -> None:
            with database.session() as session:
                start.wait()
                key_compromise.mark_compromised(session, ctx, thumbprint, now=clock(), actor="cli")

        with ThreadPoolExecutor(len(holders) + 1) as pool:
            futures = [pool.submit(grant, h) for h in holders] + [pool.submit(compromise)]
            for future in futures:
                future.result()
        with database.session() as session:
            left = session.execute(
                select(CredentialRecord.id).where(
                    CredentialRecord.signed_by == compromised, CredentialRecord.revoked_at.is_(None)
                )
            ).all()
        assert left == []
