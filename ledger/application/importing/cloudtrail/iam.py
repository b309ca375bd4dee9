"""The IAM calls of CloudTrail as ledger facts: users, groups, roles, trust and managed policies,
attachments, inline policies, boundaries, identity providers, credentials and tags.
Pure: never stores or logs, and never copies a password or secret key into an event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.application.importing.cloudtrail.call import Call
from ledger.application.importing.cloudtrail.identities import managed_policy, principal
from ledger.application.importing.cloudtrail.records import (
    NotUnderstood,
    arn_account,
    find_all,
    policy_document,
    tags_of,
)
from ledger.application.importing.index import derived_id
from ledger.domain import events as ev
from ledger.domain import names


def create_user(c: Call) -> None:
    user = c.response.get("user") or {}
    name = user.get("userName") or c.params.get("userName")
    path = user.get("path") or c.params.get("path") or "/"
    uid, arn = principal(c, c.account, "user", name, path=path, unique_id=user.get("userId"), create=False)
    arn = user.get("arn") or arn
    if uid not in c.index.known_ids:
        c.index.known_ids.add(uid)
        c.emit(ev.UserCreated, c.account, user_id=uid, user_name=name, path=path, user_arn=arn)
    if tags := tags_of(c.params.get("tags")):
        c.emit(ev.PrincipalTagged, c.account, principal_kind="user", principal_id=uid, principal_arn=arn, tags=tags)


def delete_user(c: Call) -> None:
    uid, arn = principal(c, c.account, "user", c.params.get("userName"))
    c.emit(ev.UserDeleted, c.account, user_id=uid, user_arn=arn)


def create_group(c: Call) -> None:
    group = c.response.get("group") or {}
    name = group.get("groupName") or c.params.get("groupName")
    path = group.get("path") or c.params.get("path") or "/"
    gid, arn = principal(c, c.account, "group", name, path=path, unique_id=group.get("groupId"), create=False)
    if gid not in c.index.known_ids:
        c.index.known_ids.add(gid)
        c.emit(ev.GroupCreated, c.account, group_id=gid, group_name=name, path=path,
               group_arn=group.get("arn") or arn)


def delete_group(c: Call) -> None:
    gid, arn = principal(c, c.account, "group", c.params.get("groupName"))
    c.emit(ev.GroupDeleted, c.account, group_id=gid, group_arn=arn)


def membership(c: Call) -> None:
    uid, uarn = principal(c, c.account, "user", c.params.get("userName"))
    gid, garn = principal(c, c.account, "group", c.params.get("groupName"))
    cls = ev.UserAddedToGroup if c.name == "AddUserToGroup" else ev.UserRemovedFromGroup
    c.emit(cls, c.account, user_id=uid, user_arn=uarn, group_id=gid, group_arn=garn)


def create_role(c: Call) -> None:
    role = c.response.get("role") or {}
    name = role.get("roleName") or c.params.get("roleName")
    path = role.get("path") or c.params.get("path") or "/"
    trust = policy_document(c.params.get("assumeRolePolicyDocument") or role.get("assumeRolePolicyDocument"))
    _trusted_accounts(c, trust)
    rid, arn = principal(c, c.account, "role", name, path=path, unique_id=role.get("roleId"), create=False)
    arn = role.get("arn") or arn
    if rid in c.index.known_ids:  # already known (e.g. inferred from a session): keep its id
        c.emit(ev.TrustPolicyUpdated, c.account, role_id=rid, role_arn=arn, trust_policy=trust)
    else:
        c.index.known_ids.add(rid)
        duration = c.params.get("maxSessionDuration")
        c.emit(ev.RoleCreated, c.account, role_id=rid, role_name=name, path=path, role_arn=arn,
               trust_policy=trust, max_session_duration=int(duration) if duration else 3600,
               description=c.params.get("description") if isinstance(c.params.get("description"), str) else None)
    boundary = c.params.get("permissionsBoundary")
    if isinstance(boundary, str) and boundary:
        pid = managed_policy(c, boundary)
        c.emit(ev.PermissionsBoundarySet, c.account, principal_kind="role", principal_id=rid,
               principal_arn=arn, policy_id=pid, policy_arn=boundary)
    if tags := tags_of(c.params.get("tags")):
        c.emit(ev.PrincipalTagged, c.account, principal_kind="role", principal_id=rid, principal_arn=arn, tags=tags)


def delete_role(c: Call) -> None:
    rid, arn = principal(c, c.account, "role", c.params.get("roleName"))
    c.emit(ev.RoleDeleted, c.account, role_id=rid, role_arn=arn)


def _trusted_accounts(c: Call, trust: dict[str, Any]) -> None:
    """Accounts a trust policy names become known accounts, so queries about them work."""
    for named in find_all(trust, "AWS"):
        for value in named if isinstance(named, list) else [named]:
            text = str(value)
            account = text if text.isdigit() else (arn_account(text) or "")
            if len(account) == 12 and account.isdigit():
                c.account_fact(account)


def trust_policy(c: Call) -> None:
    trust = policy_document(c.params.get("policyDocument"))
    _trusted_accounts(c, trust)
    rid, arn = principal(c, c.account, "role", c.params.get("roleName"))
    c.emit(ev.TrustPolicyUpdated, c.account, role_id=rid, role_arn=arn, trust_policy=trust)


def create_policy(c: Call) -> None:
    policy = c.response.get("policy") or {}
    name = policy.get("policyName") or c.params.get("policyName")
    path = policy.get("path") or c.params.get("path") or "/"
    if not isinstance(name, str):
        raise NotUnderstood("missing policy name")
    arn = policy.get("arn") or names.iam_arn(c.account, "policy", path, name)
    pid = policy.get("policyId") or c.index.resolve(c.account, "policy", arn, c.at) or derived_id("policy", arn)
    document = policy_document(c.params.get("policyDocument"))
    if pid in c.index.known_ids:
        c.emit(ev.PolicyVersionCreated, c.account, policy_id=pid, policy_arn=arn,
               version_id=str(policy.get("defaultVersionId") or "v1"), document=document, set_as_default=True)
        return
    c.index.known_ids.add(pid)
    c.emit(ev.ManagedPolicyCreated, c.account, policy_id=pid, policy_name=name, path=path, policy_arn=arn,
           document=document, version_id=str(policy.get("defaultVersionId") or "v1"))


def _policy_arn_param(c: Call) -> str:
    arn = c.params.get("policyArn")
    if not isinstance(arn, str):
        raise NotUnderstood("missing or invalid policy ARN")
    return arn


def delete_policy(c: Call) -> None:
    arn = _policy_arn_param(c)
    pid = managed_policy(c, arn)
    c.emit(ev.ManagedPolicyDeleted, arn_account(arn) or c.account, policy_id=pid, policy_arn=arn)


def policy_version(c: Call) -> None:
    arn = _policy_arn_param(c)
    pid = managed_policy(c, arn)
    owner = arn_account(arn) or c.account
    if c.name == "CreatePolicyVersion":
        version = (c.response.get("policyVersion") or {}).get("versionId")
        if not isinstance(version, str):
            raise NotUnderstood("no versionId in the response")
        default = c.params.get("setAsDefault") in (True, "true", "True")
        c.emit(ev.PolicyVersionCreated, owner, policy_id=pid, policy_arn=arn, version_id=version,
               document=policy_document(c.params.get("policyDocument")), set_as_default=default)
    else:
        version = c.params.get("versionId")
        if not isinstance(version, str):
            raise NotUnderstood("missing versionId")
        cls = ev.PolicyVersionDeleted if c.name == "DeletePolicyVersion" else ev.DefaultPolicyVersionSet
        c.emit(cls, owner, policy_id=pid, policy_arn=arn, version_id=version)


def _holder(c: Call) -> tuple[str, str, str]:
    """(kind, unique id, ARN) of the user, group or role the call's name says it is about."""
    kind = next(k for k in ("user", "group", "role") if k.capitalize() in c.name)
    pid, arn = principal(c, c.account, kind, c.params.get(f"{kind}Name"))
    return kind, pid, arn


