"""SPEC §3.1: the project installs as a regular wheel and `certmanager` works from any directory —
templates, static files, the catalog, the migrations and the data files are package data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _source_tree(target: Path) -> Path:
    """The tracked files only, as a release would be built (an in-tree build/ may hold modules
    that no longer exist)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for name in listed.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def test_the_wheel_carries_its_data_and_runs_from_elsewhere(tmp_path):
    wheels = tmp_path / "wheels"
    source = _source_tree(tmp_path / "src")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    # A quiet install: no setuptools warnings about package data outside the package list.
    assert "warning" not in (built.stdout + built.stderr).lower(), built.stderr[-3000:]
    [wheel] = wheels.glob("certmanager_vc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "issuer/catalogs/default.toml",
        "issuer/migrations/versions/0001_initial_schema.py",
        "issuer/templates/credential.html",
        "issuer/templates/mail/account_created.txt",
        "issuer/data/common-passwords.txt",
        "verifier/templates/verifier/verify.html",
        "verifier/static/cm.css",
    ):
        assert needed in names, needed

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(target),  # the installed copy, ahead of the source tree
        "CERTMANAGER_INSTANCE_DIR": str(elsewhere / "instance"),
    }
    env.pop("CERTMANAGER_DATABASE_URL", None)
    code = "import issuer, sys; assert issuer.__file__.startswith(sys.argv[1]), issuer.__file__; " \
           "from issuer.cli import main; sys.argv = ['certmanager', 'init', '--demo']; main()"  # fmt: skip
    outcome = subprocess.run(
        [sys.executable, "-c", code, str(target)], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120
    )
    assert outcome.returncode == 0, outcome.stderr[-2000:]
    assert "Password:" in outcome.stdout and "/c/" in outcome.stdout
