"""SECURITY.md A1: every JWT attack the verifier must reject, with the SPEC §3.6 status it
must report, plus the precedence rules of §3.6 when several failures apply."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keys import KeyRing, KeyState, jwk_thumbprint
from tests.verifier.tokens import (
    BASE,
    CRED_URL,
    ISSUER,
    NOW,
    STATUS_INDEX,
    STATUS_URL,
    VALID_UNTIL,
    DictDetails,
    IssuerKey,
    TokenStatusSource,
    b64,
    check_ok,
    credential_payload,
    forge,
    header,
    make_key,
    make_verifier,
    sign_raw,
    status_list,
    status_list_payload,
    to_json,
    ts,
)
from verifier import LEEWAY, InMemoryKeySource, RevocationInfo, StatusList, VerificationResult, Verifier
from verifier.jws import MAX_TOKEN_BYTES

EVIL = "https://evil.example"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# Statuses decided before (or instead of) a successful signature check: no credential disclosed.
PRE_SIGNATURE = {"malformed", "unsupported", "untrusted_issuer", "unknown_key", "invalid_signature"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def es() -> IssuerKey:
    """The issuer's active ES256 key."""
    return make_key("ES256")


@pytest.fixture(scope="module")
def ed() -> IssuerKey:
    """A second (EdDSA) key of the same issuer, still verifying."""
    return make_key("EdDSA")


@pytest.fixture(scope="module")
def attacker() -> IssuerKey:
    return make_key("ES256", base=EVIL)


@pytest.fixture(scope="module")
def attacker_ed() -> IssuerKey:
    return make_key("EdDSA", base=EVIL)


@pytest.fixture(scope="module")
def verifier(es: IssuerKey, ed: IssuerKey) -> Verifier:
    return make_verifier(es.entry(), ed.entry(KeyState.VERIFY))


