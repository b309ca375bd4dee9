"""Policy JSON as AWS parses it, on every path: duplicate keys, NaN/Infinity, empty actions, size.

IAM User Guide, IAM and AWS STS quotas: "User policy size cannot exceed 2,048 characters", "Role
policy size cannot exceed 10,240 characters", "Group policy size cannot exceed 5,120 characters",
"Managed policy size cannot exceed 6,144 characters", role trust policy length 2,048 characters;
"IAM does not count white space when calculating the size of a policy against these limits."
Organizations quotas: SCP "Maximum size of a policy document" 5,120 characters; STS: session policy
plaintext "can't exceed 2,048 characters"; S3: "Bucket policies are limited to 20 KB in size."
IAM API Reference (CreatePolicy, PutUserPolicy...): "The maximum length of the policy document that
you can pass in this operation, including whitespace" is "Maximum length of 131072".
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ledger import Ledger
from ledger.errors import PolicyValidationError
from ledger.policy import PolicyType, parse_policy
from ledger.policy.document import SIZE_LIMITS
from ledger.policy.parsing import API_MAX_CHARS, load_policy_json
from tests.projections._support import fresh_ledger

A = "111111111111"
GOOD = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
DUPLICATE_TEXT = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Effect": "Deny", '
                  '"Action": "s3:GetObject", "Resource": "*"}]}')
NAN_TEXT = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
            '"Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": NaN}}}]}')
INFINITY_TEXT = NAN_TEXT.replace("NaN", "Infinity")
EMPTY_ACTION = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:", "Resource": "*"}]}


def nan_dict(value: float) -> dict[str, Any]:
    statement = dict(GOOD["Statement"][0], Condition={"NumericLessThan": {"s3:max-keys": value}})  # type: ignore[index]
    return {"Version": "2012-10-17", "Statement": [statement]}


def padded(blanks: int) -> dict[str, Any]:
    """A small policy whose one condition value is mostly whitespace."""
    statement = dict(GOOD["Statement"][0], Condition={"StringEquals": {"aws:UserAgent": "a" + " " * blanks + "b"}})  # type: ignore[index]
    return {"Version": "2012-10-17", "Statement": [statement]}


BAD_DOCUMENTS: list[tuple[str, Any]] = [
    ("duplicate key", DUPLICATE_TEXT),
    ("NaN", NAN_TEXT),
    ("Infinity", INFINITY_TEXT),
    ("NaN in a dict", nan_dict(math.nan)),
    ("Infinity in a dict", nan_dict(math.inf)),
    ("empty action", EMPTY_ACTION),
    ("empty action as text", json.dumps(EMPTY_ACTION)),
    ("megabytes of blanks in a value", padded(1_000_000)),
    ("megabytes of blanks in a value, as text", json.dumps(padded(1_000_000))),
]


class TestParsePolicy:
    """`parse_policy` rejects what IAM rejects, with a typed error."""

    @pytest.mark.parametrize(("why", "document"), BAD_DOCUMENTS, ids=[w for w, _ in BAD_DOCUMENTS])
    def test_rejected(self, why: str, document: Any) -> None:
        """Each bad document raises PolicyValidationError."""
        with pytest.raises(PolicyValidationError):
            parse_policy(document, PolicyType.INLINE_USER)

    def test_whitespace_outside_and_inside_values_is_free_up_to_the_api_bound(self) -> None:
        """Blanks do not count against the quota (AWS's rule) until the API's 131,072 characters."""
        text = json.dumps(padded(API_MAX_CHARS - 1000), indent=4)
        assert 1 == len(parse_policy(text, PolicyType.INLINE_USER).statements)

    def test_just_over_the_api_bound_is_rejected(self) -> None:
        """One character over 131,072 with whitespace is too large, whatever the quota."""
        text = json.dumps(GOOD)
        text = text[:-1] + " " * (API_MAX_CHARS - len(text) + 1) + "}"
        with pytest.raises(PolicyValidationError, match="too large"):
            parse_policy(text, PolicyType.IDENTITY)

    @pytest.mark.parametrize(("ptype", "limit"), [
        (PolicyType.INLINE_USER, 2048), (PolicyType.INLINE_GROUP, 5120), (PolicyType.INLINE_ROLE, 10240),
        (PolicyType.IDENTITY, 6144), (PolicyType.BOUNDARY, 6144), (PolicyType.TRUST, 2048),
        (PolicyType.SESSION, 2048), (PolicyType.SCP, 5120), (PolicyType.RESOURCE, 20480)])
    def test_each_type_has_its_documented_quota(self, ptype: PolicyType, limit: int) -> None:
        """The quota table is the documented one, counted without whitespace."""
        assert limit == SIZE_LIMITS[ptype]

    def test_load_policy_json_is_the_same_strict_reader(self) -> None:
        """The text loader shared by commands and imports rejects duplicates and NaN too."""
        rejected = []
        for text in (DUPLICATE_TEXT, NAN_TEXT, INFINITY_TEXT, "[1]", "{" * 5000):
            try:
                load_policy_json(text)
            except PolicyValidationError:
                rejected.append(text)
        assert 5 == len(rejected)


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest) -> Iterator[Ledger]:
    with fresh_ledger(request.param) as opened:
        opened.create_account(A)
        opened.create_user(A, "alice")
        opened.create_group(A, "staff")
        opened.create_role(A, "worker", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "sts:AssumeRole"}]})
        opened.create_bucket(A, "media-bucket")
        yield opened


COMMANDS: list[tuple[str, Callable[[Ledger, Any], object]]] = [
    ("create_policy", lambda led, d: led.create_policy(A, "P", d)),
    ("put_user_policy", lambda led, d: led.put_user_policy(A, "alice", "inline", d)),
    ("put_group_policy", lambda led, d: led.put_group_policy(A, "staff", "inline", d)),
    ("put_role_policy", lambda led, d: led.put_role_policy(A, "worker", "inline", d)),
    ("attach_scp", lambda led, d: led.attach_scp(A, "scp-1", d)),
]


class TestEveryCommandPath:
    """Through `Ledger`, every command taking a document rejects it typed and writes nothing."""

    @pytest.mark.parametrize(("command", "run"), COMMANDS, ids=[c for c, _ in COMMANDS])
    @pytest.mark.parametrize(("why", "document"), BAD_DOCUMENTS[:3] + BAD_DOCUMENTS[5:6] + BAD_DOCUMENTS[7:8],
                             ids=["duplicate", "nan", "infinity", "empty-action", "blanks"])
    def test_identity_documents(self, ledger: Ledger, command: str, run: Callable[[Ledger, Any], object],
                                why: str, document: Any) -> None:
        """create_policy, inline puts and SCPs: PolicyValidationError and the log unchanged."""
        before = ledger.store.max_position()
        with pytest.raises(PolicyValidationError):
            run(ledger, document)
        assert before == ledger.store.max_position()

    def test_duplicate_keys_rejected_as_parse_policy_rejects_them(self, ledger: Ledger) -> None:
        """The reported case: the same string parse_policy rejects, create_policy now rejects."""
        with pytest.raises(PolicyValidationError):
            parse_policy(DUPLICATE_TEXT)
        before = ledger.store.max_position()
        with pytest.raises(PolicyValidationError, match="duplicate"):
            ledger.create_policy(A, "Dup", DUPLICATE_TEXT)
        assert before == ledger.store.max_position()

    def test_nan_is_never_stored_as_null(self, ledger: Ledger) -> None:
        """A NaN condition value (once stored as null, then failing every evaluation) is rejected."""
        with pytest.raises(PolicyValidationError, match="NaN"):
            ledger.put_user_policy(A, "alice", "nan", NAN_TEXT)
        assert [] == [e for e in ledger.events() if type(e).__name__ == "InlinePolicyPut"]

    def test_bucket_and_trust_documents(self, ledger: Ledger) -> None:
        """Bucket policies and trust policies take the same strict reader."""
        dup_bucket = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", '
                      '"Action": "s3:GetObject", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::media-bucket/*"}]}')
        dup_trust = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, '
                     '"Action": "sts:AssumeRole", "Effect": "Deny"}]}')
        before = ledger.store.max_position()
        errors = []
        for attempt in (lambda: ledger.put_bucket_policy("media-bucket", dup_bucket),
                        lambda: ledger.update_assume_role_policy(A, "worker", dup_trust),
                        lambda: ledger.create_role(A, "other", dup_trust)):
            with pytest.raises(PolicyValidationError) as caught:
                attempt()
            errors.append(caught.type)
        assert ([PolicyValidationError] * 3, before) == (errors, ledger.store.max_position())

    def test_a_valid_document_still_goes_in(self, ledger: Ledger) -> None:
        """The strict reader accepts an ordinary policy, as text and as a dict."""
        ledger.create_policy(A, "Text", json.dumps(GOOD, indent=2))
        ledger.create_policy(A, "Dict", GOOD)
        assert 2 == len([e for e in ledger.events() if type(e).__name__ == "ManagedPolicyCreated"])


class TestImportPaths:
    """Imported documents (CloudTrail parameters, snapshot dumps) are read by the same strict reader."""

    @pytest.mark.parametrize("text", [DUPLICATE_TEXT, NAN_TEXT, INFINITY_TEXT], ids=["duplicate", "nan", "infinity"])
    def test_cloudtrail_policy_document_is_not_understood(self, text: str) -> None:
        """A CloudTrail policy parameter AWS would have rejected is reported, not imported."""
        from ledger.application.importing.cloudtrail.records import NotUnderstood, policy_document

        with pytest.raises(NotUnderstood):
            policy_document(text)

    @pytest.mark.parametrize("value", [DUPLICATE_TEXT, NAN_TEXT, nan_dict(math.inf)], ids=["duplicate", "nan", "inf"])
    def test_snapshot_document_is_unknown(self, value: Any) -> None:
        """A snapshot document AWS would have rejected gives no document (the policy stays unknown)."""
        from ledger.application.importing.gaad import document

        assert None is document(value)
