"""What `diff` ranges over and what a window's changed facts can move: the universe of requests, the
callers and resources the changes touch, and the grouping of one bucket's objects.

Reads two preloaded `Snapshot`s; decides nothing itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from typing import Any

from ledger.timeaxis import FOREVER
from projections.facts import Fact
from projections.results import AccessChange, FactChange
from projections.view import Snapshot

Pair = tuple[str, str]
_HOLDER_KINDS = ("inline", "attach", "boundary", "tag", "revoked", "member", "trust")


@lru_cache(maxsize=8192)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(body, re.IGNORECASE if ignore_case else 0)


def _statements(doc: Any) -> list[dict[str, Any]]:
    stmts = doc.get("Statement", []) if isinstance(doc, dict) else []
    return [s for s in (stmts if isinstance(stmts, list) else [stmts]) if isinstance(s, dict)]


def _values(st: dict[str, Any], key: str) -> list[str]:
    vals = st.get(key, [])
    return [v for v in ([vals] if isinstance(vals, str) else vals) if isinstance(v, str)]


def _docs_at(snap: Snapshot) -> list[Any]:
    """Every policy document in force at T that can bear on a decision."""
    docs = [f.payload.get("document") for kind in ("inline", "bucket_policy", "trust", "scp") for f in snap._q(kind)]
    pids = {f.ref for f in snap._q("attach")} | {f.payload.get("policy_id") for f in snap._q("boundary")}
    for pid in sorted(p for p in pids if p):
        managed = snap.managed(pid)
        if managed is not None:
            docs.append(managed.document)
    return docs


class Universe:
    """Callers (users, roles, account roots) in force at either time, and (action, resource) pairs:
    every wildcard-free action a policy names crossed with every wildcard-free resource of its
    service (named ARNs, buckets, roles for sts:*, and one object per class of a bucket's objects
    that the policies' resource patterns cannot tell apart)."""

    def __init__(self, source: Any, s1: Snapshot, s2: Snapshot, principals: Iterable[str] | None,
                 pairs: Iterable[Pair] | None) -> None:
        found = {p.arn for s in (s1, s2) for p in s.principals()}
        found |= {f"arn:aws:iam::{a}:root" for s in (s1, s2) for a in s.accounts()}
        self.principals: set[str] = set(principals) if principals is not None else found
        self.members: dict[str, list[str]] = {}  # representative object ARN -> the objects it stands for
        self.pairs: list[Pair] = sorted(set(pairs)) if pairs is not None else self._pairs(source, s1, s2)
        self.pair_count = sum(len(self.members.get(r, [r])) for _, r in self.pairs)
        self._by_action: dict[str, list[Pair]] = {}
        for pair in self.pairs:
            self._by_action.setdefault(pair[0].lower(), []).append(pair)
        self._memo: dict[frozenset[str], list[Pair]] = {}

    def _pairs(self, source: Any, s1: Snapshot, s2: Snapshot) -> list[Pair]:
        actions: set[str] = set()
        resources: set[str] = {"*"}
        patterns: set[str] = set()
        for snap in (s1, s2):
            for doc in _docs_at(snap):
                for st in _statements(doc):
                    actions.update(a for a in _values(st, "Action") if not any(c in a for c in "*?$"))
                    named = _values(st, "Resource") + _values(st, "NotResource")
                    patterns.update(named)
                    resources.update(r for r in named if not any(c in r for c in "*?$"))
            resources.update(f.payload["arn"] for f in snap._q("bucket"))
            resources.update(p.arn for p in snap.principals() if p.kind == "role")
        resources |= self._object_classes(source, s1, s2, patterns)
        out = []
        for a in sorted(actions):
            service = a.split(":", 1)[0].lower()
            for r in sorted(resources):
                parts = r.split(":", 5)
                rs = parts[2] if len(parts) == 6 else ""
                if r == "*" or rs == service or (service == "sts" and rs == "iam" and ":role/" in r):
                    out.append((a, r))
        return out

    def _object_classes(self, source: Any, s1: Snapshot, s2: Snapshot, patterns: set[str]) -> set[str]:
        """One representative object per bucket and signature (which resource patterns match it)."""
        engine = getattr(source, "engine", None)
        if engine is not None:
            from projections.sql_history import object_refs_at

            refs = object_refs_at(engine, (s1.at_us, s2.at_us))
        else:
            refs = {f.ref for s in (s1, s2) for f in source.many_at(["object"], s.at_us)}
        s3 = sorted(p for p in patterns if p == "*" or p.startswith("arn:aws:s3:::") or p.startswith("arn:*"))
        variable = any("$" in p for p in s3)
        classes: dict[tuple[Any, ...], list[str]] = {}
        for ref in sorted(refs):
            bucket = ref.split(":", 5)[5].split("/", 1)[0]
            signature = (bucket, ref) if variable else \
                (bucket, *(bool(_glob(p, False).fullmatch(ref)) for p in s3))
            classes.setdefault(signature, []).append(ref)
        for members in classes.values():
            self.members[members[0]] = members
        return {members[0] for members in classes.values()}

    def pairs_for(self, patterns: frozenset[str] | None) -> list[Pair]:
        """The pairs whose action one of `patterns` matches (None: every pair)."""
        if patterns is None:
            return self.pairs
        hit = self._memo.get(patterns)
        if hit is None:
            regexes = [_glob(p, True) for p in patterns]
            hit = self._memo[patterns] = [pair for action, pairs in self._by_action.items()
                                          if any(rx.fullmatch(action) for rx in regexes) for pair in pairs]
        return hit

    def pairs_on(self, resources: set[str]) -> list[Pair]:
        """The pairs on a changed bucket (`s3:NAME`: the bucket and its objects) or a changed role."""
        out = []
        for a, r in self.pairs:
            parts = r.split(":", 5)
            if r in resources or (len(parts) == 6 and parts[2] == "s3"
                                  and "s3:" + parts[5].split("/", 1)[0] in resources):
                out.append((a, r))
        return out


class Scope:
    """The callers and resources whose answers the changed facts can move, and which facts each."""

    def __init__(self, s1: Snapshot, s2: Snapshot, universe: Universe) -> None:
        self.snaps = (s1, s2)
        self.universe = universe
        self.principals: set[str] = set()
        self.resources: set[str] = set()
        self.attributed: dict[str, list[Fact]] = {}
        self._holders: dict[str, set[str]] | None = None
        self._members: dict[str, set[str]] | None = None
        self._open: frozenset[str] | None = None
        self._actions: dict[str, frozenset[str] | None] = {}

    def _attribute(self, key: str, f: Fact) -> None:
        self.attributed.setdefault(key, []).append(f)

    def _arns(self, uid: str) -> set[str]:
        """The callers a holder's change reaches: the user or role, or a group's members."""
        out = set()
        for snap in self.snaps:
            p = snap.principal_by_id(uid)
            if p is None:
                continue
            if p.kind == "group":
                out |= {m for m in self._group_members().get(uid, set())}
            else:
                out.add(p.arn)
        return out

    def _group_members(self) -> dict[str, set[str]]:
        if self._members is None:
            self._members = {}
            for snap in self.snaps:
                for f in snap._q("member"):
                    user = snap.principal_by_id(f.subject)
                    if user is not None:
                        self._members.setdefault(f.ref or f.payload.get("group_id", ""), set()).add(user.arn)
        return self._members

    def _policy_holders(self) -> dict[str, set[str]]:
        if self._holders is None:
            self._holders = {}
            for snap in self.snaps:
                for f in snap._q("attach"):
                    self._holders.setdefault(f.ref, set()).add(f.subject)
                for f in snap._q("boundary"):
                    self._holders.setdefault(f.payload.get("policy_id", ""), set()).add(f.subject)
        return self._holders

    def add(self, f: Fact) -> None:
        """Take in one changed fact: the callers and resources it can move."""
        reached: set[str] = set()
        if f.kind == "principal":
            reached = self._arns(f.subject) | ({f.payload["arn"]} if f.payload.get("kind") != "group" else set())
            if f.payload.get("kind") == "role":
                self.resources.add(f.payload["arn"])
        elif f.kind in _HOLDER_KINDS:
            reached = self._arns(f.subject)
            if f.kind == "trust":
                self.resources |= {arn for arn in reached if ":role/" in arn}
        elif f.kind in ("policy", "pver", "pdefault"):
            for uid in self._policy_holders().get(f.subject, set()):
                reached |= self._arns(uid)
        elif f.kind in ("account", "scp"):
            reached = {p for p in self.universe.principals if p.split(":")[4] == f.subject}
        elif f.kind in ("bucket", "bucket_policy", "ownership"):
            self.resources.add("s3:" + f.subject)
            self._attribute("s3:" + f.subject, f)
        elif f.kind.startswith("org"):
            reached = set(self.universe.principals)
        for arn in reached:
            self._attribute(arn, f)
        self.principals |= reached

    def actions_of(self, arn: str) -> frozenset[str] | None:
        """The action patterns that can allow `arn` anything at either time: its identity policies'
        Allow statements and every resource policy's (None: any action)."""
        if arn not in self._actions:
            self._actions[arn] = self._allow_patterns(arn)
        return self._actions[arn]

    def _allow_patterns(self, arn: str) -> frozenset[str] | None:
        if arn.endswith(":root"):
            return None
        found: set[str] = set(self._resource_patterns() or ())
        if self._resource_patterns() is None:
            return None
        for snap in self.snaps:
            p = snap.principal_by_arn(arn)
            if p is None:
                continue
            holders = [p.unique_id] + [g.unique_id for g in snap.groups_of(p.unique_id)]
            docs: list[Any] = []
            for uid in holders:
                docs += [doc for _, doc, _, _ in snap.inline(uid)]
                for pid, _, _ in snap.attached(uid):
                    managed = snap.managed(pid)
                    if managed is None:
                        return None  # a policy the ledger never saw may allow anything
                    docs.append(managed.document)
            for doc in docs:
                for st in _statements(doc):
                    if st.get("Effect") != "Allow":
                        continue
                    if "NotAction" in st:
                        return None
                    found.update(_values(st, "Action"))
        return frozenset(found)

    def _resource_patterns(self) -> frozenset[str] | None:
        if self._open is None:
            found: set[str] = set()
            for snap in self.snaps:
                for kind in ("bucket_policy", "trust"):
                    for f in snap._q(kind):
                        for st in _statements(f.payload.get("document")):
                            if st.get("Effect") == "Allow":
                                found.update(_values(st, "Action") or ["*"])
            self._open = frozenset(found)
        return self._open

    def facts_for(self, principal: str, resource: str, through: Iterable[str]) -> list[Fact]:
        keys = {principal, *through}
        parts = resource.split(":", 5)
        if len(parts) == 6 and parts[2] == "s3":
            keys.add("s3:" + parts[5].split("/", 1)[0])
        return [f for k in sorted(keys) for f in self.attributed.get(k, [])]

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


def group_objects(rows: list[AccessChange], members: dict[str, list[str]] | None = None) -> list[AccessChange]:
    """One row per (principal, action, bucket, before, after) for a bucket's objects, with a count."""
    out: list[AccessChange] = []
    groups: dict[tuple[str, ...], list[AccessChange]] = {}
    for row in rows:
        parts = row.resource.split(":", 5)
        if len(parts) == 6 and parts[2] == "s3" and "/" in parts[5]:
            bucket = parts[5].split("/", 1)[0]
            key = (row.principal, row.action, bucket, row.before_state, row.after_state)
            groups.setdefault(key, []).append(row)
        else:
            out.append(row)
    for (_, _, bucket, _, _), items in groups.items():
        objects = sorted({o for item in items for o in (members or {}).get(item.resource, [item.resource])})
        if len(objects) == 1:
            out.append(items[0])
            continue
        causes = {(c.position, c.fact, c.change): c for item in items for c in item.caused_by}
        first = items[0]
        out.append(replace(first, resource=f"arn:aws:s3:::{bucket}/*", count=len(objects),
                           objects=tuple(objects[:5]),
                           caused_by=tuple(sorted(causes.values(), key=lambda c: (c.position or 0, c.fact)))))
    return out
