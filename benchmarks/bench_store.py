"""Store benchmark: command latency and batched append throughput on SQLite and PostgreSQL, each
next to the raw eventsourcing recorder (and eventsourcing-sqlalchemy) measured in the same run.

Run: python -m benchmarks.bench_store [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ledger import Ledger
from ledger.adapters.logging import configure_logging
from ledger.domain import events as ev

POSTGRES_URL = os.environ.get("LEDGER_BENCH_POSTGRES_URL") or os.environ.get("LEDGER_TEST_POSTGRES_URL")
BATCH = 100


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _fresh_pg_url(base: str) -> tuple[str, str]:
    schema = "bench_" + uuid.uuid4().hex[:10]
    return f"{base}{'&' if '?' in base else '?'}schema={schema}", schema


def _drop_pg_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _observed(account: str, n: int) -> ev.AccessObserved:
    now = datetime.now(UTC)
    return ev.AccessObserved(
        originator_id=ev.account_stream_id(account), originator_version=0, occurred_at=now, recorded_at=now,
        account_id=account, source="cloudtrail", source_id=f"evt-{n}",
        principal_arn=f"arn:aws:iam::{account}:user/user{n % 500}", action="s3:GetObject",
        resource=f"arn:aws:s3:::bucket-{n % 50}/key-{n}", allowed=True,
    )


def ledger_append_rate(url: str, total: int) -> float:
    """Events/s through Ledger.record in batches of BATCH, each batch with its source keys."""
    with Ledger.open(url) as ledger:
        ledger.create_account("111122223333", "bench")
        batches = _batches(total)
        started = time.perf_counter()
        for batch in batches:
            ledger.record(batch)
        return total / (time.perf_counter() - started)


def _batches(total: int) -> list[list[ev.AccessObserved]]:
    return [[_observed("111122223333", i + b * BATCH) for i in range(BATCH)] for b in range(total // BATCH)]


def bare_append_rate(recorder: Any, total: int) -> float:
    """Events/s through the bare eventsourcing recorder given the very StoredEvents the ledger
    writes (same stream, versions, topic and bytes), pre-encoded: the strict upper bound."""
    from ledger.adapters.store import EventCodec

    codec = EventCodec()
    stream = ev.account_stream_id("111122223333")
    version = 0
    batches = []
    for batch in _batches(total):
        stored = []
        for event in batch:
            version += 1
            stored.append(codec.encode(event, (stream, version)))
        batches.append(stored)
    started = time.perf_counter()
    for stored in batches:
        recorder.insert_events(stored)
    return total / (time.perf_counter() - started)


class Plain:
    """The event's fields as a plain object, as eventsourcing's Mapper expects (it reads vars())."""

    def __init__(self, event: ev.AccessObserved, version: int) -> None:
        self.__dict__.update(event.__dict__)
        self.originator_version = version


def mapper_append_rate(recorder: Any, total: int) -> float:
    """Events/s through the recorder fed by eventsourcing's own Mapper and JSONTranscoder (the
    library's standard encoding path), same events and batch size."""
    from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, UUIDAsHex

    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    mapper: Mapper[Any] = Mapper(transcoder=transcoder)

    version = 0
    batches = []
    for batch in _batches(total):
        plain = []
        for event in batch:
            version += 1
            plain.append(Plain(event, version))
        batches.append(plain)
    started = time.perf_counter()
    for plain in batches:
        recorder.insert_events([mapper.to_stored_event(event) for event in plain])  # type: ignore[arg-type]
    return total / (time.perf_counter() - started)


def _raw_sqlite_recorder(path: str) -> Any:
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    recorder = SQLiteApplicationRecorder(SQLiteDatastore(path), events_table_name="raw_events")
    recorder.create_table()
    return recorder


def _raw_pg_recorder(url: str) -> Any:
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    from ledger.adapters.store import StoreUrl

    parsed = StoreUrl.parse(url)
    assert parsed.pg_params is not None
    datastore = PostgresDatastore(**parsed.pg_params, schema=parsed.schema or "")
    with datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(f'CREATE SCHEMA IF NOT EXISTS "{parsed.schema}"')
    recorder = PostgresApplicationRecorder(datastore, events_table_name="raw_events")
    recorder.create_table()
    return recorder


def _sqlalchemy_recorder(sqlalchemy_url: str) -> Any:
    from eventsourcing.persistence import InfrastructureFactory

    factory = InfrastructureFactory.construct(env={
        "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy", "SQLALCHEMY_URL": sqlalchemy_url,
        "CREATE_TABLE": "y",
    })
    return factory.application_recorder()


