"""The temporal fold: each event becomes changes to keyed facts, each at its own valid time.

Pure (no storage, no clock): `changes_of(event)` is a singledispatch fold; `changes_of_stored`
(projections.stored) runs the same fold on stored JSON without pydantic validation. Intervals are not its concern.
"""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from ledger.domain import events as ev
from ledger.timeaxis import to_us
from projections.facts import Change

# `Change`s are built with the tuple constructor itself, skipping the named tuple's Python-level
# `__new__`: a rebuild makes one per fact change.
_tuple_new = tuple.__new__
_NO_PAYLOAD: dict[str, Any] = {}


class _Emit:
    __slots__ = ("at", "cause", "event", "out", "pos")

    def __init__(self, event: ev.LedgerEvent, at: int, pos: int, cause: str) -> None:
        self.event = event
        self.out: list[Change] = []
        self.at = at
        self.pos = pos
        self.cause = cause

    def set(self, key: str, kind: str, subject: str, ref: str, payload: dict[str, Any],
            at: int | None = None, cause: str | None = None) -> None:
        self.out.append(_tuple_new(Change, (key, kind, subject, ref, "set", self.at if at is None else at,
                                            self.pos, len(self.out), cause or self.cause, payload)))

    def clear(self, key: str, kind: str, subject: str = "", ref: str = "", at: int | None = None,
              cause: str | None = None) -> None:
        self.out.append(_tuple_new(Change, (key, kind, subject, ref, "clear", self.at if at is None else at,
                                            self.pos, len(self.out), cause or self.cause, _NO_PAYLOAD)))


def changes_of(event: ev.LedgerEvent) -> list[Change]:
    """Every fact change an event makes (empty for events that change no permission fact)."""
    emit = _Emit(event, to_us(event.occurred_at), event.position or 0, event.event_type)
    _fold(event, emit)
    return emit.out


def __getattr__(name: str) -> Any:
    """`changes_of_stored` stays importable from here; it lives in `projections.stored`."""
    if name == "changes_of_stored":
        from projections.stored import changes_of_stored

        return changes_of_stored
    raise AttributeError(name)


@singledispatch
def _fold(event: ev.LedgerEvent, e: _Emit) -> None:
    """Events without temporal facts: observed access, denials, login profiles, providers."""


def _principal(e: _Emit, kind: str, uid: str, arn: str, name: str, path: str, **extra: Any) -> None:
    e.set(f"principal:{uid}", "principal", uid, arn, {
        "kind": kind, "unique_id": uid, "arn": arn, "name": name, "path": path,
        "account": e.event.account_id, **extra,
    })


@_fold.register
def _(event: ev.AccountCreated, e: _Emit) -> None:
    e.set(f"account:{event.account_id}", "account", event.account_id, event.root_arn,
          {"account": event.account_id, "name": event.account_name})


@_fold.register
def _(event: ev.ServiceControlPolicyAttached, e: _Emit) -> None:
    e.set(f"scp:{event.account_id}:{event.scp_id}", "scp", event.account_id, event.scp_id,
          {"scp_id": event.scp_id, "level": event.level, "document": event.document})


@_fold.register
def _(event: ev.ServiceControlPolicyDetached, e: _Emit) -> None:
    e.clear(f"scp:{event.account_id}:{event.scp_id}", "scp", event.account_id)


@_fold.register
def _(event: ev.UserCreated, e: _Emit) -> None:
    _principal(e, "user", event.user_id, event.user_arn, event.user_name, event.path)


@_fold.register
def _(event: ev.UserDeleted, e: _Emit) -> None:
    e.clear(f"principal:{event.user_id}", "principal", event.user_id)


@_fold.register
def _(event: ev.GroupCreated, e: _Emit) -> None:
    _principal(e, "group", event.group_id, event.group_arn, event.group_name, event.path)


@_fold.register
def _(event: ev.GroupDeleted, e: _Emit) -> None:
    e.clear(f"principal:{event.group_id}", "principal", event.group_id)


@_fold.register
def _(event: ev.RoleCreated, e: _Emit) -> None:
    _principal(e, "role", event.role_id, event.role_arn, event.role_name, event.path,
               max_session_duration=event.max_session_duration)
    e.set(f"trust:{event.role_id}", "trust", event.role_id, event.role_arn,
          {"document": event.trust_policy})


@_fold.register
def _(event: ev.RoleDeleted, e: _Emit) -> None:
    e.clear(f"principal:{event.role_id}", "principal", event.role_id)
    e.clear(f"trust:{event.role_id}", "trust", event.role_id)


@_fold.register
def _(event: ev.TrustPolicyUpdated, e: _Emit) -> None:
    e.set(f"trust:{event.role_id}", "trust", event.role_id, event.role_arn,
          {"document": event.trust_policy})


@_fold.register
def _(event: ev.UserAddedToGroup, e: _Emit) -> None:
    e.set(f"member:{event.user_id}:{event.group_id}", "member", event.user_id, event.group_id,
          {"group_id": event.group_id, "group_arn": event.group_arn})


