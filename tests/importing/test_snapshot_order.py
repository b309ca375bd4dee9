"""Snapshots diff against the state at their own --at: any import order makes the history a
chronological import makes (the same state and the same answers at every time)."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import Ledger
from ledger.application.importing import import_snapshot
from ledger.domain.state import AccountState
from ledger.timeaxis import parse_iso
from tests.importing.conftest import GAAD

ACCOUNT = "012345678901"
TIMES = {"S1": "2024-01-01T00:00:00Z", "S2": "2024-02-01T00:00:00Z", "S3": "2024-03-01T00:00:00Z"}
PROBES = ["2023-12-31T00:00:00Z", "2024-01-01T00:00:00Z", "2024-01-15T00:00:00Z", "2024-02-01T00:00:00Z",
          "2024-02-15T00:00:00Z", "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"]
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
TRUST_OTHER = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}]}


def _snapshots(tmp_path: Path) -> dict[str, Path]:
    """S1: the teaching dump. S2: biden deleted, MyRole trusts another account, obama's own
    AdministratorAccess detached. S3: like S1 again but obama out of the admin group."""
    base = json.loads((GAAD / "cloudsplaining_teaching_gaad.json").read_text())
    s2 = copy.deepcopy(base)
    s2["UserDetailList"] = [u for u in s2["UserDetailList"] if u["UserName"] != "biden"]
    s2["GroupDetailList"] = [g for g in s2["GroupDetailList"] if g["GroupName"] != "biden"]
    next(r for r in s2["RoleDetailList"] if r["RoleName"] == "MyRole")["AssumeRolePolicyDocument"] = TRUST_OTHER
    obama = next(u for u in s2["UserDetailList"] if u["UserName"] == "obama")
    obama["AttachedManagedPolicies"] = []
    s3 = copy.deepcopy(base)
    next(u for u in s3["UserDetailList"] if u["UserName"] == "obama")["GroupList"] = []
    out = {}
    for name, data in (("S1", base), ("S2", s2), ("S3", s3)):
        out[name] = tmp_path / f"{name}.json"
        out[name].write_text(json.dumps(data))
    return out


def state_at(ledger: Ledger, when: str) -> str:
    """The account's write-side state replayed from every event with occurred_at <= `when`."""
    cut = parse_iso(when)
    state = AccountState(ACCOUNT)
    chosen = [e for e in ledger.events() if e.account_id == ACCOUNT and e.occurred_at <= cut]
    for event in sorted(chosen, key=lambda e: (e.occurred_at, e.position or 0)):
        state.fold(event)
    data = dataclasses.asdict(state)
    data.pop("version")
    return json.dumps(data, sort_keys=True, default=lambda o: sorted(o) if isinstance(o, set) else str(o))


def answers(ledger: Ledger, when: str) -> list[object]:
    """Who may assume MyRole and who may create users, as the read side answers at `when`."""
    role = f"arn:aws:iam::{ACCOUNT}:role/MyRole"
    return [sorted(p.principal for p in ledger.who_can(action, resource, at=when).principals)
            for action, resource in (("sts:AssumeRole", role), ("iam:CreateUser", "*"))]


@pytest.fixture
def chronological(store_url: str, tmp_path: Path) -> Iterator[tuple[Ledger, dict[str, Path]]]:
    files = _snapshots(tmp_path)
    with Ledger.open(store_url) as ledger:
        for name in ("S1", "S2", "S3"):
            import_snapshot(ledger, [files[name]], at=TIMES[name])
        yield ledger, files


class TestAnyOrderMakesTheChronologicalHistory:
    @pytest.mark.parametrize("order", [o for o in itertools.permutations(("S1", "S2", "S3"))
                                       if o != ("S1", "S2", "S3")])
    def test_every_order_gives_the_same_state_and_answers_at_every_time(
            self, chronological: tuple[Ledger, dict[str, Path]], tmp_path: Path, order: tuple[str, ...]) -> None:
        """Importing S1, S2, S3 in any order leaves the same state and who-can answers at each probe."""
        reference, files = chronological
        with Ledger.open(f"sqlite:///{tmp_path}/other.db") as other:
            for name in order:
                assert [] == import_snapshot(other, [files[name]], at=TIMES[name]).errors
            for when in PROBES:
                assert state_at(reference, when) == state_at(other, when), when
                assert answers(reference, when) == answers(other, when), when

    def test_the_older_snapshot_changes_history_only_until_the_next(
            self, store_url: str, tmp_path: Path) -> None:
        """S2 then S1: biden exists from S1's time until S2's, not after it."""
        files = _snapshots(tmp_path)
        with Ledger.open(store_url) as ledger:
            import_snapshot(ledger, [files["S2"]], at=TIMES["S2"])
            import_snapshot(ledger, [files["S1"]], at=TIMES["S1"])
            assert '"biden"' in state_at(ledger, "2024-01-15T00:00:00Z")
            assert '"biden"' not in state_at(ledger, "2024-02-15T00:00:00Z")
            assert ADMIN in state_at(ledger, "2024-01-15T00:00:00Z").split('"obama"', 1)[1]