def attachment(c: Call) -> None:
    kind, pid, arn = _holder(c)
    policy_arn = c.params.get("policyArn")
    policy_id = managed_policy(c, policy_arn)
    cls = ev.PolicyAttached if c.name.startswith("Attach") else ev.PolicyDetached
    c.emit(cls, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn,
           policy_id=policy_id, policy_arn=policy_arn)


def inline_policy(c: Call) -> None:
    kind, pid, arn = _holder(c)
    name = c.params.get("policyName")
    if not isinstance(name, str):
        raise NotUnderstood("missing policyName")
    if c.name.startswith("Put"):
        c.emit(ev.InlinePolicyPut, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn,
               policy_name=name, document=policy_document(c.params.get("policyDocument")))
    else:
        c.emit(ev.InlinePolicyDeleted, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn,
               policy_name=name)


def boundary(c: Call) -> None:
    kind, pid, arn = _holder(c)
    if c.name.startswith("Put"):
        policy_arn = c.params.get("permissionsBoundary")
        c.emit(ev.PermissionsBoundarySet, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn,
               policy_id=managed_policy(c, policy_arn), policy_arn=policy_arn)
    else:
        c.emit(ev.PermissionsBoundaryRemoved, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn)


def identity_provider(c: Call) -> None:
    if c.name.startswith("Delete"):
        arn = c.params.get("sAMLProviderArn") or c.params.get("SAMLProviderArn") \
            or c.params.get("openIDConnectProviderArn")
        if not isinstance(arn, str):
            raise NotUnderstood("missing provider ARN")
        c.emit(ev.IdentityProviderDeleted, c.account, provider_arn=arn)
        return
    saml = c.name == "CreateSAMLProvider"
    arn = c.response.get("sAMLProviderArn") or c.response.get("SAMLProviderArn") \
        or c.response.get("openIDConnectProviderArn")
    url = c.params.get("url")
    if not isinstance(arn, str):
        target = c.params.get("name") if saml else str(url or "").removeprefix("https://")
        if not target:
            raise NotUnderstood("missing provider name")
        arn = f"arn:aws:iam::{c.account}:{'saml-provider' if saml else 'oidc-provider'}/{target}"
    clients = c.params.get("clientIDList") or []
    c.emit(ev.IdentityProviderCreated, c.account, provider_arn=arn, provider_type="SAML" if saml else "OIDC",
           url=url if isinstance(url, str) else None,
           client_ids=tuple(str(x) for x in clients) if isinstance(clients, list) else ())