@pytest.fixture(scope="module")
def legit(es: IssuerKey) -> str:
    """A valid credential signed through the product's own SigningKey.sign."""
    return es.sign(credential_payload(), typ="JWT")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records (and refuses) every attempt to open a connection or resolve a name."""
    attempts: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def _refuse(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{name}{args[1:] if name.startswith('socket.socket') else args}")
            raise OSError(f"network access attempted: {name}")

        return _refuse

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urllib.request.urlopen"))
    monkeypatch.setattr(http.client.HTTPConnection, "connect", refuse("http.client.HTTPConnection.connect"))
    return attempts


def check(result: VerificationResult, status: str) -> None:
    """The result has `status`; `verified` only for valid; nothing disclosed without a signature."""
    assert result.status == status, [(c.check, c.ok, c.detail) for c in result.checks]
    assert result.verified is (status == "valid")
    as_dict = json.loads(json.dumps(result.to_dict()))
    assert as_dict["verified"] is (status == "valid")
    assert as_dict["status"] == status
    if status == "valid":
        assert all(c.ok for c in result.checks)
    else:
        assert any(not c.ok for c in result.checks), "a rejection must record a failed check"
    if status in PRE_SIGNATURE:
        assert result.credential is None
        assert "credential" not in as_dict


# --------------------------------------------------------------------------- baseline


def test_baseline_legit_es256_credential_is_valid(verifier: Verifier, legit: str) -> None:
    result = verifier.verify(legit, now=NOW)
    check(result, "valid")
    assert result.credential is not None and result.credential["id"] == CRED_URL


def test_baseline_legit_eddsa_credential_is_valid(verifier: Verifier, ed: IssuerKey) -> None:
    check(verifier.verify(ed.sign(credential_payload()), now=NOW), "valid")


# --------------------------------------------------------------------------- A1 #1 alg none


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("with_kid", [True, False], ids=["kid", "no-kid"])
def test_alg_none_is_unsupported(verifier: Verifier, es: IssuerKey, alg: str, with_kid: bool) -> None:
    hdr = header(es, alg=alg) if with_kid else {"alg": alg, "typ": "JWT"}
    token = forge(hdr, credential_payload())  # `hdr.payload.` with an empty signature
    assert token.endswith(".")
    check(verifier.verify(token, now=NOW), "unsupported")


# --------------------------------------------------------------------------- A1 #2 signature not checked


def test_tampered_payload_with_old_signature_is_invalid_signature(verifier: Verifier, legit: str) -> None:
    hdr, _, sig = legit.split(".")
    forged = credential_payload(valid_until=VALID_UNTIL + timedelta(days=3650), first="Mallory")
    check(verifier.verify(f"{hdr}.{b64(to_json(forged))}.{sig}", now=NOW), "invalid_signature")


def test_tampered_header_with_old_signature_is_invalid_signature(verifier: Verifier, es: IssuerKey, legit: str) -> None:
    _, payload, sig = legit.split(".")
    other = b64(to_json(header(es, typ="vc+jwt")))
    check(verifier.verify(f"{other}.{payload}.{sig}", now=NOW), "invalid_signature")


def test_stripped_signature_is_invalid_signature(verifier: Verifier, legit: str) -> None:
    hdr, payload, _ = legit.split(".")
    check(verifier.verify(f"{hdr}.{payload}.", now=NOW), "invalid_signature")


def test_signature_transplanted_from_another_credential_is_invalid_signature(
    verifier: Verifier, es: IssuerKey, legit: str
) -> None:
    other = es.sign(credential_payload(first="Mallory"))
    hdr, payload, _ = other.split(".")
    check(verifier.verify(f"{hdr}.{payload}.{legit.split('.')[2]}", now=NOW), "invalid_signature")


# --------------------------------------------------------------------------- A1 #3 algorithm confusion


def _pem(key: IssuerKey) -> bytes:
    public = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(key.public_jwk))
    assert isinstance(public, ec.EllipticCurvePublicKey)
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("hs", ["HS256", "HS512"])
@pytest.mark.parametrize("secret_kind", ["pem", "pem-no-newline", "published-jwk-json", "thumbprint-jwk-json"])
def test_hmac_keyed_with_the_issuer_public_key_is_unsupported(
    verifier: Verifier, es: IssuerKey, hs: str, secret_kind: str
) -> None:
    jwk = es.public_jwk
    secret = {
        "pem": _pem(es),
        "pem-no-newline": _pem(es).rstrip(b"\n"),
        "published-jwk-json": json.dumps(jwk).encode(),
        "thumbprint-jwk-json": json.dumps(
            {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":")
        ).encode(),
    }[secret_kind]
    signing_input = f"{b64(to_json(header(es, alg=hs)))}.{b64(to_json(credential_payload()))}"
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[hs]
    mac = hmac.new(secret, signing_input.encode("ascii"), digest).digest()
    check(verifier.verify(f"{signing_input}.{b64(mac)}", now=NOW), "unsupported")


# --------------------------------------------------------------------------- A1 #4 psychic signature


@pytest.mark.parametrize(
    "signature",
    [
        bytes(64),
        P256_ORDER.to_bytes(32, "big") * 2,
        bytes(32) + P256_ORDER.to_bytes(32, "big"),
        (1).to_bytes(32, "big") + P256_ORDER.to_bytes(32, "big"),
        b"\xff" * 64,
    ],
    ids=["zeros", "r=s=n", "r=0,s=n", "r=1,s=n", "all-ff"],
)
def test_psychic_es256_signature_is_invalid_signature(verifier: Verifier, es: IssuerKey, signature: bytes) -> None:
    check(verifier.verify(forge(header(es), credential_payload(), signature), now=NOW), "invalid_signature")


def test_der_encoded_es256_signature_is_invalid_signature(verifier: Verifier, es: IssuerKey) -> None:
    """JWS ES256 is raw r||s; a DER signature (what cryptography returns) must not pass."""
    signing_input = f"{b64(to_json(header(es)))}.{b64(to_json(credential_payload()))}"
    private = es.signing._private  # noqa: SLF001
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    der = private.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    check(verifier.verify(f"{signing_input}.{b64(der)}", now=NOW), "invalid_signature")


# --------------------------------------------------------------------------- A1 #5 jwk header injection


def test_jwk_header_with_our_kid_and_attacker_signature_is_invalid_signature(
    verifier: Verifier, es: IssuerKey, attacker: IssuerKey
) -> None:
    hdr = header(es, jwk=attacker.public_jwk | {"kid": es.kid})
    check(verifier.verify(sign_raw(attacker, hdr, credential_payload()), now=NOW), "invalid_signature")


def test_jwk_header_without_kid_is_unsupported(verifier: Verifier, attacker: IssuerKey) -> None:
    hdr = {"alg": "ES256", "typ": "JWT", "jwk": attacker.public_jwk}
    check(verifier.verify(sign_raw(attacker, hdr, credential_payload()), now=NOW), "unsupported")


def test_jwk_header_with_the_attacker_kid_is_unknown_key(verifier: Verifier, attacker: IssuerKey) -> None:
    hdr = header(attacker, jwk=attacker.public_jwk)
    check(verifier.verify(sign_raw(attacker, hdr, credential_payload()), now=NOW), "unknown_key")


# --------------------------------------------------------------------------- A1 #6 jku / x5u (SSRF)


@pytest.mark.parametrize(
    "member,value",
    [
        ("jku", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
        ("jku", f"{EVIL}/.well-known/jwks.json"),
        ("jku", f"{BASE}/.well-known/jwks.json"),
        ("x5u", "http://127.0.0.1:8080/cert.pem"),
        ("x5c", ["MIIBszCCAVmgAwIBAgIUQ2FmZUJhYmU="]),
    ],
)
@pytest.mark.parametrize("signer", ["issuer", "attacker"])
def test_token_named_key_source_is_unsupported_without_fetching(
    verifier: Verifier, es: IssuerKey, attacker: IssuerKey, no_network: list[str], member: str, value: Any, signer: str
) -> None:
    if signer == "issuer":  # otherwise perfectly valid: only the key-source member is wrong
        token = sign_raw(es, header(es, **{member: value}), credential_payload())
    else:
        token = sign_raw(attacker, header(attacker, **{member: value}), credential_payload())
    check(verifier.verify(token, now=NOW), "unsupported")
    assert no_network == []


def test_network_guard_really_catches_fetches(no_network: list[str]) -> None:
    """The guard used above is not a no-op."""
    with pytest.raises(OSError):
        urllib.request.urlopen("http://169.254.169.254/")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9))
    assert len(no_network) == 2


# --------------------------------------------------------------------------- A1 #7 kid injection


@pytest.mark.parametrize(
    "kid_of",
    [
        lambda es: "../../dev/null",
        lambda es: "x' UNION SELECT public_jwk FROM signing_keys--",
        lambda es: "' OR '1'='1",
        lambda es: "/dev/null",
        lambda es: es.kid.replace("/keys/", "/keys/../keys/"),
        lambda es: es.kid.upper(),
        lambda es: es.kid + "\u0000",
        lambda es: jwk_thumbprint(es.public_jwk),  # the bare thumbprint, not the URL
        lambda es: f"{BASE}/keys/urn:ietf:params:oauth:jwk-thumbprint:sha-256:{jwk_thumbprint(es.public_jwk)}",
    ],
    ids=[
        "dotdot",
        "sql-union",
        "sql-or",
        "abs-path",
        "path-normalisation",
        "case",
        "nul",
        "bare-thumbprint",
        "urn-form",
    ],
)
def test_kid_injection_is_unknown_key(verifier: Verifier, es: IssuerKey, kid_of: Callable[[IssuerKey], str]) -> None:
    token = sign_raw(es, header(es, kid=kid_of(es)), credential_payload())  # signed by the real key
    check(verifier.verify(token, now=NOW), "unknown_key")


# --------------------------------------------------------------------------- A1 #8 crit


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["x-policy"], "x-policy": "admin"},
        {"crit": ["b64"], "b64": False},
        {"crit": ["exp"]},
        {"crit": []},
    ],
    ids=["x-policy", "b64", "exp", "empty"],
)
def test_unknown_crit_is_unsupported(verifier: Verifier, es: IssuerKey, extra: dict[str, Any]) -> None:
    token = sign_raw(es, header(es, **extra), credential_payload())
    check(verifier.verify(token, now=NOW), "unsupported")


# --------------------------------------------------------------------------- A1 #9 time


def test_expired(verifier: Verifier, es: IssuerKey) -> None:
    payload = credential_payload(valid_from=NOW - timedelta(days=800), valid_until=NOW - timedelta(days=1))
    result = verifier.verify(es.sign(payload), now=NOW)
    check(result, "expired")
    assert result.credential is not None  # signature verified: the credential is shown
    assert check_ok(result, "validity_period") is False


def test_not_yet_valid(verifier: Verifier, es: IssuerKey) -> None:
    payload = credential_payload(valid_from=NOW + timedelta(days=1))
    check(verifier.verify(es.sign(payload), now=NOW), "not_yet_valid")


def test_not_yet_valid_from_nbf_alone(verifier: Verifier, es: IssuerKey) -> None:
    payload = credential_payload(valid_from=None)
    payload["nbf"] = ts(NOW + timedelta(hours=2))
    check(verifier.verify(sign_raw(es, header(es), payload), now=NOW), "not_yet_valid")


def test_expired_from_exp_alone(verifier: Verifier, es: IssuerKey) -> None:
    payload = credential_payload(valid_until=None)
    payload["exp"] = ts(NOW - timedelta(hours=2))
    check(verifier.verify(sign_raw(es, header(es), payload), now=NOW), "expired")


@pytest.mark.parametrize(
    "offset,status",
    [(timedelta(seconds=0), "valid"), (LEEWAY, "valid"), (LEEWAY + timedelta(seconds=1), "expired")],
    ids=["at-exp", "exp+60s", "exp+61s"],
)
def test_exp_leeway_is_60_seconds(verifier: Verifier, es: IssuerKey, offset: timedelta, status: str) -> None:
    assert LEEWAY <= timedelta(seconds=60)
    token = es.sign(credential_payload(valid_until=VALID_UNTIL))
    check(verifier.verify(token, now=VALID_UNTIL + offset), status)


@pytest.mark.parametrize(
    "offset,status",
    [(timedelta(seconds=0), "valid"), (LEEWAY, "valid"), (LEEWAY + timedelta(seconds=1), "not_yet_valid")],
    ids=["at-nbf", "nbf-60s", "nbf-61s"],
)
def test_nbf_leeway_is_60_seconds(verifier: Verifier, es: IssuerKey, offset: timedelta, status: str) -> None:
    start = NOW + timedelta(days=2)
    token = es.sign(credential_payload(valid_from=start))
    check(verifier.verify(token, now=start - offset), status)


def test_no_exp_and_no_valid_until_means_no_end_date(verifier: Verifier, es: IssuerKey) -> None:
    payload = credential_payload(valid_until=None)
    assert "exp" not in payload and "validUntil" not in payload
    token = es.sign(payload)
    for when in (NOW, NOW + timedelta(days=365 * 60)):
        result = verifier.verify(token, now=when)
        check(result, "valid")
        assert result.credential is not None and result.credential["valid_until"] is None
        assert result.credential["certifications"][0]["valid_until"] is None


def test_far_future_valid_until_is_valid(verifier: Verifier, es: IssuerKey) -> None:
    """'9999-12-31T23:59:59Z' is a common 'never expires' value; it must verify, not crash."""
    end = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    result = verifier.verify(es.sign(credential_payload(valid_until=end)), now=NOW)
    check(result, "valid")
    assert result.credential is not None and result.credential["valid_until"] == "9999-12-31T23:59:59Z"


# --------------------------------------------------------------------------- A1 #10 claim types


def _without(*names: str) -> Callable[[dict[str, Any]], None]:
    def mutate(p: dict[str, Any]) -> None:
        for name in names:
            p.pop(name, None)

    return mutate


def _set(**values: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(p: dict[str, Any]) -> None:
        for name, value in values.items():
            if callable(value):
                p[name] = value(p)
            else:
                p[name] = value

    return mutate


def _chain(*steps: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(p: dict[str, Any]) -> None:
        for step in steps:
            step(p)

    return mutate


CLAIM_TYPE_CASES = {
    "exp-string": _set(exp=lambda p: str(p["exp"])),
    "exp-float": _set(exp=lambda p: float(p["exp"])),
    "exp-float-fraction": _set(exp=lambda p: p["exp"] + 0.5),
    "exp-bool": _set(exp=True),
    "exp-null": _set(exp=None),
    "exp-list": _set(exp=lambda p: [p["exp"]]),
    "nbf-string": _set(nbf=lambda p: str(p["nbf"])),
    "nbf-float": _set(nbf=lambda p: float(p["nbf"])),
    "nbf-bool": _set(nbf=False),
    "iat-string": _set(iat="1795862798"),
    "iss-list": _set(iss=[ISSUER]),
    "iss-did-web": _set(iss="did:web:cm.example"),
    "iss-prefix": _set(iss=f"{BASE}/iss"),
    "iss-superstring": _set(iss=f"{ISSUER}/x"),
    "iss-null": _set(iss=None),
    "iss-missing": _without("iss"),
    "jti-int": _set(jti=1),
    "jti-list": _set(jti=[CRED_URL]),
    "sub-list": _set(sub=["urn:uuid:someone-else"]),
    # Integers outside what a date can hold (no validUntil/validFrom to compare against).
    "exp-out-of-range": _chain(_without("validUntil"), _set(exp=10**20)),
    "exp-year-36812": _chain(_without("validUntil"), _set(exp=2**40)),
    "nbf-out-of-range": _chain(_without("validFrom"), _set(nbf=-(10**20))),
}


@pytest.mark.parametrize("case", list(CLAIM_TYPE_CASES))
def test_claim_type_confusion_is_malformed(verifier: Verifier, es: IssuerKey, case: str) -> None:
    payload = credential_payload()
    CLAIM_TYPE_CASES[case](payload)
    token = sign_raw(es, header(es), payload)  # validly signed: only the claim is wrong
    check(verifier.verify(token, now=NOW), "malformed")


@pytest.mark.parametrize("signer", ["foreign-key", "our-key"])
def test_foreign_issuer_is_untrusted(verifier: Verifier, es: IssuerKey, attacker: IssuerKey, signer: str) -> None:
    """iss is a well-formed string equal to issuer.id, but not an issuer this verifier trusts."""
    payload = credential_payload(issuer=f"{EVIL}/issuer")
    assert payload["iss"] == payload["issuer"]["id"]
    key = attacker if signer == "foreign-key" else es
    check(verifier.verify(sign_raw(key, header(key), payload), now=NOW), "untrusted_issuer")


# --------------------------------------------------------------------------- A1 #11 typ confusion


@pytest.mark.parametrize(
    "typ",
    [
        "at+jwt",
        "application/at+jwt",
        "kb+jwt",
        "openid4vci-proof+jwt",
        "dc+sd-jwt",
        "vc+sd-jwt",
        "statuslist+jwt",
        "vp+jwt",
        "JOSE",
        "JWTx",
    ],
)
def test_wrong_typ_is_unsupported(verifier: Verifier, es: IssuerKey, typ: str) -> None:
    token = sign_raw(es, header(es, typ=typ), credential_payload())
    check(verifier.verify(token, now=NOW), "unsupported")


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "vc+jwt", "application/vc+jwt"], ids=str)
def test_accepted_typ_is_valid(verifier: Verifier, es: IssuerKey, typ: str | None) -> None:
    hdr = header(es, typ=typ) if typ else header(es, typ=None)
    assert ("typ" in hdr) is (typ is not None)
    check(verifier.verify(sign_raw(es, hdr, credential_payload()), now=NOW), "valid")


# --------------------------------------------------------------------------- A1 #12 duplicate members


def _payload_json() -> str:
    return to_json(credential_payload())


DUPLICATE_PAYLOADS = {
    "sub-twice": lambda: _payload_json()[:-1] + ',"sub":"admin"}',
    "iss-twice": lambda: _payload_json()[:-1] + f',"iss":"{EVIL}/issuer"' + "}",
    "exp-twice": lambda: _payload_json()[:-1] + ',"exp":4102444800}',
    "escaped-spelling": lambda: _payload_json()[:-1] + ',"s\\u0075b":"admin"}',
    "nested-achievement-name": lambda: _payload_json().replace('"achievement":{', '"achievement":{"name":"Forged",', 1),
    "nested-status-index": lambda: _payload_json().replace(
        '"statusListIndex":', '"statusListIndex":"1","statusListIndex":', 1
    ),
}


@pytest.mark.parametrize("case", list(DUPLICATE_PAYLOADS))
def test_duplicate_payload_members_are_malformed(verifier: Verifier, es: IssuerKey, case: str) -> None:
    raw = DUPLICATE_PAYLOADS[case]()
    assert raw != _payload_json()
    check(verifier.verify(sign_raw(es, header(es), raw), now=NOW), "malformed")


@pytest.mark.parametrize(
    "raw_header",
    [
        lambda es: f'{{"alg":"ES256","kid":"{es.kid}","typ":"JWT","alg":"none"}}',
        lambda es: f'{{"alg":"none","kid":"{es.kid}","typ":"JWT","alg":"ES256"}}',
        lambda es: f'{{"alg":"ES256","kid":"../../dev/null","typ":"JWT","kid":"{es.kid}"}}',
        lambda es: f'{{"alg":"ES256","kid":"{es.kid}","typ":"at+jwt","typ":"JWT"}}',
    ],
    ids=["alg-none-last", "alg-none-first", "kid-twice", "typ-twice"],
)
def test_duplicate_header_members_are_malformed(
    verifier: Verifier, es: IssuerKey, raw_header: Callable[[IssuerKey], str]
) -> None:
    check(verifier.verify(sign_raw(es, raw_header(es), credential_payload()), now=NOW), "malformed")


# --------------------------------------------------------------------------- A1 #13 nested JWT


@pytest.mark.parametrize("cty", ["JWT", "jwt", "application/jwt"])
def test_cty_jwt_is_unsupported(verifier: Verifier, es: IssuerKey, cty: str) -> None:
    """A validly signed credential whose header declares a nested JWT is refused by policy."""
    token = sign_raw(es, header(es, cty=cty), credential_payload())
    check(verifier.verify(token, now=NOW), "unsupported")


def test_really_nested_jwt_is_rejected(verifier: Verifier, es: IssuerKey) -> None:
    """Outer token validly signed by the issuer, payload an `alg: none` credential.

    Both `cty: JWT` (unsupported) and "the payload has no claims" (malformed) apply; SPEC §3.6
    reports the first of the priority list, malformed. What matters for A1 #13 is that the inner
    token is never accepted."""
    inner = forge({"alg": "none", "typ": "JWT"}, credential_payload())
    signing_input = f"{b64(to_json(header(es, cty='JWT')))}.{b64(inner)}"
    token = f"{signing_input}.{b64(es.raw_signature(signing_input.encode('ascii')))}"
    check(verifier.verify(token, now=NOW), "malformed")


def test_cty_vc_is_accepted(verifier: Verifier, es: IssuerKey) -> None:
    """VC-JOSE-COSE's `cty: vc` is not a nested JWT."""
    token = sign_raw(es, header(es, typ="vc+jwt", cty="vc"), credential_payload())
    check(verifier.verify(token, now=NOW), "valid")


