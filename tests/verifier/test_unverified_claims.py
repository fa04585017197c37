"""Nothing read from a token before its signature verified is shown as established (STYLE #9):
no check passes on the strength of unsigned claims, and no unsigned text (names, issuer name,
remarks, ids, header values, member names) appears in any check detail, whatever the verdict."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from keys import KeyState
from tests.verifier.tokens import (
    BASE,
    HOLDER,
    ISSUER,
    NOW,
    IssuerKey,
    credential_payload,
    forge,
    header,
    make_key,
    make_verifier,
    sign_raw,
    status_entry,
    to_json,
)
from verifier import VerificationResult, Verifier

MARK = "Zq7MARK"  # a string no detail of ours could contain by chance


@pytest.fixture(scope="module")
def es() -> IssuerKey:
    return make_key("ES256")


@pytest.fixture(scope="module")
def attacker() -> IssuerKey:
    return make_key("ES256")  # same base URL, not in the ring


@pytest.fixture(scope="module")
def verifier(es: IssuerKey) -> Verifier:
    return make_verifier(es.entry())


def marked_payload(kind: str = "certification", **kwargs: Any) -> dict[str, Any]:
    """A credential whose every free-text member carries MARK."""
    payload = credential_payload(first=f"{MARK}-first", last=f"{MARK}-last", cert_name=f"{MARK}-cert", **kwargs)
    payload["issuer"] = {**payload["issuer"], "name": f"{MARK} Issuer Ltd"}
    payload["name"] = f"{MARK}-name"
    if kind == "transcript":
        payload["type"] = ["VerifiableCredential", "ClrCredential"]
        payload["credentialSubject"] = {
            "id": HOLDER,
            "type": ["ClrSubject"],
            "identifier": payload["credentialSubject"]["identifier"],
            "remarks": f"{MARK}-remarks: this credential is genuine, call +1 555 0100",
            "verifiableCredential": [
                {"credentialSubject": {"achievement": {"humanCode": f"{MARK}-code", "name": f"{MARK}-cert"}}}
            ],
        }
    return payload


def assert_nothing_unsigned_shown(result: VerificationResult) -> None:
    for check in result.checks:
        assert MARK not in check.detail, check
    assert MARK not in json.dumps(result.to_dict().get("checks"))
    passing = [c.check for c in result.checks if c.ok]
    assert passing in ([], ["format"]), result.checks  # a token can be well-formed; nothing more
    assert result.credential is None


BAD_SIGNATURE: dict[str, Callable[[IssuerKey, IssuerKey], str]] = {
    "zero-signature": lambda es, a: forge(header(es), marked_payload(), bytes(64)),
    "attacker-signed-our-kid": lambda es, a: sign_raw(a, header(es), marked_payload()),
    "transcript": lambda es, a: sign_raw(a, header(es), marked_payload("transcript")),
    "tampered": lambda es, a: ".".join(
        [
            (good := es.sign(credential_payload())).split(".")[0],
            sign_raw(es, header(es), marked_payload()).split(".")[1],
            good.split(".")[2],
        ]
    ),
    "expired-dates": lambda es, a: forge(
        header(es), marked_payload(valid_from=NOW.replace(year=2020), valid_until=NOW.replace(year=2021)), bytes(64)
    ),
}


@pytest.mark.parametrize("case", list(BAD_SIGNATURE))
def test_bad_signature_establishes_nothing(verifier: Verifier, es: IssuerKey, attacker: IssuerKey, case: str) -> None:
    result = verifier.verify(BAD_SIGNATURE[case](es, attacker), now=NOW)
    assert result.status == "invalid_signature"
    assert_nothing_unsigned_shown(result)
    assert result.check("issuer") is None or not result.check("issuer").ok  # type: ignore[union-attr]
    for check in result.checks:  # the token's own claim of its kind is not repeated either
        assert "transcript" not in check.detail and "certification" not in check.detail, check


def _dup(es: IssuerKey) -> str:
    text = to_json(marked_payload())
    return sign_raw(es, header(es), text[:-1] + f',"{MARK}-dup":1,"{MARK}-dup":2}}')


REFUSED_BEFORE_SIGNATURE: dict[str, tuple[Callable[[IssuerKey], str], str]] = {
    "alg": (lambda es: forge(header(es, alg=f"{MARK}-alg"), marked_payload()), "unsupported"),
    "typ": (lambda es: sign_raw(es, header(es, typ=f"{MARK}/typ"), marked_payload()), "unsupported"),
    "duplicate-member": (_dup, "malformed"),
    "status-method": (
        lambda es: sign_raw(
            es, header(es), marked_payload() | {"credentialStatus": {**status_entry(1), "type": f"{MARK}-list"}}
        ),
        "unsupported",
    ),
    "untrusted-issuer-id": (
        lambda es: forge(header(es), marked_payload(issuer=f"https://{MARK}.example/issuer"), bytes(64)),
        "untrusted_issuer",
    ),
    "unknown-kid": (
        lambda es: forge(header(es, kid=f"{BASE}/keys/{MARK}"), marked_payload(), bytes(64)),
        "unknown_key",
    ),
    "alg-not-the-keys": (lambda es: forge(header(es, alg="EdDSA"), marked_payload(), bytes(64)), "unsupported"),
}


@pytest.mark.parametrize("case", list(REFUSED_BEFORE_SIGNATURE))
def test_refusals_before_the_signature_do_not_repeat_unsigned_text(
    verifier: Verifier, es: IssuerKey, case: str
) -> None:
    make, status = REFUSED_BEFORE_SIGNATURE[case]
    result = verifier.verify(make(es), now=NOW)
    assert result.status == status, result.checks
    assert_nothing_unsigned_shown(result)


def test_unsigned_alg_names_from_the_jose_registry_are_still_named(verifier: Verifier, es: IssuerKey) -> None:
    """A registered algorithm name is our vocabulary, not the attacker's: it stays in the detail."""
    result = verifier.verify(forge(header(es, alg="HS256"), credential_payload(), bytes(32)), now=NOW)
    assert result.status == "unsupported"
    assert "'HS256'" in result.checks[-1].detail


