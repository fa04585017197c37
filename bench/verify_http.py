"""HTTP verification throughput: `POST /api/v1/verify` under `certmanager serve --workers 2`
against a bare Flask endpoint that only calls `jwt.decode`, same gunicorn settings, same load
generator (wrk) on loopback, rate limit off. SPEC §8 asks for ≥ 0.7×.

usage: python bench/verify_http.py [--seconds 10] [--connections 16] [--rounds 2]
needs: wrk (Debian package `wrk`)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open(os.getenv("BENCH_BODY")):read("*a")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except urllib.error.HTTPError:
            return  # it answers (a 404 from the bare app is fine)
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not start")


def run_wrk(url: str, body_file: str, seconds: int, connections: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(LUA)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", lua.name, url],
        env={**os.environ, "BENCH_BODY": body_file},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(lua.name)
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx responses during the run:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(out)
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    certmanager = str(Path(sys.executable).with_name("certmanager"))
    with tempfile.TemporaryDirectory() as tmp:
        ours_port, bare_port = free_port(), free_port()
        env = {
            **os.environ,
            "CERTMANAGER_INSTANCE_DIR": tmp,
            "CERTMANAGER_BASE_URL": f"http://127.0.0.1:{ours_port}",
            "CERTMANAGER_RATELIMIT_VERIFY": "0",
        }
        init = subprocess.run([certmanager, "init", "--demo"], env=env, capture_output=True, text=True, check=True)
        cred_url = re.search(r"http://\S+/c/\w+", init.stdout).group(0)  # type: ignore[union-attr]
        token = subprocess.run(
            [certmanager, "credentials", "show", cred_url, "--format", "jwt"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        body = Path(tmp) / "body.json"
        body.write_text(json.dumps({"credential": token}))
        ours = subprocess.Popen(
            [certmanager, "serve", "--port", str(ours_port), "--workers", str(args.workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_ready(f"http://127.0.0.1:{ours_port}/healthz")
            with urllib.request.urlopen(f"http://127.0.0.1:{ours_port}/.well-known/jwks.json") as resp:  # noqa: S310
                jwk = json.load(resp)["keys"][0]
            bare_code = (
                f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); from bare_app import create_bare_app; "
                f"from issuer.server import run; run(create_bare_app(), host='127.0.0.1', port={bare_port}, "
                f"workers={args.workers})"
            )
            bare = subprocess.Popen(
                [sys.executable, "-c", bare_code], env={**env, "BENCH_JWK": json.dumps(jwk)},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                wait_ready(f"http://127.0.0.1:{bare_port}/")
                results: dict[str, list[float]] = {"ours": [], "bare": []}
                for _ in range(args.rounds):
                    for name, port in (("ours", ours_port), ("bare", bare_port)):
                        url = f"http://127.0.0.1:{port}/api/v1/verify"
                        results[name].append(run_wrk(url, str(body), args.seconds, args.connections))
            finally:
                bare.terminate()
                bare.wait(10)
        finally:
            ours.terminate()
            ours.wait(10)
    ours_rate, bare_rate = max(results["ours"]), max(results["bare"])
    print(
        f"{args.workers} gunicorn workers (gthread, 4 threads), wrk -t2 -c{args.connections} -d{args.seconds}s, "
        f"best of {args.rounds} interleaved rounds; token {len(token)} chars"
    )
    print(f"  POST /api/v1/verify (ours, full verification)  {ours_rate:9.0f} req/s   rounds: {results['ours']}")
    print(f"  bare Flask + jwt.decode (baseline)            {bare_rate:9.0f} req/s   rounds: {results['bare']}")
    ratio = ours_rate / bare_rate
    print(f"ratio ours/bare = {ratio:.2f}  (SPEC §8 requires >= 0.70: {'OK' if ratio >= 0.7 else 'BELOW'})")


if __name__ == "__main__":
    main()
