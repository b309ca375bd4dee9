"""An in-memory temporal index of the facts point-in-time queries read, with keyframes per kind.

Pure (no storage, no clock): it holds `Fact` intervals handed to it, answers "in force at T"
exactly as `SqlFacts.at` does, and must never decide access or guess what a fact means.

Why: `who_can` at a fresh valid time used to read every fact in force at T (23k-53k rows at 1M
events) from SQL and index them again. Here each (kind, subject) and (kind, ref) keeps its
intervals sorted by valid_from with a running maximum of valid_to, so a point lookup is a binary
search plus a short backward walk; a whole kind at T starts from the nearest keyframe (the rows
in force at a valid time, every `FRAME` intervals) and applies only the intervals opened since.
The owner (`projections.sql_keyframes`) replaces a key's intervals when a later or out-of-order
event re-derived them, so answers always equal the plain SQL ones at the index's position.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import Any

from projections.facts import Fact

FRAME = 2048  # intervals between keyframes of a kind, in valid_from order
_SHORT = 12  # runs at most this long are filtered directly


class _Run:
    """Intervals sharing one lookup key, sorted by valid_from, with the running max of valid_to:
    walking back from T stops where every earlier interval ended by T."""

    __slots__ = ("ends", "rows", "starts")

    def __init__(self, rows: list[Fact]) -> None:
        rows.sort(key=_start)
        self.rows = rows
        self.starts = [f.valid_from for f in rows]
        ends: list[int] = []
        top = -1
        for f in rows:
            top = max(top, f.valid_to)
            ends.append(top)
        self.ends = ends

    def at(self, at: int) -> list[Fact]:
        i = bisect_right(self.starts, at) - 1
        out: list[Fact] = []
        rows, ends = self.rows, self.ends
        while i >= 0 and ends[i] > at:
            f = rows[i]
            if f.valid_to > at:
                out.append(f)
            i -= 1
        out.reverse()
        return out


def _start(f: Fact) -> int:
    return f.valid_from


class _Frames:
    """A whole kind by valid_from, with a keyframe (indexes of the intervals still in force at
    the valid_from of the interval before it) every `FRAME` intervals."""

    __slots__ = ("ends", "frames", "rows", "starts")

    def __init__(self, rows: list[Fact]) -> None:
        rows = sorted(rows, key=_start)
        self.rows = rows
        self.starts = [f.valid_from for f in rows]
        self.ends = array("q", (f.valid_to for f in rows))
        frames: list[array[int]] = [array("q")]
        live: set[int] = set()
        for k in range(FRAME, len(rows) + 1, FRAME):
            live.update(range(k - FRAME, k))
            threshold = self.starts[k - 1]
            ends = self.ends
            live = {j for j in live if ends[j] > threshold}
            frames.append(array("q", sorted(live)))
        self.frames = frames

    def at(self, at: int) -> list[Fact]:
        p = bisect_right(self.starts, at)
        k = p // FRAME
        rows, ends = self.rows, self.ends
        # Every interval before index k*FRAME still in force at T is in the keyframe: T is not
        # earlier than the keyframe's threshold.
        out = [rows[j] for j in self.frames[k] if ends[j] > at]
        out += [rows[j] for j in range(k * FRAME, p) if ends[j] > at]
        return out


class _Kind:
    __slots__ = ("by_ref", "by_subject", "frames", "runs_ref", "runs_subject")

    def __init__(self) -> None:
        self.by_subject: dict[str, list[Fact]] = {}
        self.by_ref: dict[str, list[Fact]] = {}
        self.runs_subject: dict[str, _Run] = {}
        self.runs_ref: dict[str, _Run] = {}
        self.frames: _Frames | None = None

    def add(self, f: Fact) -> None:
        self.by_subject.setdefault(f.subject, []).append(f)
        self.by_ref.setdefault(f.ref, []).append(f)

    def remove(self, gone: list[Fact]) -> None:
        """Drop these intervals (one pass per lookup key they touch)."""
        ids = {id(f) for f in gone}
        for index, runs, names in ((self.by_subject, self.runs_subject, {f.subject for f in gone}),
                                   (self.by_ref, self.runs_ref, {f.ref for f in gone})):
            for name in names:
                rows = index.get(name)
                if rows is not None:
                    rows[:] = [x for x in rows if id(x) not in ids]
                    if not rows:
                        del index[name]
                runs.pop(name, None)
        self.frames = None

    def touched(self, f: Fact) -> None:
        self.runs_subject.pop(f.subject, None)
        self.runs_ref.pop(f.ref, None)
        self.frames = None


def _lookup(index: dict[str, list[Fact]], runs: dict[str, _Run], name: str, at: int) -> list[Fact]:
    rows = index.get(name)
    if rows is None:
        return []
    if len(rows) <= _SHORT:
        return [f for f in rows if f.valid_from <= at < f.valid_to]
    run = runs.get(name)
    if run is None:
        run = runs[name] = _Run(list(rows))
    return run.at(at)


class _Bounded(dict[Any, Any]):
    """A dict that empties itself when full (derived values are cheap to make again)."""

    LIMIT = 100_000

    def __setitem__(self, key: Any, value: Any) -> None:
        if len(self) >= self.LIMIT:
            self.clear()
        super().__setitem__(key, value)


class KeyframeIndex:
    """Every interval of `kinds` at projection position `position`: a `FactSource` for those
    kinds (anything else, and whole histories, go to `fallback`, the SQL facts)."""

    def __init__(self, kinds: Sequence[str], facts: Iterable[Fact], position: int, fallback: Any) -> None:
        self.kinds = frozenset(kinds)
        self.position = position
        self.fallback = fallback
        self.token = getattr(fallback, "token", None)  # compiled-policy caches stay shared with SQL reads
        self._kinds: dict[str, _Kind] = {k: _Kind() for k in kinds}
        self._by_key: dict[str, list[Fact]] = {}
        self.size = 0
        # Values derived from the state, keyed by the identities of the intervals they were built
        # from (so valid at any T where those are in force); see `Snapshot.own_fingerprint`.
        self.shared: dict[Any, Any] = _Bounded()
        for f in facts:
            self._add(f)

    def _add(self, f: Fact) -> None:
        kind = self._kinds.get(f.kind)
        if kind is None:
            return
        kind.add(f)
        self._by_key.setdefault(f.key, []).append(f)
        self.size += 1

    def replace(self, keys: Iterable[str], facts: Iterable[Fact], position: int) -> None:
        """The intervals of `keys` as stored at `position` (none: the key is gone)."""
        gone: dict[str, list[Fact]] = {}
        for key in keys:
            for f in self._by_key.pop(key, ()):
                gone.setdefault(f.kind, []).append(f)
                self.size -= 1
        for kind_name, facts_gone in gone.items():
            self._kinds[kind_name].remove(facts_gone)
        for f in facts:
            self._add(f)
            kind = self._kinds.get(f.kind)
            if kind is not None:
                kind.touched(f)
        self.position = position

    # -- FactSource ------------------------------------------------------------------------

    def at(self, kind: str, at: int, subject: str | None = None, ref: str | None = None) -> list[Fact]:
        k = self._kinds.get(kind)
        if k is None:
            return list(self.fallback.at(kind, at, subject, ref))
        if subject is not None:
            found = _lookup(k.by_subject, k.runs_subject, subject, at)
            return found if ref is None else [f for f in found if f.ref == ref]
        if ref is not None:
            return _lookup(k.by_ref, k.runs_ref, ref, at)
        if k.frames is None:
            k.frames = _Frames([f for rows in k.by_subject.values() for f in rows])
        return k.frames.at(at)

    def many_at(self, kinds: Any, at: int) -> list[Fact]:
        return [f for kind in kinds for f in self.at(kind, at)]

    def history(self, kind: str | None = None, subjects: Iterable[str] | None = None,
                refs: Iterable[str] | None = None) -> list[Fact]:
        return list(self.fallback.history(kind, subjects, refs))

    def job_queues_at(self, account: str, at: int, position: int | None = None) -> list[str]:
        return list(self.fallback.job_queues_at(account, at, position))
