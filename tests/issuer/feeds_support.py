"""Building vendor feeds for tests."""

from __future__ import annotations

from pathlib import Path

REG_HEADER = "registration_id,email,first_name,last_name,exam_code,registered_at,exam_date"
RES_HEADER = "registration_id,exam_code,exam_date,score,passing_score,result"


def write(path: Path, header: str, rows: list[str], *, newline: str = "\n", bom: bool = False) -> Path:
    text = newline.join([header, *rows]) + newline
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def registration(reg_id: str, email: str, exam: str, *, first: str = "Ada", last: str = "Lovelace",
                 registered: str = "2026-10-01T09:00:00Z", exam_date: str = "") -> str:  # fmt: skip
    return f"{reg_id},{email},{first},{last},{exam},{registered},{exam_date}"


def result(reg_id: str, exam: str, exam_date: str, *, score: int = 800, passing: int = 700) -> str:
    return f"{reg_id},{exam},{exam_date},{score},{passing},{'pass' if score >= passing else 'fail'}"
