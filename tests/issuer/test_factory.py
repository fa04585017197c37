"""The app factory and configuration (SPEC §3.2)."""

from __future__ import annotations

import stat

import pytest

from issuer import create_app, runtime
from issuer.config import load_settings
from issuer.errors import ConfigError


def test_factory_uses_overrides(app):
    assert runtime.of(app).ctx.settings.base_url == "http://cm.test"
    assert not create_app.__module__.startswith("tests")


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
