"""The data of `ledger report`: who could act on one resource over a window, how, what changed it,
the objects written into it and who owns them; JSON-ready.

Decides only at the instants a relevant fact changed inside the window (never per day), through
`who_can` with paths; reads the read side, never writes and never reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import LedgerError, ValidationError
from ledger.gc_pause import collector_paused
from ledger.timeaxis import from_us, iso
from projections.queries import report_paths as rp
from projections.queries import who_can
from projections.results import WhoCanEntry
from projections.sql_read import live_facts
from projections.sql_report import Boundary, change_points, objects_written, principal_kinds, related
from projections.view import Snapshot

# The actions that matter for each kind of resource: (action, applies to the object or the bucket).
_BUCKET_ACTIONS = (("s3:GetObject", "object"), ("s3:ListBucket", "bucket"), ("s3:PutObject", "object"),
                   ("s3:DeleteObject", "object"), ("s3:PutBucketPolicy", "bucket"))
_ROLE_ACTIONS = ("sts:AssumeRole", "iam:PassRole")
_MEDIACONVERT_ACTIONS = ("mediaconvert:CreateJob", "mediaconvert:GetJob", "mediaconvert:CancelJob")
_OBJECT_LEVEL = {"s3:getobject", "s3:putobject", "s3:deleteobject", "s3:getobjectacl", "s3:putobjectacl"}
_NOT_PRELOADED = frozenset({"pver"})
MAX_DEPTH = 3


@dataclass(frozen=True, slots=True)
class Target:
    """The resource a report is about, and the (action, evaluated resource ARN) pairs it decides."""

    resource: str
    bucket: str | None
    pairs: tuple[tuple[str, str], ...]


def target(resource: str, actions: Sequence[str] = ()) -> Target:
    """The pairs to decide: the given actions, or those that matter for the resource's kind. For a
    bucket, object-level actions are decided on `bucket/*`; for an object, bucket-level ones on its bucket."""
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[5]:
        raise ValidationError(f"{resource!r} is not a resource ARN")
    service, rest = parts[2], parts[5]
    bucket = None
    if service == "s3":
        bucket, _, key = rest.partition("/")
        object_arn = resource if key else f"arn:aws:s3:::{bucket}/*"
        bucket_arn = f"arn:aws:s3:::{bucket}"
        chosen = list(actions) or [a for a, _ in _BUCKET_ACTIONS]
        pairs = [(a, object_arn if a.lower() in _OBJECT_LEVEL else bucket_arn) for a in chosen]
    else:
        if not actions:
            if service == "iam" and rest.startswith("role/"):
                actions = _ROLE_ACTIONS
            elif service == "mediaconvert":
                actions = _MEDIACONVERT_ACTIONS
            else:
                raise ValidationError(f"no default actions for {service} resources: give --action")
        pairs = [(a, resource) for a in actions]
    for action, _ in pairs:
        if action.count(":") != 1 or not all(action.split(":")):
            raise ValidationError(f"{action!r} is not an action (service:Action)")
    return Target(resource, bucket, tuple(dict.fromkeys(pairs)))


@dataclass
class _Open:
    """An interval being built: its state and the sample it started at."""

    state: tuple[str, str]
    start: int
    entry: WhoCanEntry
    opened_by: list[dict[str, Any]]


@dataclass
class _Build:
    """Everything gathered while walking the samples."""

    intervals: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    principals: set[str] = field(default_factory=set)
    edge_ids: dict[tuple[str, str, str, str, str], int] = field(default_factory=dict)
    graph_samples: list[dict[str, Any]] = field(default_factory=list)


def build(read_side: Any, tgt: Target, low: int, high: int, *, incremental: bool = True) -> dict[str, Any]:
    """The report over valid time [low, high): samples at `low` and at each change inside it. With
    `incremental`, a change that touches only some users' own facts re-decides those users (and
    the roles their paths go through) and keeps everyone else's answer; any other change re-decides all."""
    if high <= low:
        raise ValidationError("the report's window is empty: --to must be after --from")
    bounds = change_points(read_side.engine, low, high - 1, tgt.bucket)
    times = [low, *sorted({b.at for b in bounds})]
    causes: dict[int, list[Boundary]] = {}
    for b in bounds:
        causes.setdefault(b.at, []).append(b)
    events = _EventCache(read_side.event_at)
    out = _Build()
    opened: dict[tuple[str, str], _Open] = {}
    current: dict[tuple[str, str], tuple[tuple[str, str], WhoCanEntry]] = {}
    edges_of: dict[str, set[int]] = {}
    previous_edges: set[int] = set()
    as_of: dict[str, Any] = {}
    for t in times:
        users = _affected(read_side.engine, causes.get(t, []), t) if incremental and t != low else None
        answers, as_of, decided = _decide_at(read_side, tgt, t, users, {p for p, _ in current})
        fresh: dict[tuple[str, str], tuple[tuple[str, str], WhoCanEntry]] = {}
        fresh_edges: dict[str, set[int]] = {}
        for action, entries in answers.items():
            for entry in entries:
                status = "conditional" if entry.conditional else "allowed"
                fresh[(entry.principal, action)] = ((status, rp.how(entry)), entry)
                fresh_edges.setdefault(entry.principal, set()).update(
                    out.edge_ids.setdefault(e, len(out.edge_ids)) for e in _entry_edges(entry, action, tgt.resource))
        if decided is None:
            current, edges_of = fresh, fresh_edges
        else:
            redone = decided | {p for p, _ in fresh}
            current = {k: v for k, v in current.items() if k[0] not in redone} | fresh
            edges_of = {p: e for p, e in edges_of.items() if p not in redone} | fresh_edges
        _advance(out, opened, current, t, [events.describe(b) for b in causes.get(t, [])], events)
        edges = set().union(*edges_of.values()) if edges_of else set()
        out.graph_samples.append({"at": _iso(t), "at_us": t, "add": sorted(edges - previous_edges),
                                  "del": sorted(previous_edges - edges)})
        previous_edges = edges
    for key, item in sorted(opened.items()):
        _close(out, key, item, high, None, events)
    return {
        "resource": tgt.resource,
        "actions": [{"action": a, "resource": r} for a, r in tgt.pairs],
        "window": {"from": _iso(low), "to": _iso(high), "from_us": low, "to_us": high},
        "as_of": {k: v for k, v in as_of.items() if k == "position"},
        "samples": len(times),
        "principals": _principals(out.principals),
        "intervals": sorted(out.intervals, key=lambda i: (i["principal"], i["action"], i["start_us"])),
        "changes": out.changes,
        "graph": _graph(out, tgt.resource),
        "outputs": _outputs(read_side, tgt, low, high, events),
        "how": list(rp.HOW),
    }


