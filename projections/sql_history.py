"""Set-based reads for `diff`: the facts that opened or closed inside a window, and object ARNs at two times.

Read-only, one statement per question; values are bound parameters, never SQL text.
"""

# ruff: noqa: S608  - the SQL text is built from this module's constants; values are bound parameters

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Engine, text

from projections.facts import Fact

_COLUMNS = ("fact_key, kind, subject, ref, valid_from, valid_to, opened_position, opened_type, "
            "closed_position, closed_type, payload")


def changed_between(engine: Engine, lo: int, hi: int, kinds: Iterable[str]) -> list[Fact]:
    """Every fact of `kinds` that opened or closed at a valid time in (lo, hi]."""
    names = sorted(set(kinds))
    marks = ", ".join(f":k{i}" for i in range(len(names)))
    sql = (f"SELECT {_COLUMNS} FROM pl_facts WHERE kind IN ({marks}) AND valid_from > :lo AND valid_from <= :hi "
           f"UNION SELECT {_COLUMNS} FROM pl_facts WHERE kind IN ({marks}) AND valid_to > :lo AND valid_to <= :hi")
    params: dict[str, object] = {f"k{i}": k for i, k in enumerate(names)}
    params.update(lo=lo, hi=hi)
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    return [Fact(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], json.loads(r[10])) for r in rows]


def object_refs_at(engine: Engine, times: Iterable[int]) -> set[str]:
    """The ARNs of the objects written and in force at any of `times` (no payload decoded)."""
    out: set[str] = set()
    with engine.connect() as conn:
        for at in set(times):
            rows = conn.execute(text("SELECT DISTINCT ref FROM pl_facts WHERE kind = 'object' "
                                     "AND valid_from <= :at AND valid_to > :at"), {"at": at}).scalars()
            out.update(str(r) for r in rows)
    return out
