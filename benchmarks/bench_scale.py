"""Issue 12's scale table: every target row with its measured value, same-run baseline and ratio,
on SQLite and PostgreSQL. `python -m benchmarks --only scale [--quick]`.

Other benchmark modules contribute rows by exposing `scale_rows(quick) -> list[dict]` (keys:
`id`, `store`, `measured`, `baseline`, `ratio`, `met`, optionally `history` and `note`); a target
no module measured yet is printed as pending, with who fills it. `ratio` is always "above 1 is
better than the baseline": measured ÷ baseline for throughputs, baseline ÷ measured for times.
Never a timed test.
"""

from __future__ import annotations

import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

# (id, measure, store, history, target, who measures it)
TARGETS: list[tuple[str, str, str, str, str, str]] = [
    ("who_can", "who_can(at, paths) p50 / p99", "sqlite", "1M events, 5k principals", "≤ 50 / ≤ 150 ms",
     "bench_projections"),
    ("can", "can(at) p50 / p99", "sqlite", "1M events", "≤ 1 / ≤ 5 ms", "bench_projections"),
    ("rebuild", "rebuild all projections (peak RSS)", "sqlite", "1M events", "≥ 50k ev/s, ≤ 1 GiB",
     "bench_projections"),
    ("rebuild", "rebuild all projections (peak RSS)", "postgresql", "1M events", "≥ 50k ev/s, ≤ 1 GiB",
     "bench_projections"),
    ("who_can_org", "who_can(at, paths) p50 / p99", "postgresql", "organisation tier", "≤ 250 ms / ≤ 1 s",
     "bench_org"),
    ("can_org", "can(at) p50 / p99", "postgresql", "organisation tier", "≤ 2 / ≤ 10 ms", "bench_org"),
    ("diff_week", "diff T1 T2, one week", "sqlite", "1M events, 5k principals", "≤ 2 s", "bench_history"),
    ("diff_year", "diff T1 T2, one year", "sqlite", "1M events, 5k principals", "≤ 30 s", "bench_history"),
    ("timeline", "timeline, one principal/action/resource", "sqlite", "1M events", "≤ 200 ms", "bench_history"),
    ("startup_help", "CLI start-up: ledger --help", "sqlite", "any", "≤ 300 ms", "bench_scale"),
    ("startup_can", "CLI start-up: ledger can, warm store", "sqlite", "demo story", "≤ 400 ms", "bench_scale"),
    ("follow_lag", "project --follow lag p99", "postgresql", "5k ev/s from 4 writer processes", "≤ 1 s",
     "bench_scale"),
    ("simulate", "ledger simulate, varied scenarios", "-", "10k scenarios", "≥ 5k/s; warm p50 ≤ 10 µs",
     "bench_policy"),
    ("memory_org", "memory, any query", "postgresql", "organisation tier", "≤ 2 GiB RSS", "bench_org"),
    ("generate_org", "generate the organisation tier", "postgresql", "organisation tier", "fast (batched path)",
     "bench_org"),
    ("rebuild_org", "rebuild all projections", "postgresql", "organisation tier", "(reported)", "bench_org"),
    ("append", "Ledger.record vs es Mapper+transcoder", "sqlite", "batches of 100", "ratio ≥ 0.85", "bench_store"),
    ("append", "Ledger.record vs es Mapper+transcoder", "postgresql", "batches of 100", "ratio ≥ 0.85",
     "bench_store"),
]
CONTRIBUTORS = ["benchmarks.bench_projections", "benchmarks.bench_store", "benchmarks.bench_scale",
                "benchmarks.bench_history", "benchmarks.bench_policy", "benchmarks.bench_org"]
POSTGRES_URL = os.environ.get("LEDGER_BENCH_POSTGRES_URL") or os.environ.get("LEDGER_TEST_POSTGRES_URL")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


# ------------------------------------------------------------------------- CLI start-up

def _timed_runs(argv: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False, timeout=120)
        out.append((time.perf_counter() - started) * 1000)
    return out


def startup_rows(quick: bool) -> list[dict[str, Any]]:
    """Wall time to first output of `ledger --help` and of `ledger can` on a warm SQLite store,
    repeated fresh processes; baseline: a bare `python -c pass` in the same run."""
    from ledger import Ledger
    from ledger.application.demo import record_story

    runs = 5 if quick else 15
    cli = [sys.executable, "-c", "from ledger.cli import main; main()"]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/warm.db"
        with Ledger.open(url) as ledger:
            record_story(ledger)
            ledger.project()
        bare = _timed_runs([sys.executable, "-c", "pass"], runs)
        can = [*cli, "--db", url, "can", "arn:aws:iam::111122223333:user/bob", "mediaconvert:CreateJob", "*"]
        _timed_runs(can, 1)  # warm the OS file cache and the .pyc files
        measured = {"startup_help": _timed_runs([*cli, "--help"], runs), "startup_can": _timed_runs(can, runs)}
    base = statistics.median(bare)
    limits = {"startup_help": 300.0, "startup_can": 400.0}
    return [{
        "id": key, "store": "sqlite",
        "measured": f"p50 {statistics.median(ms):.0f} ms, p90 {_pct(ms, 0.9):.0f} ms",
        "baseline": f"bare python {base:.0f} ms", "ratio": round(base / statistics.median(ms), 2),
        "met": statistics.median(ms) <= limits[key], "note": f"load {os.getloadavg()[0]:.1f}",
    } for key, ms in measured.items()]


# ------------------------------------------------------------------------- follow lag

def scale_rows(quick: bool) -> list[dict[str, Any]]:
    rows = startup_rows(quick)
    if POSTGRES_URL:
        from benchmarks.bench_follow import follow_lag_row

        rows.append(follow_lag_row(POSTGRES_URL, seconds=8 if quick else 30))
    return rows


# ------------------------------------------------------------------------- the table

def _contributed(quick: bool) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    notes = []
    for name in CONTRIBUTORS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            notes.append(f"{name}: not written yet")
            continue
        contribute = getattr(module, "scale_rows", None)
        if contribute is None:
            notes.append(f"{name}: has no scale_rows(quick) yet")
            continue
        try:
            rows.extend(contribute(quick))
        except Exception as error:  # one module's failure must not hide the others' rows
            notes.append(f"{name}: failed: {type(error).__name__}: {str(error)[:120]}")
    return rows, notes


def run(quick: bool = False) -> list[dict[str, Any]]:
    """One row per issue-12 target (and store), measured or marked pending with its owner."""
    measured, notes = _contributed(quick)
    table = []
    for key, measure, store, history, target, owner in TARGETS:
        found = [r for r in measured if r.get("id") == key and r.get("store") in (store, "-")]
        if store == "postgresql" and not POSTGRES_URL and not found:
            found = [{"measured": "not run: set LEDGER_BENCH_POSTGRES_URL", "met": None}]
        for row in found or [{"measured": f"pending ({owner})", "met": None}]:
            met = row.get("met")
            table.append({
                "measure": measure, "store": store, "history": row.get("history") or history,
                "target": target, "measured": row.get("measured"), "baseline (same run)": row.get("baseline"),
                "ratio": row.get("ratio"), "status": "met" if met else ("MISSED" if met is False else "-"),
                "note": row.get("note"),
            })
    for note in notes:
        print(f"scale: {note}", file=sys.stderr)
    return table


def main() -> None:
    import argparse

    from benchmarks.bench_store import print_table
    from ledger.adapters.logging import configure_logging

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    configure_logging("error")
    print_table("Issue 12: scale targets", run(args.quick))


if __name__ == "__main__":
    main()