def command_latencies(url: str, count: int) -> tuple[float, float]:
    """p50/p99 milliseconds of a typical command (attach a managed policy to a new user)."""
    samples: list[float] = []
    with Ledger.open(url) as ledger:
        ledger.create_account("111122223333", "bench")
        ledger.create_policy("111122223333", "P", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
        for i in range(count):
            ledger.create_user("111122223333", f"user{i}")
            started = time.perf_counter()
            ledger.attach_user_policy("111122223333", f"user{i}", "arn:aws:iam::111122223333:policy/P")
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), _percentile(samples, 0.99)


def _with_store(kind: str, body: Callable[[str], Any]) -> Any:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            return body(f"sqlite:///{directory}/bench.db")
    assert POSTGRES_URL
    url, schema = _fresh_pg_url(POSTGRES_URL)
    try:
        return body(url)
    finally:
        _drop_pg_schema(POSTGRES_URL, schema)


def run(quick: bool = False) -> list[dict[str, Any]]:
    total = 5_000 if quick else 50_000
    rounds = 3 if quick else 5
    commands = 100 if quick else 500
    rows: list[dict[str, Any]] = []
    stores = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
    for kind in stores:
        def recorder_for(url: str, kind: str = kind) -> Any:
            if kind == "sqlite":
                return _raw_sqlite_recorder(url[len("sqlite:///"):])
            return _raw_pg_recorder(url)

        def via_sqlalchemy(url: str) -> float:
            from ledger.adapters.store import StoreUrl

            return bare_append_rate(_sqlalchemy_recorder(StoreUrl.parse(url).sqlalchemy_url()), total)

        ours, bare, mapped = [], [], []
        for _ in range(rounds):  # interleaved rounds: the machine's drift hits all three alike
            ours.append(_with_store(kind, lambda url: ledger_append_rate(url, total)))
            bare.append(_with_store(kind, lambda url: bare_append_rate(recorder_for(url), total)))
            mapped.append(_with_store(kind, lambda url: mapper_append_rate(recorder_for(url), total)))
        ours_rate, bare_rate, mapped_rate = (statistics.median(x) for x in (ours, bare, mapped))
        alternative = _with_store(kind, via_sqlalchemy) if kind == "sqlite" else None
        p50, p99 = _with_store(kind, lambda url: command_latencies(url, commands))
        rows.append({
            "store": kind, "batch": BATCH, "events": total,
            "ledger events/s": round(ours_rate),
            "bare recorder events/s": round(bare_rate), "ratio vs bare": round(ours_rate / bare_rate, 2),
            "recorder+es Mapper events/s": round(mapped_rate), "ratio vs Mapper": round(ours_rate / mapped_rate, 2),
            "es-sqlalchemy events/s": round(alternative) if alternative else None,
            "command p50 ms": round(p50, 3), "command p99 ms": round(p99, 3),
        })
    return rows


def scale_rows(quick: bool) -> list[dict[str, Any]]:
    """Issue 12's append row: Ledger.record against eventsourcing's own Mapper + JSON transcoder
    into the same recorder (same events, batches of BATCH), interleaved rounds, per store."""
    total, rounds = (5_000, 3) if quick else (50_000, 5)
    rows = []
    for kind in ["sqlite"] + (["postgresql"] if POSTGRES_URL else []):
        def recorder_for(url: str, kind: str = kind) -> Any:
            return _raw_sqlite_recorder(url[len("sqlite:///"):]) if kind == "sqlite" else _raw_pg_recorder(url)

        ours, mapped = [], []
        for _ in range(rounds):
            ours.append(_with_store(kind, lambda url: ledger_append_rate(url, total)))
            mapped.append(_with_store(kind, lambda url: mapper_append_rate(recorder_for(url), total)))
        ours_rate, mapped_rate = statistics.median(ours), statistics.median(mapped)
        rows.append({
            "id": "append", "store": kind, "history": f"{total:,} events, batches of {BATCH}",
            "measured": f"{ours_rate:,.0f} ev/s", "baseline": f"es Mapper+transcoder {mapped_rate:,.0f} ev/s",
            "ratio": round(ours_rate / mapped_rate, 2), "met": ours_rate / mapped_rate >= 0.85,
        })
    return rows


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    if not rows:
        return
    columns = list(dict.fromkeys(key for row in rows for key in row))  # rows may differ in keys
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(column) is None else str(row[column]) for column in columns))
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    configure_logging("warning")
    print_table("Event store: batched append and command latency", run(args.quick))


if __name__ == "__main__":
    main()
