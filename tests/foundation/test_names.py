"""Identifiers validated as AWS validates them: ASCII names matched whole, the documented
lengths, 12-digit account ids, S3's bucket naming rules, tags and object keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import Ledger
from ledger.domain import names
from ledger.errors import InvalidArnError, InvalidNameError, ValidationError

A = "111122223333"

# IAM API reference (CreateUser, UserName): "This parameter allows (through its regex pattern) a
# string of characters consisting of upper and lowercase alphanumeric characters with no spaces.
# You can also include any of the following characters: _+=,.@-". Length 1-64.
REJECTED_IAM_NAMES = {
    "a trailing newline": "alice\n",
    "a dotted capital I (Turkish)": "İstanbul",
    "a Kelvin sign": "\u212aelvin",
    "a NUL": "a\x00b",
    "a fullwidth letter": "\uff41lice",
    "an Arabic-Indic digit": "user\u0661",
    "a space": "bad name",
    "65 characters": "a" * 65,
    "empty": "",
}
ACCEPTED_IAM_NAMES = ["alice", "a", "A.b-c_d+e=f,g@h", "x" * 64]

# "An AWS account ID is a 12-digit number" (AWS Account Management reference).
REJECTED_ACCOUNT_IDS = {
    "one digit": "1", "letters": "abc", "eleven digits": "12345678901",
    "a trailing newline": "111122223333\n", "Arabic-Indic digits": "\u0661" * 12,
    "fullwidth digits": "\uff11" * 12, "a NUL": "11112222333\x00",
}

# S3 User Guide, "General purpose bucket naming rules".
REJECTED_BUCKETS = {
    "formatted as an IP address (\"must not be formatted as an IP address (for example, 192.168.5.4)\")":
        "192.168.1.1",
    "the xn-- prefix (\"must not start with the prefix xn--\")": "xn--bucket",
    "the sthree- prefix (\"must not start with the prefix sthree-\")": "sthree-bucket",
    "the amzn-s3-demo- prefix (\"must not start with the prefix amzn-s3-demo-\")": "amzn-s3-demo-bucket",
    "the -s3alias suffix (\"must not end with the suffix -s3alias\")": "bucket-s3alias",
    "the --ol-s3 suffix (\"must not end with the suffix --ol-s3\")": "bucket--ol-s3",
    "the .mrap suffix (\"must not end with the suffix .mrap\")": "bucket.mrap",
    "the --x-s3 suffix (\"must not end with the suffix --x-s3\")": "bucket--x-s3",
    "two adjacent periods (\"must not contain two adjacent periods\")": "my..bucket",
    "upper case (\"can consist only of lowercase letters, numbers, dots (.), and hyphens (-)\")": "MyBucket",
    "two characters (\"must be between 3 (min) and 63 (max) characters long\")": "ab",
    "64 characters": "b" * 64,
    "a trailing newline": "bucket\n",
    "ending with a hyphen (\"must begin and end with a letter or number\")": "bucket-",
}
ACCEPTED_BUCKETS = ["media-out", "abc", "a.b.c", "192.168.1.1x", "b" * 63, "my-s3alias-bucket"]


class TestIamNames:
    @pytest.mark.parametrize("name", list(REJECTED_IAM_NAMES.values()), ids=list(REJECTED_IAM_NAMES))
    def test_names_outside_the_ascii_set_or_length_are_rejected(self, name: str) -> None:
        """Unicode letters and digits, a trailing newline, NUL and over-long names are not IAM names."""
        with pytest.raises(InvalidNameError):
            names.check_iam_name("user", name)

    @pytest.mark.parametrize("name", ACCEPTED_IAM_NAMES)
    def test_names_of_the_documented_characters_are_accepted(self, name: str) -> None:
        """Letters, digits and _+=,.@- up to 64 characters are user names."""
        assert name == names.check_iam_name("user", name)

    def test_a_path_with_a_trailing_newline_is_rejected(self) -> None:
        """Path: "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)" matched whole, so no trailing newline."""
        with pytest.raises(InvalidNameError):
            names.check_path("/team/\n")

    def test_session_names_need_two_characters(self) -> None:
        """AssumeRole RoleSessionName: "Minimum length of 2. Maximum length of 64." """
        with pytest.raises(InvalidNameError):
            names.check_iam_name("session", "s")
        assert "s1" == names.check_iam_name("session", "s1")


class TestAccountIds:
    @pytest.mark.parametrize("account", list(REJECTED_ACCOUNT_IDS.values()), ids=list(REJECTED_ACCOUNT_IDS))
    def test_anything_but_twelve_ascii_digits_is_rejected(self, account: str) -> None:
        """Account ids are 12 ASCII digits: no other script's digits, no trailing newline."""
        with pytest.raises(InvalidNameError):
            names.check_account_id(account)
        assert False is names.is_account_id(account)

    def test_an_arn_with_another_scripts_digits_is_not_an_arn(self) -> None:
        """An ARN's account field is 12 ASCII digits as well."""
        with pytest.raises(InvalidArnError):
            names.parse_arn("arn:aws:iam::" + "\u0661" * 12 + ":user/alice")

    def test_an_arn_with_a_trailing_newline_is_not_an_arn(self) -> None:
        """A trailing newline is not admitted by the ARN pattern either."""
        with pytest.raises(InvalidArnError):
            names.parse_arn(f"arn:aws:iam::{A}:user/alice\n")


