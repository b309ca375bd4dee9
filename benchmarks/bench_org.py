"""Organisation-tier rows of issue 12 (PostgreSQL): generate rate, rebuild rate, `who_can(at,
paths)` and `can(at)` latency and peak RSS on an organisation-shaped history, each against a
baseline of the same run (the decoded log read; the naive replay of a log prefix).

`python -m benchmarks.bench_org --phase generate|rebuild|queries URL [--events N ...]`; each
phase in its own process so its peak RSS is its own. Wall and CPU time are both reported (the
machine is shared). Never a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

GiB = 1024.0  # MiB


def _quiet() -> None:
    import logging

    import structlog

    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def _rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def generate_phase(url: str, events: int, accounts: int, principals: int, seed: int = 1) -> dict[str, Any]:
    from ledger import Ledger
    from ledger.application.generate_org import OrgShape, generate_org

    with Ledger.open(url) as ledger:
        wall, cpu = time.perf_counter(), time.process_time()
        count = generate_org(ledger, OrgShape(accounts=accounts, principals=principals, events=events), seed)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"events": count, "generate_wall_s": round(wall, 1), "generate_cpu_s": round(cpu, 1),
            "generate_events_per_s": round(count / wall), "generate_cpu_events_per_s": round(count / cpu),
            "peak_rss_mib": _rss_mib(), "load_avg": round(os.getloadavg()[0], 1)}


def rebuild_phase(url: str, read_events: int | None = None) -> dict[str, Any]:
    """The decoded log read (baseline; of the first `read_events` events if given, to bound its
    time on a long history), then a rebuild of every projection from the whole log."""
    from ledger import Ledger

    with Ledger.open(url) as ledger:
        wall, cpu = time.perf_counter(), time.process_time()
        read = sum(1 for _ in ledger.store.iter_log(upto=read_events, batch=5000))
        read_wall, read_cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(json.dumps({"iter_log_events": read, "wall_s": round(read_wall, 1), "cpu_s": round(read_cpu, 1)}),
              file=sys.stderr, flush=True)
        wall, cpu = time.perf_counter(), time.process_time()

        def progress(done: int, total: int) -> None:  # on stderr: a rate survives a stopped run
            print(json.dumps({"done": done, "total": total, "wall_s": round(time.perf_counter() - wall, 1),
                              "cpu_s": round(time.process_time() - cpu, 1)}), file=sys.stderr, flush=True)

        done = ledger.read_side().rebuild(progress)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"events": done, "iter_log_events_per_s": round(read / read_wall),
            "iter_log_cpu_events_per_s": round(read / read_cpu), "rebuild_s": round(wall, 1),
            "rebuild_events_per_s": round(done / wall), "rebuild_cpu_events_per_s": round(done / cpu),
            "peak_rss_mib": _rss_mib(), "load_avg": round(os.getloadavg()[0], 1)}


def _sample_requests(events: Any, rnd: random.Random) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(caller, action, resource) triples the org makes (its roles on its buckets and roles), and
    the objects MediaConvert wrote across accounts (who_can targets). Streams `events`, keeping
    only the strings it needs (the query process's peak RSS must be the queries' own)."""
    from ledger.domain import events as ev

    roles, users, buckets, outputs = [], [], [], []
    for e in events:
        if isinstance(e, ev.RoleCreated):
            roles.append(e.role_arn)
        elif isinstance(e, ev.UserCreated):
            users.append(e.user_arn)
        elif isinstance(e, ev.BucketCreated):
            buckets.append(e.bucket_name)
        elif isinstance(e, ev.OutputWritten) and e.writer_account != e.account_id:
            outputs.append(e.object_arn)
    requests = []
    for _ in range(2000):
        caller = rnd.choice(roles) if rnd.random() < 0.9 else rnd.choice(users)
        kind = rnd.random()
        if kind < 0.5:
            requests.append((caller, rnd.choice(["s3:PutObject", "s3:GetObject"]),
                             f"arn:aws:s3:::{rnd.choice(buckets)}/k{rnd.randrange(99)}"))
        elif kind < 0.8:
            requests.append((caller, "sts:AssumeRole", rnd.choice(roles)))
        else:
            requests.append((caller, "mediaconvert:CreateJob", "*"))
    return requests, outputs or [f"arn:aws:s3:::{buckets[0]}/k"]