@_fold.register
def _(event: ev.UserRemovedFromGroup, e: _Emit) -> None:
    e.clear(f"member:{event.user_id}:{event.group_id}", "member", event.user_id)


@_fold.register
def _(event: ev.ManagedPolicyCreated, e: _Emit) -> None:
    e.set(f"policy:{event.policy_id}", "policy", event.policy_id, event.policy_arn, {
        "policy_id": event.policy_id, "arn": event.policy_arn, "name": event.policy_name,
        "aws_managed": event.aws_managed,
    })
    e.set(f"pver:{event.policy_id}:{event.version_id}", "pver", event.policy_id, event.version_id,
          {"version_id": event.version_id, "document": event.document})
    e.set(f"pdefault:{event.policy_id}", "pdefault", event.policy_id, event.policy_arn,
          {"version_id": event.version_id})


@_fold.register
def _(event: ev.ManagedPolicyDeleted, e: _Emit) -> None:
    e.clear(f"policy:{event.policy_id}", "policy", event.policy_id)


@_fold.register
def _(event: ev.PolicyVersionCreated, e: _Emit) -> None:
    e.set(f"pver:{event.policy_id}:{event.version_id}", "pver", event.policy_id, event.version_id,
          {"version_id": event.version_id, "document": event.document})
    if event.set_as_default:
        e.set(f"pdefault:{event.policy_id}", "pdefault", event.policy_id, event.policy_arn,
              {"version_id": event.version_id})


@_fold.register
def _(event: ev.PolicyVersionDeleted, e: _Emit) -> None:
    e.clear(f"pver:{event.policy_id}:{event.version_id}", "pver", event.policy_id)


@_fold.register
def _(event: ev.DefaultPolicyVersionSet, e: _Emit) -> None:
    e.set(f"pdefault:{event.policy_id}", "pdefault", event.policy_id, event.policy_arn,
          {"version_id": event.version_id})


@_fold.register
def _(event: ev.PolicyAttached, e: _Emit) -> None:
    e.set(f"attach:{event.principal_id}:{event.policy_id}", "attach", event.principal_id,
          event.policy_id, {"policy_id": event.policy_id, "policy_arn": event.policy_arn,
                            "principal_kind": event.principal_kind})


@_fold.register
def _(event: ev.PolicyDetached, e: _Emit) -> None:
    e.clear(f"attach:{event.principal_id}:{event.policy_id}", "attach", event.principal_id)


@_fold.register
def _(event: ev.InlinePolicyPut, e: _Emit) -> None:
    e.set(f"inline:{event.principal_id}:{event.policy_name}", "inline", event.principal_id,
          event.policy_name, {"name": event.policy_name, "document": event.document,
                              "principal_kind": event.principal_kind})


@_fold.register
def _(event: ev.InlinePolicyDeleted, e: _Emit) -> None:
    e.clear(f"inline:{event.principal_id}:{event.policy_name}", "inline", event.principal_id)


@_fold.register
def _(event: ev.PermissionsBoundarySet, e: _Emit) -> None:
    e.set(f"boundary:{event.principal_id}", "boundary", event.principal_id, event.policy_id,
          {"policy_id": event.policy_id, "policy_arn": event.policy_arn})


@_fold.register
def _(event: ev.PermissionsBoundaryRemoved, e: _Emit) -> None:
    e.clear(f"boundary:{event.principal_id}", "boundary", event.principal_id)


@_fold.register
def _(event: ev.PrincipalTagged, e: _Emit) -> None:
    for tag, value in sorted(event.tags.items()):
        e.set(f"tag:{event.principal_id}:{tag}", "tag", event.principal_id, tag,
              {"key": tag, "value": value})


@_fold.register
def _(event: ev.PrincipalUntagged, e: _Emit) -> None:
    for tag in event.tag_keys:
        e.clear(f"tag:{event.principal_id}:{tag}", "tag", event.principal_id)


@_fold.register
def _(event: ev.AccessKeyCreated, e: _Emit) -> None:
    e.set(f"akey:{event.access_key_id}", "access_key", event.user_id, event.access_key_id,
          {"user_id": event.user_id, "user_arn": event.user_arn, "active": True})


@_fold.register
def _(event: ev.AccessKeyActivated, e: _Emit) -> None:
    e.set(f"akey:{event.access_key_id}", "access_key", event.user_id, event.access_key_id,
          {"user_id": event.user_id, "user_arn": event.user_arn, "active": True})


@_fold.register
def _(event: ev.AccessKeyDeactivated, e: _Emit) -> None:
    e.set(f"akey:{event.access_key_id}", "access_key", event.user_id, event.access_key_id,
          {"user_id": event.user_id, "user_arn": event.user_arn, "active": False})


