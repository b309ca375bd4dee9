"""`ledger project --follow` lag on PostgreSQL under sustained ingest from several writer processes.

Writers append role sessions through `Ledger.record` batches at a fixed total rate and report
each batch's last position and commit time; the follower is the real CLI worker; the sampler
polls the projection's tracking position. Lag of a batch = when the projection first reached its
last position minus when its append returned. Baseline: the append call itself (the recorder's
commit latency) in the same run. `python -m benchmarks.bench_follow [--seconds N]`.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

WRITERS = 4
RATE = 5_000  # events/s in total
TICK = 0.1  # s between a writer's batches


def _sessions(account: str, writer: int, first: int, count: int) -> list[Any]:
    from ledger.domain import events as ev

    now = datetime.now(UTC)
    role_id = f"AROAW{writer:015d}"
    return [ev.RoleAssumed(
        originator_id=ev.account_stream_id(account), originator_version=1, occurred_at=now, recorded_at=now,
        account_id=account, session_id=f"{role_id}:s{n}", role_id=role_id,
        role_arn=f"arn:aws:iam::{account}:role/worker", session_name=f"s{n}",
        session_arn=f"arn:aws:sts::{account}:assumed-role/worker/s{n}", caller_arn=f"arn:aws:iam::{account}:root",
        issued_at=now, expires_at=now + timedelta(seconds=900),
    ) for n in range(first, first + count)]


def _writer(url: str, writer: int, seconds: float, rate: float, out: Any) -> None:
    """Append `rate` events/s for `seconds` in batches every TICK; report (position, commit time,
    append seconds) per batch."""
    import logging

    logging.disable(logging.CRITICAL)
    from ledger import Ledger

    account = f"{100000000000 + writer:012d}"
    batch = max(1, round(rate * TICK))
    with Ledger.open(url) as ledger:
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < seconds:
            events = _sessions(account, writer, n, batch)
            call = time.time()
            positions = ledger.record(events)
            done = time.time()
            out.put((max(positions), done, done - call))
            n += batch
            time.sleep(max(0.0, started + (n / batch) * TICK - time.monotonic()))
        out.put(None)


def _tracking(conn: Any, schema: str) -> int:
    row = conn.execute(f'SELECT position FROM "{schema}".pl_tracking WHERE name = %s', ("temporal",)).fetchone()
    return int(row[0]) if row else 0


def _wait_for_follower(url: str, schema: str, base_url: str, timeout: float = 120.0) -> None:
    """Append one event and wait until the follower has projected it: the worker is running."""
    import psycopg

    from ledger import Ledger

    with Ledger.open(url) as ledger:
        position = max(ledger.record(_sessions(f"{100000000000:012d}", 99, 0, 1)))
    deadline = time.monotonic() + timeout
    with psycopg.connect(base_url, autocommit=True) as conn:
        while _tracking(conn, schema) < position:
            if time.monotonic() > deadline:
                raise RuntimeError("the follower never started")
            time.sleep(0.05)


def follow_lag(base_url: str, seconds: float = 30.0, writers: int = WRITERS, rate: float = RATE) -> dict[str, Any]:
    """Run writers and the CLI follower on a scratch schema; lag percentiles in seconds."""
    import psycopg

    from ledger import Ledger

    schema = "bench_follow_" + uuid.uuid4().hex[:8]
    url = f"{base_url}{'&' if '?' in base_url else '?'}schema={schema}"
    with Ledger.open(url) as ledger:
        for w in range(writers):
            ledger.create_account(f"{100000000000 + w:012d}", f"w{w}")
        ledger.project()
    follower = subprocess.Popen([sys.executable, "-c", "from ledger.cli import main; main()", "--db", url,
                                 "project", "--follow", "--poll", "0.5"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_follower(url, schema, base_url)
    queue: Any = multiprocessing.get_context("spawn").Queue()
    procs = [multiprocessing.get_context("spawn").Process(target=_writer, args=(url, w, seconds, rate / writers, queue))
             for w in range(writers)]
    samples: list[tuple[float, int]] = []
    commits: list[tuple[int, float, float]] = []
    try:
        with psycopg.connect(base_url, autocommit=True) as conn:
            for p in procs:
                p.start()
            finished = 0
            drain_until = None
            while drain_until is None or time.time() < drain_until:
                samples.append((time.time(), _tracking(conn, schema)))
                while not queue.empty():
                    item = queue.get()
                    if item is None:
                        finished += 1
                    else:
                        commits.append(item)
                if finished == writers and drain_until is None:
                    drain_until = time.time() + 5.0
                time.sleep(0.005)
            for p in procs:
                p.join(timeout=30)
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        follower.terminate()
        follower.wait(timeout=30)
    lags = []
    for position, committed, _ in commits:
        reached = next((t for t, pos in samples if pos >= position and t >= committed), None)
        lags.append(float("inf") if reached is None else reached - committed)
    events = len(commits) * max(1, round(rate / writers * TICK))
    span = max(c[1] for c in commits) - min(c[1] - c[2] for c in commits) if commits else 1.0
    appends = [c[2] for c in commits]
    return {
        "ingest_events_per_s": round(events / span), "batches": len(commits),
        "lag_p50_s": round(statistics.median(lags), 3), "lag_p99_s": round(sorted(lags)[int(0.99 * (len(lags) - 1))], 3),
        "lag_max_s": round(max(lags), 3),
        "append_p50_s": round(statistics.median(appends), 3), "append_p99_s": round(sorted(appends)[int(0.99 * (len(appends) - 1))], 3),
        "load_avg": round(os.getloadavg()[0], 1),
    }


def follow_lag_row(base_url: str, seconds: float = 30.0) -> dict[str, Any]:
    """The scale-table row for `project --follow` lag."""
    out = follow_lag(base_url, seconds)
    return {
        "id": "follow_lag", "store": "postgresql",
        "measured": f"p99 {out['lag_p99_s']:.3f} s (p50 {out['lag_p50_s']:.3f}, max {out['lag_max_s']:.3f}) "
                    f"at {out['ingest_events_per_s']:,} ev/s",
        "baseline": f"append p99 {out['append_p99_s']:.3f} s",
        "ratio": round(out["append_p99_s"] / out["lag_p99_s"], 2) if out["lag_p99_s"] else None,
        "met": out["lag_p99_s"] <= 1.0 and out["ingest_events_per_s"] >= 0.95 * RATE,
        "note": f"{seconds:.0f} s run, load {out['load_avg']}",
    }


def main() -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=RATE, help="events/s in total")
    parser.add_argument("--pg", default=os.environ.get("LEDGER_BENCH_POSTGRES_URL")
                        or os.environ.get("LEDGER_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    print(json.dumps(follow_lag(args.pg, args.seconds, rate=args.rate)))


if __name__ == "__main__":
    main()
