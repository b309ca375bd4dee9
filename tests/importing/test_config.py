"""`import config`: AWS Config items as observations of one resource each, in any file order,
idempotent, with unknown types and versions counted, and bad files rejected whole."""

from __future__ import annotations

import copy
import gzip
import itertools
import json
import random
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import Ledger
from ledger.application.importing.config import import_config
from tests.importing.conftest import FIXTURES

CONFIG = FIXTURES / "config"
A, P = "222222222222", "333333333333"
ROLE_ARN = f"arn:aws:iam::{A}:role/ReportsRole"
HISTORY = next((CONFIG / "synthetic").rglob("*.json.gz"))


def items() -> list[dict[str, Any]]:
    """The three items of the synthetic ReportsRole history (discovered, widened, narrowed)."""
    return list(json.loads(gzip.decompress(HISTORY.read_bytes()))["configurationItems"])


def write(tmp_path: Path, name: str, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"fileVersion": "1.0", "configurationItems": entries}))
    return path


def trusted(ledger: Ledger, at: str) -> list[str]:
    return sorted(p.principal for p in ledger.who_can("sts:AssumeRole", ROLE_ARN, at=at).principals)


PROBES = ("2024-02-28T00:00:00Z", "2024-03-02T00:00:00Z", "2024-03-04T00:00:00Z", "2024-03-07T00:00:00Z")
EXPECTED = [[], [f"arn:aws:iam::{A}:root"], [f"arn:aws:iam::{A}:root", f"arn:aws:iam::{P}:root"],
            [f"arn:aws:iam::{A}:root"]]


class TestDocumentedItems:
    def test_unmodelled_types_and_versions_are_counted_not_fatal(self, ledger: Ledger) -> None:
        """The Config guide's security-group (API output) and EBS history (delivered file) items:
        no error; the EC2 types and the `snapshotVersion` item are counted by kind."""
        summary = import_config(ledger, [CONFIG / "awsdocs"])
        assert ([], 2, 4) == (summary.errors, summary.files, summary.records)
        assert {"resource type AWS::EC2::SecurityGroup (not modelled)": 1,
                "resource type AWS::EC2::Volume (not modelled)": 2,
                "unknown configurationItemVersion ''": 1} == dict(summary.skipped)
        assert 0 == ledger.store.max_position()


class TestRoleHistory:
    def test_the_delivered_history_gives_the_trust_at_each_time(self, ledger: Ledger) -> None:
        """The AWSLogs/…/ConfigHistory file (gzip): nobody before, the account, then the partner
        too, then the account alone."""
        summary = import_config(ledger, [CONFIG / "synthetic"])
        assert ([], 3, 3) == (summary.errors, summary.records, summary.imported)
        assert EXPECTED == [trusted(ledger, at) for at in PROBES]

    @pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
    def test_any_file_order_gives_the_same_history(self, store_url: str, tmp_path: Path, order: tuple[int, ...]) -> None:
        """Each item in its own file, imported one file per run in every order: the same answers."""
        entries = items()
        files = [write(tmp_path, f"item{i}.json", [entries[i]]) for i in range(3)]
        with Ledger.open(store_url) as ledger:
            for i in order:
                assert [] == import_config(ledger, [files[i]]).errors
            assert EXPECTED == [trusted(ledger, at) for at in PROBES]

    def test_reimporting_records_nothing(self, ledger: Ledger) -> None:
        """Items are keyed by resource and configurationStateId: a second import is all duplicates."""
        import_config(ledger, [HISTORY])
        position = ledger.store.max_position()
        again = import_config(ledger, [HISTORY])
        assert (3, 0, position) == (again.duplicates, again.events, ledger.store.max_position())

    def test_configuration_as_an_object_or_as_json_text_is_the_same(self, ledger: Ledger, tmp_path: Path) -> None:
        """`configuration` given as JSON text (as the API returns it) reads like the object."""
        entries = items()
        for entry in entries:
            entry["configuration"] = json.dumps(entry["configuration"])
        assert [] == import_config(ledger, [write(tmp_path, "text.json", entries)]).errors
        assert EXPECTED == [trusted(ledger, at) for at in PROBES]


