"""The organisation's temporal facts equal a replay of the write side: for Hypothesis-generated
organisation histories, arriving in any order, the SCP levels the read side finds for an account
at any time are the ones `ledger.domain.organization.policy_levels` finds on the replayed state."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import Ledger
from ledger.domain import events as ev
from ledger.domain.organization import SCP, policy_levels, target_type
from ledger.domain.state import AccountState
from tests.projections._support import T0, fresh_ledger

M = "111111111111"
ACCOUNTS = ["222222222222", "333333333333"]
ROOT = "r-ab12"
OUS = ["ou-ab12-a", "ou-ab12-b", "ou-ab12-c"]  # each may only hang under the root or an earlier OU
POLICIES = ["p-full", "p-deny", "p-s3"]
DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
OPS = st.lists(st.tuples(st.sampled_from(["attach", "detach", "move", "unit", "type"]),
                         st.integers(0, 9), st.integers(0, 9)), min_size=2, max_size=14)


def _event(cls: type[ev.LedgerEvent], minute: int, n: int, **fields: Any) -> ev.LedgerEvent:
    at = T0 + timedelta(minutes=minute)
    return cls(originator_id=ev.account_stream_id(M), originator_version=0, occurred_at=at, recorded_at=at,
               account_id=M, source="snapshot", source_id=f"prop-{n}", **fields)


def _targets(units: list[str]) -> list[str]:
    return [ROOT, *units, *ACCOUNTS]


def history(ops: list[tuple[str, int, int]]) -> list[ev.LedgerEvent]:
    """A valid organisation history: created first, then each op a minute later."""
    out = [_event(ev.OrganizationCreated, 0, 0, root_id=ROOT, enabled_policy_types=(SCP,))]
    out += [_event(ev.OrganizationPolicyCreated, 0, 1 + i, policy_id=p, policy_name=p, policy_type=SCP, document=DOC)
            for i, p in enumerate(POLICIES)]
    out += [_event(ev.AccountJoinedOrganization, 0, 10 + i, member_account_id=a, parent_id=ROOT)
            for i, a in enumerate(ACCOUNTS)]
    units: list[str] = []
    for minute, (op, i, j) in enumerate(ops, 1):
        n = 100 + minute
        if op == "unit" and len(units) < len(OUS):
            ou = OUS[len(units)]
            parents = [ROOT, *units]
            out.append(_event(ev.OrganizationalUnitCreated, minute, n, ou_id=ou, ou_name=ou,
                              parent_id=parents[i % len(parents)]))
            units.append(ou)
        elif op == "move":
            parents = [ROOT, *units]
            out.append(_event(ev.AccountMoved, minute, n, member_account_id=ACCOUNTS[i % 2],
                              parent_id=parents[j % len(parents)]))
        elif op in ("attach", "detach"):
            target = _targets(units)[j % len(_targets(units))]
            cls = ev.OrganizationPolicyAttached if op == "attach" else ev.OrganizationPolicyDetached
            extra = {"target_type": target_type(target)} if op == "attach" else {}
            out.append(_event(cls, minute, n, policy_id=POLICIES[i % 3], policy_type=SCP, target_id=target, **extra))
        elif op == "type":
            cls = ev.OrganizationPolicyTypeDisabled if i % 2 else ev.OrganizationPolicyTypeEnabled
            out.append(_event(cls, minute, n, policy_type=SCP, root_id=ROOT))
    return out


def replayed(events: list[ev.LedgerEvent], at: datetime, account: str) -> list[tuple[str, list[str]]] | None:
    state = AccountState(M)
    for event in sorted((e for e in events if e.occurred_at <= at), key=lambda e: (e.occurred_at, e.position or 0)):
        state.fold(event)
    return policy_levels(state.organization, account, SCP) if state.organization else None


def projected(ledger: Ledger, at: datetime, account: str) -> list[tuple[str, list[str]]] | None:
    snap, _ = ledger.read_side().snapshot(at)
    found = snap.org_policies(account, SCP)
    return None if found is None else [(target, sorted(e[0] for e in entries)) for target, entries in found.levels]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
class TestOrganisationFactsEqualReplay:
    @settings(max_examples=8)
    @given(ops=OPS, seed=st.integers(0, 1000))
    def test_levels_at_every_time_match_the_replayed_state(self, backend: str, ops: list[tuple[str, int, int]],
                                                           seed: int) -> None:
        """Recorded in a shuffled order, the read side's levels equal the replay's at every minute."""
        events = history(ops)
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        with fresh_ledger(backend) as ledger:
            for event in shuffled:
                ledger.record([event])
            recorded = list(ledger.events())
            for minute in range(len(ops) + 2):
                at = T0 + timedelta(minutes=minute, seconds=30)
                for account in ACCOUNTS:
                    assert replayed(recorded, at, account) == projected(ledger, at, account), (minute, account)
