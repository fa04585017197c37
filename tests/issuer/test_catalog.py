"""The bundled certification catalog and its override (issue 4, SPEC §3.3, §5.3)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from issuer.catalog import load_catalog
from issuer.cli import main


def test_bundled_catalog_is_a_realistic_program():
    catalog = load_catalog()
    full_tracks = [
        track
        for track in catalog.tracks
        if {c.level for c in catalog.certifications.values() if c.track == track} == set(catalog.levels)
    ]
    assert len(full_tracks) >= 3
    assert catalog.levels == ("associate", "specialist", "professional", "expert")
    for cert in catalog.certifications.values():
        assert cert.validity_years == 3
        assert cert.exams and all(exam in catalog.exams for exam in cert.exams)
        if cert.level != "associate":
            assert cert.prerequisites, cert.code  # every level above associate builds on one below


def test_catalog_override_from_the_environment(tmp_path, monkeypatch):
    custom = tmp_path / "catalog.toml"
    custom.write_text(
        '[program]\nname = "Tiny"\n[[tracks]]\ncode = "T"\nname = "Track"\n'
        '[[certifications]]\ncode = "T-A"\nname = "Tiny Associate"\ntrack = "T"\nlevel = "associate"\n'
        'exams = ["T-100"]\nvalidity_years = 2\n'
    )
    monkeypatch.setenv("CERTMANAGER_CATALOG", str(custom))
    monkeypatch.setenv("CERTMANAGER_INSTANCE_DIR", str(tmp_path / "instance"))
    outcome = CliRunner().invoke(main, ["catalog", "--format", "json"])
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.stdout) == {
        "certifications": [
            {"code": "T-A", "name": "Tiny Associate", "track": "T", "level": "associate", "exams": ["T-100"],
             "prerequisites": [], "validity_years": 2}
        ]
    }  # fmt: skip