class TestStatuses:
    def test_a_deleted_resource_is_deleted_at_its_capture_time(self, ledger: Ledger, tmp_path: Path) -> None:
        """ResourceDeleted on 03-05 (with no configuration): the role is gone from then on."""
        deleted = copy.deepcopy(items()[0])
        deleted.update(configurationItemCaptureTime="2024-03-05T00:00:00.000Z", configurationStateId=1709596800000,
                       configurationItemStatus="ResourceDeleted", configuration=None)
        import_config(ledger, [write(tmp_path, "h.json", [*items()[:2], deleted])])
        assert [f"arn:aws:iam::{A}:root", f"arn:aws:iam::{P}:root"] == trusted(ledger, "2024-03-04T00:00:00Z")
        assert [] == trusted(ledger, "2024-03-06T00:00:00Z")

    def test_not_recorded_and_unknown_versions_are_counted(self, ledger: Ledger, tmp_path: Path) -> None:
        """ResourceNotRecorded leaves the state as it was; an item of version 9.9 is skipped."""
        entries = items()
        entries[1]["configurationItemStatus"] = "ResourceNotRecorded"
        entries[2]["configurationItemVersion"] = "9.9"
        summary = import_config(ledger, [write(tmp_path, "h.json", entries)])
        assert 2 == summary.to_dict()["skipped_total"]
        assert [f"arn:aws:iam::{A}:root"] == trusted(ledger, "2024-03-04T00:00:00Z")


