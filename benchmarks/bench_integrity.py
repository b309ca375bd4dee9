"""Throughput of the tamper-evidence core (leaf hashing, checkpoints, verify_log) on synthetic logs.

Run: `python -m benchmarks.bench_integrity [--quick]`. A benchmark, never a timed test: it must
not assert on speed, and it touches no store (records are synthetic tuples built up front).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from ledger.integrity import (
    CheckpointBuilder,
    Record,
    build_checkpoint,
    record_leaf_hash,
    verify_log,
)

CREATED_AT = "2024-03-01T14:00:00+00:00"
TOPIC = "ledger.events:PolicyAttached"
STATE_SIZE = 300
DISTINCT_STATES = 4096


def synthetic_records(n: int) -> list[Record]:
    """`n` records: positions with occasional gaps, ~300-byte JSON-ish states.

    States come from a pool so that 1M records fit in memory; the hashing cost is the same.
    """
    states = [
        (
            b'{"i": %d, "policy_arn": "arn:aws:iam::123456789012:policy/p%d", "doc": "' % (i, i)
        ).ljust(STATE_SIZE - 2, b"x")
        + b'"}'
        for i in range(DISTINCT_STATES)
    ]
    streams = [uuid.UUID(int=i + 1) for i in range(1024)]
    records: list[Record] = []
    position = 1
    for i in range(n):
        records.append(
            (position, streams[i % 1024], i // 1024 + 1, TOPIC, states[i % DISTINCT_STATES])
        )
        position += 2 if i % 97 == 96 else 1  # PostgreSQL-style gaps
    return records


def _time(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Time each stage over 1M records (100k with `quick`); one dict per table row."""
    n = 100_000 if quick else 1_000_000
    records = synthetic_records(n)
    sha256 = hashlib.sha256

    def baseline() -> None:
        for r in records:
            sha256(b"\x00" + r[4]).digest()

    def leaf_hashes() -> None:
        for r in records:
            record_leaf_hash(*r)

    def checkpoint() -> None:
        build_checkpoint(records, CREATED_AT)

    builder = CheckpointBuilder(keep_leaf_hashes=True)
    builder.extend(records[: n // 2])
    checkpoints = [build_checkpoint(records[: n * k // 10], CREATED_AT) for k in range(1, 11)]
    manifest = builder.leaf_hashes
    tampered = list(records)
    tampered[n // 3] = (*tampered[n // 3][:4], b"{}")

    def verify_one() -> None:
        report = verify_log(iter(records), checkpoints[-1:])
        assert report.ok

    def verify_ten() -> None:
        report = verify_log(iter(records), checkpoints)
        assert report.ok

    def verify_tampered() -> None:
        half = builder.checkpoint(CREATED_AT)
        report = verify_log(iter(tampered), [half, checkpoints[-1]], leaf_manifest=manifest)
        assert not report.ok and report.first_bad_index == n // 3

    stages: list[tuple[str, Callable[[], None]]] = [
        ("baseline: sha256(0x00 || state) per record", baseline),
        ("record_leaf_hash per record", leaf_hashes),
        ("build_checkpoint", checkpoint),
        ("verify_log, 1 checkpoint", verify_one),
        ("verify_log, 10 checkpoints + 9 consistency proofs", verify_ten),
        ("verify_log, tampered, manifest localisation", verify_tampered),
    ]
    rows: list[dict[str, Any]] = []
    base = 0.0
    for name, fn in stages:
        seconds = _time(fn)
        base = base or seconds
        rows.append(
            {
                "stage": name,
                "records": n,
                "seconds": round(seconds, 3),
                "records_per_s": round(n / seconds),
                "x_baseline": round(seconds / base, 2),
            }
        )
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    width = max(len(r["stage"]) for r in rows)
    print(f"{'stage':<{width}}  {'records':>9}  {'seconds':>8}  {'records/s':>10}  {'x base':>6}")
    for r in rows:
        print(
            f"{r['stage']:<{width}}  {r['records']:>9}  {r['seconds']:>8.3f}  "
            f"{r['records_per_s']:>10,}  {r['x_baseline']:>6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k records instead of 1M")
    _print(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
