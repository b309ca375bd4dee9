"""Set-based reads for `ledger report`: the instants inside a window at which a fact that can
change an access decision opened or closed, and the objects written into a bucket in the window.

Read-only; the schema comes from Alembic and the rows from the projector (`projections.sql`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, and_, or_, select

from projections.tables import facts

# Fact kinds an access decision reads. Left out: sessions (who_can names users, roles and roots,
# not sessions), access keys, jobs and objects (they grant nothing), the organisation's structure
# rows (their effect reaches decisions through the `scp` facts the fold derives from them).
ACCESS_KINDS = ("account", "principal", "member", "inline", "attach", "boundary", "tag", "revoked", "trust",
                "policy", "pver", "pdefault", "bucket", "bucket_policy", "scp")


@dataclass(frozen=True, slots=True)
class Boundary:
    """A fact opened (`change` = "opened") or closed at valid time `at` by the event at `position`."""

    at: int
    position: int | None
    event_type: str | None
    fact: str
    kind: str
    change: str


def change_points(engine: Engine, low: int, high: int, kinds: tuple[str, ...] = ACCESS_KINDS) -> list[Boundary]:
    """Every opening or closing of a fact of `kinds` at a valid time in (low, high], in time order."""
    opened = and_(facts.c.valid_from > low, facts.c.valid_from <= high)
    closed = and_(facts.c.valid_to > low, facts.c.valid_to <= high)
    stmt = select(facts.c.fact_key, facts.c.kind, facts.c.valid_from, facts.c.valid_to, facts.c.opened_position,
                  facts.c.opened_type, facts.c.closed_position, facts.c.closed_type
                  ).where(and_(facts.c.kind.in_(kinds), or_(opened, closed)))
    out: list[Boundary] = []
    with engine.connect() as conn:
        for key, kind, start, end, opened_at, opened_type, closed_at, closed_type in conn.execute(stmt):
            if low < start <= high:
                out.append(Boundary(start, opened_at, opened_type, key, kind, "opened"))
            if low < end <= high:
                out.append(Boundary(end, closed_at, closed_type, key, kind, "closed"))
    out.sort(key=lambda b: (b.at, b.position or 0, b.fact))
    return out


def objects_written(engine: Engine, bucket: str, low: int, high: int) -> list[tuple[str, int, int]]:
    """(object ARN, valid time written, position) of every object written into `bucket` in [low, high]."""
    stmt = select(facts.c.ref, facts.c.valid_from, facts.c.opened_position).where(and_(
        facts.c.kind == "object", facts.c.subject == bucket, facts.c.valid_from >= low, facts.c.valid_from <= high))
    with engine.connect() as conn:
        rows = [(str(ref), int(start), int(pos)) for ref, start, pos in conn.execute(stmt)]
    return sorted(set(rows), key=lambda r: (r[1], r[2], r[0]))
