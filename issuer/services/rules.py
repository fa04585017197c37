"""Certification rules (SPEC §5.3), batch-first: a pass with its prerequisites met grants; a pass
whose prerequisites are missing is held, and granted from its own exam date once they are
earned (a held grant is not a pass and recertifies nothing); a pass recertifies every active
certification of its track at or below its level, moving each expiry only when that is later. A
revoked certification counts for nothing and is not granted again by a pass.

`plan` decides all of it in memory for many passes at once (rows of one candidate in file
order, each seeing what the earlier ones changed); `apply_passes` loads the state, plans, and
writes the outcome through the single grant and issuance paths — a whole import chunk in a
handful of statements."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from issuer.catalog import Catalog, CertificationDef
from issuer.context import IssuerContext
from issuer.db import among, fast_insert, read_rows
from issuer.models import Certification, ExamResult, HeldGrant
from issuer.services import certifications
from issuer.services.certifications import Award, expiry_for
from issuer.services.payloads import CertificationGrant, Holder


class Pass(NamedTuple):
    """A passed exam: what the rules need of an imported result (`registration`: its row id)."""

    holder: Holder
    exam_code: str
    exam_date: date
    registration: int

    @property
    def candidate_id(self) -> int:
        return self.holder.candidate_id


@dataclass(slots=True)
class _Held:
    """A certification as the rules see it: stored (`id`) or granted in this batch (`id` None)."""

    code: str
    exam_date: date
    valid_until: datetime
    id: int | None = None
    awarded_at: datetime | None = None
    moved: bool = False  # a stored certification whose expiry moved in this batch


@dataclass(slots=True)
class _Waiting:
    """A held grant: stored (`id`), or held in this batch for the result of `registration`."""

    code: str
    exam_date: date
    id: int | None = None
    registration: int | None = None


@dataclass
class CandidateState:
    certifications: dict[str, _Held] = field(default_factory=dict)
    waiting: list[_Waiting] = field(default_factory=list)
    released: list[int] = field(default_factory=list)  # stored held grants to delete
    # Revoked certifications (withdrawn, issued in error, misconduct): not held — no prerequisite,
    # nothing to recertify — and never granted again by a pass; only support can act on them.
    revoked: set[str] = field(default_factory=set)


@dataclass
class RuleOutcome:
    granted: int = 0
    recertified: int = 0
    held: int = 0
    credentials: int = 0


def _prerequisites_met(definition: CertificationDef, held: dict[str, _Held], now: datetime) -> bool:
    if not definition.prerequisites:
        return True
    return all(code in held and held[code].valid_until > now for code in definition.prerequisites)


class _Planner:
    def __init__(self, catalog: Catalog, now: datetime, outcome: RuleOutcome) -> None:
        self.catalog = catalog
        self.now = now
        self.outcome = outcome

    def apply(self, state: CandidateState, passed: Pass) -> None:
        """Everything one passed exam changes in `state`."""
        held = state.certifications
        earned = self.catalog.earned_by(passed.exam_code)
        recertified: set[str] = set()
        for definition in earned:
            if definition.code in state.revoked:
                continue
            existing = held.get(definition.code)
            if existing is None:
                if _prerequisites_met(definition, held, self.now):
                    self._grant(state, definition, passed.exam_date)
                else:
                    state.waiting.append(_Waiting(definition.code, passed.exam_date, registration=passed.registration))
                    self.outcome.held += 1
            elif existing.valid_until <= self.now:
                # An expired certification earned again: a fresh validity period from this exam.
                self._extend(existing, definition, passed.exam_date, recertified)
        # The same exam again, or a higher one, recertifies the track at or below its level.
        for definition in earned:
            for code, certification in list(held.items()):
                other = self.catalog.get(code)
                if (
                    other is None
                    or other.track != definition.track
                    or self.catalog.level_of(other) > self.catalog.level_of(definition)
                    or certification.valid_until <= self.now
                ):
                    continue
                self._extend(certification, other, passed.exam_date, recertified)
        self._release(state)

    def _grant(self, state: CandidateState, definition: CertificationDef, exam_date: date) -> None:
        valid_until = expiry_for(exam_date, definition.validity_years)
        state.certifications[definition.code] = _Held(definition.code, exam_date, valid_until)
        self.outcome.granted += 1

    def _extend(self, held: _Held, definition: CertificationDef, exam_date: date, recertified: set[str]) -> None:
        """Move the expiry to exam date + validity, only if that is later."""
        new_expiry = expiry_for(exam_date, definition.validity_years)
        if new_expiry <= held.valid_until or definition.code in recertified:
            return
        held.valid_until, held.exam_date = new_expiry, exam_date
        held.moved = held.id is not None
        recertified.add(definition.code)
        self.outcome.recertified += 1

    def _release(self, state: CandidateState) -> None:
        """Grant held passes whose prerequisites are now met, each from its own exam date (chains too)."""
        released = True
        while released:
            released = False
            for waiting in sorted(state.waiting, key=lambda w: (w.exam_date, w.id or 0)):
                definition = self.catalog.get(waiting.code)
                if definition is None or waiting.code in state.revoked:
                    continue
                if waiting.code not in state.certifications:
                    if not _prerequisites_met(definition, state.certifications, self.now):
                        continue
                    if expiry_for(waiting.exam_date, definition.validity_years) <= self.now:
                        continue  # it would be born expired; it stays held (visible to support)
                    self._grant(state, definition, waiting.exam_date)
                # Granted now, or earned meanwhile by another pass: no longer waiting.
                state.waiting.remove(waiting)
                if waiting.id is not None:
                    state.released.append(waiting.id)
                released = True


def plan(catalog: Catalog, states: dict[int, CandidateState], passes: Iterable[Pass], now: datetime) -> RuleOutcome:
    """Apply `passes` (in order) to the candidates' `states` in memory; returns the counts."""
    outcome = RuleOutcome()
    planner = _Planner(catalog, now, outcome)
    for passed in passes:
        planner.apply(states.setdefault(passed.candidate_id, CandidateState()), passed)
    return outcome


