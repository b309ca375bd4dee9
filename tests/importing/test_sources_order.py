"""Observations from different sources (Config items and IAM snapshots of one role) imported in
any order leave the read side with the facts a chronological import leaves, at every time."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import Ledger
from ledger.application.importing import import_config, import_snapshot
from ledger.timeaxis import parse_iso, to_us
from tests.importing.test_config import _MANAGED, _TRUSTS, A, _generated, write
from tests.projections._support import fresh_ledger

KINDS = ("principal", "attach", "inline", "trust", "policy", "pver", "pdefault", "boundary", "tag", "member")
TRUSTS = sorted(_TRUSTS)
CHANGE = st.tuples(st.sampled_from(TRUSTS), st.sets(st.integers(0, 2)).map(lambda s: tuple(sorted(s))))
HISTORIES = st.tuples(st.lists(CHANGE, min_size=1, max_size=5),
                      st.lists(st.tuples(st.integers(1, 6), CHANGE), min_size=1, max_size=2))


def _gaad(trust: tuple[str, ...], attached: tuple[int, ...]) -> dict[str, Any]:
    return {"UserDetailList": [], "GroupDetailList": [], "Policies": [], "RoleDetailList": [{
        "RoleName": "ReportsRole", "RoleId": "AROAEXAMPLEREPORTS01", "Path": "/",
        "Arn": f"arn:aws:iam::{A}:role/ReportsRole", "AssumeRolePolicyDocument": _TRUSTS[trust],
        "RolePolicyList": [], "AttachedManagedPolicies": [{"PolicyArn": _MANAGED[i]} for i in attached]}]}


def _import(ledger: Ledger, unit: tuple[str, str, Any], directory: Path, name: str) -> None:
    kind, _, payload = unit
    if kind == "config":
        import_config(ledger, [write(directory, f"{name}.json", [payload])])
    else:
        path = directory / f"{name}.gaad.json"
        path.write_text(json.dumps(payload[1]))
        import_snapshot(ledger, [path], at=payload[0], account=A)


def facts_at(ledger: Ledger, when: str) -> list[tuple[str, str]]:
    """Every IAM fact the read side holds at `when` (what its answers are made of)."""
    ledger.project()
    found = ledger.read_side().facts.many_at(KINDS, to_us(parse_iso(when)))
    return sorted((f.key, json.dumps(f.payload, sort_keys=True)) for f in found)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
class TestMixedSourcesInAnyOrder:
    @settings(max_examples=6)
    @given(history=HISTORIES, seed=st.integers(0, 1000))
    def test_config_items_and_snapshots_in_any_order(self, backend: str, tmp_path_factory: pytest.TempPathFactory,
                                                    history: tuple[list[Any], list[Any]], seed: int) -> None:
        """Daily Config items and snapshots at 06:00, shuffled: the same facts every half day."""
        items, snapshots = history
        units = [("config", f"2024-03-{day:02d}T00:00:00Z", _generated(day, trust, attached, False))
                 for day, (trust, attached) in enumerate(items, 1)]
        units += [("snap", f"2024-03-{day:02d}T06:00:00Z", (f"2024-03-{day:02d}T06:00:00Z", _gaad(trust, attached)))
                  for day, (trust, attached) in dict(snapshots).items()]
        shuffled = units[:]
        random.Random(seed).shuffle(shuffled)
        directory = tmp_path_factory.mktemp("units")
        with fresh_ledger(backend) as chronological, fresh_ledger(backend) as shuffled_ledger:
            for number, unit in enumerate(sorted(units, key=lambda u: u[1])):
                _import(chronological, unit, directory, f"c{number}")
            for number, unit in enumerate(shuffled):
                _import(shuffled_ledger, unit, directory, f"s{number}")
            for day in range(0, 9):
                for hour in ("03", "12"):
                    when = f"2024-03-{day:02d}T{hour}:00:00Z" if day else "2024-02-28T12:00:00Z"
                    assert facts_at(chronological, when) == facts_at(shuffled_ledger, when), when
