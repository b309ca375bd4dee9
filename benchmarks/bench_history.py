"""Issue 12's history rows: `diff` over a week and a year, `timeline` of one request over the whole
history, each with wall and CPU time and a same-run baseline. Wired into `python -m benchmarks --only scale`.

Baselines (same run, same store): for diff, the full recompute it replaces (every principal × every
pair decided at T1 and T2), estimated from the measured cost of one decision on a sample; for
timeline, the per-change-point point lookups it replaces (a fresh store-backed snapshot at each
change point). A diff that does not finish within its cap is reported as such (a miss), never hidden.
Set LEDGER_BENCH_HISTORY_DB to a projected store (e.g. the 1M-event one of bench_projections) to
measure there; otherwise a history is generated (20k events with --quick, 1M without).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from typing import Any

WEEK, YEAR = timedelta(days=7), timedelta(days=365)


def _history_bounds(ledger: Any) -> tuple[Any, Any]:
    from ledger.timeaxis import from_us

    times = ledger.read_side().facts.change_times()
    return from_us(times[0]), from_us(times[-1])


def _diff_child(url: str, t1: str, t2: str) -> dict[str, Any]:
    """One diff in this process: wall and CPU seconds, and the answer's size."""
    from ledger import Ledger

    ledger = Ledger.open(url)
    ledger.read_side()._caught_up()
    wall, cpu = time.perf_counter(), time.process_time()
    result = ledger.diff(t1, t2)
    return {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
            "changes": len(result.gained) + len(result.lost), "principals": result.universe.principals,
            "pairs": result.universe.pairs}


def _run_diff(url: str, t1: Any, t2: Any, cap_s: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "benchmarks.bench_history", "--diff", url, t1.isoformat(), t2.isoformat()]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=cap_s, check=True)
    except subprocess.TimeoutExpired:
        return {"timeout_s": cap_s}
    except subprocess.CalledProcessError as error:
        return {"error": error.stderr[-300:]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _decision_cost(ledger: Any, at: Any, samples: int = 400) -> float:
    """Seconds of one in-memory decision at T (the unit of the full-recompute baseline)."""
    from projections.assemble import decide
    from projections.queries.history_diff import _snapshot

    rs = ledger.read_side()
    snap = _snapshot(rs.facts, rs.resolve_time(at)[0])
    callers = [p.arn for p in snap.principals()][:samples]
    started = time.process_time()
    for i, arn in enumerate(callers):
        decide(snap, arn, "s3:GetObject" if i % 2 else "sts:AssumeRole",
               "arn:aws:s3:::bucket0-0/k" if i % 2 else callers[-1], None, unknown_context=True)
    return (time.process_time() - started) / max(1, len(callers))


def _timeline_rows(ledger: Any, label: str) -> dict[str, Any]:
    """Median of 5 timelines of the most-changed user's s3:GetObject on a bucket; baseline: the
    store-backed snapshot at every change point (what the timeline did before)."""
    from projections.assemble import decide
    from projections.queries.history_timeline import gather
    from projections.view import Snapshot

    rs = ledger.read_side()
    users = [p.arn for p in rs.snapshot()[0].principals() if p.kind == "user"][:50]
    principal = max(users, key=lambda arn: len(gather(rs.facts, arn, "arn:aws:s3:::bucket0-0/k").facts))
    args = (principal, "s3:GetObject", "arn:aws:s3:::bucket0-0/k")
    walls, cpus = [], []
    for _ in range(5):
        wall, cpu = time.perf_counter(), time.process_time()
        tl = ledger.timeline(*args, start="2000-01-01T00:00:00Z", end="2100-01-01T00:00:00Z")
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    points = sorted(gather(rs.facts, principal, args[2]).change_times())
    wall = time.perf_counter()
    for t in points:
        decide(Snapshot(rs.facts, t), *args)
    base = time.perf_counter() - wall
    ms = sorted(walls)[2] * 1000
    return {"id": "timeline", "store": "sqlite", "history": label,
            "measured": f"{ms:.0f} ms wall, {sorted(cpus)[2] * 1000:.0f} ms CPU ({len(points)} change points, "
                        f"{len(tl.intervals)} intervals)",
            "baseline": f"store lookups per change point {base * 1000:.0f} ms", "ratio": round(base * 1000 / ms, 2),
            "met": ms <= 200, "note": f"load {os.getloadavg()[0]:.1f}"}


def _diff_row(key: str, url: str, ledger: Any, t1: Any, t2: Any, limit_s: float, cap_s: int,
              label: str) -> dict[str, Any]:
    out = _run_diff(url, t1, t2, cap_s)
    unit = _decision_cost(ledger, t2)
    if "timeout_s" in out or "error" in out:
        measured = f"did not finish in {cap_s} s" if "timeout_s" in out else f"failed: {out['error']}"
        return {"id": key, "store": "sqlite", "history": label, "measured": measured, "baseline": None,
                "ratio": None, "met": False, "note": f"load {os.getloadavg()[0]:.1f}"}
    full = out["principals"] * out["pairs"] * 2 * unit
    return {"id": key, "store": "sqlite", "history": label,
            "measured": f"{out['wall_s']} s wall, {out['cpu_s']} s CPU ({out['changes']} changes)",
            "baseline": f"full recompute ≈ {full:.0f} s ({out['principals']} principals × {out['pairs']} pairs × 2)",
            "ratio": round(full / max(out["wall_s"], 0.001), 1), "met": out["wall_s"] <= limit_s,
            "note": f"load {os.getloadavg()[0]:.1f}"}


def scale_rows(quick: bool) -> list[dict[str, Any]]:
    from ledger import Ledger
    from ledger.application.generate import generate

    url = os.environ.get("LEDGER_BENCH_HISTORY_DB")
    with tempfile.TemporaryDirectory() as tmp:
        if url is None:
            url = f"sqlite:///{tmp}/history.db"
            with Ledger.open(url) as fresh:
                generate(fresh, 20_000 if quick else 1_000_000, 1)
        ledger = Ledger.open(url)
        count = ledger.store.max_position()
        label = f"{count // 1000}k events"
        ledger.read_side()._caught_up()
        first, last = _history_bounds(ledger)
        middle = first + (last - first) / 2
        rows = [_timeline_rows(ledger, label),
                _diff_row("diff_week", url, ledger, middle, middle + WEEK, 2, 600 if not quick else 120, label),
                _diff_row("diff_year", url, ledger, first + WEEK, min(last, first + WEEK + YEAR), 30,
                          900 if not quick else 120, label)]
        ledger.close()
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    return scale_rows(quick)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--diff":
        print(json.dumps(_diff_child(*sys.argv[2:5])))
    else:
        from benchmarks.bench_store import print_table

        print_table("history: diff and timeline", run("--quick" in sys.argv))
