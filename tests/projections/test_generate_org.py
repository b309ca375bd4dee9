"""The organisation-tier generator on both stores: the same seed gives the same log, every event
folds and the projections build, and the history keeps AWS's rules (quotas, unique names, SCPs at
several OU levels, role chains whose every hop `can` allows at the time it was taken)."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from ledger import Ledger
from ledger.application.generate_org import OrgShape, generate_org
from ledger.domain import events as ev
from ledger.domain.handlers.core import validate_policy
from ledger.domain.handlers.organizations import org_policy_document
from ledger.domain.organization import FULL_AWS_ACCESS, SCP, policy_levels
from ledger.domain.state import AccountState

TINY = OrgShape(accounts=8, principals=300, events=4000)


def _records(ledger: Ledger) -> list[tuple[Any, ...]]:
    return [(p, str(o), v, t, bytes(s)) for p, o, v, t, s in ledger.store.iter_records()]


def _states(events: list[ev.LedgerEvent]) -> dict[str, AccountState]:
    """The write side replayed from the log: the reference the invariants are checked on."""
    states: dict[str, AccountState] = {}
    for event in events:
        states.setdefault(event.account_id, AccountState(event.account_id)).fold(event)
    return states


@pytest.fixture(scope="module")
def tiny_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One tiny organisation on SQLite, shared by the read-only invariant checks."""
    url = f"sqlite:///{tmp_path_factory.mktemp('org')}/org.db"
    with Ledger.open(url) as ledger:
        generate_org(ledger, TINY, seed=3)
        yield ledger, list(ledger.events())


class TestReproducibleFromASeed:
    def test_the_same_seed_gives_a_byte_identical_log(self, ledger: Ledger, tmp_path: Any) -> None:
        """Two generations with one seed (one on each backend) store the same records."""
        count = generate_org(ledger, TINY, seed=5)
        with Ledger.open(f"sqlite:///{tmp_path}/again.db") as again:
            assert count == generate_org(again, TINY, seed=5)
            assert _records(again) == _records(ledger)
        assert count >= TINY.events

    def test_another_seed_gives_another_history(self, tmp_path: Any) -> None:
        """Seeds 1 and 2 differ (the seed is really used)."""
        logs = []
        for seed in (1, 2):
            with Ledger.open(f"sqlite:///{tmp_path}/s{seed}.db") as ledger:
                generate_org(ledger, OrgShape(accounts=5, principals=60, events=600), seed=seed)
                logs.append(_records(ledger))
        assert logs[0] != logs[1]


class TestEveryEventFolds:
    def test_the_projections_build_over_the_whole_generated_log(self, ledger: Ledger) -> None:
        """Rebuild folds every generated event; catch-up then has nothing left to do."""
        count = generate_org(ledger, TINY, seed=7)
        read = ledger.read_side()
        assert count == read.rebuild()
        assert 0 == read.catch_up()
        assert ledger.store.max_position() == read.position()

    def test_every_document_passes_the_grammar_of_its_kind(self, tiny_sqlite: Any) -> None:
        """Identity, boundary, trust, bucket and SCP documents are all valid as AWS parses them."""
        _, events = tiny_sqlite
        checked = Counter()
        for event in events:
            if isinstance(event, (ev.ManagedPolicyCreated, ev.PolicyVersionCreated)):
                validate_policy(event.document, "identity")
            elif isinstance(event, (ev.RoleCreated, ev.TrustPolicyUpdated)):
                validate_policy(event.trust_policy, "trust")
            elif isinstance(event, ev.BucketPolicyPut):
                validate_policy(event.document, "resource")
            elif isinstance(event, (ev.OrganizationPolicyCreated, ev.OrganizationPolicyUpdated)):
                org_policy_document(event.document, event.policy_type, event.policy_id)
            else:
                continue
            checked[event.event_type] += 1
        assert {"ManagedPolicyCreated", "PolicyVersionCreated", "RoleCreated", "TrustPolicyUpdated",
                "BucketPolicyPut", "OrganizationPolicyCreated"} <= set(checked)


