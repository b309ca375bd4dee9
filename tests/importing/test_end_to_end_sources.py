"""End to end, on both stores: an organisation (management + member with an SCP denying
s3:DeleteBucket), a week of Config history for one role (trust widened, then narrowed) and a
buckets snapshot with a cross-account bucket policy; `can` and `who-can` at five times give the
answers AWS's documented logic gives, each matched statement with its provenance.

Each import diffs against the state at its own time, so the organisation is imported last and still
governs from 1 March. Documented rules the expectations follow (quoted from the AWS docs):
- IAM User Guide, cross-account policy evaluation: "the requester must have an identity-based
  policy that allows the request, and the resource-based policy must also allow it".
- AWS Organizations: "any SCP from the root through each OU in the direct path to the account
  (including the target account itself) can deny that permission"; "SCPs do not restrict users or
  roles in the management account".
- IAM User Guide, role trust: a trust policy naming an account ("arn:aws:iam::333333333333:root")
  delegates to that account, whose principals also need an identity-based allow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger import Ledger
from ledger.application.importing.buckets import import_buckets
from ledger.application.importing.config import import_config
from ledger.application.importing.organization import import_organization
from ledger.application.importing.provenance import annotate
from tests.importing.conftest import FIXTURES

M, A, P = "111111111111", "222222222222", "333333333333"
ROLE = f"arn:aws:iam::{A}:role/ReportsRole"
OBJECT, BUCKET = "arn:aws:s3:::media-out/reports/march.csv", "arn:aws:s3:::media-out"
T1, T2, T3, T4, T5 = ("2024-02-29T00:00:00Z", "2024-03-02T00:00:00Z", "2024-03-04T00:00:00Z",
                      "2024-03-05T00:00:00Z", "2024-03-07T00:00:00Z")


@pytest.fixture
def world(store_url: str) -> Iterator[Ledger]:
    with Ledger.open(store_url) as ledger:
        assert [] == import_buckets(ledger, FIXTURES / "buckets" / "synthetic" / "media_out_111111111111.json",
                                    at="2024-03-01T00:00:00Z").errors
        assert [] == import_config(ledger, [FIXTURES / "config" / "synthetic"]).errors
        assert [] == import_organization(ledger, FIXTURES / "organizations" / "synthetic" / "two_accounts",
                                         at="2024-03-01T00:00:00Z").errors
        yield ledger


def sources(ledger: Ledger, decision: Any) -> list[tuple[str, str, str]]:
    """(policy, type, source of the event that put it there) for each matched statement."""
    data = annotate(ledger, decision.to_dict())
    return [(m["SourcePolicyId"], m["SourcePolicyType"], m["Origin"]["provenance"]["source"])
            for m in data["MatchedStatements"]]


def trusted(ledger: Ledger, at: str) -> list[str]:
    return sorted(p.principal for p in ledger.who_can("sts:AssumeRole", ROLE, at=at).principals)


class TestFiveMoments:
    def test_t1_before_the_role_existed_nobody(self, world: Ledger) -> None:
        """29 Feb: Config first saw the role on 1 March, so no one could use or assume it."""
        decision = world.can(ROLE, "s3:PutObject", OBJECT, at=T1)
        assert "implicitDeny" == decision.eval_decision
        assert any("does not exist at this time" in e for e in decision.to_dict()["Errors"])
        assert [] == trusted(world, T1)

    def test_t2_the_role_writes_cross_account_through_both_policies(self, world: Ledger) -> None:
        """2 March: the role's inline policy (Config) and media-out's bucket policy (snapshot) both
        allow, and FullAWSAccess allows at the root, the OU and the account (organisation import)."""
        decision = world.can(ROLE, "s3:PutObject", OBJECT, at=T2)
        assert "allowed" == decision.eval_decision
        assert [("reports", "role", "config"), ("bucket-policy:media-out", "resource", "snapshot"),
                ("p-FullAWSAccess", "scp", "snapshot"), ("p-FullAWSAccess", "scp", "snapshot"),
                ("p-FullAWSAccess", "scp", "snapshot")] == sources(world, decision)
        assert [f"arn:aws:iam::{A}:root"] == trusted(world, T2)

    def test_t3_the_widened_trust_lets_the_partner_account_in(self, world: Ledger) -> None:
        """4 March: the 3 March Config item widened the trust to account 333333333333."""
        assert [f"arn:aws:iam::{A}:root", f"arn:aws:iam::{P}:root"] == trusted(world, T3)
        [partner] = [p for p in world.who_can("sts:AssumeRole", ROLE, at=T3).principals
                     if p.principal.startswith(f"arn:aws:iam::{P}")]
        assert partner.delegated and partner.principal == f"arn:aws:iam::{P}:root"

    def test_t4_the_scp_denies_the_member_what_both_policies_allow(self, world: Ledger) -> None:
        """5 March: the role may not delete media-out although its own policy and the bucket policy
        allow it: the SCP on its account denies s3:DeleteBucket. The management account's root may."""
        denied = world.can(ROLE, "s3:DeleteBucket", BUCKET, at=T4)
        assert ("explicitDeny", [("p-denydeletebucket", "scp", "snapshot")]) == (
            denied.eval_decision, sources(world, denied))
        origin = annotate(world, denied.to_dict())["MatchedStatements"][0]["Origin"]
        assert (A, ["list-targets-for-policy.p-denydeletebucket.json"]) == (
            origin["target"], [f for f in origin["provenance"]["snapshot"]["files"] if "denydeletebucket" in f
                               and f.startswith("list-targets")])
        assert "allowed" == world.can(f"arn:aws:iam::{M}:root", "s3:DeleteBucket", BUCKET, at=T4).eval_decision

    def test_t5_the_narrowed_trust_shuts_the_partner_out_again(self, world: Ledger) -> None:
        """7 March: the 6 March item narrowed the trust; reading still works, with its sources."""
        assert [f"arn:aws:iam::{A}:root"] == trusted(world, T5)
        decision = world.can(ROLE, "s3:GetObject", OBJECT, at=T5)
        assert "allowed" == decision.eval_decision
        assert {"config", "snapshot"} == {source for _, _, source in sources(world, decision)}

    def test_every_fact_of_an_answer_has_a_source_in_its_own_terms(self, world: Ledger) -> None:
        """The Config item names its resource and configurationStateId; the snapshots their files and --at."""
        data = annotate(world, world.can(ROLE, "s3:PutObject", OBJECT, at=T2).to_dict())
        inline, bucket = data["MatchedStatements"][:2]
        assert {"resourceType": "AWS::IAM::Role", "resourceId": "AROAEXAMPLEREPORTS01",
                "configurationStateId": "1709251200000"} == inline["Origin"]["provenance"]["config"]
        snapshot = bucket["Origin"]["provenance"]["snapshot"]
        assert (["media_out_111111111111.json"], "2024-03-01T00:00:00Z") == (snapshot["files"], snapshot["observed_at"])
