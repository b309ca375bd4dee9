"""Crash campaigns: `kill -9` a process in the middle of batched appends, a CloudTrail import
or a projection batch, then check that nothing partial is visible and that a restart converges.

Each function returns a list of divergences (empty when the guarantee held) so that the tests
assert on it and `benchmarks.bench_trust` counts crash points and divergences.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ledger.application.facade import Ledger
from tests.trust._concurrency import ROOT
from tests.trust._support import raw

ACCOUNT = "111122223333"

_RECORD_LOOP = """
import sys
from datetime import datetime, timezone
from ledger.domain import events as ev
from ledger.application.facade import Ledger
url, batches, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
now = datetime.now(timezone.utc)
with Ledger.open(url) as ledger:
    for b in range(batches):
        ledger.record([ev.AccessObserved(
            originator_id=ev.account_stream_id("111122223333"), originator_version=0, occurred_at=now,
            recorded_at=now, account_id="111122223333", source="cloudtrail", source_id=f"b{b}-{i}",
            principal_arn="arn:aws:iam::111122223333:user/u", action="s3:GetObject",
            resource=f"arn:aws:s3:::bucket/{b}/{i}", allowed=True) for i in range(size)])
"""

_PROJECT = """
import sys
from ledger.application.facade import Ledger
from projections.queries import ReadSide
with Ledger.open(sys.argv[1]) as ledger:
    ReadSide(ledger.store, batch=int(sys.argv[2])).catch_up()
"""


def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen[bytes], ready: Any, timeout: float = 60.0) -> bool:
    """SIGKILL `proc` as soon as `ready()` is true; False if it finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if ready():
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
        except Exception:
            pass
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    return True


def _count(url: str) -> int:
    with raw(url) as db:
        return db.count()


def crash_during_record_batches(url: str, batches: int = 400, size: int = 250) -> list[str]:
    """Kill a loop of `Ledger.record` batches; every batch in the log must be whole."""
    with Ledger.open(url) as ledger:
        ledger.create_account(ACCOUNT, "crash")
    proc = _spawn(["-c", _RECORD_LOOP, url, str(batches), str(size)])
    killed = _kill_when(proc, lambda: _count(url) > 1 + 3 * size)
    problems = [] if killed else ["the writer finished before it could be killed"]
    with raw(url) as db:
        rows = db.rows()
    per_batch = Counter(json.loads(r.state).get("source_id", "").split("-")[0] for r in rows[1:])
    partial = {b: n for b, n in per_batch.items() if n != size}
    if partial:
        problems.append(f"partial batches visible after kill -9: {partial}")
    return problems


def crash_during_import(url: str, directory: Path, files: int = 6, per_file: int = 4000) -> list[str]:
    """Kill `ledger import cloudtrail` mid-import; re-running records nothing twice and
    completes the rest; the log then equals a clean import's."""
    from tests.trust._cloudtrail import write_cloudtrail_files

    paths = write_cloudtrail_files(directory, files, per_file)
    cli = ["-c", "from ledger.cli import main; main()", "--db", url, "import", "cloudtrail",
           *map(str, paths), "--json"]
    proc = _spawn(cli)
    killed = _kill_when(proc, lambda: _count(url) >= 5000)
    problems = [] if killed else ["the import finished before it could be killed"]
    with raw(url) as db:
        after_kill = db.rows()
    reference = _reference_import(directory, paths)
    ids = Counter(json.loads(r.state).get("source_id") for r in after_kill)
    if any(reference.get(source_id) != n for source_id, n in ids.items()):
        problems.append("an imported record has a partial or duplicated set of events")
    rerun = subprocess.run([sys.executable, *cli], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                           capture_output=True, text=True, timeout=300, check=False)
    if rerun.returncode != 0:
        return [*problems, f"re-run failed: {rerun.stderr[-300:]}"]
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    if summary["imported"] + len(ids) != files * per_file:
        problems.append(f"re-run imported {summary['imported']} after {len(ids)}: not the rest exactly")
    with raw(url) as db:
        final = Counter(json.loads(r.state).get("source_id") for r in db.rows())
    if final != reference:
        problems.append("after resuming, the log does not hold every record's events exactly once")
    return problems


def _reference_import(directory: Path, paths: list[Path]) -> Counter[str]:
    """Events per source id of an uninterrupted import into a fresh store."""
    from ledger.application.importing.runner import import_cloudtrail

    url = f"sqlite:///{directory}/reference.db"
    with Ledger.open(url) as ledger:
        import_cloudtrail(ledger, paths)
    with raw(url) as db:
        return Counter(json.loads(r.state).get("source_id") for r in db.rows())