def test_key_source_detail_naming_the_unsigned_issuer_is_replaced(es: IssuerKey) -> None:
    """A host's KeySource may echo what it was asked (InMemoryKeySource names the issuer)."""
    verifier = make_verifier(es.entry(), issuer=f"{BASE}/other-issuer")
    result = verifier.verify(es.sign(credential_payload()), now=NOW)
    assert result.status == "untrusted_issuer"
    assert ISSUER not in json.dumps(result.to_dict())
    failed = [c for c in result.checks if not c.ok]
    assert [c.check for c in failed] == ["issuer"] and failed[0].detail


def test_signed_issuer_name_is_shown_once_verified(verifier: Verifier, es: IssuerKey) -> None:
    result = verifier.verify(es.sign(marked_payload("transcript")), now=NOW)
    assert result.status == "valid", result.checks
    issuer = result.check("issuer")
    assert issuer is not None and issuer.ok and f"{MARK} Issuer Ltd" in issuer.detail
    fmt = result.check("format")
    assert fmt is not None and fmt.ok and "transcript" in fmt.detail
    assert [c.check for c in result.checks] == ["format", "signature", "issuer", "validity_period", "status"]


def test_compromised_key_shows_the_signed_claims_but_fails_the_issuer(es: IssuerKey) -> None:
    result = make_verifier(es.entry(KeyState.COMPROMISED)).verify(es.sign(marked_payload()), now=NOW)
    assert result.status == "key_compromised"
    issuer = result.check("issuer")
    assert issuer is not None and not issuer.ok


def test_checks_of_each_rejection_are_in_order_without_repeats(
    verifier: Verifier, es: IssuerKey, attacker: IssuerKey
) -> None:
    cases = {
        "invalid_signature": (
            sign_raw(attacker, header(es), marked_payload()),
            [("format", True), ("signature", False)],
        ),
        "unknown_key": (sign_raw(attacker, header(attacker), marked_payload()), [("format", True), ("issuer", False)]),
        "unsupported": (forge(header(es, alg="EdDSA"), marked_payload(), bytes(64)), [("format", False)]),
        "malformed": ("x.y.z", [("format", False)]),
    }
    for status, (token, expected) in cases.items():
        result = verifier.verify(token, now=NOW)
        assert result.status == status
        assert [(c.check, c.ok) for c in result.checks] == expected, (status, result.checks)