# Changes whose effect on other principals' answers the report does not trace: re-decide everyone.
_EVERYONE = frozenset({"account", "scp", "trust", "principal", "bucket", "bucket_policy", "ownership"})


def _affected(engine: Any, bounds: list[Boundary], t: int) -> set[str] | None:
    """The users whose own answers the changes at `t` can alter, or None when anyone's can: a
    membership, an attachment, an inline policy, a boundary or a tag of users and groups reaches
    only those users (no one acts through a user); one of a role reaches whoever passes or assumes
    it, and accounts, SCPs, trust, principals and the bucket reach everyone."""
    users: set[str] = set()
    holders: set[str] = set()
    policies: set[str] = set()
    for b in bounds:
        if b.kind in _EVERYONE:
            return None
        if b.kind == "member":
            users.add(b.subject)
        elif b.kind in ("pdefault", "policy"):
            policies.add(b.subject)
        else:
            holders.add(b.subject)
    if policies:
        holders |= related(engine, "attach", "ref", policies, t) | related(engine, "boundary", "ref", policies, t)
    kinds = principal_kinds(engine, holders, t)
    groups = set()
    for holder in holders:
        kind = kinds.get(holder, ("?", ""))[0]
        if kind == "user":
            users.add(holder)
        elif kind == "group":
            groups.add(holder)
        else:
            return None
    users |= related(engine, "member", "ref", groups, t) if groups else set()
    found = principal_kinds(engine, users, t)
    if len(found) < len(users) or any(kind != "user" for kind, _ in found.values()):
        return None
    return {arn for _, arn in found.values()}


def _decide_at(read_side: Any, tgt: Target, t: int, users: set[str] | None, reaching: set[str]
               ) -> tuple[dict[str, list[WhoCanEntry]], dict[str, Any], set[str] | None]:
    """who_can with paths for every pair, on one snapshot of the state at `t`: for everyone, or
    for `users` and the roles `reaching` the resource (every role on a path to it reaches it
    itself by the rest of that path, and a change of users only leaves the roles' answers as
    they were). Returns who was decided."""
    snap, as_of = read_side.snapshot(from_us(t))
    state = live_facts(read_side.engine, read_side.facts.token, snap.at_us)
    snap = Snapshot(snap.source, snap.at_us, snap.position).preload(state, _NOT_PRELOADED)
    decided = None if users is None else users | {p.arn for p in snap.principals()
                                                  if p.kind == "role" and p.arn in reaching}
    only = None if decided is None else frozenset(decided)
    answers: dict[str, list[WhoCanEntry]] = {}
    with collector_paused():
        for action, resource in tgt.pairs:
            found = who_can.who_can(snap, as_of, action, resource, paths=True, max_depth=MAX_DEPTH, context=None,
                                    prune=True, only=only)
            answers[action] = list(found.principals)
    return answers, as_of, decided