def queries_phase(url: str, samples: int = 200, who_samples: int = 10, head: int = 300_000,
                  naive_head: int = 100_000) -> dict[str, Any]:
    """can(at) and who_can(at, paths, depth 3) at random valid times, wall and CPU, and the peak
    RSS so far; then the baseline: the naive replay (log read, fold, evaluate) at the time of
    event `naive_head` (a whole-log replay of millions of decoded events does not fit in memory:
    that is the point), whose own memory is reported apart."""
    from ledger import Ledger
    from ledger.timeaxis import from_us, to_us
    from projections.naive import naive_can

    rnd = random.Random(1)
    with Ledger.open(url) as ledger:
        rs = ledger.read_side()
        rs.catch_up()
        top = ledger.store.max_position()
        requests, outputs = _sample_requests(ledger.store.iter_log(upto=min(top, head), batch=5000), rnd)
        first = next(iter(ledger.store.iter_log(after=min(top - 1, 20_000))))
        last = next(iter(ledger.store.iter_log(after=top - 1)))
        lo, hi = to_us(first.occurred_at), to_us(last.occurred_at)

        def at() -> str:
            moment = from_us(rnd.randint(lo, hi))
            assert moment is not None
            return moment.isoformat()

        def timed(fn: Any) -> tuple[float, float, Any]:
            wall, cpu = time.perf_counter(), time.process_time()
            out = fn()
            return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, out

        can = []
        for _ in range(samples):
            request, t = rnd.choice(requests), at()
            can.append(timed(lambda request=request, t=t: ledger.can(request[0], request[1], request[2], at=t)))
        who, answers = [], []
        for _ in range(who_samples):
            target, t = rnd.choice(outputs), at()
            ms, cpu_ms, out = timed(lambda target=target, t=t: ledger.who_can("s3:PutObject", target, at=t,
                                                                                paths=True, max_depth=3))
            who.append((ms, cpu_ms))
            answers.append(len(out["principals"]))
        query_rss = _rss_mib()
        caller, action, resource_arn = requests[0]
        naive_top = min(top, naive_head)
        moment = next(iter(ledger.store.iter_log(after=naive_top - 1))).occurred_at
        naive = timed(lambda: naive_can(ledger.store.iter_log(upto=naive_top, batch=5000), caller, action,
                                        resource_arn, moment))
        rs.close()
    can_ms, can_cpu = [c[0] for c in can], [c[1] for c in can]
    who_ms, who_cpu = [w[0] for w in who], [w[1] for w in who]
    return {
        "events": top, "can_p50_ms": round(_pct(can_ms, 0.5), 2), "can_p99_ms": round(_pct(can_ms, 0.99), 2),
        "can_cpu_p50_ms": round(_pct(can_cpu, 0.5), 2), "who_can_p50_ms": round(_pct(who_ms, 0.5), 1),
        "who_can_p99_ms": round(_pct(who_ms, 0.99), 1), "who_can_cpu_p50_ms": round(_pct(who_cpu, 0.5), 1),
        "who_can_answer_median": int(statistics.median(answers)) if answers else 0, "samples": [samples, who_samples],
        "naive_prefix_events": naive_top, "naive_can_ms": round(naive[0], 1), "naive_can_cpu_ms": round(naive[1], 1),
        "peak_rss_mib": query_rss, "naive_peak_rss_mib": _rss_mib(), "load_avg": round(os.getloadavg()[0], 1),
    }


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_org", *args], capture_output=True, text=True,
                         check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def rows(gen: dict[str, Any] | None, rebuild: dict[str, Any] | None, queries: dict[str, Any]) -> list[dict[str, Any]]:
    """The scale table's org rows from the phases' results."""
    history = f"org tier, {queries['events']:,} events"
    load = f"load {queries['load_avg']}"
    naive = f"naive replay of {queries['naive_prefix_events']:,} events {queries['naive_can_ms']:,} ms"
    out = [
        {"id": "who_can_org", "store": "postgresql", "history": history,
         "measured": f"p50 {queries['who_can_p50_ms']} / p99 {queries['who_can_p99_ms']} ms "
                     f"(CPU p50 {queries['who_can_cpu_p50_ms']} ms; {queries['who_can_answer_median']} callers)",
         "baseline": naive, "ratio": round(queries["naive_can_ms"] / queries["who_can_p50_ms"], 1),
         "met": queries["who_can_p50_ms"] <= 250 and queries["who_can_p99_ms"] <= 1000, "note": load},
        {"id": "can_org", "store": "postgresql", "history": history,
         "measured": f"p50 {queries['can_p50_ms']} / p99 {queries['can_p99_ms']} ms (CPU p50 {queries['can_cpu_p50_ms']} ms)",
         "baseline": naive, "ratio": round(queries["naive_can_ms"] / queries["can_p50_ms"], 1),
         "met": queries["can_p50_ms"] <= 2 and queries["can_p99_ms"] <= 10, "note": load},
        {"id": "memory_org", "store": "postgresql", "history": history,
         "measured": f"peak {queries['peak_rss_mib']:,.0f} MiB (query process)", "baseline": "-", "ratio": None,
         "met": queries["peak_rss_mib"] <= 2 * GiB, "note": load},
    ]
    if gen is not None:
        out.append({"id": "generate_org", "store": "postgresql", "history": f"{gen['events']:,} events",
                    "measured": f"{gen['generate_events_per_s']:,} ev/s (CPU {gen['generate_cpu_events_per_s']:,} ev/s)",
                    "baseline": "-", "ratio": None, "met": None, "note": f"load {gen['load_avg']}"})
    if rebuild is not None:
        rate, base = rebuild["rebuild_events_per_s"], rebuild["iter_log_events_per_s"]
        out.append({"id": "rebuild_org", "store": "postgresql", "history": f"{rebuild['events']:,} events",
                    "measured": f"{rate:,} ev/s (CPU {rebuild['rebuild_cpu_events_per_s']:,} ev/s), "
                                f"peak {rebuild['peak_rss_mib']:,.0f} MiB",
                    "baseline": f"store.iter_log {base:,} ev/s", "ratio": round(rate / base, 2),
                    "met": None, "note": f"load {rebuild['load_avg']}"})
    return out


