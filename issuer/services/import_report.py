"""What an import did: counts, and the rejected rows as `(line, code, reason)`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

from issuer.services.feeds import FeedRow, RowRejected

Progress = Callable[[int], None]


@dataclass
class ImportReport:
    kind: str
    rows_read: int = 0
    rows_applied: int = 0
    rows_unchanged: int = 0  # already imported with the same data
    accounts_created: int = 0
    registrations_created: int = 0
    results_imported: int = 0
    certifications_granted: int = 0
    certifications_recertified: int = 0
    grants_held: int = 0
    credentials_issued: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, code, reason)

    @property
    def rows_rejected(self) -> int:
        return len(self.rejected)

    def reject(self, row: FeedRow, exc: RowRejected) -> None:
        self.rows_read += 1
        self.rejected.append((row.line, exc.code, exc.reason))

    def add(self, other: ImportReport) -> None:
        for item in fields(self):
            if item.name == "kind":
                continue
            mine = getattr(self, item.name)
            if isinstance(mine, list):
                mine.extend(getattr(other, item.name))
            else:
                setattr(self, item.name, mine + getattr(other, item.name))
