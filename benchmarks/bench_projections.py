"""Read-side benchmarks: rebuild throughput, can(at)/who_can(at) latency, peak memory, against the
naive replay-from-scratch baseline. `python -m benchmarks.bench_projections [--events N] [--quick]`.

`--write` measures the projection write path instead: rebuild and incremental catch-up against
the decoded log read (`store.iter_log`) of the same run, on SQLite and (with `--pg URL`) on
PostgreSQL. Each size (and each phase of `--write`) runs in a child process so peak RSS
(ru_maxrss) is its own.
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
    from ledger.application.generate import generate

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
    from ledger.timeaxis import from_us
    from projections.naive import naive_can

    rs = ledger.read_side()
    rs.catch_up()
    index_build = _build_keyframes(rs)
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

    cpu_ms: list[float] = []

    def timed(fn: Any) -> tuple[float, Any]:
        s, c = time.perf_counter(), time.process_time()
        out = fn()
        cpu_ms.append((time.process_time() - c) * 1000)
        return (time.perf_counter() - s) * 1000, out

    can_ms = [timed(lambda: ledger.can(rnd.choice(users), rnd.choice(actions), target, at=at()))[0]
              for _ in range(samples)]
    can_cpu = cpu_ms[:]
    who_ms, who_direct_ms, answers, who_cpu, who_times = [], [], [], [], []
    for _ in range(who_samples):
        t = at()
        who_times.append(t)
        ms, out = timed(lambda t=t: ledger.who_can("s3:PutObject", target, at=t, paths=True, max_depth=2))
        who_ms.append(ms)
        who_cpu.append(cpu_ms[-1])
        answers.append(len(out["principals"]))
        who_direct_ms.append(timed(lambda t=t: ledger.who_can("s3:PutObject", target, at=t))[0])
    plain = _plain_who_can(ledger, rs, who_times[:5], target, timed, cpu_ms)
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
        "can_cpu_p50_ms": round(_pct(can_cpu, 0.5), 3), "can_cpu_p99_ms": round(_pct(can_cpu, 0.99), 3),
        "who_can_cpu_p50_ms": round(_pct(who_cpu, 0.5), 1), "who_can_cpu_p99_ms": round(_pct(who_cpu, 0.99), 1),
        **index_build, **plain,
    }


def _build_keyframes(rs: Any) -> dict[str, Any]:
    """Build the keyframe index before timing queries (once per process; measured on its own)."""
    if not getattr(rs, "use_keyframes", False):
        return {}
    s, c = time.perf_counter(), time.process_time()
    index = rs.keyframes.current()
    return {"keyframes_build_s": round(time.perf_counter() - s, 1),
            "keyframes_build_cpu_s": round(time.process_time() - c, 1), "keyframes_intervals": index.size}


def _plain_who_can(ledger: Any, rs: Any, times: list[str], target: str, timed: Any,
                   cpu_ms: list[float]) -> dict[str, Any]:
    """The same who_can at the same times through the plain SQL reads (the old path), as the
    same-run baseline of the keyframe index; answers must be equal."""
    if not getattr(rs, "use_keyframes", False) or not times:
        return {}
    wall, cpu = [], []
    try:
        for t in times:
            rs.use_keyframes = False
            ms, expected = timed(lambda t=t: ledger.who_can("s3:PutObject", target, at=t, paths=True, max_depth=2))
            wall.append(ms)
            cpu.append(cpu_ms[-1])
            rs.use_keyframes = True
            assert expected == ledger.who_can("s3:PutObject", target, at=t, paths=True, max_depth=2)
    finally:
        rs.use_keyframes = True
    return {"who_can_plain_p50_ms": round(_pct(wall, 0.5), 1),
            "who_can_plain_cpu_p50_ms": round(_pct(cpu, 0.5), 1)}


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


# ------------------------------------------------------------------------- write path

TAIL = 50_000  # events caught up incrementally onto an already projected history


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _rate(count: int, seconds: float) -> int:
    return round(count / seconds) if seconds > 0 else 0


def write_phase(phase: str, url: str, events: int) -> dict[str, Any]:
    """One phase of the write-path benchmark on the store at `url` (run in its own process)."""
    import logging
    import os

    logging.disable(logging.CRITICAL)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    from ledger import Ledger
    from ledger.application.generate import generate

    ledger = Ledger.open(url)
    try:
        if phase == "generate":
            started = time.perf_counter()
            count = generate(ledger, events, 1)
            return {"events": count, "generate_events_per_s": _rate(count, time.perf_counter() - started)}
        rs = ledger.read_side()
        count = ledger.store.max_position()
        out: dict[str, Any] = {}
        if phase == "rebuild":
            started = time.perf_counter()
            read = sum(1 for _ in ledger.store.iter_log(batch=5000))
            out["iter_log_events_per_s"] = _rate(read, time.perf_counter() - started)
            started, cpu = time.perf_counter(), _cpu()
            done = rs.rebuild()
            wall = time.perf_counter() - started
            # CPU of this process and of the fold workers (reaped when the rebuild returns).
            out.update(rebuild_events_per_s=_rate(done, wall), rebuild_s=round(wall, 1),
                       rebuild_cpu_events_per_s=_rate(done, _cpu() - cpu),
                       fold_processes=rs.projector.fold_processes)
        elif phase == "queries":
            out.update(measure_queries(ledger, 1, 100, 10, 3))
        elif phase == "catchup":
            tail = min(TAIL, count // 2)
            rs.projector.rebuild(upto=count - tail)
            started = time.perf_counter()
            done = rs.catch_up()
            out["catchup_tail_events_per_s"] = _rate(done, time.perf_counter() - started)
            if count <= 200_000:  # from an empty projection, batch by batch (the old rebuild)
                rs.facts.reset(rs.projector.name)
                started = time.perf_counter()
                done = rs.catch_up()
                out["catchup_from_zero_events_per_s"] = _rate(done, time.perf_counter() - started)
        out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        out["load_avg"] = round(os.getloadavg()[0], 1)
        rs.close()
        return out
    finally:
        ledger.close()


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_projections", *args],
                         capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run_write(sizes: list[int], pg: str | None = None, pg_sizes: list[int] | None = None) -> list[dict[str, Any]]:
    """Per size: generate once, then rebuild and catch-up each in a fresh process."""
    import uuid

    rows = []
    targets = [("sqlite", n) for n in sizes] + [("postgresql", n) for n in (pg_sizes or []) if pg]
    for store, n in targets:
        with tempfile.TemporaryDirectory() as tmp:
            schema = None
            if store == "sqlite":
                url = f"sqlite:///{tmp}/bench.db"
            else:
                assert pg is not None
                schema = "bench_" + uuid.uuid4().hex[:12]
                url = f"{pg}{'&' if '?' in pg else '?'}schema={schema}"
            try:
                gen = _child("--phase", "generate", url, str(n))
                rebuild = _child("--phase", "rebuild", url, str(n))
                catchup = _child("--phase", "catchup", url, str(n))
            except subprocess.CalledProcessError as error:
                rows.append({"store": store, "events": n, "error": error.stderr.strip().splitlines()[-1:]})
                continue
            finally:
                if schema is not None:
                    import psycopg

                    with psycopg.connect(pg, autocommit=True) as conn:
                        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            rows.append({
                "store": store, **gen, **rebuild,
                "catchup_tail_events_per_s": catchup["catchup_tail_events_per_s"],
                "catchup_from_zero_events_per_s": catchup.get("catchup_from_zero_events_per_s", "-"),
                "catchup_peak_rss_mib": catchup["peak_rss_mib"],
            })
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)  # survives a later failure
    return rows


def _scratch_url(store: str, tmp: str, pg: str | None) -> tuple[str, str | None]:
    if store == "sqlite":
        return f"sqlite:///{tmp}/scale.db", None
    import uuid

    assert pg is not None
    schema = "bench_" + uuid.uuid4().hex[:12]
    return f"{pg}{'&' if '?' in pg else '?'}schema={schema}", schema


def _scale_store(store: str, n: int, pg: str | None) -> list[dict[str, Any]]:
    """Generate `n` events, rebuild (and on SQLite query) each in a fresh process: scale rows."""
    with tempfile.TemporaryDirectory() as tmp:
        url, schema = _scratch_url(store, tmp, pg)
        try:
            _child("--phase", "generate", url, str(n))
            rebuild = _child("--phase", "rebuild", url, str(n))
            queries = _child("--phase", "queries", url, str(n)) if store == "sqlite" else None
        finally:
            if schema is not None:
                import psycopg

                with psycopg.connect(pg or "", autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    history = f"{n:,} events"
    rate, base, rss = rebuild["rebuild_events_per_s"], rebuild["iter_log_events_per_s"], rebuild["peak_rss_mib"]
    rows = [{
        "id": "rebuild", "store": store, "history": history,
        "measured": f"{rate:,} ev/s ({rebuild['rebuild_s']} s; CPU {rebuild['rebuild_cpu_events_per_s']:,} ev/s), "
                    f"peak {rss:.0f} MiB",
        "baseline": f"store.iter_log {base:,} ev/s", "ratio": round(rate / base, 2),
        "met": rate >= 50_000 and rss <= 1024, "note": f"load {rebuild['load_avg']}",
    }]
    if queries is not None:
        naive = queries["naive_can_p50_ms"]
        for key, label in (("can", "can"), ("who_can", "who_can")):
            p50, p99 = queries[f"{label}_p50_ms"], queries[f"{label}_p99_ms"]
            limit = (1.0, 5.0) if key == "can" else (50.0, 150.0)
            rows.append({
                "id": key, "store": store, "history": f"{history}, {queries['principals']:,} principals",
                "measured": f"p50 {p50} / p99 {p99} ms", "baseline": f"naive replay {naive:,} ms",
                "ratio": round(naive / p50, 1) if p50 else None, "met": p50 <= limit[0] and p99 <= limit[1],
                "note": f"load {queries['load_avg']}" + _query_note(queries, label),
            })
    return rows


def _query_note(queries: dict[str, Any], label: str) -> str:
    """CPU time beside wall time (2 shared cores), the keyframe index's one-off build, and for
    who_can the plain SQL path at the same times (the old path, same run)."""
    note = ""
    if f"{label}_cpu_p50_ms" in queries:
        note += f"; CPU p50 {queries[f'{label}_cpu_p50_ms']} / p99 {queries[f'{label}_cpu_p99_ms']} ms"
    if "keyframes_build_s" in queries:
        note += (f"; keyframe index built once per process in {queries['keyframes_build_s']} s "
                 f"(CPU {queries['keyframes_build_cpu_s']} s)")
    if label == "who_can" and "who_can_plain_p50_ms" in queries:
        note += (f"; plain SQL path p50 {queries['who_can_plain_p50_ms']} ms "
                 f"(CPU {queries['who_can_plain_cpu_p50_ms']} ms)")
    return note


def scale_rows(quick: bool) -> list[dict[str, Any]]:
    """The issue-12 rows this module measures: rebuild on SQLite and PostgreSQL (1M events;
    quick: 20k) with the decoded log read as baseline, can/who_can on SQLite against the naive
    replay."""
    import os

    n = 20_000 if quick else 1_000_000
    pg = os.environ.get("LEDGER_BENCH_POSTGRES_URL") or os.environ.get("LEDGER_TEST_POSTGRES_URL")
    rows = _scale_store("sqlite", n, None)
    if pg:
        rows += _scale_store("postgresql", n, pg)
    return rows


def run(quick: bool = False, sizes: list[int] | None = None) -> list[dict[str, Any]]:
    """One row per size (quick: 20k events; otherwise 100k and 1M), each in a child process."""
    sizes = sizes or ([20_000] if quick else [100_000, 1_000_000])
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_projections", "--child", str(n)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def _table(rows: list[dict[str, Any]], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or "read-side benchmarks (SQLite; targets: rebuild ≥ 50k ev/s, can p50 ≤ 2 ms, "
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
    parser.add_argument("--write", action="store_true", help="rebuild / catch-up / memory instead of queries")
    parser.add_argument("--pg", help="also measure --write on PostgreSQL (base URL; a scratch schema is used)")
    parser.add_argument("--pg-events", type=int, action="append")
    parser.add_argument("--phase", nargs=3, metavar=("PHASE", "URL", "EVENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(write_phase(args.phase[0], args.phase[1], int(args.phase[2]))))
        return
    if args.write:
        sizes = args.events or ([20_000] if args.quick else [100_000, 1_000_000])
        rows = run_write(sizes, args.pg, args.pg_events or ([20_000] if args.quick else [100_000]))
        title = ("projection write path (targets: rebuild ≥ 50k ev/s, 1M < 20 s, peak ≤ 1 GiB; "
                 "baseline: store.iter_log in the same run)")
        print(json.dumps(rows)) if args.json else _table(rows, title)
        return
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
