"""Trust report: runs the tamper, concurrency, crash and fuzz campaigns and measures `verify`.

Run: `python -m benchmarks.bench_trust [--quick]`. A report, not a timed test: it counts cases
and findings, and times verification of a 1M-event SQLite log end to end (not with --quick).
PostgreSQL campaigns run too when LEDGER_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.adapters.logging import configure_logging

POSTGRES_URL = os.environ.get("LEDGER_BENCH_POSTGRES_URL") or os.environ.get("LEDGER_TEST_POSTGRES_URL")


@contextmanager
def _fresh_url(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder}/{uuid.uuid4().hex[:8]}.db"
        return
    assert POSTGRES_URL is not None
    import psycopg

    schema = "trust_" + uuid.uuid4().hex[:10]
    yield f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}schema={schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _backends() -> list[str]:
    return ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


def tamper_campaign(folder: Path) -> dict[str, Any]:
    """Every tamper case (plus a fork) on each backend; detected = verify reports not ok."""
    from ledger.adapters.integrity_store import checkpoint_store, verify_store
    from ledger.adapters.store import EventStore
    from ledger.application.facade import Ledger
    from tests.trust._support import raw, record_history
    from tests.trust.test_tamper import CASES

    tried = detected = located = 0
    for backend in _backends():
        for case in [*CASES, "fork"]:
            with _fresh_url(backend, folder) as url:
                with Ledger.open(url) as ledger:
                    record_history(ledger)
                store = EventStore(url)
                cp, leaves = checkpoint_store(store, keep_leaf_hashes=True)
                store.close()
                expected = None
                if case == "fork":
                    with _fresh_url("sqlite", folder) as fork_url, Ledger.open(fork_url) as fork:
                        record_history(fork)
                        fork_store = EventStore(fork_url)
                        cp, _ = checkpoint_store(fork_store)
                        fork_store.close()
                        leaves = None
                else:
                    with raw(url) as db:
                        expected = CASES[case](db, db.positions())
                store = EventStore(url)
                report = verify_store(store, [cp], leaf_manifest=leaves)
                store.close()
                tried += 1
                detected += not report.ok
                located += expected is None or report.first_bad_position == expected
    return {"campaign": "tamper (edit, delete, swap, forge, truncate, fork)", "tried": tried,
            "findings": tried - detected, "detail": f"{detected}/{tried} detected, {located}/{tried} located exactly"}


def concurrency_campaign(folder: Path, rounds: int) -> dict[str, Any]:
    from tests.trust._concurrency import SCENARIOS

    tried = violations = commands = 0
    for backend in _backends():
        for _ in range(rounds):
            for scenario in SCENARIOS.values():
                with _fresh_url(backend, folder) as url:
                    outcome = scenario(url)
                tried += 1
                commands += len(outcome.results)
                violations += bool(outcome.violations)
                for violation in outcome.violations:
                    print(f"  race {backend} {outcome.name}: {violation[:300]}")
    return {"campaign": "concurrent conflicts (processes racing)", "tried": tried, "findings": violations,
            "detail": f"{commands} racing commands, {violations} races with an invariant violation"}


def crash_campaign(folder: Path, rounds: int) -> dict[str, Any]:
    from tests.trust import _crash

    tried = divergences = 0
    for backend in _backends():
        for r in range(rounds):
            for name, run in (
                ("record", _crash.crash_during_record_batches),
                ("import", lambda url: _crash.crash_during_import(url, folder / f"trail-{uuid.uuid4().hex[:6]}")),
                ("projection", _crash.crash_during_projection),
                ("follower", _crash.follower_during_writes),
            ):
                with _fresh_url(backend, folder) as url:
                    problems = run(url)
                tried += 1
                divergences += bool(problems)
                if problems:
                    print(f"  crash {backend} {name} round {r}: {problems}")
    return {"campaign": "kill -9 crash points (append, import, projection, follower)", "tried": tried,
            "findings": divergences, "detail": f"{divergences} divergences"}


def fuzz_campaign(scale: float) -> list[dict[str, Any]]:
    """The hostile-input campaign (`benchmarks.fuzz_campaign`) at `scale` × its plan of 50,600
    cases: one row per surface, plus wedged stores and the slowest case."""
    from benchmarks.fuzz_campaign import run_campaign

    folder = Path(tempfile.mkdtemp(prefix="trust-fuzz-"))
    postgres = (lambda: _fresh_url("postgres", folder)) if POSTGRES_URL else None
    started = time.perf_counter()
    tally = run_campaign(folder, scale, postgres)
    seconds = time.perf_counter() - started
    kinds = Counter(_finding_kind(f) for f in tally.findings)
    for kind, count in kinds.most_common(10):
        print(f"  fuzz finding ×{count}: {kind}")
    by_surface = Counter(f.split(":", 1)[0] for f in tally.findings)
    rows = []
    for surface, count in tally.cases.items():
        slowest, label = tally.slowest.get(surface, (0.0, ""))
        rows.append({"campaign": f"hostile input: {surface}", "tried": count, "findings": by_surface.get(surface, 0),
                     "detail": f"slowest case {slowest * 1000:,.0f} ms: {label[:70]}"})
    total = sum(tally.cases.values())
    rows.append({"campaign": "hostile input: all surfaces", "tried": total, "findings": len(tally.findings),
                 "detail": f"{tally.wedged} wedged stores of {tally.stores_checked} checks; {seconds:.0f} s in all"})
    return rows


def _finding_kind(finding: str) -> str:
    """A finding without the values that vary from case to case (positions, characters)."""
    surface, _, rest = finding.partition(": ")
    return f"{surface}: {rest.split(':')[0][:60]}: {rest.split(':')[1][:40] if ':' in rest else ''}".rstrip(": ")


def verify_throughput(folder: Path, events: int) -> dict[str, Any]:
    """Build a SQLite log of `events` imported facts, checkpoint it, then time `verify`."""
    from ledger.adapters.integrity_store import checkpoint_store, verify_store
    from ledger.application.facade import Ledger
    from ledger.domain import events as ev

    url = f"sqlite:///{folder}/verify-{events}.db"
    now = datetime.now(UTC)
    with Ledger.open(url) as ledger:
        ledger.create_account("111122223333", "bench")
        for start in range(0, events - 1, 5000):
            ledger.record([
                ev.AccessObserved(
                    originator_id=ev.account_stream_id("111122223333"), originator_version=0,
                    occurred_at=now, recorded_at=now, account_id="111122223333", source="cloudtrail",
                    source_id=f"evt-{i}", principal_arn=f"arn:aws:iam::111122223333:user/u{i % 500}",
                    action="s3:GetObject", resource=f"arn:aws:s3:::bucket-{i % 50}/key-{i}", allowed=True,
                )
                for i in range(start, min(events - 1, start + 5000))
            ])
        store = ledger.store
        started = time.perf_counter()
        cp, _ = checkpoint_store(store)
        checkpoint_s = time.perf_counter() - started
        started = time.perf_counter()
        report = verify_store(store, [cp])
        verify_s = time.perf_counter() - started
    assert report.ok and report.tree_size == events
    return {"campaign": f"verify throughput, {events:,} events, SQLite, end to end", "tried": events,
            "findings": 0, "detail": f"verify {events / verify_s:,.0f} events/s ({verify_s:.2f} s); "
                                     f"checkpoint {events / checkpoint_s:,.0f} events/s"}


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Run every campaign (small ones with `quick`); one dict per table row."""
    from benchmarks.bench_verify import first_use_campaign, projection_tamper_campaign, verify_at_scale

    configure_logging("error")
    folder = Path(tempfile.mkdtemp(prefix="trust-"))
    rows = [
        tamper_campaign(folder),
        projection_tamper_campaign(folder),
        concurrency_campaign(folder, 1 if quick else 3),
        first_use_campaign(folder, 1 if quick else 5),
        crash_campaign(folder, 1 if quick else 3),
        *fuzz_campaign(0.1 if quick else 1.0),
        verify_throughput(folder, 100_000 if quick else 1_000_000),
        verify_at_scale(f"sqlite:///{folder}/scale.db", 100_000 if quick else 1_000_000),
    ]
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    width = max(len(r["campaign"]) for r in rows)
    print(f"{'campaign':<{width}}  {'tried':>9}  {'findings':>8}  detail")
    for r in rows:
        print(f"{r['campaign']:<{width}}  {r['tried']:>9,}  {r['findings']:>8}  {r['detail']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round each, 100k-event verify")
    _print(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
