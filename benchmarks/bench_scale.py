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

def _timed_runs(argv: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds (user + system, from the children's rusage) of `runs` fresh
    processes. Bytecode is written and reused as on a user's machine, whatever the caller's
    PYTHONDONTWRITEBYTECODE says: without it every run would compile the package anew."""
    import resource

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False, timeout=120, env=env)
        walls.append((time.perf_counter() - started) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return walls, cpus


def _spread(ms: list[float]) -> str:
    return f"min {min(ms):.0f} / p50 {statistics.median(ms):.0f} ms"


def startup_rows(quick: bool) -> list[dict[str, Any]]:
    """Wall (and CPU) time to first output of `ledger --help` and of `ledger can` on a warm
    SQLite store, repeated fresh processes; baselines in the same run: a bare `python -c pass`
    and `python -c "import typer"` (the floor of any typer CLI). Wall time counts the other
    processes sharing the cores; CPU time does not, so both are reported."""
    from ledger import Ledger
    from ledger.application.demo import record_story

    runs = 7 if quick else 21
    cli = [sys.executable, "-c", "from ledger.cli import main; main()"]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/warm.db"
        with Ledger.open(url) as ledger:
            record_story(ledger)
            ledger.project()
        can = [*cli, "--db", url, "can", "arn:aws:iam::111122223333:user/bob", "mediaconvert:CreateJob", "*"]
        cases = {"bare": [sys.executable, "-c", "pass"], "typer": [sys.executable, "-c", "import typer"],
                 "startup_help": [*cli, "--help"], "startup_can": can}
        for argv in cases.values():
            _timed_runs(argv, 1)  # warm the OS file cache and write the .pyc files
        timed = {key: _timed_runs(argv, runs) for key, argv in cases.items()}
    bare, typer_only = timed.pop("bare"), timed.pop("typer")
    base = statistics.median(bare[0])
    limits = {"startup_help": 300.0, "startup_can": 400.0}
    return [{
        "id": key, "store": "sqlite",
        "measured": f"wall {_spread(wall)}; CPU {_spread(cpu)}",
        "baseline": f"python -c pass: wall {_spread(bare[0])}, CPU {_spread(bare[1])}; "
                    f"import typer: wall {_spread(typer_only[0])}, CPU {_spread(typer_only[1])}",
        "ratio": round(base / statistics.median(wall), 2),
        "met": statistics.median(wall) <= limits[key],
        "note": f"{runs} runs, load {os.getloadavg()[0]:.1f}; CPU p50 "
                f"{'within' if statistics.median(cpu) <= limits[key] else 'over'} the target",
    } for key, (wall, cpu) in timed.items()]


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