def scale_rows(quick: bool) -> list[dict[str, Any]]:
    """Org rows on PostgreSQL: measured on `LEDGER_BENCH_ORG_URL` if set (an org already generated
    and projected: queries only), else generated into a scratch schema (quick: a 20-account org of
    30k events; otherwise `LEDGER_BENCH_ORG_EVENTS`, default the tier's 10M)."""
    import uuid

    pg = os.environ.get("LEDGER_BENCH_POSTGRES_URL") or os.environ.get("LEDGER_TEST_POSTGRES_URL")
    existing = os.environ.get("LEDGER_BENCH_ORG_URL")
    if existing:
        return rows(None, None, _child("--phase", "queries", existing))
    if not pg:
        return []
    events = 30_000 if quick else int(os.environ.get("LEDGER_BENCH_ORG_EVENTS", "10000000"))
    shape = ["--accounts", "20", "--principals", "2000"] if quick else []
    schema = "bench_org_" + uuid.uuid4().hex[:10]
    url = f"{pg}{'&' if '?' in pg else '?'}schema={schema}"
    try:
        gen = _child("--phase", "generate", url, "--events", str(events), *shape)
        rebuild = _child("--phase", "rebuild", url)
        queries = _child("--phase", "queries", url)
    finally:
        import psycopg

        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return rows(gen, rebuild, queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phase", choices=["generate", "rebuild", "queries"], required=True)
    parser.add_argument("url")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--principals", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--who-samples", type=int, default=10)
    parser.add_argument("--read-events", type=int, default=None, help="rebuild: baseline log read of a prefix")
    args = parser.parse_args()
    _quiet()
    if args.phase == "generate":
        out = generate_phase(args.url, args.events, args.accounts, args.principals)
    elif args.phase == "rebuild":
        out = rebuild_phase(args.url, args.read_events)
    else:
        out = queries_phase(args.url, args.samples, args.who_samples)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