class TestBucketNames:
    @pytest.mark.parametrize("bucket", list(REJECTED_BUCKETS.values()), ids=list(REJECTED_BUCKETS))
    def test_names_s3_forbids_are_rejected(self, bucket: str) -> None:
        """Each of S3's bucket naming rules, quoted in the case id, rejects its example."""
        with pytest.raises(InvalidNameError):
            names.check_bucket_name(bucket)

    @pytest.mark.parametrize("bucket", ACCEPTED_BUCKETS)
    def test_names_s3_allows_are_accepted(self, bucket: str) -> None:
        """Names that break no rule are accepted (a reserved suffix inside a name is fine)."""
        assert bucket == names.check_bucket_name(bucket)


class TestTagsAndObjectKeys:
    @pytest.mark.parametrize("tags", [{"a\x00b": "v"}, {"k": "v\x00"}, {"": "v"}, {"k" * 129: "v"},
                                      {"k": "v" * 257}, {"aws:reserved": "v"}, {"k\n": "v"}, {}],
                             ids=["NUL in a key", "NUL in a value", "empty key", "129-character key",
                                  "257-character value", "the reserved aws: prefix", "a newline", "no tag"])
    def test_tags_outside_the_documented_set_are_rejected(self, tags: dict[str, str]) -> None:
        """Tag keys 1-128 and values 0-256 of letters, digits, spaces and _.:/=+-@, never aws:."""
        with pytest.raises(InvalidNameError):
            names.check_tags(tags)

    def test_unicode_letters_and_spaces_are_tag_text(self) -> None:
        """"letters, numbers, and spaces representable in UTF-8, and _ . : / = + - @" are allowed."""
        assert {"Équipe vidéo": "média/é=1"} == names.check_tags({"Équipe vidéo": "média/é=1"})

    def test_object_keys_keep_every_character_s3_accepts(self) -> None:
        """An object key is any Unicode text of at most 1,024 UTF-8 bytes, NUL and brackets included."""
        assert ["a\x00b", "[/]", "é" * 512] == [names.check_object_key(k) for k in ("a\x00b", "[/]", "é" * 512)]

    @pytest.mark.parametrize("key", ["", "é" * 513, "\ud800"], ids=["empty", "1,026 bytes", "a lone surrogate"])
    def test_object_keys_that_s3_rejects_are_rejected(self, key: str) -> None:
        """Empty keys, keys over 1,024 bytes and text that is not Unicode are refused."""
        with pytest.raises(InvalidNameError):
            names.check_object_key(key)


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    with Ledger.open(store_url) as opened:
        opened.create_account(A, "alpha")
        yield opened


class TestCommandsValidateNames:
    @pytest.mark.parametrize("name", ["alice\n", "İstanbul", "\u212aelvin"], ids=["newline", "dotted I", "Kelvin"])
    def test_a_user_name_outside_ascii_is_refused_and_nothing_is_written(self, ledger: Ledger, name: str) -> None:
        """create_user refuses the name with a typed error and the log does not move."""
        before = ledger.store.max_position()
        with pytest.raises(InvalidNameError):
            ledger.create_user(A, name)
        assert before == ledger.store.max_position()

    def test_plain_kelvin_is_its_own_user_after_a_kelvin_sign_was_refused(self, ledger: Ledger) -> None:
        """The Kelvin-sign name is refused, so plain `kelvin` is created, not "already exists"."""
        with pytest.raises(InvalidNameError):
            ledger.create_user(A, "\u212aelvin")
        assert ["UserCreated"] == [e.event_type for e in ledger.create_user(A, "kelvin")]

    def test_an_account_of_arabic_indic_digits_is_refused(self, ledger: Ledger) -> None:
        """create_account takes only 12 ASCII digits."""
        with pytest.raises(InvalidNameError):
            ledger.create_account("\u0661" * 12)

    def test_an_ip_address_bucket_is_refused(self, ledger: Ledger) -> None:
        """create_bucket applies S3's rule against IP-address names."""
        with pytest.raises(InvalidNameError):
            ledger.create_bucket(A, "192.168.1.1")

    def test_a_nul_in_a_tag_key_is_refused(self, ledger: Ledger) -> None:
        """tag_user refuses a NUL in a tag key before anything is written."""
        ledger.create_user(A, "alice")
        before = ledger.store.max_position()
        with pytest.raises(ValidationError):
            ledger.tag_user(A, "alice", {"a\x00b": "v"})
        assert before == ledger.store.max_position()


class TestCommandEnvelope:
    def test_a_source_outside_the_catalogue_is_a_typed_error(self, ledger: Ledger) -> None:
        """source= must be api, cloudtrail or snapshot: anything else is refused before any write."""
        before = ledger.store.max_position()
        with pytest.raises(ValidationError, match="source must be one of"):
            ledger.create_user(A, "bob", source="x")
        assert before == ledger.store.max_position()

    def test_reading_an_invalid_account_is_a_typed_error(self, ledger: Ledger) -> None:
        """account_state checks the id: a lone surrogate is an InvalidNameError, not a UnicodeError."""
        with pytest.raises(InvalidNameError):
            ledger.account_state("\ud800")