@_fold.register
def _(event: ev.AccessKeyDeleted, e: _Emit) -> None:
    e.clear(f"akey:{event.access_key_id}", "access_key", event.user_id)


@_fold.register
def _(event: ev.BucketCreated, e: _Emit) -> None:
    e.set(f"bucket:{event.bucket_name}", "bucket", event.bucket_name, event.bucket_arn,
          {"name": event.bucket_name, "arn": event.bucket_arn, "account": event.account_id,
           "region": event.region})
    e.set(f"ownership:{event.bucket_name}", "ownership", event.bucket_name, event.bucket_arn,
          {"object_ownership": event.object_ownership})


@_fold.register
def _(event: ev.BucketDeleted, e: _Emit) -> None:
    e.clear(f"bucket:{event.bucket_name}", "bucket", event.bucket_name)
    e.clear(f"bucketpolicy:{event.bucket_name}", "bucket_policy", event.bucket_name)
    e.clear(f"ownership:{event.bucket_name}", "ownership", event.bucket_name)


@_fold.register
def _(event: ev.BucketPolicyPut, e: _Emit) -> None:
    e.set(f"bucketpolicy:{event.bucket_name}", "bucket_policy", event.bucket_name,
          event.bucket_arn, {"document": event.document})


@_fold.register
def _(event: ev.BucketPolicyDeleted, e: _Emit) -> None:
    e.clear(f"bucketpolicy:{event.bucket_name}", "bucket_policy", event.bucket_name)


@_fold.register
def _(event: ev.BucketOwnershipChanged, e: _Emit) -> None:
    e.set(f"ownership:{event.bucket_name}", "ownership", event.bucket_name, event.bucket_arn,
          {"object_ownership": event.object_ownership})


@_fold.register
def _(event: ev.RoleAssumed, e: _Emit) -> None:
    # A session is in force over [issued_at, expires_at): the expiry is a change of its own.
    issued, expires = to_us(event.issued_at), to_us(event.expires_at)
    key = f"session:{event.session_id}"
    e.set(key, "session", event.role_id, event.session_arn, {
        "session_id": event.session_id, "kind": "assumed-role", "arn": event.session_arn,
        "role_id": event.role_id, "role_arn": event.role_arn, "caller_arn": event.caller_arn,
        "caller_principal_id": event.caller_principal_id, "via": event.via,
        "issued_at": issued, "expires_at": expires, "session_policy": event.session_policy,
        "session_policy_arns": list(event.session_policy_arns),
        "source_identity": event.source_identity, "access_key_id": event.access_key_id,
        "parent_session_id": event.parent_session_id, "account": event.account_id,
    }, at=issued)
    e.clear(key, "session", event.role_id, at=expires, cause="SessionExpired")


@_fold.register
def _(event: ev.FederationTokenIssued, e: _Emit) -> None:
    issued, expires = to_us(event.issued_at), to_us(event.expires_at)
    key = f"session:{event.session_id}"
    e.set(key, "session", event.user_id or event.user_arn, event.federated_user_arn, {
        "session_id": event.session_id, "kind": "federated-user", "arn": event.federated_user_arn,
        "user_id": event.user_id, "user_arn": event.user_arn, "issued_at": issued,
        "expires_at": expires, "session_policy": event.session_policy,
        "session_policy_arns": list(event.session_policy_arns),
        "access_key_id": event.access_key_id, "account": event.account_id,
    }, at=issued)
    e.clear(key, "session", event.user_id or event.user_arn, at=expires, cause="SessionExpired")


@_fold.register
def _(event: ev.SessionsRevoked, e: _Emit) -> None:
    e.set(f"revoked:{event.role_id}", "revoked", event.role_id, event.role_arn,
          {"revoked_before": to_us(event.revoked_before)})


@_fold.register
def _(event: ev.JobCreated, e: _Emit) -> None:
    e.set(f"job:{event.job_arn}", "job", event.account_id, event.job_arn, {
        "job_id": event.job_id, "job_arn": event.job_arn, "account": event.account_id,
        "creator_arn": event.creator_arn, "creator_principal_id": event.creator_principal_id,
        "queue_arn": event.queue_arn, "role_id": event.role_id, "role_arn": event.role_arn,
        "inputs": list(event.inputs), "outputs": list(event.outputs),
    })


@_fold.register
def _(event: ev.OutputWritten, e: _Emit) -> None:
    e.set(f"object:{event.object_arn}", "object", event.bucket_name, event.object_arn, {
        "object_arn": event.object_arn, "bucket": event.bucket_name, "key": event.key,
        "bucket_account": event.account_id, "writer_arn": event.writer_arn,
        "writer_account": event.writer_account, "writer_session_id": event.writer_session_id,
        "job_arn": event.job_arn, "job_id": event.job_id, "acl": event.acl,
        "object_ownership": event.object_ownership, "owner_account": event.owner_account,
    })


# The organisation's facts are folded in their own module (registered on import).
from projections import fold_org  # noqa: E402,F401
