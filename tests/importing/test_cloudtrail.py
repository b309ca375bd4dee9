"""CloudTrail imports: real published records and a synthetic MediaConvert story, on both stores."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from ledger import Ledger
from ledger.application.importing import import_cloudtrail
from ledger.application.importing.drift import ALLOWED_BUT_DENIED, DENIED_BUT_ALLOWED, drift
from ledger.domain import events as ev
from tests.importing.conftest import CLOUDTRAIL, state_of

REAL = CLOUDTRAIL / "real"
SYNTHETIC = CLOUDTRAIL / "synthetic"
REAL_FILES = sorted(p.name for p in REAL.glob("*.json"))


def _events(ledger: Ledger, kind: type[ev.LedgerEvent]) -> list[ev.LedgerEvent]:
    return [e for e in ledger.events() if isinstance(e, kind)]


class TestEveryRealFileImports:
    @pytest.mark.parametrize("name", REAL_FILES)
    def test_file_imports_without_errors_and_accounts_for_every_record(self, ledger: Ledger, name: str) -> None:
        """Each published log imports; every record is imported, a duplicate, or skipped by kind."""
        summary = import_cloudtrail(ledger, [REAL / name])
        assert [] == summary.errors
        assert summary.records == summary.imported + summary.duplicates + sum(summary.skipped.values())
        assert summary.imported > 0

    @pytest.mark.parametrize("name", REAL_FILES)
    def test_reimport_records_nothing(self, ledger: Ledger, name: str) -> None:
        """Importing the same file again adds no event."""
        import_cloudtrail(ledger, [REAL / name])
        before = ledger.store.max_position()
        again = import_cloudtrail(ledger, [REAL / name])
        assert (0, before) == (again.imported, ledger.store.max_position())


class TestRealFileStates:
    def test_backdoor_role_trusts_the_foreign_root(self, ledger: Ledger) -> None:
        """After UpdateAssumeRolePolicy, the role's trust policy names 193672423079's root."""
        import_cloudtrail(ledger, [REAL / "stratus_aws.persistence.iam-backdoor-role.json"])
        role = ledger.account_state("751203476945").role_by_name("stratus-red-team-backdoor-r-role")
        assert role is not None
        principals = [s["Principal"] for s in role.trust_policy["Statement"]]
        assert {"AWS": "arn:aws:iam::193672423079:root"} in principals
        assert ledger.account_state("193672423079").exists

    def test_backdoor_role_is_assumable_by_the_foreign_root(self, ledger: Ledger) -> None:
        """After the change the foreign account is trusted: who_can lists it as delegated (any of
        its principals with an identity allow for sts:AssumeRole), while its root user itself
        cannot call AssumeRole ("You cannot use root user credentials to call AssumeRole", AWS STS
        API reference, AssumeRole), so can(root) stays implicitDeny and says why."""
        import_cloudtrail(ledger, [REAL / "stratus_aws.persistence.iam-backdoor-role.json"])
        role = "arn:aws:iam::751203476945:role/stratus-red-team-backdoor-r-role"
        root = "arn:aws:iam::193672423079:root"
        after = {p["principal"]: p for p in ledger.who_can("sts:AssumeRole", role, at="2024-08-01T14:00:00Z")["principals"]}
        assert (True, "allowed") == (after[root]["delegated"], after[root]["EvalDecision"])
        decision = ledger.can(root, "sts:AssumeRole", role, at="2024-08-01T14:00:00Z")
        assert "implicitDeny" == decision.eval_decision
        assert any("root user cannot call sts:AssumeRole" in n for n in decision.to_dict()["Notes"])
        before = ledger.who_can("sts:AssumeRole", role, at="2024-08-01T13:00:00Z")["principals"]
        assert root not in {p["principal"] for p in before}

    def test_create_backdoor_role_has_boundary_and_admin_policy(self, ledger: Ledger) -> None:
        """CreateRole keeps the real role id, the cross-account trust and the AWSDenyAll boundary."""
        import_cloudtrail(ledger, [REAL / "stratus_aws.persistence.iam-create-backdoor-role.json"])
        role = ledger.account_state("609418236337").role_by_name("stratus-red-team-malicious-iam-role")
        assert role is not None
        assert ("AROA53G8Z8NGXMJ597G3E", "arn:aws:iam::aws:policy/AWSDenyAll") == (role.role_id, role.boundary)
        assert ["arn:aws:iam::aws:policy/AdministratorAccess"] == list(role.managed.values())

    def test_admin_user_is_created_attached_and_keyed(self, ledger: Ledger) -> None:
        """Records of one second apply creation first: the user has its real id, admin policy and key."""
        import_cloudtrail(ledger, [REAL / "stratus_aws.persistence.iam-create-admin-user.json"])
        user = ledger.account_state("229654561268").user_by_name("malicious-iam-user")
        assert user is not None
        assert "AIDAL1XMLVWIUOK8KAF0" == user.user_id
        assert ["arn:aws:iam::aws:policy/AdministratorAccess"] == list(user.managed.values())
        assert {"AKIAXAFZN8JEPF6L682H": True} == user.access_keys
        assert {"StratusRedTeam": "true"} == user.tags

    def test_backdoor_user_gets_an_access_key(self, ledger: Ledger) -> None:
        """CreateAccessKey for another user records the key on that user."""
        import_cloudtrail(ledger, [REAL / "stratus_aws.persistence.iam-backdoor-user.json"])
        keys = _events(ledger, ev.AccessKeyCreated)
        assert 1 == len(keys)

    def test_cross_account_assume_role_seen_twice_is_one_session(self, ledger: Ledger) -> None:
        """The AWS-guide AssumeRole logged in both accounts (one sharedEventID) is one session."""
        summary = import_cloudtrail(ledger, [REAL / "awsdocs_iam_user_guide_iam_sts_events.json"])
        sessions = ledger.account_state("111122223333").sessions
        assert 1 == len(sessions)
        only = next(iter(sessions.values()))
        assert "arn:aws:sts::111122223333:assumed-role/EC2-dev/JohnDoe-EC2-dev" == only.arn
        assert 1 == len([e for e in _events(ledger, ev.RoleAssumed) if e.account_id == "111122223333"])
        assert summary.duplicates >= 1

    def test_role_chain_keeps_source_identity(self, ledger: Ledger) -> None:
        """The chained AssumeRole by a role session records the source identity and caller."""
        import_cloudtrail(ledger, [REAL / "awsdocs_iam_user_guide_iam_sts_events.json"])
        chained = [e for e in _events(ledger, ev.RoleAssumed) if e.account_id == "111111111111"]
        assert 1 == len(chained)
        assert ("JohnDoe", "arn:aws:sts::111111111111:assumed-role/JohnDoe/JohnRole1") == (
            chained[0].source_identity, chained[0].caller_arn)

    def test_failed_calls_change_nothing_and_are_observed_denied(self, ledger: Ledger) -> None:
        """A failed DeleteLoginProfile leaves the profile set and is an AccessObserved denial."""
        import_cloudtrail(ledger, [REAL / "stratus_aws.persistence.iam-create-user-login-profile.json"])
        user = ledger.account_state("070411556318").user_by_name("stratus-red-team-login-profile-user")
        assert user is not None and user.login_profile
        denied = [e for e in _events(ledger, ev.AccessObserved) if not e.allowed]
        assert [("iam:DeleteLoginProfile", "EntityTemporarilyUnmodifiableException")] == [
            (e.action, e.error_code) for e in denied]

    def test_denied_session_call_is_tied_to_its_session(self, ledger: Ledger) -> None:
        """LeaveOrganization denied to a role session carries the session's access key."""
        import_cloudtrail(ledger, [REAL / "stratus_aws.defense-evasion.organizations-leave.json"])
        denied = [e for e in _events(ledger, ev.AccessObserved) if not e.allowed]
        assert 1 == len(denied)
        assert "ASIA36EV31F1RB3OA8IG" == denied[0].access_key_id
        assert "ct-ASIA36EV31F1RB3OA8IG" == denied[0].context.get("session_id")
        assert 2 == len(ledger.account_state("307578594326").sessions)

    def test_unauthorized_run_instances_is_observed_denied(self, ledger: Ledger) -> None:
        """RunInstances with Client.UnauthorizedOperation is recorded as denied."""
        import_cloudtrail(ledger, [REAL / "stratus_aws.execution.ec2-launch-unusual-instances.json"])
        denied = [e for e in _events(ledger, ev.AccessObserved) if not e.allowed]
        assert [("ec2:RunInstances", "Client.UnauthorizedOperation")] == [(e.action, e.error_code) for e in denied]

    def test_federation_token_keeps_session_policy_not_token(self, ledger: Ledger) -> None:
        """GetFederationToken becomes a federated session with its session policy and key id."""
        import_cloudtrail(ledger, [REAL / "stratus_aws.persistence.sts-federation-token.json"])
        (issued,) = _events(ledger, ev.FederationTokenIssued)
        assert isinstance(issued, ev.FederationTokenIssued)
        assert ("ASIASTJKC5GCM7ZE6LUP", "*") == (issued.access_key_id, issued.session_policy["Statement"][0]["Action"])
        assert "AIDAN7SEM6PEVTNQR8M4" == issued.user_id

    def test_update_login_profile_sets_profile(self, ledger: Ledger) -> None:
        """UpdateLoginProfile records that the user has a console password."""
        import_cloudtrail(ledger, [REAL / "stratus_aws.privilege-escalation.iam-update-user-login-profile.json"])
        assert 1 == len(_events(ledger, ev.LoginProfileSet))

    def test_cloudtrail_guide_user_joins_group(self, ledger: Ledger) -> None:
        """CreateUser then AddUserToGroup: Bob is a member; the failed UpdateTrail is a denial."""
        import_cloudtrail(ledger, [REAL / "awsdocs_cloudtrail_user_guide_iam_events.json"])
        state = ledger.account_state("123456789012")
        bob = state.user_by_name("Bob")
        assert bob is not None and 1 == len(bob.groups)
        assert ["TrailNotFoundException"] == [e.error_code for e in _events(ledger, ev.AccessObserved) if not e.allowed]

    def test_mediaconvert_guide_records_sharing_one_event_id_are_one_fact(self, ledger: Ledger) -> None:
        """The guide reuses one placeholder eventID for three calls: records are keyed by eventID,
        so the earliest is the fact and the other two count as duplicates."""
        summary = import_cloudtrail(ledger, [REAL / "awsdocs_mediaconvert_user_guide_events.json"])
        assert (1, 2) == (summary.imported, summary.duplicates)
        assert ["mediaconvert:DeleteQueue"] == [e.action for e in _events(ledger, ev.AccessObserved)]


