"""JSON texts a token carries: lone surrogate escapes (a `str` that cannot be encoded as UTF-8
later) and very deep nesting (RecursionError) are refused as `malformed`, at any depth, in the
header and the payload, signed or not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.verifier.tokens import (
    NOW,
    IssuerKey,
    b64,
    credential_payload,
    forge,
    header,
    make_key,
    make_verifier,
    sign_raw,
    to_json,
)
from verifier import Verifier
from verifier.errors import Malformed
from verifier.jws import parse_compact, strict_json_object

DEPTH = 30_000


@pytest.fixture(scope="module")
def es() -> IssuerKey:
    return make_key("ES256")


@pytest.fixture(scope="module")
def verifier(es: IssuerKey) -> Verifier:
    return make_verifier(es.entry())


def _answer_encodes(result: Any) -> None:
    json.dumps(result.to_dict(), ensure_ascii=False).encode("utf-8")
    json.dumps(result.to_dict()).encode("utf-8")


# --------------------------------------------------------------------------- lone surrogates

LONE = ["\\udfff", "\\uD800", "\\uDbFf", "\\ud83d", "\\ude00x", "a\\ud800\\u0041", "\\ude00\\ud83d"]


@pytest.mark.parametrize("escape", LONE)
@pytest.mark.parametrize(
    "where",
    [
        '{{"v":"{}"}}',
        '{{"{}":1}}',
        '{{"a":[1,{{"b":["x","{}"]}}]}}',
        '{{"a":{{"b":{{"c":{{"{}":null}}}}}}}}',
        '{{"a":' + "[" * 200 + '"{}"' + "]" * 200 + "}}",
    ],
    ids=["value", "key", "nested-value", "nested-key", "deep-value"],
)
def test_lone_surrogate_anywhere_is_malformed(escape: str, where: str) -> None:
    raw = where.format(escape)
    assert json.loads(raw)  # plain json accepts it ...
    with pytest.raises(Malformed):  # ... we do not
        strict_json_object(raw.encode("ascii"), "payload")


@pytest.mark.parametrize(
    "raw",
    [
        '{"v":"\\ud83d\\ude00"}',  # a valid pair: U+1F600
        '{"v":"\\uD83D\\uDE00","\\ud800\\udc00":"k"}',
        '{"v":"\\\\ud800"}',  # an escaped backslash then the text "ud800": no surrogate at all
        '{"v":"\\u00e9\\u20ac"}',
        '{"v":"\u00e9"}',
    ],
    ids=["pair", "pair-upper-and-key", "escaped-backslash", "bmp-escapes", "raw-utf8"],
)
def test_valid_text_is_kept(raw: str) -> None:
    value = strict_json_object(raw.encode("utf-8"), "payload")
    json.dumps(value, ensure_ascii=False).encode("utf-8")
    assert value == json.loads(raw)


@pytest.mark.parametrize("part", ["header", "payload"])
@pytest.mark.parametrize("member", ["issuer-name", "subject-name", "extra-key", "status-url"])
@pytest.mark.parametrize("signed", [True, False], ids=["signed", "bad-signature"])
def test_lone_surrogate_in_a_token_is_malformed_and_the_answer_encodes(
    verifier: Verifier, es: IssuerKey, part: str, member: str, signed: bool
) -> None:
    marker = "\udfff"
    hdr: dict[str, Any] = header(es)
    payload = credential_payload()
    target = hdr if part == "header" else payload
    if member == "issuer-name":
        target["issuer"] = {**payload["issuer"], "name": f"Evil {marker} Inc"}
    elif member == "subject-name":
        target["credentialSubject"] = {**payload["credentialSubject"], "name": marker}
    elif member == "extra-key":
        target[f"x{marker}"] = 1
    else:
        target["credentialStatus"] = {**payload["credentialStatus"], "statusListCredential": marker}
    # json.dumps writes a lone surrogate as the escape `\udfff` (its only JSON spelling)
    token = sign_raw(es, hdr, payload) if signed else forge(hdr, payload, bytes(64))
    result = verifier.verify(token, now=NOW)
    assert result.status == "malformed", result.checks
    _answer_encodes(result)


def test_surrogate_pair_in_a_signed_name_is_valid(verifier: Verifier, es: IssuerKey) -> None:
    payload = credential_payload(first="Ada \U0001f600")
    token = sign_raw(es, header(es), json.dumps(payload, separators=(",", ":")))  # writes \ud83d\ude00
    assert "\\ud83d\\ude00" in json.dumps(payload)
    result = verifier.verify(token, now=NOW)
    assert result.status == "valid", result.checks
    assert result.credential is not None and result.credential["subject_name"] == "Ada \U0001f600 Lovelace"
    _answer_encodes(result)


# --------------------------------------------------------------------------- deep nesting


@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"a":', "}")], ids=["arrays", "objects"])
@pytest.mark.parametrize("closed", [True, False], ids=["closed", "unclosed"])
def test_json_nested_30000_deep_is_malformed(opener: str, closer: str, closed: bool) -> None:
    inner = opener * DEPTH + "1" + (closer * DEPTH if closed else "")
    for raw in (inner, '{"a":' + inner + "}"):
        with pytest.raises(Malformed):
            strict_json_object(raw.encode("ascii"), "payload")


@pytest.mark.parametrize("opener", ["[", '{"a":'], ids=["arrays", "objects"])
def test_json_nested_30000_deep_with_a_surrogate_escape_is_malformed(opener: str) -> None:
    """The surrogate walk runs on what json parsed; the text must never reach a recursive walk."""
    raw = '{"s":"\\ud800","a":' + opener * DEPTH
    with pytest.raises(Malformed):
        strict_json_object(raw.encode("ascii"), "payload")


def test_deep_but_parseable_value_with_a_surrogate_is_refused_without_recursion() -> None:
    """Nesting json accepts (just under the interpreter's limit) still has a lone surrogate found."""
    depth = 900
    raw = '{"a":' + "[" * depth + '"\\udfff"' + "]" * depth + "}"
    json.loads(raw)
    with pytest.raises(Malformed):
        strict_json_object(raw.encode("ascii"), "payload")


def test_surrogate_walk_has_no_depth_limit() -> None:
    """The walk itself must not recurse: a value 100,000 deep (built without json) is walked."""
    from verifier.jws import _has_lone_surrogate

    for leaf, expected in (("\udfff", True), ("fine", False)):
        value: Any = [leaf]
        for level in range(100_000):
            value = [value] if level % 2 else {"k": value}
        assert _has_lone_surrogate(value) is expected


@pytest.mark.parametrize("part", ["header", "payload"])
@pytest.mark.parametrize("opener,depth", [("[", DEPTH), ('{"":', 10_000)], ids=["arrays", "objects"])
def test_token_nested_deep_is_malformed(verifier: Verifier, es: IssuerKey, part: str, opener: str, depth: int) -> None:
    """As deep as fits under the 64 KiB cap (unclosed: the closers would not fit): 30,000 arrays."""
    deep = '{"x":' + opener * depth
    hdr = deep if part == "header" else to_json(header(es))
    payload = deep if part == "payload" else to_json(credential_payload())
    token = f"{b64(hdr)}.{b64(payload)}.{b64(bytes(64))}"
    assert len(token) < 64 * 1024
    with pytest.raises(Malformed):
        parse_compact(token)
    result = verifier.verify(token, now=NOW)
    assert result.status == "malformed"
    _answer_encodes(result)


def test_api_envelope_nested_30000_deep_is_a_bad_envelope() -> None:
    """The API's JSON envelope is parsed before any token: RecursionError must not escape (a 500)."""
    from flask import Flask

    from verifier.http import BadEnvelope, extract_token

    body = '{"credential":' + "[" * DEPTH
    with Flask(__name__).test_request_context("/", method="POST", data=body, content_type="application/json"):
        with pytest.raises(BadEnvelope):
            extract_token()
