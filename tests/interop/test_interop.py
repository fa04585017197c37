"""Interoperability: what we publish checks out with independent tools (jwcrypto, zxing-cpp, our
own reading of the Bitstring Status List Recommendation), never with our own verifier."""

from __future__ import annotations

import base64
import gzip
import json
import re
from datetime import datetime
from io import BytesIO
from typing import Any

import pytest
import zxingcpp
from jwcrypto import jwk, jws, jwt
from PIL import Image

from issuer import runtime
from issuer.db import get_session
from issuer.models import CredentialRecord
from issuer.services.setup import initialize
from tests.cli_support import run_cli as cli
from tests.conftest import BASE_URL, Factory, FakeClock, make_app

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k", "oth")
BASE62_ID = re.compile(r"^[A-Za-z0-9]{22,}$")


# --- independent helpers ------------------------------------------------------------------


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def decode_encoded_list(encoded: str) -> bytes:
    """Multibase base64url ('u' prefix, no padding) of a GZIP stream (W3C Bitstring Status List)."""
    assert encoded.startswith("u"), encoded[:8]
    return gzip.decompress(b64url_decode(encoded[1:]))


def set_indexes(bits: bytes) -> set[int]:
    """Indexes whose bit is 1; index 0 is the most significant bit of the first byte."""
    found = set()
    for byte_no, byte in enumerate(bits):
        if byte:
            for bit in range(8):
                if byte & (0x80 >> bit):
                    found.add(byte_no * 8 + bit)
    return found


def fetch_keyset(client: Any) -> tuple[jwk.JWKSet, dict[str, Any]]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.mimetype == "application/jwk-set+json"
    document = response.get_json(force=True)
    return jwk.JWKSet.from_json(response.get_data(as_text=True)), document