class TestBadFiles:
    def test_a_truncated_gzip_is_rejected_whole_and_the_rest_imported(self, ledger: Ledger, tmp_path: Path) -> None:
        """A .json.gz cut short: an error naming it; nothing of it is written; other files import."""
        data = HISTORY.read_bytes()
        (tmp_path / "cut.json.gz").write_bytes(data[: len(data) // 2])
        ok = write(tmp_path, "ok.json", [items()[0]])
        summary = import_config(ledger, [tmp_path / "cut.json.gz", ok])
        assert ["cut.json.gz"] == [Path(e["path"]).name for e in summary.errors]
        assert 1 == summary.imported

    def test_a_file_that_is_not_config_output_is_an_error(self, ledger: Ledger, tmp_path: Path) -> None:
        """A JSON file without configurationItems is named as not Config output."""
        (tmp_path / "other.json").write_text('{"Records": []}')
        summary = import_config(ledger, [tmp_path / "other.json"])
        assert 1 == len(summary.errors) and "not AWS Config output" in summary.errors[0]["reason"]


def _bucket_item(at: str, state: int, policy: dict[str, Any] | None, ownership: str) -> dict[str, Any]:
    supplementary = {"BucketPolicy": json.dumps({"policyText": json.dumps(policy) if policy else None}),
                     "BucketOwnershipControls": json.dumps({"rules": [{"objectOwnership": ownership}]})}
    return {"configurationItemVersion": "1.3", "configurationItemCaptureTime": at, "configurationStateId": state,
            "awsAccountId": "111111111111", "configurationItemStatus": "OK", "resourceType": "AWS::S3::Bucket",
            "resourceId": "media-out", "resourceName": "media-out", "ARN": "arn:aws:s3:::media-out",
            "awsRegion": "eu-west-1", "configuration": {"name": "media-out", "creationDate": "2024-01-15T09:00:00.000Z"},
            "supplementaryConfiguration": supplementary, "tags": {}}


class TestBucketItems:
    def test_bucket_policy_and_ownership_follow_the_items(self, ledger: Ledger, tmp_path: Path) -> None:
        """A bucket's supplementary BucketPolicy and ownership controls, item by item."""
        grant = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                                                         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::media-out/*"}]}
        path = write(tmp_path, "b.json", [_bucket_item("2024-03-01T00:00:00Z", 1, grant, "ObjectWriter"),
                                          _bucket_item("2024-03-05T00:00:00Z", 2, None, "BucketOwnerEnforced")])
        assert [] == import_config(ledger, [path]).errors
        ledger.create_account(A, at="2024-01-01T00:00:00Z")
        assert "allowed" == ledger.can(f"arn:aws:iam::{A}:root", "s3:GetObject", "arn:aws:s3:::media-out/k",
                                       at="2024-03-02T00:00:00Z").eval_decision
        assert "implicitDeny" == ledger.can(f"arn:aws:iam::{A}:root", "s3:GetObject", "arn:aws:s3:::media-out/k",
                                            at="2024-03-06T00:00:00Z").eval_decision
        assert "BucketOwnerEnforced" == ledger.account_state("111111111111").buckets["media-out"].object_ownership


def test_policy_documents_may_be_url_encoded_or_objects() -> None:
    """The fixture's documents are URL-encoded as IAM returns them (checked so the tests above read them)."""
    role = items()[0]["configuration"]
    assert json.loads(urllib.parse.unquote(role["assumeRolePolicyDocument"]))["Version"] == "2012-10-17"


class TestBatches:
    def test_an_import_written_in_several_batches_is_still_idempotent(self, ledger: Ledger, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        """With batches of two events, every item's key is registered once: a second import of the
        same items, and of more items that change nothing, writes nothing new."""
        from ledger.application.importing import reconcile

        monkeypatch.setattr(reconcile, "BATCH_EVENTS", 2)
        first = import_config(ledger, [HISTORY])
        assert ([], 3) == (first.warnings, first.imported)
        position = ledger.store.max_position()
        assert (0, 3) == (import_config(ledger, [HISTORY]).events, import_config(ledger, [HISTORY]).duplicates)
        assert position == ledger.store.max_position()


ROLE_ITEM = items()[0]
_TRUSTS = {accounts: urllib.parse.quote(json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
     "Action": "sts:AssumeRole"}]})) for accounts in ((A,), (A, P), (P,))}
_MANAGED = [f"arn:aws:iam::{A}:policy/p{i}" for i in range(3)]


def _generated(day: int, trust: tuple[str, ...], attached: tuple[int, ...], deleted: bool) -> dict[str, Any]:
    entry = copy.deepcopy(ROLE_ITEM)
    entry.update(configurationItemCaptureTime=f"2024-03-{day:02d}T00:00:00.000Z", configurationStateId=day,
                 configurationItemStatus="ResourceDeleted" if deleted else "OK")
    if deleted:
        entry["configuration"] = None
    else:
        entry["configuration"].update(assumeRolePolicyDocument=_TRUSTS[trust], attachedManagedPolicies=[
            {"policyName": f"p{i}", "policyArn": _MANAGED[i]} for i in attached])
    return entry


def state_at_account(ledger: Ledger, account: str, when: str) -> str:
    """One account's write-side state replayed from every event with occurred_at <= `when`."""
    import dataclasses

    from ledger.domain.state import AccountState
    from ledger.timeaxis import parse_iso

    cut = parse_iso(when)
    state = AccountState(account)
    for event in sorted((e for e in ledger.events() if e.account_id == account and e.occurred_at <= cut),
                        key=lambda e: (e.occurred_at, e.position or 0)):
        state.fold(event)
    data = dataclasses.asdict(state)
    data.pop("version")
    return json.dumps(data, sort_keys=True, default=lambda o: sorted(o) if isinstance(o, set) else str(o))


HISTORY_ITEMS = st.lists(st.tuples(st.sampled_from(sorted(_TRUSTS)), st.sets(st.integers(0, 2)).map(tuple),
                                   st.booleans()), min_size=2, max_size=6)


class TestAnyOrderProperty:
    @settings(max_examples=10)
    @given(changes=HISTORY_ITEMS, runs=st.integers(1, 4), seed=st.integers(0, 1000))
    def test_items_in_any_runs_and_order_give_the_chronological_history(
            self, tmp_path_factory: pytest.TempPathFactory, changes: list[tuple[Any, ...]], runs: int,
            seed: int) -> None:
        """A generated role history, split into runs imported in a random order: the same state on
        every day as importing it all at once."""
        entries = [_generated(day, trust, tuple(sorted(att)), deleted and day > 1)
                   for day, (trust, att, deleted) in enumerate(changes, 1)]
        rng = random.Random(seed)
        order = entries[:]
        rng.shuffle(order)
        tmp = tmp_path_factory.mktemp("runs")
        with Ledger.open(f"sqlite:///{tmp}/all.db") as reference, Ledger.open(f"sqlite:///{tmp}/runs.db") as split:
            import_config(reference, [write(tmp, "all.json", entries)])
            for number in range(runs):
                chunk = order[number::runs]
                if chunk:
                    import_config(split, [write(tmp, f"run{number}.json", chunk)])
            for day in range(len(entries) + 1):
                when = f"2024-03-{day:02d}T12:00:00Z" if day else "2024-02-28T12:00:00Z"
                assert state_at_account(reference, A, when) == state_at_account(split, A, when), day