# --------------------------------------------------------------------------- A1 #14 huge token


def _sized_token(es: IssuerKey, target: int) -> str:
    """A validly signed credential of exactly `target` characters (padding inside the payload)."""
    base = credential_payload()
    for typ in ("JWT", "vc+jwt", None):
        hdr = header(es, typ=typ)
        head = len(b64(to_json(hdr))) + 2 + 86  # two dots and an ES256 signature
        unpadded = len(to_json(dict(base, description="")))
        wanted = (target - head) * 3 // 4 - unpadded  # description length giving about `target`
        for pad in range(max(0, wanted - 3), wanted + 4):
            payload = dict(base, description="x" * pad)
            if head + len(b64(to_json(payload))) == target:
                token = sign_raw(es, hdr, payload)
                assert len(token) == target
                return token
    raise AssertionError(f"cannot build a token of exactly {target} characters")


def test_token_over_64_kib_is_malformed(verifier: Verifier, es: IssuerKey) -> None:
    token = _sized_token(es, MAX_TOKEN_BYTES + 1)
    check(verifier.verify(token, now=NOW), "malformed")


def test_token_of_exactly_64_kib_is_still_verified(verifier: Verifier, es: IssuerKey) -> None:
    assert MAX_TOKEN_BYTES == 64 * 1024
    check(verifier.verify(_sized_token(es, MAX_TOKEN_BYTES), now=NOW), "valid")


