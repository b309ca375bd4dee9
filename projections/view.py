"""The permission state at one valid time, read from temporal facts (SQL or in-memory).

Answers only "what was in force at T"; evaluation and explanation live in `projections.assemble`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ledger.domain.organization import path_of
from projections.facts import Fact

Origin = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PrincipalInfo:
    kind: str  # user | group | role
    unique_id: str
    arn: str
    name: str
    account: str
    origin: Origin | None = None
    max_session_duration: int | None = None  # roles: the longest session AssumeRole may ask for


@dataclass(frozen=True, slots=True)
class ManagedDoc:
    policy_id: str
    arn: str
    document: dict[str, Any]
    version_id: str
    aws_managed: bool
    origin: Origin | None = None
    cache_key: Any = None


@dataclass(frozen=True, slots=True)
class OrgLevels:
    """The organisation policies of one type that bear on an account at T: per level, root
    first, the target (root, OU or account) and its (policy id, document, origin, cache key)s;
    and what could not be resolved (reported, so the decision fails closed with a reason)."""

    levels: tuple[tuple[str, tuple[tuple[str, dict[str, Any], Origin, Any], ...]], ...]
    errors: tuple[str, ...] = ()


def _derived(f: Fact) -> dict[str, Any] | None:
    """The fact's own cache of values derived from it alone, when it carries one (facts read
    into the keyframe index do, and outlive any one snapshot); None for plain facts."""
    if not hasattr(f, "derived"):
        return None
    derived: dict[str, Any] | None = f.derived
    if derived is None:
        derived = {}
        object.__setattr__(f, "derived", derived)
    return derived


def _ident(f: Fact | None) -> tuple[str, int, int] | None:
    return None if f is None else (f.key, f.valid_from, f.opened_position)


def _by_key(t: tuple[Any, ...]) -> Any:
    return t[0]


class FactSource(Protocol):
    def at(self, kind: str, at: int, subject: str | None = None, ref: str | None = None) -> list[Fact]: ...
    def many_at(self, kinds: Any, at: int) -> list[Fact]: ...
    def history(self, kind: str | None = None, subjects: Iterable[str] | None = None,
                refs: Iterable[str] | None = None) -> list[Fact]: ...


_PRELOAD_KINDS = ("principal", "account", "attach", "inline", "member", "policy", "pver", "pdefault",
                  "boundary", "trust", "scp", "bucket", "bucket_policy", "ownership", "tag", "revoked")


class Snapshot:
    """State at valid time `at` (microseconds). Lookups are memoised; `preload()` fetches every
    fact of the evaluation kinds in one query (for `who_can` over thousands of principals)."""

    def __init__(self, source: FactSource, at: int, position: int | None = None) -> None:
        self.source = source
        self.at_us = at
        self.position = position  # the projection position it is read at, when the source is the projection
        self._memo: dict[tuple[str, str, str], list[Fact]] = {}
        self._by_subject: dict[tuple[str, str], list[Fact]] | None = None
        self._by_ref: dict[tuple[str, str], list[Fact]] | None = None
        self._by_kind: dict[str, list[Fact]] | None = None
        # Compiled-policy cache keys must be unique across stores: a per-store token.
        self._token = getattr(source, "token", None)
        # Derived values (principals, managed documents, identity entries) computed once per
        # snapshot: the state at one instant never changes under a given projection position.
        self.memo: dict[Any, Any] = {}
        self._partial: frozenset[str] = frozenset()
        self._origins: dict[tuple[str, int], Origin] = {}

    def _origin(self, f: Fact) -> Origin:
        derived = _derived(f)
        if derived is not None:
            hit = derived.get("origin")
            if hit is None:
                hit = derived["origin"] = f.origin()
            return dict(hit)
        key = (f.key, f.valid_from)
        hit = self._origins.get(key)
        if hit is None:
            hit = self._origins[key] = f.origin()
        return dict(hit)

    def prefill(self, found: Iterable[Fact], subjects: Iterable[tuple[str, str]],
                refs: Iterable[tuple[str, str]], triples: Iterable[tuple[str, str, str]] = ()) -> Snapshot:
        """Seed the lookups with facts fetched in bulk: `subjects` / `refs` / `triples` name the
        (kind, subject) / (kind, ref) / (kind, subject, ref) lookups that `found` answers
        completely; any other lookup still goes to the source."""
        by_subject: dict[tuple[str, str], list[Fact]] = {k: [] for k in subjects}
        by_ref: dict[tuple[str, str], list[Fact]] = {k: [] for k in refs}
        by_triple: dict[tuple[str, str, str], list[Fact]] = {k: [] for k in triples}
        for f in found:
            hit = by_triple.get((f.kind, f.subject, f.ref))
            if hit is not None:
                hit.append(f)
            hit = by_subject.get((f.kind, f.subject))
            if hit is not None:
                hit.append(f)
            hit = by_ref.get((f.kind, f.ref))
            if hit is not None:
                hit.append(f)
        for (kind, subject), facts in by_subject.items():
            self._memo[(kind, subject, "")] = facts
        for (kind, ref), facts in by_ref.items():
            self._memo[(kind, "", ref)] = facts
        self._memo.update(by_triple)
        return self

    def preload(self, found: Iterable[Fact] | None = None, partial: Iterable[str] = ()) -> Snapshot:
        """Index every fact in force at T (`found`, or all evaluation kinds from the source).
        For the `partial` kinds `found` holds only some facts: lookups by (kind, subject, ref)
        answer from them when present and otherwise ask the source."""
        self._partial = frozenset(partial)
        by_subject: dict[tuple[str, str], list[Fact]] = {}
        by_ref: dict[tuple[str, str], list[Fact]] = {}
        by_kind: dict[str, list[Fact]] = {}
        for f in self.source.many_at(_PRELOAD_KINDS, self.at_us) if found is None else found:
            by_subject.setdefault((f.kind, f.subject), []).append(f)
            by_ref.setdefault((f.kind, f.ref), []).append(f)
            by_kind.setdefault(f.kind, []).append(f)
        self._by_subject, self._by_ref, self._by_kind = by_subject, by_ref, by_kind
        return self

    def _q(self, kind: str, subject: str | None = None, ref: str | None = None) -> list[Fact]:
        if self._by_subject is not None and kind in self._partial:
            assert self._by_ref is not None
            if subject is not None and ref is not None:
                found = [f for f in self._by_subject.get((kind, subject), []) if f.ref == ref]
                if found:
                    return found
        elif self._by_subject is not None and kind in _PRELOAD_KINDS:
            assert self._by_ref is not None and self._by_kind is not None
            if subject is not None:
                found = self._by_subject.get((kind, subject), [])
                return [f for f in found if ref is None or f.ref == ref]
            if ref is not None:
                return self._by_ref.get((kind, ref), [])
            return self._by_kind.get(kind, [])
        memo_key = (kind, subject or "", ref or "")
        hit = self._memo.get(memo_key)
        if hit is None and subject is not None and ref is not None:
            whole = self._memo.get((kind, subject, ""))
            if whole is not None:
                hit = self._memo[memo_key] = [f for f in whole if f.ref == ref]
        if hit is None:
            hit = self.source.at(kind, self.at_us, subject, ref)
            self._memo[memo_key] = hit
        return hit

    @staticmethod
    def _latest(found: list[Fact]) -> Fact | None:
        return max(found, key=lambda f: (f.valid_from, f.opened_position)) if found else None

    # -- whole kinds at T, for indexes built over every holder (who_can) ---------------------

    def cache_key(self, f: Fact) -> Any:
        """The key under which the document a fact holds may be compiled once: unique across
        stores, and the same for the same fact interval at any T (None when the source has no token)."""
        return None if self._token is None else (self._token, f.key, f.valid_from, f.opened_position)

    def inline_facts(self) -> list[Fact]:
        """Every inline policy in force at T (subject: the holder's unique id)."""
        return self._q("inline")

    def attachment_facts(self) -> list[Fact]:
        """Every managed-policy attachment in force at T (subject: the holder, ref: the policy id)."""
        return self._q("attach")

    def membership_facts(self) -> list[Fact]:
        """Every group membership in force at T (subject: the user's id, ref: the group's id)."""
        return self._q("member")

    # -- principals and accounts -----------------------------------------------------------

    def _principal(self, f: Fact) -> PrincipalInfo:
        derived = _derived(f)
        if derived is not None:
            info = derived.get("principal")
            if info is None:
                info = derived["principal"] = self._principal_info(f)
            return info
        key = ("principal", f.key, f.valid_from)
        hit = self.memo.get(key)
        if hit is None:
            hit = self.memo[key] = self._principal_info(f)
        return hit

    def _principal_info(self, f: Fact) -> PrincipalInfo:
        p = f.payload
        return PrincipalInfo(p["kind"], p["unique_id"], p["arn"], p["name"], p["account"], self._origin(f),
                             p.get("max_session_duration"))

    def principal_by_arn(self, arn: str) -> PrincipalInfo | None:
        f = self._latest(self._q("principal", ref=arn))
        return self._principal(f) if f else None

    def principal_by_id(self, unique_id: str) -> PrincipalInfo | None:
        f = self._latest(self._q("principal", subject=unique_id))
        return self._principal(f) if f else None

    def principals(self) -> list[PrincipalInfo]:
        hit = self.memo.get("principals")
        if hit is None:
            hit = self.memo["principals"] = [self._principal(f) for f in self._q("principal")
                                             if f.payload["kind"] != "group"]
        return list(hit)

    def account_exists(self, account: str) -> bool:
        return bool(self._q("account", subject=account))

    def accounts(self) -> list[str]:
        return sorted({f.subject for f in self._q("account")})

    def tags(self, unique_id: str) -> dict[str, str]:
        return {f.payload["key"]: f.payload["value"] for f in self._q("tag", subject=unique_id)}

    # -- policies --------------------------------------------------------------------------

    def inline(self, unique_id: str) -> list[tuple[str, dict[str, Any], Origin, Any]]:
        return sorted(((f.payload["name"], f.payload["document"], self._origin(f), self.cache_key(f))
                       for f in self._q("inline", subject=unique_id)), key=lambda t: t[0])

    def attached(self, unique_id: str) -> list[tuple[str, str, Origin]]:
        return sorted(((f.payload["policy_id"], f.payload["policy_arn"], self._origin(f))
                       for f in self._q("attach", subject=unique_id)), key=lambda t: t[1])

    def groups_of(self, user_id: str) -> list[PrincipalInfo]:
        key = ("groups_of", user_id)
        if key not in self.memo:
            self.memo[key] = self._groups_of(user_id)
        return list(self.memo[key])

    def _groups_of(self, user_id: str) -> list[PrincipalInfo]:
        out = []
        for f in self._q("member", subject=user_id):
            group = self.principal_by_id(f.payload["group_id"])
            if group is not None:
                out.append(PrincipalInfo(group.kind, group.unique_id, group.arn, group.name,
                                         group.account, self._origin(f)))
        return sorted(out, key=lambda g: g.arn)

    def managed(self, policy_id: str) -> ManagedDoc | None:
        key = ("managed", policy_id)
        if key not in self.memo:
            self.memo[key] = self._managed(policy_id)
        return self.memo[key]  # type: ignore[no-any-return]

    def _managed(self, policy_id: str) -> ManagedDoc | None:
        policy = self._latest(self._q("policy", subject=policy_id))
        default = self._latest(self._q("pdefault", subject=policy_id))
        if policy is None or default is None:
            return None
        version_id = default.payload["version_id"]
        version = self._latest(self._q("pver", subject=policy_id, ref=version_id))
        if version is None:
            return None
        doc_fact = max((default, version), key=lambda f: (f.valid_from, f.opened_position))
        return ManagedDoc(policy_id, policy.payload["arn"], version.payload["document"], version_id,
                          bool(policy.payload.get("aws_managed")), self._origin(doc_fact),
                          self.cache_key(version))

    def own_fingerprint(self, h: PrincipalInfo) -> tuple[Any, ...] | None:
        """What `gather.own_entries` of `h` is built from, as interval identities (key,
        valid_from, opened position): equal fingerprints give equal entries at any T. None
        when the source keeps no cache across snapshots (only the keyframe index does)."""
        if getattr(self.source, "shared", None) is None:
            return None
        attached = []
        for f in self._q("attach", subject=h.unique_id):
            pid = f.payload["policy_id"]
            policy = self._latest(self._q("policy", subject=pid))
            default = self._latest(self._q("pdefault", subject=pid))
            version = None if default is None else \
                self._latest(self._q("pver", subject=pid, ref=default.payload["version_id"]))
            attached.append((_ident(f), *(_ident(x) for x in (policy, default, version))))
        inline = tuple(sorted((f.key, f.valid_from, f.opened_position) for f in self._q("inline", subject=h.unique_id)))
        return (h.kind, h.unique_id, h.arn, inline, tuple(sorted(attached, key=_by_key)))

    def shared(self) -> dict[Any, Any] | None:
        """The source's cache of values derived from the state (kept across snapshots)."""
        return getattr(self.source, "shared", None)

    def managed_by_arn(self, arn: str) -> ManagedDoc | None:
        policy = self._latest(self._q("policy", ref=arn))
        return self.managed(policy.subject) if policy else None

    def boundary(self, unique_id: str) -> tuple[str, str, Origin] | None:
        f = self._latest(self._q("boundary", subject=unique_id))
        return (f.payload["policy_id"], f.payload["policy_arn"], self._origin(f)) if f else None

    def trust(self, role_id: str) -> tuple[dict[str, Any], Origin, Any] | None:
        f = self._latest(self._q("trust", subject=role_id))
        return (f.payload["document"], self._origin(f), self.cache_key(f)) if f else None

    def scps(self, account: str) -> list[tuple[int, str, dict[str, Any], Origin, Any]]:
        return sorted(((f.payload["level"], f.payload["scp_id"], f.payload["document"], self._origin(f),
                        self.cache_key(f)) for f in self._q("scp", subject=account)),
                      key=lambda t: (t[0], t[1]))

    def organization_id(self, account: str) -> str | None:
        """The id of the organisation `account` belongs to at T, when the ledger knows it."""
        f = self._latest(self._q("orgmember", subject=account))
        return f.payload.get("organization_id") if f else None

    def org_policies(self, account: str, policy_type: str) -> OrgLevels | None:
        """The SCPs or RCPs in force for `account` at T, by level from the root; None when none
        apply (no member of an organisation, the type not enabled, or the management account)."""
        key = ("org_policies", account, policy_type)
        if key not in self.memo:
            self.memo[key] = self._org_policies(account, policy_type)
        return self.memo[key]  # type: ignore[no-any-return]

    def _org_policies(self, account: str, policy_type: str) -> OrgLevels | None:
        member = self._latest(self._q("orgmember", subject=account))
        if member is None:
            return None
        management = member.payload["management_account_id"]
        if account == management or not any(f.ref == policy_type for f in self._q("orgtype", subject=management)):
            return None

        def parent_of(ou: str) -> str | None:
            f = self._latest(self._q("orgunit", subject=ou))
            return f.payload["parent_id"] if f else None

        chain, broken = path_of(parent_of, member.payload["parent_id"])
        errors = [f"the organisation path of account {account} is unknown: {broken}"] if broken else []
        levels = []
        for target in [*chain, account]:
            entries = []
            for att in sorted(self._q("orgattach", subject=target), key=lambda f: f.ref):
                if att.payload["policy_type"] != policy_type:
                    continue
                policy = self._latest(self._q("orgpolicy", subject=att.ref))
                if policy is None:
                    errors.append(f"{att.ref} is attached to {target} but its document is not recorded")
                    continue
                origin = dict(self._origin(att), target=target, document=self._origin(policy))
                entries.append((att.ref, policy.payload["document"], origin, self.cache_key(policy)))
            levels.append((target, tuple(entries)))
        return OrgLevels(tuple(levels), tuple(errors))

    def revoked_before(self, role_id: str) -> tuple[int, Origin] | None:
        f = self._latest(self._q("revoked", subject=role_id))
        return (int(f.payload["revoked_before"]), self._origin(f)) if f else None

    # -- S3, sessions, jobs ----------------------------------------------------------------

    def bucket(self, name: str) -> tuple[str, Origin] | None:
        f = self._latest(self._q("bucket", subject=name))
        return (f.payload["account"], self._origin(f)) if f else None

    def bucket_recorded(self, name: str) -> bool:
        """Whether the ledger recorded a bucket of this name at any valid time (known history,
        unlike a name it never saw)."""
        key = ("bucket_recorded", name)
        if key not in self.memo:
            self.memo[key] = bool(self.source.history("bucket", subjects=[name]))
        return bool(self.memo[key])

    def bucket_policy(self, name: str) -> tuple[dict[str, Any], Origin, Any] | None:
        f = self._latest(self._q("bucket_policy", subject=name))
        return (f.payload["document"], self._origin(f), self.cache_key(f)) if f else None

    def ownership(self, name: str) -> tuple[str, Origin] | None:
        f = self._latest(self._q("ownership", subject=name))
        return (f.payload["object_ownership"], self._origin(f)) if f else None

    def sessions_by_arn(self, arn: str) -> list[tuple[dict[str, Any], Origin]]:
        found = sorted(self._q("session", ref=arn), key=lambda f: (f.valid_from, f.opened_position))
        return [(f.payload, self._origin(f)) for f in found]

    def object(self, object_arn: str) -> tuple[dict[str, Any], Origin] | None:
        f = self._latest(self._q("object", ref=object_arn))
        return (f.payload, self._origin(f)) if f else None

    def job(self, job_arn: str) -> tuple[dict[str, Any], Origin] | None:
        f = self._latest(self._q("job", ref=job_arn))
        return (f.payload, self._origin(f)) if f else None

    def job_queues(self, account: str) -> list[str]:
        """Queue ARNs of the account's MediaConvert jobs recorded by T, in ARN order."""
        key = ("job_queues", account)
        if key not in self.memo:
            in_sql = getattr(self.source, "job_queues_at", None)
            self.memo[key] = in_sql(account, self.at_us, self.position) if in_sql is not None else \
                sorted({f.payload["queue_arn"] for f in self._q("job", subject=account)})
        return list(self.memo[key])