class TestOrganisationShape:
    def test_aws_quotas_hold_in_every_account(self, tiny_sqlite: Any) -> None:
        """≤ 1,000 roles, ≤ 10 managed policies per role, ≤ 5 policy versions, ≤ 10 groups and ≤ 2
        access keys per user, ≤ 5 SCPs per target, OUs at most five levels deep."""
        _, events = tiny_sqlite
        states = _states(events)
        for state in states.values():
            assert len(state.roles) <= 1000
            assert all(len(r.managed) <= 10 for r in state.roles.values())
            assert all(len(p.versions) <= 5 for p in state.policies.values())
            assert all(len(u.groups) <= 10 and len(u.access_keys) <= 2 for u in state.users.values())
        org = next(s.organization for s in states.values() if s.organization is not None)
        assert all(len(ids) <= 5 for ids in org.attachments.values())
        for account in org.accounts:
            levels = policy_levels(org, account, SCP)
            assert levels is not None and len(levels) <= 7  # root + five OU levels + the account

    def test_names_are_unique_per_account_and_buckets_globally(self, tiny_sqlite: Any) -> None:
        """No two live roles, users or policies of an account share a name; bucket names are global."""
        _, events = tiny_sqlite
        for state in _states(events).values():
            for entities in (state.roles, state.users, state.policies):
                names = [e.name.lower() for e in entities.values()]
                assert len(names) == len(set(names))
        created = [e.bucket_name for e in events if isinstance(e, ev.BucketCreated)]
        assert len(created) == len(set(created))

    def test_scps_sit_at_several_levels_and_full_access_at_every_one(self, tiny_sqlite: Any) -> None:
        """Some account has deny-list SCPs at three or more levels of its path (root, OU, nested
        OU); every level of every member's path has at least FullAWSAccess."""
        _, events = tiny_sqlite
        org = next(s.organization for s in _states(events).values() if s.organization is not None)
        depth_with_custom = 0
        for account in org.accounts:
            levels = policy_levels(org, account, SCP)
            assert levels is not None
            assert all(FULL_AWS_ACCESS in ids for _, ids in levels)
            depth_with_custom = max(depth_with_custom, sum(1 for _, ids in levels if set(ids) - {FULL_AWS_ACCESS}))
        assert depth_with_custom >= 3

    def test_most_principals_are_roles_and_sessions_most_of_the_volume(self, tiny_sqlite: Any) -> None:
        """Roles outnumber users; after the opening (the tree, IAM of every account), sessions
        are more than half of the churn."""
        _, events = tiny_sqlite
        kinds = Counter(e.event_type for e in events)
        assert kinds["RoleCreated"] > 5 * kinds["UserCreated"]
        churn = Counter(e.event_type for e in events[len(events) // 2:])
        assert churn.most_common(1)[0][0] == "RoleAssumed"
        assert churn["RoleAssumed"] > 0.5 * sum(churn.values())

    def test_delegated_admins_carry_a_permissions_boundary(self, tiny_sqlite: Any) -> None:
        """Every lz-delegated-admin role has the landing zone's boundary."""
        _, events = tiny_sqlite
        admins = [r for s in _states(events).values() for r in s.roles.values() if r.name == "lz-delegated-admin"]
        assert admins and all(r.boundary is not None and r.boundary.endswith("/lz-admin-boundary") for r in admins)


class TestChainsAreAssumable:
    def test_every_hop_of_sampled_three_deep_chains_is_allowed_at_its_time(self, ledger: Ledger) -> None:
        """For sampled user -> hub -> deployer -> app chains, `can(caller, sts:AssumeRole, role)`
        at the hop's issue time allows each hop; the caller of a hop is the previous role."""
        generate_org(ledger, TINY, seed=11)
        sessions = {e.session_id: e for e in ledger.events() if isinstance(e, ev.RoleAssumed)}
        ends = [e for e in sessions.values() if e.parent_session_id and sessions[e.parent_session_id].parent_session_id]
        assert ends
        spans = []
        for end in random.Random(0).sample(ends, min(6, len(ends))):
            hops = [end]
            while hops[-1].parent_session_id:
                hops.append(sessions[hops[-1].parent_session_id])
            assert 3 == len(hops)
            spans.append(len({h.account_id for h in hops} | {hops[-1].caller_account}))
            for hop in hops:
                parent = sessions.get(hop.parent_session_id or "")
                caller = parent.role_arn if parent else hop.caller_arn
                decision = ledger.can(caller, "sts:AssumeRole", hop.role_arn, at=hop.issued_at.isoformat())
                assert "allowed" == decision.to_dict()["EvalDecision"], json.dumps(decision.to_dict())[:400]
        assert min(spans) >= 2 and max(spans) >= 3  # identity -> shared -> the app's account

    def test_a_role_trusting_only_the_hub_refuses_an_admin_who_skips_it(self, tiny_sqlite: Any) -> None:
        """An admin user (sts:AssumeRole on *) cannot assume lz-deployer directly: its trust names the hub."""
        ledger, events = tiny_sqlite
        admin = next(e for e in events if isinstance(e, ev.UserCreated) and e.user_name.startswith("admin"))
        deployer = next(e for e in events if isinstance(e, ev.RoleCreated) and e.role_name == "lz-deployer")
        at = events[-1].occurred_at.isoformat()
        assert "allowed" != ledger.can(admin.user_arn, "sts:AssumeRole", deployer.role_arn, at=at).to_dict()["EvalDecision"]

    def test_mediaconvert_roles_may_write_the_cross_account_outputs_they_wrote(self, tiny_sqlite: Any) -> None:
        """Sampled outputs written by another account's MediaConvert role: the bucket policy and the
        role's policy allow the PutObject at the time of writing."""
        ledger, events = tiny_sqlite
        outputs = [e for e in events if isinstance(e, ev.OutputWritten) and e.writer_account != e.account_id]
        assert outputs
        jobs = {e.job_id: e for e in events if isinstance(e, ev.JobCreated)}
        policies = {}
        for e in events:
            if isinstance(e, ev.BucketPolicyPut):
                policies.setdefault(e.bucket_name, []).append(e)
        checked = 0
        for out in random.Random(1).sample(outputs, min(6, len(outputs))):
            role_arn = jobs[out.job_id or ""].role_arn
            named = [p for p in policies[out.bucket_name] if p.occurred_at <= out.occurred_at][-1]
            if role_arn not in named.document["Statement"][0]["Principal"]["AWS"]:
                continue  # the bucket's policy had since dropped this writer: a denial is right
            decision = ledger.can(role_arn, "s3:PutObject", out.object_arn, at=out.occurred_at.isoformat())
            assert "allowed" == decision.to_dict()["EvalDecision"], json.dumps(decision.to_dict())[:400]
            checked += 1
        assert checked


class TestGenerateCommand:
    def test_the_org_profile_appends_the_same_log_as_the_library_call(self, tmp_path: Any) -> None:
        """`ledger bench generate --profile org` with a shape and seed equals `generate_org`."""
        from typer.testing import CliRunner

        import ledger.cli.registry  # noqa: F401  (registers the commands)
        from ledger.cli.app import app

        url = f"sqlite:///{tmp_path}/cli.db"
        result = CliRunner().invoke(app, ["--db", url, "bench", "generate", "--profile", "org", "--events", "600",
                                          "--accounts", "5", "--principals", "60", "--seed", "4", "--json"])
        assert 0 == result.exit_code, result.output
        assert {"events", "seconds", "profile"} <= set(json.loads(result.output))
        with Ledger.open(f"sqlite:///{tmp_path}/lib.db") as reference, Ledger.open(url) as made:
            generate_org(reference, OrgShape(accounts=5, principals=60, events=600), seed=4)
            assert _records(reference) == _records(made)

    def test_an_unknown_profile_is_one_typed_line_and_writes_nothing(self, tmp_path: Any) -> None:
        """A bad --profile exits 2 with one ValidationError line (no traceback); nothing is appended."""
        import subprocess
        import sys

        url = f"sqlite:///{tmp_path}/bad.db"
        result = subprocess.run([sys.executable, "-c", "from ledger.cli import main; main()", "--db", url,
                                 "bench", "generate", "--profile", "galaxy"], capture_output=True, text=True, timeout=120)
        assert 2 == result.returncode
        assert "ValidationError" in result.stderr + result.stdout and "Traceback" not in result.stderr
        with Ledger.open(url) as opened:
            assert 0 == opened.store.max_position()
