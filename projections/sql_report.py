"""Set-based reads for `ledger report`: the instants inside a window at which a fact that can
change an access decision opened or closed, and the objects written into a bucket in the window.

Read-only; the schema comes from Alembic and the rows from the projector (`projections.sql`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, or_, select

from projections.tables import facts

# Fact kinds an access decision of a user, role or root reads. Left out: sessions and their
# revocations (who_can names users, roles and roots, not sessions), access keys, jobs and objects
# (they grant nothing), the organisation's structure rows (their effect reaches decisions through
# the `scp` facts the fold derives from them), and managed policy versions (a decision reads only
# the default version, so only a change of `pdefault` can change one).
ACCESS_KINDS = ("account", "principal", "member", "inline", "attach", "boundary", "tag", "trust",
                "policy", "pdefault", "scp")
# Kinds keyed by bucket name: only the report's own bucket's rows can change its decisions.
BUCKET_KINDS = ("bucket", "bucket_policy", "ownership")


_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Boundary:
    """A fact opened (`change` = "opened") or closed at valid time `at` by the event at `position`."""

    at: int
    position: int | None
    event_type: str | None
    fact: str
    kind: str
    change: str
    subject: str = ""
    ref: str = ""


def change_points(engine: Engine, low: int, high: int, bucket: str | None = None,
                  kinds: tuple[str, ...] = ACCESS_KINDS) -> list[Boundary]:
    """Every opening or closing at a valid time in (low, high] of a fact of `kinds`, or of a
    bucket kind for `bucket` (every bucket's when None), in time order."""
    opened = and_(facts.c.valid_from > low, facts.c.valid_from <= high)
    closed = and_(facts.c.valid_to > low, facts.c.valid_to <= high)
    buckets: ColumnElement[bool] = facts.c.kind.in_(BUCKET_KINDS)
    if bucket is not None:
        buckets = and_(buckets, facts.c.subject == bucket)
    stmt = select(facts.c.fact_key, facts.c.kind, facts.c.valid_from, facts.c.valid_to, facts.c.opened_position,
                  facts.c.opened_type, facts.c.closed_position, facts.c.closed_type, facts.c.subject, facts.c.ref,
                  ).where(and_(or_(facts.c.kind.in_(kinds), buckets), or_(opened, closed)))
    out: list[Boundary] = []
    with engine.connect() as conn:
        for key, kind, start, end, opened_at, opened_type, closed_at, closed_type, subject, ref in conn.execute(stmt):
            if low < start <= high:
                out.append(Boundary(start, opened_at, opened_type, key, kind, "opened", subject, ref))
            if low < end <= high:
                out.append(Boundary(end, closed_at, closed_type, key, kind, "closed", subject, ref))
    out.sort(key=lambda b: (b.at, b.position or 0, b.fact))
    return out


def objects_written(engine: Engine, bucket: str, low: int, high: int) -> list[tuple[str, int, int]]:
    """(object ARN, valid time written, position) of every object written into `bucket` in [low, high]."""
    stmt = select(facts.c.ref, facts.c.valid_from, facts.c.opened_position).where(and_(
        facts.c.kind == "object", facts.c.subject == bucket, facts.c.valid_from >= low, facts.c.valid_from <= high))
    with engine.connect() as conn:
        rows = [(str(ref), int(start), int(pos)) for ref, start, pos in conn.execute(stmt)]
    return sorted(set(rows), key=lambda r: (r[1], r[2], r[0]))


def _around(at: int) -> Any:
    """In force at `at` or up to it (a fact closed at `at` held just before)."""
    return and_(facts.c.valid_from <= at, facts.c.valid_to >= at)


def principal_kinds(engine: Engine, ids: Iterable[str], at: int) -> dict[str, tuple[str, str]]:
    """unique id → (kind, ARN) of the principals (users, groups, roles) in force at or up to `at`."""
    out: dict[str, tuple[str, str]] = {}
    wanted = sorted(set(ids))
    with engine.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            stmt = select(facts.c.subject, facts.c.ref, facts.c.payload).where(and_(
                facts.c.kind == "principal", facts.c.subject.in_(wanted[start:start + _CHUNK]), _around(at)))
            for subject, ref, payload in conn.execute(stmt):
                out[str(subject)] = (str(json.loads(payload).get("kind")), str(ref))
    return out


def related(engine: Engine, kind: str, column: str, values: Iterable[str], at: int) -> set[str]:
    """The other end of the `kind` facts (member: user id ↔ group id; attach and boundary: holder
    id ↔ policy id) whose `column` ("subject" or "ref") is one of `values`, at or up to `at`."""
    mine, other = (facts.c.subject, facts.c.ref) if column == "subject" else (facts.c.ref, facts.c.subject)
    wanted = sorted(set(values))
    out: set[str] = set()
    with engine.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            stmt = select(other).where(and_(facts.c.kind == kind, mine.in_(wanted[start:start + _CHUNK]), _around(at)))
            out.update(str(v) for v in conn.execute(stmt).scalars())
    return out