def load_states(session: Session, candidate_ids: Iterable[int]) -> dict[int, CandidateState]:
    """The certifications and held grants of these candidates, as the rules see them."""
    ids = set(candidate_ids)
    states = {candidate_id: CandidateState() for candidate_id in ids}
    if not ids:
        return states
    revoked = certifications.revoked_among(session, ids)
    for row in read_rows(
        session,
        select(
            Certification.id, Certification.candidate_id, Certification.code, Certification.exam_date,
            Certification.valid_until, Certification.granted_at,
        ).where(among(session, Certification.candidate_id, ids))
    ):  # fmt: skip
        state = states[row.candidate_id]
        if row.id in revoked:
            state.revoked.add(row.code)
        else:
            state.certifications[row.code] = _Held(row.code, row.exam_date, row.valid_until, row.id, row.granted_at)
    for grant in read_rows(
        session,
        select(HeldGrant.id, HeldGrant.candidate_id, HeldGrant.code, HeldGrant.exam_date)
        .where(among(session, HeldGrant.candidate_id, ids))
        .order_by(HeldGrant.exam_date, HeldGrant.id),
    ):
        states[grant.candidate_id].waiting.append(_Waiting(grant.code, grant.exam_date, grant.id))
    return states


def _held_rows(session: Session, states: dict[int, CandidateState], now: datetime) -> list[dict[str, object]]:
    """The grants held in this batch, as rows (each names the result that earned it)."""
    new = [(candidate_id, w) for candidate_id, state in states.items() for w in state.waiting if w.id is None]
    if not new:
        return []
    query = select(ExamResult.registration_id, ExamResult.id).where(
        among(session, ExamResult.registration_id, {w.registration for _, w in new})
    )
    result_ids = {registration: result_id for registration, result_id in read_rows(session, query)}
    return [
        {"candidate_id": candidate_id, "code": w.code, "exam_date": w.exam_date,
         "result_id": result_ids[w.registration], "created_at": now}
        for candidate_id, w in new
        if w.registration is not None  # always, for a grant held in this batch
    ]  # fmt: skip


def apply_passes(
    session: Session, ctx: IssuerContext, passes: Sequence[Pass], *, now: datetime, actor: str
) -> RuleOutcome:
    """Everything these passed exams change, in the caller's unit of work."""
    if not passes:
        return RuleOutcome()
    holders = {p.candidate_id: p.holder for p in passes}
    states = load_states(session, holders)
    outcome = plan(ctx.catalog, states, passes, now)

    awards: list[Award] = []
    extensions: list[CertificationGrant] = []
    released: list[int] = []
    for candidate_id, state in states.items():
        holder = holders[candidate_id]
        for c in state.certifications.values():
            if c.id is None:
                awards.append(Award(holder, c.code, c.exam_date, c.valid_until))
            elif c.moved and c.awarded_at is not None:
                extensions.append(CertificationGrant(holder, c.id, c.code, c.exam_date, c.awarded_at, c.valid_until))
        released.extend(state.released)
    if released:
        session.execute(delete(HeldGrant).where(among(session, HeldGrant.id, released)))
    fast_insert(session, HeldGrant.__table__, _held_rows(session, states, now))  # type: ignore[arg-type]
    issued = certifications.grant_many(session, ctx, awards, now=now)
    reissued = certifications.extend_many(session, ctx, extensions, now=now, actor=actor, note="recertification")
    outcome.credentials = len(issued) + len(reissued)
    return outcome
