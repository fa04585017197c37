"""In-process verification speed against raw PyJWT decode and raw `cryptography` verify.

SPEC §8: our full verification (signature + claims + validity period + status bit) must run at
≥ 0.8× the rate of a bare PyJWT decode with the same key and algorithm. All three are measured
in one run, interleaved, so the ratio holds on a noisy shared machine.

usage: python bench/verify_inprocess.py [--alg ES256|EdDSA|RS256] [--seconds 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import timeit
from datetime import UTC, datetime, timedelta

import jwt

from issuer import create_app, runtime
from issuer.db import get_session, unit_of_work
from issuer.services import candidates, certifications
from issuer.services.keyring import active_signer
from issuer.services.setup import initialize
from keys import b64url_decode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alg", default="ES256", choices=["ES256", "EdDSA", "RS256"])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"instance_dir": tmp, "signing_alg": args.alg, "ratelimit_verify": "0"})
        ctx = runtime.of(app).ctx
        with app.app_context():
            db = app.extensions["certmanager.db"]
            db.upgrade()
            session = get_session()
            now = datetime.now(UTC)
            initialize(session, ctx, now=now)
            with unit_of_work(session):
                cand = candidates.create_candidate(
                    session, email="b@example.org", first_name="Bench", last_name="Mark", now=now
                )
                _, record = certifications.grant(
                    session, ctx, cand, "CNA-ENT", (now - timedelta(days=1)).date(), now=now
                )
            token = record.jwt
            local = runtime.of(app).verification
            assert local.verify(token, now=now).verified
            public = active_signer(session, ctx).public
            pyjwt_key = public._key  # noqa: SLF001 - the same key object, for a like-for-like baseline
            header_b64, payload_b64, sig_b64 = token.split(".")
            signing_input, signature = f"{header_b64}.{payload_b64}".encode(), b64url_decode(sig_b64)

            def ours() -> None:
                local.verify(token, now=now)

            def pyjwt_decode() -> None:
                jwt.decode(token, pyjwt_key, algorithms=[args.alg], options={"verify_aud": False})

            def raw_crypto() -> None:
                public.verify(signing_input, signature)

            rates: dict[str, list[float]] = {"ours": [], "pyjwt": [], "raw": []}
            for _ in range(args.rounds):
                for name, fn in (("ours", ours), ("pyjwt", pyjwt_decode), ("raw", raw_crypto)):
                    n = max(50, int(args.seconds * 1000))
                    elapsed = min(timeit.repeat(fn, number=n // 5, repeat=5))
                    rates[name].append((n // 5) / elapsed)
        med = {k: statistics.median(v) for k, v in rates.items()}
        print(f"alg {args.alg}, token {len(token)} chars, median of {args.rounds} rounds (best of 5 each)")
        print(f"  ours (full verification)   {med['ours']:10.0f} /s")
        print(f"  PyJWT decode (baseline)    {med['pyjwt']:10.0f} /s")
        print(f"  raw cryptography verify    {med['raw']:10.0f} /s")
        ratio = med["ours"] / med["pyjwt"]
        print(f"ratio ours/PyJWT = {ratio:.2f}  (SPEC §8 requires >= 0.80: {'OK' if ratio >= 0.8 else 'BELOW'})")
        print(f"ratio ours/raw crypto = {med['ours'] / med['raw']:.2f}")
        app.extensions["certmanager.db"].dispose()


if __name__ == "__main__":
    main()
