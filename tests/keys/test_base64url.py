"""Strict unpadded base64url (RFC 7515 §2, RFC 4648 §5): one spelling per byte string, everything
else refused. Checked against a reference written from the RFC (alphabet, no padding, no stray
characters, canonical trailing bits) over random and hostile text."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import b64url_decode, b64url_encode

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def reference(text: str) -> bytes | None:
    """What a strict decoder must answer: the bytes, or None for a refusal."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        return None
    decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return decoded if b64url_encode(decoded) == text else None  # canonical: one spelling only


def ours(text: str) -> bytes | None:
    try:
        return b64url_decode(text)
    except ValueError:
        return None


near_base64 = st.text(alphabet=_ALPHABET + "+/=. \n\t\x00é\u00a0", max_size=40)


@settings(max_examples=600, deadline=None)
@given(st.one_of(near_base64, st.text(max_size=20), st.binary(max_size=40).map(b64url_encode)))
def test_it_decodes_exactly_what_the_rfc_allows(text: str) -> None:
    assert ours(text) == reference(text)


@pytest.mark.parametrize("text", ["ab+c", "ab/c", "abc=", "YQ==", "ab c", "ab\nc", "abcd\x00", "é", "YR", "a"])
def test_hostile_spellings_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        b64url_decode(text)


@given(st.binary(max_size=200))
def test_every_byte_string_round_trips(data: bytes) -> None:
    assert b64url_decode(b64url_encode(data)) == data