def _dump_projection(url: str) -> tuple[int, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with raw(url) as db:
        prefix = "" if db.sqlite else f'"{db.url.schema}".'
        position = db.execute(f"SELECT position FROM {prefix}pl_tracking WHERE name='temporal'")
        facts = db.execute(
            f"SELECT fact_key, kind, subject, ref, valid_from, valid_to, opened_position, opened_type, "
            f"closed_position, closed_type, payload FROM {prefix}pl_facts ORDER BY fact_key, valid_from, opened_position"
        )
        changes = db.execute(
            f"SELECT fact_key, kind, subject, ref, op, at, position, seq, cause, payload "
            f"FROM {prefix}pl_fact_changes ORDER BY position, seq"
        )
    return (int(position[0][0]) if position else 0), [tuple(r) for r in facts], [tuple(r) for r in changes]


def _tracking_position(url: str) -> int:
    return _dump_projection(url)[0]


def projection_equals_rebuild(url: str, upto: int | None = None) -> list[str]:
    """The projection's rows equal those of a rebuild from scratch (up to `upto`)."""
    position, facts, changes = _dump_projection(url)
    with Ledger.open(url) as ledger:
        read_side = ledger.read_side()
        read_side.facts.reset(read_side.projector.name)
        read_side.projector.catch_up(upto=upto)
        read_side.close()
    rebuilt = _dump_projection(url)
    problems = []
    if (position, facts, changes) != rebuilt:
        problems.append(
            f"projection at {position} ({len(facts)} facts, {len(changes)} changes) differs from a "
            f"rebuild at {rebuilt[0]} ({len(rebuilt[1])} facts, {len(rebuilt[2])} changes)"
        )
    return problems


def history_for_projection(url: str, users: int) -> None:
    with Ledger.open(url) as ledger:
        ledger.create_account(ACCOUNT, "crash")
        ledger.create_group(ACCOUNT, "editors")
        for i in range(users):
            ledger.create_user(ACCOUNT, f"user{i}")
            ledger.add_user_to_group(ACCOUNT, f"user{i}", "editors")
        ledger.read_side().close()  # migrate the tables before the worker starts


def crash_during_projection(url: str, users: int = 300) -> list[str]:
    """Kill a projection mid-catch-up: what is visible equals a rebuild up to the committed
    position (no partial batch), and a restart ends equal to a full rebuild."""
    history_for_projection(url, users)
    proc = _spawn(["-c", _PROJECT, url, "25"])
    killed = _kill_when(proc, lambda: _tracking_position(url) > 0)
    problems = [] if killed else ["the projection finished before it could be killed"]
    killed_state = _dump_projection(url)
    with Ledger.open(url) as ledger:  # the restarted worker resumes where the kill left it
        ledger.project()
        ledger.read_side().close()
    problems += projection_equals_rebuild(url)
    with Ledger.open(url) as ledger:  # nothing partial: the killed state is a whole prefix
        read_side = ledger.read_side()
        read_side.facts.reset(read_side.projector.name)
        read_side.projector.catch_up(upto=killed_state[0])
        read_side.close()
    if _dump_projection(url) != killed_state:
        problems.append(f"the state left by the kill at {killed_state[0]} is not a rebuild up to it")
    return problems


def follower_during_writes(url: str, processes: int = 3, users_each: int = 6) -> list[str]:
    """`ledger project --follow` runs while several processes write (and, on PostgreSQL,
    rolled-back inserts leave position gaps): it ends with exactly the log's events, equal
    to a rebuild (no skip; a duplicate would violate the changes' unique key)."""
    import threading

    from tests.trust._concurrency import run_workers

    with Ledger.open(url) as ledger:
        ledger.create_account(ACCOUNT, "follow")
        ledger.read_side().close()
    follower = _spawn(["-c", "from ledger.cli import main; main()", "--db", url, "project", "--follow",
                       "--poll", "0.05"])

    def make_gaps() -> None:
        time.sleep(2.6)
        with raw(url) as db:
            for _ in range(3):
                db.make_gap()
                time.sleep(0.05)

    gaps = threading.Thread(target=make_gaps) if url.startswith("postgres") else None
    if gaps is not None:
        gaps.start()
    results = run_workers(url, [
        [("create_user", [ACCOUNT, f"f{p}-{i}"]) for i in range(users_each)] for p in range(processes)
    ])
    if gaps is not None:
        gaps.join()
    problems = [f"writer error {r}" for r in results if r.get("untyped")]
    with raw(url) as db:
        last = max(db.positions())
    deadline = time.monotonic() + 30
    while _tracking_position(url) < last and time.monotonic() < deadline and follower.poll() is None:
        time.sleep(0.05)
    if follower.poll() is not None:
        problems.append(f"the follower died: {follower.stderr.read().decode()[-300:] if follower.stderr else ''}")
    follower.send_signal(signal.SIGKILL)
    follower.wait()
    if _tracking_position(url) != last:
        problems.append(f"the follower stopped at {_tracking_position(url)}, the log ends at {last}")
    return problems + projection_equals_rebuild(url)