def test_huge_token_is_malformed(verifier: Verifier, es: IssuerKey) -> None:
    payload = dict(credential_payload(), description="x" * 2_000_000)
    check(verifier.verify(sign_raw(es, header(es), payload), now=NOW), "malformed")


@pytest.mark.parametrize("envelope", ["json", "raw"])
def test_api_refuses_a_body_over_64_kib_with_413(client: Any, es: IssuerKey, envelope: str) -> None:
    token = _sized_token(es, MAX_TOKEN_BYTES + 4096)
    if envelope == "json":
        response = client.post("/api/v1/verify", json={"credential": token})
    else:
        response = client.post("/api/v1/verify", data=token, content_type="application/vc+jwt")
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 413


def test_api_small_bad_token_is_200_malformed(client: Any) -> None:
    for body in ({"credential": ""}, {"credential": "a.b"}):
        response = client.post("/api/v1/verify", json=body)
        assert response.status_code == 200
        assert response.get_json()["status"] == "malformed"
        assert response.get_json()["verified"] is False


def test_api_unsigned_out_of_range_exp_is_200_malformed_not_500(client: Any, es: IssuerKey) -> None:
    """Claims are read before any signature check, so anyone can send this; it must not crash."""
    payload = credential_payload(valid_until=None)
    payload["exp"] = 10**20
    response = client.post("/api/v1/verify", json={"credential": forge(header(es), payload, bytes(64))})
    assert response.status_code == 200
    assert response.get_json()["status"] == "malformed"