def _advance(out: _Build, opened: dict[tuple[str, str], _Open],
             current: dict[tuple[str, str], tuple[tuple[str, str], WhoCanEntry]], t: int,
             why: list[dict[str, Any]], events: _EventCache) -> None:
    """Close the intervals whose state changed at `t`, open the new ones, and note the change."""
    gained: list[dict[str, Any]] = []
    lost: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for key in sorted(set(opened) | set(current)):
        before = opened.get(key)
        now = current.get(key)
        if before is not None and now is not None and before.state == now[0]:
            continue
        if before is not None:
            _close(out, key, before, t, why, events)
            del opened[key]
        if now is not None:
            opened[key] = _Open(now[0], t, now[1], why)
            out.principals.add(key[0])
        change = {"principal": key[0], "action": key[1],
                  "before": _state_text(before.state if before else None),
                  "after": _state_text(now[0] if now else None)}
        (gained if before is None else lost if now is None else changed).append(change)
    if why and (gained or lost or changed):
        out.changes.append({"at": _iso(t), "at_us": t, "events": _distinct_events(why),
                            "gained": gained, "lost": lost, "changed": changed})


def _close(out: _Build, key: tuple[str, str], item: _Open, end: int, why: list[dict[str, Any]] | None,
           events: _EventCache) -> None:
    principal, action = key
    status, kind = item.state
    out.intervals.append({
        "principal": principal, "action": action, "status": status, "how": kind,
        "start": _iso(item.start), "start_us": item.start, "end": _iso(end), "end_us": end,
        "opened_by": _distinct_events(item.opened_by), "closed_by": _distinct_events(why or []),
        "open_at_end": why is None,
        "path": rp.path_text(item.entry), "missing_context": list(item.entry.missing_context),
        "statements": [rp.statement_label(step) for step in item.entry.path],
        "granted_by": [events.enrich(g) for g in rp.granted_by(item.entry)],
    })


def _iso(us: int) -> str:
    return iso(us) or ""


def _state_text(state: tuple[str, str] | None) -> str:
    return "none" if state is None else f"{state[0]} ({state[1]})"


def _distinct_events(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[Any, dict[str, Any]] = {}
    for item in items:
        seen.setdefault(item.get("position"), {k: v for k, v in item.items() if k not in ("fact", "change")})
    return [seen[k] for k in sorted(seen, key=lambda p: p or 0)]


def _entry_edges(entry: WhoCanEntry, action: str, resource: str) -> list[tuple[str, str, str, str, str]]:
    """The entry's path edges, each tagged with the action the path leads to (the page shows one at a time)."""
    return [(*edge, action) for edge in rp.edges(entry, resource)]


def _principals(arns: set[str]) -> list[dict[str, Any]]:
    """One row per principal, grouped by account (then by name)."""
    rows = [{"arn": a, "account": _account(a), "label": _label(a)} for a in arns]
    return sorted(rows, key=lambda r: (r["account"], r["label"]))


def _label(arn: str) -> str:
    """An ARN by its resource part; an account root with its account (two roots would read alike)."""
    if not arn.startswith("arn:") or arn.count(":") < 5:
        return arn
    rest = arn.split(":", 5)[5]
    return f"root ({_account(arn)})" if rest == "root" else rest


def _account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def _graph(out: _Build, resource: str) -> dict[str, Any]:
    """Nodes and labelled edges of every path at any sample, and which edges hold at each sample."""
    edges = sorted(out.edge_ids, key=lambda e: out.edge_ids[e])
    names = sorted({n for e in edges for n in e[:2]} | {resource}, key=lambda n: (rp.node_kind(n, resource), n))
    nodes = [{"id": n, "kind": rp.node_kind(n, resource), "account": _account(n), "label": _label(n)} for n in names]
    return {"nodes": nodes,
            "edges": [{"from": e[0], "to": e[1], "action": e[2], "statements": e[3], "for_action": e[4]}
                      for e in edges],
            "samples": out.graph_samples}


def _outputs(read_side: Any, tgt: Target, low: int, high: int, events: _EventCache) -> list[dict[str, Any]]:
    """Objects written into the bucket in the window: job, creator, role, session and owner at the end."""
    if tgt.bucket is None:
        return []
    rows = []
    for arn, _written, _position in objects_written(read_side.engine, tgt.bucket, low, high - 1):
        try:
            lineage = read_side.lineage(arn, from_us(high - 1)).to_dict()
        except LedgerError as error:
            rows.append({"object": arn, "error": error.message})
            continue
        written = events.enrich(dict(lineage["written"]))
        lineage["written"] = written
        rows.append(lineage)
    return rows


class _EventCache:
    """The actor and time of each event a report cites, each read once."""

    def __init__(self, event_at: Callable[[int], Any]) -> None:
        self._event_at = event_at
        self._seen: dict[int, Any] = {}

    def _event(self, position: int | None) -> Any:
        if position is None:
            return None
        if position not in self._seen:
            try:
                self._seen[position] = self._event_at(position)
            except LedgerError:
                self._seen[position] = None
        return self._seen[position]

    def describe(self, b: Boundary) -> dict[str, Any]:
        event = self._event(b.position)
        return {"position": b.position, "event_type": b.event_type, "fact": b.fact, "change": b.change,
                "occurred_at": event.occurred_at.isoformat() if event is not None else _iso(b.at),
                "actor": event.actor if event is not None else None}

    def enrich(self, item: dict[str, Any]) -> dict[str, Any]:
        event = self._event(item.get("position"))
        if event is not None:
            item.setdefault("actor", event.actor)
            item["actor"] = item["actor"] or event.actor
        return item
