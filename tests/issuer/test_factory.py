"""The app factory and configuration (SPEC §3.2)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from issuer import create_app, runtime
from issuer.config import load_settings
from issuer.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_factory_builds_independent_apps_from_overrides(tmp_path):
    first = create_app({"instance_dir": tmp_path / "a", "base_url": "https://certs.example.org/"})
    second = create_app({"instance_dir": tmp_path / "b", "issuer_name": "Other Program"})
    try:
        a, b = runtime.of(first).ctx, runtime.of(second).ctx
        assert a.settings.base_url == "https://certs.example.org"  # normalised: no trailing slash
        assert b.settings.base_url == "http://127.0.0.1:5000"
        assert (a.settings.issuer_name, b.settings.issuer_name) == ("Example Certification Program", "Other Program")
        assert a is not b and a.settings.database_url != b.settings.database_url
        assert a.settings.instance_dir == (tmp_path / "a").resolve()
    finally:
        first.extensions["certmanager.db"].dispose()
        second.extensions["certmanager.db"].dispose()


def test_nothing_happens_at_import_time(tmp_path):
    """Importing every package reads no configuration, creates no instance dir, opens no
    database and starts no thread (STYLE.md: nothing at import time)."""
    code = (
        "import threading, issuer, issuer.cli, issuer.web.wiring, issuer.services.imports, keys, verifier, "
        "verifier.standalone, wallet_export, issuer.server; "
        "assert threading.active_count() == 1, threading.enumerate()"
    )
    env = {
        **os.environ,
        "CERTMANAGER_INSTANCE_DIR": str(tmp_path / "never-created"),
        "CERTMANAGER_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "CERTMANAGER_BASE_URL": "not a url",
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "never-created").exists()


def test_sqlite_default_generates_0600_secrets(tmp_path):
    settings = load_settings(env={}, instance_dir=tmp_path / "inst")
    assert settings.database_url.startswith("sqlite:///")
    for name in ("secret_key", "key_passphrase"):
        path = tmp_path / "inst" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(path.read_text().strip()) >= 32
    again = load_settings(env={}, instance_dir=tmp_path / "inst")
    assert again.secret_key == settings.secret_key and again.key_passphrase == settings.key_passphrase


def test_other_databases_require_shared_secrets(tmp_path):
    env = {"CERTMANAGER_DATABASE_URL": "postgresql://u@127.0.0.1/x"}
    with pytest.raises(ConfigError, match="CERTMANAGER_SECRET_KEY is required"):
        load_settings(env=env, instance_dir=tmp_path)
    env["CERTMANAGER_SECRET_KEY"] = "s"
    with pytest.raises(ConfigError, match="CERTMANAGER_KEY_PASSPHRASE is required"):
        load_settings(env=env, instance_dir=tmp_path)
    env["CERTMANAGER_KEY_PASSPHRASE"] = "p"
    settings = load_settings(env=env, instance_dir=tmp_path)
    assert settings.database_url.startswith("postgresql+psycopg://")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CERTMANAGER_BASE_URL", "ftp://x", "http"),
        ("CERTMANAGER_SIGNING_ALG", "HS256", "CERTMANAGER_SIGNING_ALG"),
        ("CERTMANAGER_STATUS_TTL", "soon", "integer"),
    ],
)
def test_bad_configuration_is_a_clear_error(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env={name: value}, instance_dir=tmp_path)


def test_bad_catalog_is_a_clear_error(tmp_path):
    bad = tmp_path / "catalog.toml"
    bad.write_text('[[certifications]]\ncode = "X"\n')
    with pytest.raises(ConfigError, match="invalid"):
        create_app({"instance_dir": tmp_path, "catalog_path": bad})
