"""What a window's changed facts can move, for `diff`: per caller, the policy statements that came or
went (or "anything"), the buckets and roles whose own policy or existence changed, and the facts behind each.

Reads two preloaded `Snapshot`s; decides nothing itself. Changes are kept per holder (user, role,
group), per account and per caller, and expanded to callers once, at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ledger.timeaxis import FOREVER
from projections.facts import Fact
from projections.queries.history_universe import Universe, statements_of
from projections.results import FactChange
from projections.view import Snapshot

Ids = set[str] | None  # statement keys that came or went; None: any statement may have


def _key(st: dict[str, Any]) -> str:
    return json.dumps(st, sort_keys=True, default=str)


def _named(st: dict[str, Any]) -> tuple[bool, set[str], set[str]]:
    """(everyone, principal ARNs, accounts) a resource policy statement names."""
    if "NotPrincipal" in st:
        return True, set(), set()
    principal = st.get("Principal")
    if principal == "*":
        return True, set(), set()
    values = principal.get("AWS", []) if isinstance(principal, dict) else []
    arns, accounts = set(), set()
    for v in [values] if isinstance(values, str) else values:
        if v == "*":
            return True, set(), set()
        if isinstance(v, str) and v.isdigit():
            accounts.add(v)
        elif isinstance(v, str) and v.endswith(":root"):
            accounts.add(v.split(":")[4])
        elif isinstance(v, str):
            arns.add(v)
    return False, arns, accounts


def _merge(table: dict[str, Ids], key: str, ids: Ids) -> None:
    if ids is None or (key in table and table[key] is None):
        table[key] = None
        return
    found = table.setdefault(key, set())
    assert found is not None
    found |= ids


def account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


class Scope:
    """The changed facts of a window, taken in one at a time (`add`), then read per caller."""

    def __init__(self, s1: Snapshot, s2: Snapshot, universe: Universe) -> None:
        self.snaps = (s1, s2)
        self.universe = universe
        self.statements: dict[str, dict[str, Any]] = {}
        self.resources: set[str] = set()  # "s3:NAME" of buckets created, deleted or re-owned
        self.roles: set[str] = set()  # roles whose trust or own policies changed
        self.by_holder: dict[str, Ids] = {}
        self.by_account: dict[str, Ids] = {}
        self.by_arn: dict[str, Ids] = {}
        self.facts: dict[str, list[Fact]] = {}  # holder id, "acct:ID", ARN or "s3:NAME" -> changed facts
        self._holders: dict[str, set[str]] | None = None
        self._moves: dict[str, Ids] | None = None

    # -- statements ---------------------------------------------------------------------------------

    def _ids(self, docs: Iterable[Any]) -> set[str]:
        out = set()
        for doc in docs:
            for st in statements_of(doc):
                k = _key(st)
                self.statements.setdefault(k, st)
                out.add(k)
        return out

    def _changed(self, before: Iterable[Any], after: Iterable[Any]) -> set[str]:
        return self._ids(before) ^ self._ids(after)

    @staticmethod
    def _holder_docs(snap: Snapshot, uid: str) -> list[Any]:
        docs = [doc for _, doc, _, _ in snap.inline(uid)]
        for pid, _, _ in snap.attached(uid):
            managed = snap.managed(pid)
            if managed is not None:
                docs.append(managed.document)
        return docs

    def _policy_holders(self) -> dict[str, set[str]]:
        if self._holders is None:
            self._holders = {}
            for snap in self.snaps:
                for f in snap._q("attach"):
                    self._holders.setdefault(f.ref, set()).add(f.subject)
        return self._holders

    def _note(self, key: str, f: Fact) -> None:
        self.facts.setdefault(key, []).append(f)

    # -- taking facts in ----------------------------------------------------------------------------

    def add(self, f: Fact) -> None:
        """Take in one changed fact: the holders, accounts, callers and resources it can move."""
        self._moves = None
        kind = f.kind
        if kind == "inline":
            docs = [[g.payload["document"] for g in s._q("inline", subject=f.subject) if g.key == f.key]
                    for s in self.snaps]
            self._holder(f.subject, self._changed(docs[0], docs[1]), f)
        elif kind == "attach":
            held = [any(g.ref == f.ref for g in s._q("attach", subject=f.subject)) for s in self.snaps]
            found = [s.managed(f.ref) for s in self.snaps]
            if any(h and m is None for h, m in zip(held, found, strict=True)):
                self._holder(f.subject, None, f)  # a policy the ledger never saw: anything may move
            else:
                docs = [[m.document] if h and m is not None else [] for h, m in zip(held, found, strict=True)]
                self._holder(f.subject, self._changed(docs[0], docs[1]), f)
        elif kind == "member":
            gid = f.ref or f.payload.get("group_id", "")
            s1, s2 = self.snaps
            self._holder(f.subject, self._ids(self._holder_docs(s1, gid) + self._holder_docs(s2, gid)), f)
        elif kind in ("policy", "pver", "pdefault"):
            docs = [[m.document] if (m := s.managed(f.subject)) is not None else [] for s in self.snaps]
            ids = self._changed(docs[0], docs[1])
            for uid in self._policy_holders().get(f.subject, set()):
                self._holder(uid, ids, f)
        elif kind in ("trust", "bucket_policy"):
            self._resource_policy(f)
        elif kind in ("bucket", "ownership"):
            self.resources.add("s3:" + f.subject)
            self._note("s3:" + f.subject, f)
        elif kind == "scp":
            docs = [[g.payload["document"] for g in s._q("scp", subject=f.subject) if g.key == f.key]
                    for s in self.snaps]
            _merge(self.by_account, f.subject, self._changed(docs[0], docs[1]))
            self._note("acct:" + f.subject, f)
        elif kind == "account":
            _merge(self.by_account, f.subject, None)
            self._note("acct:" + f.subject, f)
        elif kind.startswith("org"):
            for account in {account_of(p) for p in self.universe.principals}:
                _merge(self.by_account, account, None)
                self._note("acct:" + account, f)
        else:  # principal, boundary, tag, revoked: anything the holder holds may move
            self._holder(f.subject, None, f)
            if kind == "principal" and f.payload.get("kind") == "role":
                self.roles.add(f.payload["arn"])

    def _holder(self, uid: str, ids: Ids, f: Fact) -> None:
        _merge(self.by_holder, uid, ids)
        self._note(uid, f)

    def _resource_policy(self, f: Fact) -> None:
        """A bucket or trust policy changed: the callers and accounts its changed statements name."""
        if f.kind == "trust":
            docs = [[t[0]] if (t := s.trust(f.subject)) is not None else [] for s in self.snaps]
            self._note(f.subject, f)
            role = next((p.arn for s in self.snaps if (p := s.principal_by_id(f.subject)) is not None), None)
            if role is not None:
                self.roles.add(role)
                self._note(role, f)
        else:
            docs = [[b[0]] if (b := s.bucket_policy(f.subject)) is not None else [] for s in self.snaps]
            self._note("s3:" + f.subject, f)
        for k in self._changed(docs[0], docs[1]):
            everyone, arns, accounts = _named(self.statements[k])
            if everyone:
                accounts = {account_of(p) for p in self.universe.principals}
            for account in accounts:
                _merge(self.by_account, account, {k})
            for arn in arns:
                _merge(self.by_arn, arn, {k})

    # -- reading per caller -------------------------------------------------------------------------

    def _holders_of(self, arn: str) -> set[str]:
        out = set()
        for snap in self.snaps:
            p = snap.principal_by_arn(arn)
            if p is not None:
                out.add(p.unique_id)
                out |= {g.unique_id for g in snap.groups_of(p.unique_id)}
        return out

    @property
    def moves(self) -> dict[str, Ids]:
        """Per caller of the universe, the statements that came or went for it (None: any)."""
        if self._moves is None:
            self._moves = {}
            for arn in self.universe.principals:
                table: dict[str, Ids] = {}
                for uid in self._holders_of(arn):
                    if uid in self.by_holder:
                        _merge(table, arn, self.by_holder[uid])
                for source, key in ((self.by_account, account_of(arn)), (self.by_arn, arn)):
                    if key in source:
                        _merge(table, arn, source[key])
                if arn in table:
                    self._moves[arn] = table[arn]
            self.roles |= {arn for arn in self._moves if ":role/" in arn}
        return self._moves

    @property
    def principals(self) -> set[str]:
        return set(self.moves)

    def own_ids(self, arn: str) -> set[str] | None:
        """Every statement that can bear on `arn`'s answers at either time: its identity policies'
        and every resource policy's (None for an account root, or a policy never seen: anything)."""
        if arn.endswith(":root"):
            return None
        docs: list[Any] = []
        for snap in self.snaps:
            p = snap.principal_by_arn(arn)
            if p is not None:
                for uid in [p.unique_id] + [g.unique_id for g in snap.groups_of(p.unique_id)]:
                    docs += self._holder_docs(snap, uid)
                    if any(snap.managed(pid) is None for pid, _, _ in snap.attached(uid)):
                        return None
            docs += [f.payload.get("document") for kind in ("bucket_policy", "trust") for f in snap._q(kind)]
        return self._ids(docs)

    def facts_for(self, principal: str, resource: str, through: Iterable[str]) -> list[Fact]:
        """The changed facts a request's answer depends on: of its caller (and the roles on its path),
        their holders and accounts, and of the resource."""
        keys: set[str] = set()
        for arn in {principal, *through}:
            keys |= {arn, "acct:" + account_of(arn)} | self._holders_of(arn)
        parts = resource.split(":", 5)
        if len(parts) == 6 and parts[2] == "s3":
            keys.add("s3:" + parts[5].split("/", 1)[0])
        else:
            keys.add(resource)
        return [f for k in sorted(keys) for f in self.facts.get(k, [])]

    @staticmethod
    def changes(facts: list[Fact], lo: int, hi: int) -> list[FactChange]:
        out: dict[tuple[int | None, str, str], FactChange] = {}
        for f in facts:
            if lo < f.valid_from <= hi:
                out.setdefault((f.opened_position, f.key, "opened"), FactChange(
                    position=f.opened_position, event_type=f.opened_type, fact=f.key, change="opened"))
            if lo < f.valid_to <= hi and f.valid_to < FOREVER:
                out.setdefault((f.closed_position, f.key, "closed"), FactChange(
                    position=f.closed_position, event_type=f.closed_type, fact=f.key, change="closed"))
        return sorted(out.values(), key=lambda c: (c.position or 0, c.fact))
