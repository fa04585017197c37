"""The certification catalog (TOML): tracks, levels, certifications, exams, prerequisites."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from issuer.errors import ConfigError

BUNDLED = Path(__file__).parent / "catalogs" / "default.toml"


@dataclass(frozen=True)
class CertificationDef:
    code: str
    name: str
    track: str
    level: str
    exams: tuple[str, ...]
    prerequisites: tuple[str, ...]
    validity_years: int
    description: str

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "track": self.track,
            "level": self.level,
            "exams": list(self.exams),
            "prerequisites": list(self.prerequisites),
            "validity_years": self.validity_years,
        }


@dataclass(frozen=True)
class Catalog:
    program_name: str
    levels: tuple[str, ...]
    tracks: dict[str, str]
    exams: dict[str, str]
    certifications: dict[str, CertificationDef]

    def get(self, code: str) -> CertificationDef | None:
        return self.certifications.get(code)

    def earned_by(self, exam_code: str) -> tuple[CertificationDef, ...]:
        """The certifications that passing `exam_code` grants (catalog order)."""
        return self._by_exam.get(exam_code, ())

    @cached_property
    def _by_exam(self) -> dict[str, tuple[CertificationDef, ...]]:
        return {exam: tuple(c for c in self.certifications.values() if exam in c.exams) for exam in self.exams}

    def level_of(self, definition: CertificationDef) -> int:
        return self.levels.index(definition.level)

    def to_json(self) -> dict[str, Any]:
        return {"certifications": [c.to_json() for c in self.certifications.values()]}


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate a catalog; every mistake is a ConfigError naming the entry."""
    path = path or BUNDLED
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the catalog {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the catalog {path} is not valid TOML: {exc}") from None
    try:
        return _build(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"the catalog {path} is invalid: {exc}") from None


def _build(data: dict[str, Any]) -> Catalog:
    program = data.get("program", {})
    levels = tuple(program.get("levels", ["associate", "specialist", "professional", "expert"]))
    default_validity = int(program.get("default_validity_years", 3))
    tracks = {str(t["code"]): str(t["name"]) for t in data.get("tracks", [])}
    exams = {str(e["code"]): str(e.get("name", e["code"])) for e in data.get("exams", [])}
    certs: dict[str, CertificationDef] = {}
    for raw in data.get("certifications", []):
        cert = CertificationDef(
            code=str(raw["code"]),
            name=str(raw["name"]),
            track=str(raw["track"]),
            level=str(raw["level"]),
            exams=tuple(str(e) for e in raw["exams"]),
            prerequisites=tuple(str(p) for p in raw.get("prerequisites", [])),
            validity_years=int(raw.get("validity_years", default_validity)),
            description=str(raw.get("description", "")),
        )
        if cert.code in certs:
            raise ValueError(f"certification {cert.code} is defined twice")
        if cert.track not in tracks:
            raise ValueError(f"certification {cert.code}: unknown track {cert.track}")
        if cert.level not in levels:
            raise ValueError(f"certification {cert.code}: unknown level {cert.level}")
        if not cert.exams:
            raise ValueError(f"certification {cert.code} lists no exams")
        if cert.validity_years < 1:
            raise ValueError(f"certification {cert.code}: validity_years must be at least 1")
        for exam in cert.exams:
            exams.setdefault(exam, exam)
        certs[cert.code] = cert
    for cert in certs.values():
        for prereq in cert.prerequisites:
            if prereq not in certs:
                raise ValueError(f"certification {cert.code}: unknown prerequisite {prereq}")
    return Catalog(
        program_name=str(program.get("name", "")),
        levels=levels,
        tracks=tracks,
        exams=exams,
        certifications=certs,
    )
