"""Read-side benchmarks: rebuild throughput, can(at)/who_can(at) latency, peak memory, against the
naive replay-from-scratch baseline. `python -m benchmarks.bench_projections [--events N] [--quick]`.

Each size runs in a child process so peak RSS (ru_maxrss) is per size.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


def measure(events: int, seed: int = 1, samples: int = 200, who_samples: int = 10, naive_samples: int = 3) -> dict[str, Any]:
    """Generate `events` into a fresh SQLite file and measure; run in its own process."""
    import logging

    logging.disable(logging.CRITICAL)
    from ledger import Ledger
    from ledger.bench_generate import generate

    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.open(f"sqlite:///{tmp}/bench.db")
        started = time.perf_counter()
        count = generate(ledger, events, seed)
        gen_s = time.perf_counter() - started
        rs = ledger.read_side()
        started = time.perf_counter()
        rs.rebuild()
        rebuild_s = time.perf_counter() - started
        queries = measure_queries(ledger, seed, samples, who_samples, naive_samples)
        rs.close()
        ledger.close()
    return {
        "events": count, "generate_events_per_s": round(count / gen_s),
        "rebuild_events_per_s": round(count / rebuild_s), "rebuild_s": round(rebuild_s, 1),
        **queries,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def measure_queries(ledger: Any, seed: int = 1, samples: int = 200, who_samples: int = 10,
                    naive_samples: int = 3) -> dict[str, Any]:
    """can(at)/who_can(at) latency at random valid times over the history, and the naive
    replay-from-scratch baseline (log read included) for the same kind of question."""
    from projections.facts import from_us
    from projections.naive import naive_can

    rs = ledger.read_side()
    rs.catch_up()
    rnd = random.Random(seed)
    snap, _ = rs.snapshot(None)
    principals = snap.preload().principals()
    users = [p.arn for p in principals if p.kind == "user"]
    times = sorted(rs.facts.change_times())
    lo, hi = times[0], times[-1]
    actions = ["s3:GetObject", "s3:PutObject", "mediaconvert:CreateJob", "sts:AssumeRole"]
    target = "arn:aws:s3:::bucket0-0/k"

    def at() -> str:
        dt = from_us(rnd.randint(lo, hi))
        assert dt is not None
        return dt.isoformat()

    def timed(fn: Any) -> tuple[float, Any]:
        s = time.perf_counter()
        out = fn()
        return (time.perf_counter() - s) * 1000, out

    can_ms = [timed(lambda: ledger.can(rnd.choice(users), rnd.choice(actions), target, at=at()))[0]
              for _ in range(samples)]
    who_ms, who_direct_ms, answers = [], [], []
    for _ in range(who_samples):
        t = at()
        ms, out = timed(lambda t=t: ledger.who_can("s3:PutObject", target, at=t, paths=True, max_depth=2))
        who_ms.append(ms)
        answers.append(len(out["principals"]))
        who_direct_ms.append(timed(lambda t=t: ledger.who_can("s3:PutObject", target, at=t))[0])
    naive_ms = []
    for _ in range(naive_samples):
        p, a, t = rnd.choice(users), rnd.choice(actions), at()

        def replay(p: str = p, a: str = a, t: str = t) -> None:
            all_events = list(ledger.store.iter_log(batch=5000))  # replay from scratch, log read included
            naive_can(all_events, p, a, target, from_us(rs.resolve_time(t)[0]))  # type: ignore[arg-type]

        naive_ms.append(timed(replay)[0])
    return {
        "principals": len(users), "callers": len(principals),
        "can_p50_ms": round(_pct(can_ms, 0.5), 3), "can_p99_ms": round(_pct(can_ms, 0.99), 3),
        "who_can_p50_ms": round(_pct(who_ms, 0.5), 1), "who_can_p99_ms": round(_pct(who_ms, 0.99), 1),
        "who_can_direct_p50_ms": round(_pct(who_direct_ms, 0.5), 1),
        "who_can_answer_median": int(statistics.median(answers)) if answers else 0,
        "naive_can_p50_ms": round(statistics.median(naive_ms), 1) if naive_ms else None,
    }


def measure_existing(url: str, samples: int = 200, who_samples: int = 10, naive_samples: int = 3) -> dict[str, Any]:
    """Query latencies on an already generated store (`ledger bench generate` then `project`)."""
    import logging

    logging.disable(logging.CRITICAL)
    from ledger import Ledger

    ledger = Ledger.open(url)
    try:
        out = {"events": ledger.store.max_position(),
               **measure_queries(ledger, 1, samples, who_samples, naive_samples)}
        out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        return out
    finally:
        ledger.read_side().close()
        ledger.close()


def run(quick: bool = False, sizes: list[int] | None = None) -> list[dict[str, Any]]:
    """One row per size (quick: 20k events; otherwise 100k and 1M), each in a child process."""
    sizes = sizes or ([20_000] if quick else [100_000, 1_000_000])
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_projections", "--child", str(n)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def _table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="read-side benchmarks (SQLite; targets: rebuild ≥ 50k ev/s, can p50 ≤ 2 ms, "
                        "who_can p50 ≤ 50 ms, peak ≤ 1 GiB)")
    keys = list(rows[0])
    for k in keys:
        table.add_column(k)
    for r in rows:
        table.add_row(*[str(r[k]) for k in keys])
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, action="append")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", type=int)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--db", action="append", help="measure queries on an existing store URL")
    args = parser.parse_args()
    if args.db:
        rows = [measure_existing(url) for url in args.db]
        print(json.dumps(rows)) if args.json else _table(rows)
        return
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    rows = run(args.quick, args.events)
    if args.json:
        print(json.dumps(rows))
    else:
        _table(rows)


if __name__ == "__main__":
    main()
