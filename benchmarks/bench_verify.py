"""The read side's trust figures: `verify` with the projection check at scale (against the log-only
verify and the decoded log read of the same run), the projection tamper campaign and the
first-use race campaign.

Run: `python -m benchmarks.bench_verify [--quick] [--events N] [--db URL]`. A report, not a
timed test: it counts and times, and asserts only that an untouched ledger verifies.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

POSTGRES_URL = os.environ.get("LEDGER_BENCH_POSTGRES_URL") or os.environ.get("LEDGER_TEST_POSTGRES_URL")


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the projection check's worker)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


_CPU: dict[str, float] = {}


def _timed(fn: Callable[[], Any], name: str = "") -> tuple[float, Any]:
    started, cpu = time.perf_counter(), _cpu()
    value = fn()
    if name:
        _CPU[name] = _cpu() - cpu
    return time.perf_counter() - started, value


def _in_one_process(fn: Callable[[], Any]) -> Any:
    from projections import verify_pool

    threshold = verify_pool.PARALLEL_MIN_EVENTS
    verify_pool.PARALLEL_MIN_EVENTS = 1 << 62
    try:
        return fn()
    finally:
        verify_pool.PARALLEL_MIN_EVENTS = threshold


def verify_at_scale(url: str, events: int | None = None, *, profile: bool = False) -> dict[str, Any]:
    """On the SQLite store at `url` (generated with `events` synthetic events first, if given,
    and projected): the decoded log read and the log-only verify (baselines), then the full
    verify (log + projection folded in memory), a checkpoint with projection digests and the
    quick verify against it."""
    from ledger.adapters.integrity_store import verify_store
    from ledger.application.facade import Ledger
    from ledger.application.generate import generate
    from ledger.application.trust import checkpoint_ledger, verify_ledger

    with Ledger.open(url) as ledger:
        if events:
            generate(ledger, events, 1)
            ledger.project()
        store = ledger.store
        n = store.max_position()
        read_s, _ = _timed(lambda: sum(1 for _ in store.iter_log(batch=5000)), "read")
        log_s, _ = _timed(lambda: verify_store(store, []), "log")
        full_s, full = _timed(lambda: verify_ledger(store, use_stored=False), "full")
        one_s, one = _timed(lambda: _in_one_process(lambda: verify_ledger(store, use_stored=False)), "one")
        cp_s, (cp, _) = _timed(lambda: checkpoint_ledger(store, save=False), "checkpoint")
        quick_s, quick = _timed(lambda: verify_ledger(store, [cp], quick=True, use_stored=False), "quick")
        top = _profile(lambda: verify_ledger(store, use_stored=False)) if profile else ""
    assert full.ok and one.ok and quick.ok, (full.projection.reason, quick.projection.reason)

    def rate(seconds: float, name: str) -> str:
        return f"{n / seconds:,.0f} ev/s ({seconds:.1f} s; CPU {n / max(_CPU[name], 1e-9):,.0f} ev/s)"

    detail = (f"full verify {rate(full_s, 'full')} [check in a worker process]; the same in one process "
              f"{rate(one_s, 'one')}; quick verify {rate(quick_s, 'quick')}; checkpoint {rate(cp_s, 'checkpoint')}; "
              f"baselines: log-only verify {rate(log_s, 'log')}, decoded log read {rate(read_s, 'read')}; "
              f"load {os.getloadavg()[0]:.1f}")
    if top:
        print(top)
    return {"campaign": f"verify with projection, {n:,} events, SQLite", "tried": n, "findings": 0, "detail": detail}


def _profile(fn: Callable[[], Any]) -> str:
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    return out.getvalue()


def _backends() -> list[str]:
    return ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


def _fresh(backend: str, folder: Path) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        return f"sqlite:///{folder}/{uuid.uuid4().hex[:8]}.db", lambda: None
    assert POSTGRES_URL is not None
    schema = "vbench_" + uuid.uuid4().hex[:10]

    def drop() -> None:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}schema={schema}", drop


def _bookkeeping_attacks() -> dict[str, tuple[Callable[[str], None], str]]:
    """The §5 attacks: (set up and tamper with the store at a URL, the table verify must name)."""
    from ledger.application.facade import Ledger
    from ledger.application.importing.runner import import_cloudtrail
    from tests.trust import test_tamper_projection as suite
    from tests.trust._support import raw

    def source_ids(url: str) -> None:
        with Ledger.open(url) as ledger:
            import_cloudtrail(ledger, [suite.TRAIL])
        with raw(url) as db:
            db.execute("DELETE FROM {source_keys}")

    def tracking_forward(url: str) -> None:
        suite.story(url)
        with raw(url) as db:
            db.execute("UPDATE {tracking} SET position = position + 5")

    return {"delete the source ids": (source_ids, "source_ids"),
            "move the tracked position forward": (tracking_forward, "tracking")}


def projection_tamper_campaign(folder: Path) -> dict[str, Any]:
    """Every projection attack of the tamper suite, and the source-id and tracking attacks, on
    each backend: detected = verify not ok; located = its first divergence is in the attacked
    table (and fact kind, with the key and the events named)."""
    from tests.trust import test_tamper_projection as suite
    from tests.trust._support import raw

    tried = detected = located = 0
    for backend in _backends():
        cases: list[tuple[Callable[[str], None], str, str | None]] = []
        for attack in suite.ATTACKS.values():
            def tamper(url: str, attack: Any = attack) -> None:
                suite.story(url)
                with raw(url) as db:
                    attack.tamper(db)
            cases.append((tamper, attack.table, attack.kind))
        cases += [(tamper, table, None) for tamper, table in _bookkeeping_attacks().values()]
        for tamper, table, kind in cases:
            url, drop = _fresh(backend, folder)
            try:
                tamper(url)
                report = suite.verify(url)
                first = report.projection.first
                tried += 1
                detected += not report.ok
                located += first is not None and first.table == table and kind in (None, first.kind)
            finally:
                drop()
    return {"campaign": "projection tamper (interval, deny, grant, payload, source ids, tracking)", "tried": tried,
            "findings": tried - detected, "detail": f"{detected}/{tried} detected, {located}/{tried} located"}


def first_use_campaign(folder: Path, rounds: int, processes: int = 16) -> dict[str, Any]:
    """`processes` processes open one fresh store at once, `rounds` times per backend."""
    from tests.trust._concurrency import race_first_use

    tried = failures = 0
    for backend in _backends():
        for _ in range(rounds):
            url, drop = _fresh(backend, folder)
            try:
                outcome = race_first_use(url, processes)
            finally:
                drop()
            tried += 1
            failures += bool(outcome.violations)
            for violation in outcome.violations:
                print(f"  first use {backend}: {violation[:300]}")
    return {"campaign": f"first use: {processes} processes open a fresh store at once", "tried": tried,
            "findings": failures, "detail": f"{tried * processes * 2} commands, {failures} races with a failure"}


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Every row (small sizes with `quick`)."""
    from ledger.adapters.logging import configure_logging

    configure_logging("error")
    folder = Path(tempfile.mkdtemp(prefix="verify-"))
    return [
        projection_tamper_campaign(folder),
        first_use_campaign(folder, 1 if quick else 5),
        verify_at_scale(f"sqlite:///{folder}/scale.db", 100_000 if quick else 1_000_000),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    parser.add_argument("--db", help="measure verify on this existing (projected) SQLite store only")
    parser.add_argument("--profile", action="store_true", help="also print the full verify's profile")
    args = parser.parse_args()
    from benchmarks.bench_store import print_table

    if args.db:
        print_table("verify at scale", [verify_at_scale(args.db, profile=args.profile)])
        return
    print_table("read-side trust", run(args.quick))


if __name__ == "__main__":
    main()