def _user_param(c: Call) -> tuple[str, str]:
    """The user a credential call is about: `userName`, or the calling user itself."""
    name = c.params.get("userName")
    if not name and c.identity.get("type") == "IAMUser":
        return principal(c, c.account, "user", c.identity.get("userName"), unique_id=c.identity.get("principalId"))
    return principal(c, c.account, "user", name)


def access_key(c: Call) -> None:
    uid, arn = _user_param(c)
    if c.name == "CreateAccessKey":
        key = (c.response.get("accessKey") or {}).get("accessKeyId")
        if not isinstance(key, str):
            raise NotUnderstood("no accessKeyId in the response")
        c.emit(ev.AccessKeyCreated, c.account, user_id=uid, user_arn=arn, access_key_id=key)
        return
    key = c.params.get("accessKeyId")
    if not isinstance(key, str):
        raise NotUnderstood("missing accessKeyId")
    if c.name == "DeleteAccessKey":
        c.emit(ev.AccessKeyDeleted, c.account, user_id=uid, user_arn=arn, access_key_id=key)
    elif c.params.get("status") == "Inactive":
        c.emit(ev.AccessKeyDeactivated, c.account, user_id=uid, user_arn=arn, access_key_id=key)
    elif c.params.get("status") == "Active":
        c.emit(ev.AccessKeyActivated, c.account, user_id=uid, user_arn=arn, access_key_id=key)
    else:
        raise NotUnderstood("unknown access key status")


def login_profile(c: Call) -> None:
    uid, arn = _user_param(c)
    if c.name == "DeleteLoginProfile":
        c.emit(ev.LoginProfileRemoved, c.account, user_id=uid, user_arn=arn)
        return
    reset = c.params.get("passwordResetRequired") in (True, "true", "True")
    c.emit(ev.LoginProfileSet, c.account, user_id=uid, user_arn=arn, password_reset_required=reset)


def principal_tags(c: Call) -> None:
    kind = "user" if "User" in c.name else "role"
    pid, arn = principal(c, c.account, kind, c.params.get(f"{kind}Name"))
    if c.name.startswith("Tag"):
        c.emit(ev.PrincipalTagged, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn,
               tags=tags_of(c.params.get("tags")))
    else:
        keys = c.params.get("tagKeys") or []
        c.emit(ev.PrincipalUntagged, c.account, principal_kind=kind, principal_id=pid, principal_arn=arn,
               tag_keys=tuple(str(k) for k in keys))


# IAM event name -> the handler that maps it.
HANDLERS: dict[str, Callable[[Call], None]] = {
    "CreateUser": create_user, "DeleteUser": delete_user,
    "CreateGroup": create_group, "DeleteGroup": delete_group,
    "AddUserToGroup": membership, "RemoveUserFromGroup": membership,
    "CreateRole": create_role, "DeleteRole": delete_role, "UpdateAssumeRolePolicy": trust_policy,
    "CreatePolicy": create_policy, "DeletePolicy": delete_policy,
    "CreatePolicyVersion": policy_version, "DeletePolicyVersion": policy_version,
    "SetDefaultPolicyVersion": policy_version,
    "CreateSAMLProvider": identity_provider, "CreateOpenIDConnectProvider": identity_provider,
    "DeleteSAMLProvider": identity_provider, "DeleteOpenIDConnectProvider": identity_provider,
    "CreateAccessKey": access_key, "UpdateAccessKey": access_key, "DeleteAccessKey": access_key,
    "CreateLoginProfile": login_profile, "UpdateLoginProfile": login_profile, "DeleteLoginProfile": login_profile,
    "TagUser": principal_tags, "TagRole": principal_tags, "UntagUser": principal_tags, "UntagRole": principal_tags,
    **{f"{verb}{kind}Policy": attachment for kind in ("User", "Group", "Role") for verb in ("Attach", "Detach")},
    **{f"{verb}{kind}Policy": inline_policy for kind in ("User", "Group", "Role") for verb in ("Put", "Delete")},
    **{f"{verb}{kind}PermissionsBoundary": boundary for kind in ("User", "Role") for verb in ("Put", "Delete")},
}