# --------------------------------------------------------------------------- A1 #15 malformed encodings


def _legit(es: IssuerKey) -> str:
    return sign_raw(es, header(es), credential_payload())


def _signed_payload(raw: str) -> Callable[[IssuerKey], str]:
    return lambda es: sign_raw(es, header(es), raw)


def _noncanonical(es: IssuerKey) -> str:
    token = _legit(es)
    last = token[-1]  # 64-byte signature: the last character carries 4 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = alphabet.index(last)
    return token[:-1] + alphabet[value | 0b0001 if value & 0b1111 == 0 else value & ~0b1111]


def _padded_segment(es: IssuerKey) -> str:
    hdr, payload, sig = _legit(es).split(".")
    return f"{hdr}.{payload}.{sig}{'=' * (-len(sig) % 4) or '=='}"


def _raw_bytes_payload(es: IssuerKey) -> str:
    not_utf8 = b64(b"\xff\xfe{}")
    signing_input = f"{b64(to_json(header(es)))}.{not_utf8}"
    return f"{signing_input}.{b64(es.raw_signature(signing_input.encode('ascii')))}"


MALFORMED = {
    "empty": lambda es: "",
    "whitespace-only": lambda es: "  \n\t ",
    "dots-only": lambda es: "..",
    "one-dot": lambda es: ".",
    "space-inside-payload": lambda es: (t := _legit(es))[:40] + " " + t[40:],
    "space-after-dot": lambda es: _legit(es).replace(".", ". ", 1),
    "newline-inside": lambda es: (t := _legit(es))[:40] + "\n" + t[40:],
    "question-mark-inside": lambda es: (t := _legit(es))[:40] + "?" + t[40:],
    "question-mark-suffix": lambda es: _legit(es) + "?",
    "padding": _padded_segment,
    "padding-header": lambda es: _legit(es).replace(".", "==.", 1),
    "std-base64-plus": lambda es: (t := _legit(es))[:40] + "+" + t[41:],
    "std-base64-slash": lambda es: (t := _legit(es))[:40] + "/" + t[41:],
    "non-canonical-base64": _noncanonical,
    "non-ascii": lambda es: (t := _legit(es))[:40] + "é" + t[40:],
    "two-segments": lambda es: ".".join(_legit(es).split(".")[:2]),
    "four-segments": lambda es: _legit(es) + ".AAAA",
    "five-segments-jwe": lambda es: _legit(es) + ".AAAA.AAAA",
    "header-not-json": lambda es: forge("not json", credential_payload(), bytes(64)),
    "payload-not-json": _signed_payload("this is not json"),
    "payload-array": _signed_payload('[{"iss":"' + ISSUER + '"}]'),
    "payload-string": _signed_payload('"a string"'),
    "payload-number": _signed_payload("12345"),
    "payload-null": _signed_payload("null"),
    "payload-empty": _signed_payload(""),
    "payload-trailing-garbage": lambda es: sign_raw(es, header(es), to_json(credential_payload()) + " x"),
    "payload-nan": lambda es: sign_raw(es, header(es), to_json(credential_payload())[:-1] + ',"iat":NaN}'),
    "payload-infinity": lambda es: sign_raw(es, header(es), to_json(credential_payload())[:-1] + ',"iat":Infinity}'),
    "payload-deeply-nested": _signed_payload('{"iss":"x","a":' + "[" * 20000 + "]" * 20000 + "}"),
    "payload-bom": lambda es: sign_raw(es, header(es), "\ufeff" + to_json(credential_payload())),
    "payload-not-utf8": _raw_bytes_payload,
    "header-array": lambda es: sign_raw(es, f"[{to_json(header(es))}]", credential_payload()),
    "payload-huge-int": _signed_payload('{"iss":"x","exp":' + "9" * 5000 + "}"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_encoding_is_malformed(verifier: Verifier, es: IssuerKey, case: str) -> None:
    token = MALFORMED[case](es)
    check(verifier.verify(token, now=NOW), "malformed")


def test_payload_without_claims_is_malformed(verifier: Verifier, es: IssuerKey) -> None:
    check(verifier.verify(sign_raw(es, header(es), {}), now=NOW), "malformed")


# --------------------------------------------------------------------------- token confusion


def test_status_list_credential_posted_as_credential_is_unsupported(verifier: Verifier, es: IssuerKey) -> None:
    token = es.sign(status_list_payload(), typ="vc+jwt")
    check(verifier.verify(token, now=NOW), "unsupported")


def test_status_list_credential_with_typ_jwt_is_unsupported(verifier: Verifier, es: IssuerKey) -> None:
    token = es.sign(status_list_payload(), typ="JWT")
    check(verifier.verify(token, now=NOW), "unsupported")


@pytest.mark.parametrize(
    "case",
    [
        "eddsa-header-es256-kid-attacker-sig",
        "eddsa-header-es256-kid-issuer-eddsa-sig",
        "es256-header-eddsa-kid",
        "rs256-header-es256-kid",
    ],
)
def test_alg_not_the_key_alg_is_unsupported(
    verifier: Verifier, es: IssuerKey, ed: IssuerKey, attacker: IssuerKey, attacker_ed: IssuerKey, case: str
) -> None:
    payload = credential_payload()
    if case == "eddsa-header-es256-kid-attacker-sig":
        token = sign_raw(attacker_ed, header(es, alg="EdDSA"), payload)
    elif case == "eddsa-header-es256-kid-issuer-eddsa-sig":
        token = sign_raw(ed, header(es, alg="EdDSA"), payload)  # a real issuer signature, wrong key named
    elif case == "es256-header-eddsa-kid":
        token = sign_raw(es, header(ed, alg="ES256"), payload)
    else:
        token = forge(header(es, alg="RS256"), payload, bytes(384))
    check(verifier.verify(token, now=NOW), "unsupported")


# --------------------------------------------------------------------------- SPEC §3.6 precedence


def _revoked_verifier(es: IssuerKey, ed: IssuerKey, state: KeyState = KeyState.ACTIVE, **kwargs: Any) -> Verifier:
    return make_verifier(
        es.entry(state), ed.entry(KeyState.VERIFY), lists={STATUS_URL: status_list(STATUS_INDEX)}, **kwargs
    )


def test_status_bit_index_0_is_the_msb_of_byte_0(es: IssuerKey) -> None:
    bits = bytes([0x80]) + bytes(16383)  # only the left-most bit of the first byte is set
    lists = {STATUS_URL: StatusList(url=STATUS_URL, purposes=frozenset({"revocation"}), bits=bits, ttl_ms=None)}
    v = make_verifier(es.entry(), lists=lists)
    check(v.verify(es.sign(credential_payload(status_index=0)), now=NOW), "revoked")
    check(v.verify(es.sign(credential_payload(status_index=1)), now=NOW), "valid")
    check(v.verify(es.sign(credential_payload(status_index=7)), now=NOW), "valid")

    last = bytes(16383) + bytes([0x01])  # the right-most bit of the last byte: index 131071
    lists = {STATUS_URL: StatusList(url=STATUS_URL, purposes=frozenset({"revocation"}), bits=last, ttl_ms=None)}
    v = make_verifier(es.entry(), lists=lists)
    check(v.verify(es.sign(credential_payload(status_index=131071)), now=NOW), "revoked")
    check(v.verify(es.sign(credential_payload(status_index=131070)), now=NOW), "valid")


def test_revoked(es: IssuerKey, ed: IssuerKey) -> None:
    result = _revoked_verifier(es, ed).verify(es.sign(credential_payload()), now=NOW)
    check(result, "revoked")
    assert result.credential is not None
    status_check = result.check("status")
    assert status_check is not None and status_check.ok is False


def test_neighbouring_bits_do_not_revoke(es: IssuerKey) -> None:
    v = make_verifier(es.entry(), lists={STATUS_URL: status_list(STATUS_INDEX - 1, STATUS_INDEX + 1)})
    check(v.verify(es.sign(credential_payload()), now=NOW), "valid")


def test_revoked_and_expired_is_revoked(es: IssuerKey, ed: IssuerKey) -> None:
    payload = credential_payload(valid_from=NOW - timedelta(days=800), valid_until=NOW - timedelta(days=1))
    result = _revoked_verifier(es, ed).verify(es.sign(payload), now=NOW)
    check(result, "revoked")
    # The status list was consulted even though the credential had already expired.
    assert check_ok(result, "status") is False
    assert check_ok(result, "validity_period") is False


def test_revoked_and_not_yet_valid_is_revoked(es: IssuerKey, ed: IssuerKey) -> None:
    payload = credential_payload(valid_from=NOW + timedelta(days=1))
    check(_revoked_verifier(es, ed).verify(es.sign(payload), now=NOW), "revoked")


def test_expired_and_status_unavailable_is_expired(es: IssuerKey) -> None:
    payload = credential_payload(valid_from=NOW - timedelta(days=800), valid_until=NOW - timedelta(days=1))
    v = make_verifier(es.entry(), lists={})
    check(v.verify(es.sign(payload), now=NOW), "expired")


def test_key_compromised_outranks_revoked_and_expired(es: IssuerKey, ed: IssuerKey) -> None:
    payload = credential_payload(valid_from=NOW - timedelta(days=800), valid_until=NOW - timedelta(days=1))
    result = _revoked_verifier(es, ed, state=KeyState.COMPROMISED).verify(es.sign(payload), now=NOW)
    check(result, "key_compromised")


def test_revoked_outranks_suspended(es: IssuerKey) -> None:
    suspension_url = f"{BASE}/status/suspension"
    payload = credential_payload()
    payload["credentialStatus"] = [
        payload["credentialStatus"],
        {
            **payload["credentialStatus"],
            "id": f"{suspension_url}#1",
            "statusPurpose": "suspension",
            "statusListIndex": "1",
            "statusListCredential": suspension_url,
        },
    ]
    lists = {
        STATUS_URL: status_list(STATUS_INDEX),
        suspension_url: status_list(1, url=suspension_url, purposes=("suspension",)),
    }
    check(make_verifier(es.entry(), lists=lists).verify(es.sign(payload), now=NOW), "revoked")
    lists[STATUS_URL] = status_list()
    check(make_verifier(es.entry(), lists=lists).verify(es.sign(payload), now=NOW), "suspended")


def test_superseded_outranks_expired_and_links_the_replacement(es: IssuerKey, ed: IssuerKey) -> None:
    payload = credential_payload(valid_from=NOW - timedelta(days=800), valid_until=NOW - timedelta(days=1))
    new_url = f"{BASE}/c/NewCredential0123456789ab"
    details = DictDetails({CRED_URL: RevocationInfo("superseded", NOW - timedelta(days=2), new_url)})
    result = _revoked_verifier(es, ed, details=details).verify(es.sign(payload), now=NOW)
    check(result, "superseded")
    assert result.to_dict()["superseded_by"] == new_url
    assert result.to_dict()["revocation"]["reason"] == "superseded"


def test_private_revocation_reason_is_not_shown(es: IssuerKey, ed: IssuerKey) -> None:
    details = DictDetails({CRED_URL: RevocationInfo("exam_misconduct", NOW - timedelta(days=2))})
    result = _revoked_verifier(es, ed, details=details).verify(es.sign(credential_payload()), now=NOW)
    check(result, "revoked")
    assert result.to_dict()["revocation"] == {"reason": "revoked_by_issuer", "revoked_at": "2026-11-26T12:00:00Z"}


def test_invalid_signature_outranks_revoked_and_never_reads_the_list(es: IssuerKey, attacker: IssuerKey) -> None:
    keys = InMemoryKeySource(ISSUER, KeyRing([es.entry()]))
    source = TokenStatusSource({}, keys, [])
    v = Verifier(keys, source)
    forged = sign_raw(attacker, header(es), credential_payload())
    check(v.verify(forged, now=NOW), "invalid_signature")
    assert source.calls == []  # a status list is fetched only after the signature verified


@pytest.mark.parametrize(
    "make_token,status",
    [
        # malformed beats unsupported (header refused AND claims wrong)
        (lambda es: forge(header(es, alg="none"), {**credential_payload(), "exp": "1795862798"}), "malformed"),
        (lambda es: sign_raw(es, header(es, typ="at+jwt"), {**credential_payload(), "iss": [ISSUER]}), "malformed"),
        (
            lambda es: sign_raw(es, header(es, jku=f"{EVIL}/jwks"), {**credential_payload(), "iss": "did:web:x"}),
            "malformed",
        ),
        (lambda es: sign_raw(es, header(es, crit=["x"]), {**credential_payload(), "jti": "urn:other"}), "malformed"),
        # unsupported beats untrusted_issuer
        (lambda es: sign_raw(es, header(es, typ="kb+jwt"), credential_payload(issuer=f"{EVIL}/issuer")), "unsupported"),
        (
            lambda es: forge(header(es, alg="HS256"), credential_payload(issuer=f"{EVIL}/issuer"), bytes(32)),
            "unsupported",
        ),
        # untrusted_issuer beats unknown_key and invalid_signature
        (
            lambda es: forge(header(es, kid=f"{EVIL}/keys/x"), credential_payload(issuer=f"{EVIL}/issuer"), bytes(64)),
            "untrusted_issuer",
        ),
        # unknown_key beats invalid_signature
        (lambda es: forge(header(es, kid=f"{BASE}/keys/nope"), credential_payload(), bytes(64)), "unknown_key"),
        # invalid_signature beats expired
        (
            lambda es: forge(
                header(es),
                credential_payload(valid_until=NOW - timedelta(days=1), valid_from=NOW - timedelta(days=9)),
                bytes(64),
            ),
            "invalid_signature",
        ),
    ],
    ids=[
        "none+string-exp",
        "typ+iss-list",
        "jku+iss-mismatch",
        "crit+jti-mismatch",
        "typ+untrusted",
        "hs256+untrusted",
        "untrusted+unknown-kid",
        "unknown-kid+bad-sig",
        "bad-sig+expired",
    ],
)
def test_precedence(verifier: Verifier, es: IssuerKey, make_token: Callable[[IssuerKey], str], status: str) -> None:
    check(verifier.verify(make_token(es), now=NOW), status)