class TestOrderAndIdempotence:
    def test_twice_and_shuffled_gives_identical_state_and_answers(self, store_url: str, tmp_path: Path) -> None:
        """Importing all logs twice, or once in shuffled file order, gives the same state and answers."""
        files = [*sorted(REAL.glob("*.json")), *sorted(SYNTHETIC.iterdir())]
        files = [f for f in files if f.name != "PROVENANCE.md"]
        second_url = store_url.replace("l.db", "other.db").replace("ledger.db", "other.db")
        if "schema=" in store_url:
            second_url = store_url + "x"
        first = Ledger.open(store_url)
        other = Ledger.open(second_url)
        try:
            import_cloudtrail(first, files)
            import_cloudtrail(first, files)
            shuffled = files[:]
            random.Random(7).shuffle(shuffled)
            for path in shuffled:  # one file per import: the most order-sensitive way in
                import_cloudtrail(other, [path])
            assert state_of(first) == state_of(other)
            questions = [
                ("arn:aws:sts::111111111111:assumed-role/MediaConvertRole/MediaConvert", "s3:PutObject",
                 "arn:aws:s3:::media-out/show1/a.mp4", "2024-03-01T10:20:00Z"),
                ("arn:aws:iam::111111111111:user/alice", "mediaconvert:CreateJob", "*", "2024-03-01T10:00:00Z"),
                ("arn:aws:iam::111111111111:role/MediaConvertRole", "s3:PutObject",
                 "arn:aws:s3:::media-out/show1/a.mp4", "2024-03-01T13:00:00Z"),
            ]
            for principal, action, resource, at in questions:
                assert first.can(principal, action, resource, at=at).eval_decision == \
                    other.can(principal, action, resource, at=at).eval_decision
        finally:
            first.close()
            other.close()
            if "schema=" in second_url:
                from tests.conftest import _drop_schema, postgres_base_url

                base = postgres_base_url()
                assert base is not None
                _drop_schema(base, second_url.rsplit("schema=", 1)[1])