def verify_with_jwcrypto(token: str, keyset: jwk.JWKSet, alg: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify with jwcrypto (key picked by `kid` from the published set); header and claims."""
    verified = jwt.JWT(jwt=token, key=keyset, algs=[alg], expected_type="JWS")
    header = json.loads(verified.header)
    claims = json.loads(verified.claims)
    return header, claims


# --- (a) credentials verify with jwcrypto against the published JWKS, for every algorithm ---


@pytest.fixture(params=["ES256", "EdDSA", "RS256"])
def alg_app(request: pytest.FixtureRequest, app_env: dict[str, str], clock: FakeClock) -> Any:
    alg = request.param
    application = make_app(app_env, clock, signing_alg=alg)
    with application.app_context():
        initialize(get_session(), runtime.of(application).ctx, now=clock())
    yield alg, application
    application.extensions["certmanager.db"].dispose()


def test_credentials_verify_with_jwcrypto_against_published_jwks(alg_app: Any, clock: FakeClock) -> None:
    alg, application = alg_app
    record = Factory(application, clock).certified("CNA-ENT")
    client = application.test_client()

    keyset, document = fetch_keyset(client)
    assert len(document["keys"]) == 1
    for published in document["keys"]:
        assert not set(PRIVATE_MEMBERS) & set(published), published

    header, claims = verify_with_jwcrypto(record.jwt, keyset, alg)
    assert header["alg"] == alg
    assert header["typ"] == "JWT"
    assert set(header) == {"alg", "kid", "typ"}

    key = keyset.get_key(header["kid"])
    assert key is not None, "the header's kid names no key of the published set"
    published = document["keys"][0]
    assert published["kid"] == header["kid"]
    thumbprint = key.thumbprint()  # RFC 7638, SHA-256, base64url
    assert header["kid"] == f"{BASE_URL}/keys/{thumbprint}"
    assert published.get("alg") in (None, alg)

    # The claims jwcrypto verified are the ones we stored.
    _, unverified = unverified_parts(record.jwt)
    assert claims == unverified
    assert claims["iss"] == f"{BASE_URL}/issuer"
    assert claims["jti"] == f"{BASE_URL}/c/{record.id}"

    # The key document at the kid URL is the same public JWK.
    response = client.get(f"/keys/{thumbprint}")
    assert response.status_code == 200
    assert response.mimetype == "application/jwk+json"
    served = json.loads(response.get_data(as_text=True))
    assert served == published
    assert jwk.JWK(**served).thumbprint() == thumbprint


# --- (b) the status list: signature with jwcrypto, bits decoded independently ---------------


def test_status_list_decodes_independently(app: Any, client: Any, runner: Any, factory: Any, ctx: Any) -> None:
    records = [factory.certified("CNA-ENT") for _ in range(3)]
    revoked = records[:2]
    for record in revoked:
        result = cli(runner, "revoke", record.id, "--reason", "withdrawn")
        assert result.exit_code == 0, result.output

    _, payload = unverified_parts(records[0].jwt)
    entry = payload["credentialStatus"]
    list_url = entry["statusListCredential"]
    assert list_url.startswith(f"{BASE_URL}/status/")
    response = client.get(list_url.removeprefix(BASE_URL))
    assert response.status_code == 200
    assert response.mimetype == "application/vc+jwt"
    token = response.get_data(as_text=True)

    keyset, _ = fetch_keyset(client)
    header = json.loads(b64url_decode(token.split(".")[0]))
    assert header["typ"] == "vc+jwt"
    signed = jws.JWS()
    signed.deserialize(token)
    signed.verify(keyset.get_key(header["kid"]), alg=header["alg"])  # raises if it does not verify
    claims = json.loads(signed.payload)

    assert "sub" not in claims
    assert isinstance(claims.get("nbf"), int)
    valid_from = datetime.fromisoformat(claims["validFrom"].replace("Z", "+00:00"))
    assert claims["nbf"] == int(valid_from.timestamp())
    assert claims["iss"] == f"{BASE_URL}/issuer"
    assert "BitstringStatusListCredential" in claims["type"]
    assert "validUntil" not in claims
    subject = claims["credentialSubject"]
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "revocation"

    bits = decode_encoded_list(subject["encodedList"])
    assert len(bits) * 8 >= 131_072
    indexes = {}
    for record in records:
        _, p = unverified_parts(record.jwt)
        assert p["credentialStatus"]["statusListCredential"] == list_url
        indexes[record.id] = int(p["credentialStatus"]["statusListIndex"])
    assert set_indexes(bits) == {indexes[r.id] for r in revoked}

    ttl = subject["ttl"]
    assert isinstance(ttl, int) and ttl > 0
    max_age = re.search(r"max-age=(\d+)", response.headers["Cache-Control"])
    assert max_age is not None
    assert int(max_age.group(1)) * 1000 == ttl


# --- (c) QR codes --------------------------------------------------------------------------


def test_qr_png_decodes_to_the_credential_url(client: Any, factory: Any) -> None:
    record = factory.certified("CNA-ENT")
    response = client.get(f"/c/{record.id}/qr.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    found = zxingcpp.read_barcodes(Image.open(BytesIO(response.data)))
    assert [b.text for b in found] == [f"{BASE_URL}/c/{record.id}"]


@pytest.mark.parametrize(("kind", "mimetype"), [("png", "image/png"), ("svg", "image/svg+xml")])
def test_qr_is_cacheable_forever_and_revalidates(client: Any, factory: Any, kind: str, mimetype: str) -> None:
    record = factory.certified("CNA-ENT")
    response = client.get(f"/c/{record.id}/qr.{kind}")
    assert response.status_code == 200
    assert response.mimetype == mimetype
    if kind == "svg":
        assert "<title>" in response.get_data(as_text=True)
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/"), etag
    assert "immutable" in response.headers["Cache-Control"]
    again = client.get(f"/c/{record.id}/qr.{kind}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag


# --- (d) the Open Badges shape of the signed payload ----------------------------------------


def test_signed_payload_has_the_open_badges_shape(app: Any, factory: Any) -> None:
    record = factory.certified("CNA-ENT", first="Ada", last="Lovelace")
    with app.app_context():
        certmanager_id = get_session().get(CredentialRecord, record.id).candidate.certmanager_id
    header, payload = unverified_parts(record.jwt)
    assert header["typ"] == "JWT"

    assert payload["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert "VerifiableCredential" in payload["type"] and "OpenBadgeCredential" in payload["type"]
    subject = payload["credentialSubject"]
    assert "AchievementSubject" in subject["type"]
    assert subject["achievement"]["achievementType"] == "Certification"
    assert subject["id"].startswith("urn:uuid:")

    identifiers = {i["identityType"]: i for i in subject["identifier"]}
    name = identifiers["name"]
    assert name["type"] == "IdentityObject" and name["hashed"] is False and name["identityHash"] == "Ada Lovelace"
    # The CertManager ID (a ~30-bit login identifier) is in no credential, in clear or hashed:
    # a salted hash beside its salt is reversed in seconds (SPEC §4).
    assert set(identifiers) == {"name"}
    assert certmanager_id not in json.dumps(payload)
    assert "sha256$" not in json.dumps(payload) and "salt" not in json.dumps(payload)
    digits = certmanager_id.removeprefix("JPR")
    assert digits not in json.dumps(payload)

    status = payload["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry"
    assert status["statusPurpose"] == "revocation"
    assert isinstance(status["statusListIndex"], str) and status["statusListIndex"].isdigit()
    assert status.get("id") != status["statusListCredential"]

    def ts(value: str) -> int:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())

    assert payload["nbf"] == ts(payload["validFrom"])
    assert payload["exp"] == ts(payload["validUntil"])
    assert payload["jti"] == payload["id"]
    assert payload["sub"] == subject["id"]
    assert payload["iss"] == payload["issuer"]["id"] == f"{BASE_URL}/issuer"
    assert payload["id"].startswith(f"{BASE_URL}/c/")
    short = payload["id"].removeprefix(f"{BASE_URL}/c/")
    assert short == record.id
    assert BASE62_ID.match(short), short


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_qr_revalidates_with_a_weak_validator(client: Any, factory: Any, kind: str) -> None:
    """RFC 9110 §13.1.2: If-None-Match uses the weak comparison; proxies that compress (nginx
    gzip) turn a strong ETag into W/"…", and the client then sends that form back."""
    record = factory.certified("CNA-ENT")
    etag = client.get(f"/c/{record.id}/qr.{kind}").headers["ETag"]
    again = client.get(f"/c/{record.id}/qr.{kind}", headers={"If-None-Match": f"W/{etag}"})
    assert again.status_code == 304
