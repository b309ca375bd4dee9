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

from projections.results import AccessChange
from projections.view import Snapshot

Pair = tuple[str, str]
_HOLDER_KINDS = ("inline", "attach", "boundary", "tag", "revoked", "member", "trust")


@lru_cache(maxsize=8192)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(body, re.IGNORECASE if ignore_case else 0)


def statements_of(doc: Any) -> list[dict[str, Any]]:
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
        self._by_statement: dict[str, frozenset[Pair]] = {}

    def _pairs(self, source: Any, s1: Snapshot, s2: Snapshot) -> list[Pair]:
        actions: set[str] = set()
        resources: set[str] = {"*"}
        patterns: set[str] = set()
        for snap in (s1, s2):
            for doc in _docs_at(snap):
                for st in statements_of(doc):
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

    def pairs_matching(self, ids: Iterable[str], statements: dict[str, dict[str, Any]]) -> set[Pair]:
        """The pairs some of these statements name (action and resource), whatever their effect or
        conditions: only those can change when the statements come or go."""
        out: set[Pair] = set()
        for k in ids:
            hit = self._by_statement.get(k)
            if hit is None:
                hit = self._by_statement[k] = self._matched(statements[k])
            out |= hit
        return out

    def _matched(self, st: dict[str, Any]) -> frozenset[Pair]:
        actions = None if "NotAction" in st else _values(st, "Action")
        resources = None if "NotResource" in st or "Resource" not in st else \
            [re.sub(r"\$\{[^}]*\}", "*", r) for r in _values(st, "Resource")]
        pairs = self.pairs_for(frozenset(actions) if actions is not None else None)
        if resources is None:
            return frozenset(pairs)
        regexes = [_glob(r, False) for r in resources]
        return frozenset(pair for pair in pairs if pair[1] == "*" or any(rx.fullmatch(pair[1]) for rx in regexes))

    def pairs_on(self, resources: set[str]) -> list[Pair]:
        """The pairs on a changed bucket (`s3:NAME`: the bucket and its objects) or a changed role."""
        out = []
        for a, r in self.pairs:
            parts = r.split(":", 5)
            if r in resources or (len(parts) == 6 and parts[2] == "s3"
                                  and "s3:" + parts[5].split("/", 1)[0] in resources):
                out.append((a, r))
        return out


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