class TestMalformedFiles:
    def test_bad_files_are_reported_and_nothing_of_them_is_written(self, ledger: Ledger, tmp_path: Path) -> None:
        """Truncated gzip, invalid JSON and a wrong shape are reported by path; good files still import."""
        good = tmp_path / "good.json"
        shutil.copy(REAL / "stratus_aws.persistence.iam-backdoor-user.json", good)
        whole = gzip.compress((REAL / "stratus_aws.persistence.iam-create-admin-user.json").read_bytes())
        (tmp_path / "truncated.json.gz").write_bytes(whole[: len(whole) // 2])
        records = json.loads((REAL / "stratus_aws.persistence.iam-create-backdoor-role.json").read_text())
        (tmp_path / "invalid.json").write_text(json.dumps({"Records": records})[:-40])
        (tmp_path / "shape.json").write_text(json.dumps({"Items": [1, 2]}))
        summary = import_cloudtrail(ledger, [tmp_path])
        assert {"truncated.json.gz", "invalid.json", "shape.json"} == {Path(e["path"]).name for e in summary.errors}
        assert all(e["reason"] for e in summary.errors)
        accounts = {e.account_id for e in ledger.events()}
        assert "229654561268" not in accounts and "609418236337" not in accounts
        assert "946986569305" in accounts

    def test_unknown_records_are_counted_by_kind(self, ledger: Ledger, tmp_path: Path) -> None:
        """A record without an identifiable caller is skipped and summarised as source:name."""
        record = {"eventTime": "2024-01-01T00:00:00Z", "eventSource": "health.amazonaws.com",
                  "eventName": "AWSHealthEvent", "eventType": "AwsServiceEvent", "eventID": "x-1",
                  "recipientAccountId": "123456789012"}
        (tmp_path / "lines.jsonl").write_text(json.dumps(record) + "\n" + json.dumps({**record, "eventID": "x-2"}) + "\n")
        summary = import_cloudtrail(ledger, [tmp_path / "lines.jsonl"])
        assert {"health.amazonaws.com:AWSHealthEvent": 2} == dict(summary.skipped)
        assert [] == summary.errors


class TestMediaConvertStory:
    @pytest.fixture
    def story(self, ledger: Ledger) -> Ledger:
        summary = import_cloudtrail(ledger, [SYNTHETIC])
        assert [] == summary.errors and not summary.skipped
        return ledger

    def test_who_could_write_into_the_output_bucket(self, story: Ledger) -> None:
        """The job's role could write into media-out while the bucket policy stood, not after."""
        role = "arn:aws:iam::111111111111:role/MediaConvertRole"
        resource = "arn:aws:s3:::media-out/show1/new.mp4"
        before = {p["principal"] for p in story.who_can("s3:PutObject", resource, at="2024-03-01T10:30:00Z")["principals"]}
        after = {p["principal"] for p in story.who_can("s3:PutObject", resource, at="2024-03-01T13:00:00Z")["principals"]}
        assert role in before
        assert role not in after

    def test_owner_of_each_output_follows_the_ownership_setting(self, story: Ledger) -> None:
        """Under ObjectWriter the writer's account owns outputs; after BucketOwnerEnforced, the bucket's."""
        for key in ("show1/out.mp4", "show1/out2.mp4"):
            arn = f"arn:aws:s3:::media-out/{key}"
            assert "111111111111" == story.owner_of(arn, at="2024-03-01T11:00:00Z")["owner_account"]
            assert "222222222222" == story.owner_of(arn, at="2024-03-01T12:10:00Z")["owner_account"]

    def test_outputs_are_tied_to_job_creator_and_session(self, story: Ledger) -> None:
        """Each OutputWritten names the job (and so alice) and the MediaConvert session."""
        written = _events(story, ev.OutputWritten)
        assert 2 == len(written)  # the cross-account write logged twice is one fact
        for event in written:
            assert isinstance(event, ev.OutputWritten)
            assert ("1709287200000-abc123", "ct-ASIAMEDIACONVERT0001") == (event.job_id, event.writer_session_id)
        (job,) = _events(story, ev.JobCreated)
        assert isinstance(job, ev.JobCreated)
        assert ("arn:aws:iam::111111111111:user/alice", ("s3://media-out/show1/",)) == (job.creator_arn, job.outputs)
        (session,) = _events(story, ev.RoleAssumed)
        assert isinstance(session, ev.RoleAssumed)
        assert ("service", "mediaconvert.amazonaws.com") == (session.via, session.caller_arn)

    def test_drift_reports_both_directions(self, story: Ledger, tmp_path: Path) -> None:
        """Calls by principals the ledger never saw are AWS-allowed/ledger-denied; a denied call the
        ledger allows is reported the other way; the late denied write agrees."""
        denied_job = {
            "eventTime": "2024-03-01T10:05:00Z", "eventSource": "mediaconvert.amazonaws.com", "eventName": "CreateJob",
            "eventID": "syn-drift-1", "recipientAccountId": "111111111111", "errorCode": "AccessDenied",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/alice",
                             "principalId": "AIDAALICE00000000001", "accountId": "111111111111", "userName": "alice"},
            "requestParameters": {"role": "arn:aws:iam::111111111111:role/MediaConvertRole"},
        }
        (tmp_path / "denied.json").write_text(json.dumps([denied_job]))
        import_cloudtrail(story, [tmp_path / "denied.json"])
        report = drift(story)
        kinds = {(f.kind, f.principal.rsplit("/", 1)[-1], f.action) for f in report.findings}
        assert (ALLOWED_BUT_DENIED, "bucket-admin", "s3:CreateBucket") in kinds
        assert (DENIED_BUT_ALLOWED, "alice", "iam:PassRole") in kinds or \
            (DENIED_BUT_ALLOWED, "alice", "mediaconvert:CreateJob") in kinds
        late = [f for f in report.findings if f.resource.endswith("late.mp4")]
        assert [] == late
        assert all(f.explanation for f in report.findings)


class TestSecrets:
    def test_secrets_never_reach_the_store_or_logs(self, store_url: str, tmp_path: Path) -> None:
        """secretAccessKey, sessionToken and passwords in records are neither stored nor logged."""
        secrets = ["SYNTHETICsecretKEYmustNEVERbeSTORED0001", "SYNTHETICsessionTOKENmustNEVERbeSTORED",
                   "SyntheticPassw0rd!NeverStored", "IQoJb3JpZ2luX2VjEOH"]
        with capture_logs() as logs:
            ledger = Ledger.open(store_url)
            try:
                import_cloudtrail(ledger, [SYNTHETIC, REAL / "stratus_aws.persistence.sts-federation-token.json"])
                dumped = json.dumps([e.model_dump(mode="json") for e in ledger.events()])
            finally:
                ledger.close()
        text = dumped + json.dumps(logs, default=str)
        if store_url.startswith("sqlite"):
            text += (tmp_path / "ledger.db").read_bytes().decode("latin-1")
        for secret in secrets:
            assert secret not in text
