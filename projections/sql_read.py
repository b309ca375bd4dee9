"""Set-based reads of the temporal facts for the audit queries: one statement per question.

Read-only; the schema comes from Alembic and the rows from the projector (`projections.sql`).
"""

# ruff: noqa: S608  - the SQL text is built from this module's constants; values are bound parameters

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import msgspec
from sqlalchemy import Engine, func, select, text

from ledger.timeaxis import FOREVER
from projections.facts import Fact
from projections.tables import facts as facts_table

HOLDER_KINDS = ("member", "inline", "attach", "boundary", "tag", "revoked")
GROUP_KINDS = ("principal", "inline", "attach")


class _LazyFact(Fact):
    """A fact whose JSON payload is decoded on first use: `who_can` reads every fact in force at
    T but looks into few payloads (memberships and attachments are indexed by their ref)."""

    __slots__ = ("_raw", "derived")
    _raw: str
    # Values derived from this fact alone (its origin, the principal it describes), kept with it:
    # facts held by the keyframe index outlive any one snapshot (`Snapshot` fills it).
    derived: dict[str, Any] | None

    def __init__(self, row: Any) -> None:
        setter = object.__setattr__
        for name, value in zip(_FIELDS, row[:10], strict=True):
            setter(self, name, value)
        setter(self, "_raw", row[10])
        setter(self, "derived", None)

    @property
    def payload(self) -> dict[str, Any]:
        try:
            return _PAYLOAD.__get__(self, Fact)  # type: ignore[no-any-return]
        except AttributeError:
            try:
                value = _decode_json(self._raw)
            except msgspec.DecodeError:  # what only the standard library reads (NaN, Infinity)
                value = json.loads(self._raw)
            _PAYLOAD.__set__(self, value)
            return value  # type: ignore[no-any-return]


LazyFact = _LazyFact  # for the keyframe index's loader (`projections.sql_keyframes`)
# msgspec, as the projector's own decoder (`projections.stored`): exact for large integers too.
_decode_json = msgspec.json.Decoder().decode
_FIELDS = ("key", "kind", "subject", "ref", "valid_from", "valid_to", "opened_position", "opened_type",
           "closed_position", "closed_type")
_PAYLOAD: Any = Fact.__dict__["payload"]  # the dataclass slot, filled on first access


def _fact(row: Any) -> Fact:
    return Fact(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
                json.loads(row[10]))


class Bundle:
    """The facts in force at T that one request reads, and which lookups they answer fully."""

    def __init__(self) -> None:
        self.facts: list[Fact] = []
        self.subjects: set[tuple[str, str]] = set()
        self.refs: set[tuple[str, str]] = set()
        self.triples: set[tuple[str, str, str]] = set()  # (kind, subject, ref) answered fully


_LIVE = "valid_from <= :at AND valid_to > :at"
_SELECT = ("SELECT fact_key, kind, subject, ref, valid_from, valid_to, opened_position, opened_type, "
           "closed_position, closed_type, payload FROM pl_facts WHERE ")
_STATEMENTS: dict[tuple[str, bool, bool, bool, bool], Any] = {}
# The default version id inside a pdefault row's JSON payload, per dialect.
_VERSION_ID = {"sqlite": "json_extract(payload, '$.version_id')",
               "postgresql": "(CAST(payload AS json) ->> 'version_id')"}


def _kinds(kinds: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{k}'" for k in kinds) + ")"  # constants of this module only


def _statement(dialect: str, caller: bool, account: bool, bucket: bool, role: bool) -> Any:
    """The UNION ALL text for one shape of request, built once (plain SQL that SQLite and
    PostgreSQL both plan with the (kind, subject|ref, valid_from) indexes). Of a managed
    policy only the default version's row is read (by its fact key), whatever the number of
    versions in its history."""
    key = (dialect, caller, account, bucket, role)
    hit = _STATEMENTS.get(key)
    if hit is not None:
        return hit
    ctes: list[str] = []
    parts: list[str] = []
    if caller:
        ctes += [
            f"uid AS (SELECT subject FROM pl_facts WHERE kind = 'principal' AND ref = :caller AND {_LIVE})",
            f"gid AS (SELECT ref FROM pl_facts WHERE kind = 'member' AND subject IN (SELECT subject FROM uid) "
            f"AND {_LIVE})",
            f"pid AS (SELECT ref FROM pl_facts WHERE kind IN ('attach', 'boundary') AND subject IN "
            f"(SELECT subject FROM uid UNION ALL SELECT ref FROM gid) AND {_LIVE})",
            # policy and pdefault have one key per policy: the row in force at T is the last one
            # opened by T (one backward index probe, however long the history), if still open.
            "pp AS (SELECT (SELECT f.id FROM pl_facts f WHERE f.kind = 'policy' AND f.subject = pid.ref "
            "AND f.valid_from <= :at ORDER BY f.valid_from DESC LIMIT 1) AS id FROM pid)",
            "pd AS (SELECT (SELECT f.id FROM pl_facts f WHERE f.kind = 'pdefault' AND f.subject = pid.ref "
            "AND f.valid_from <= :at ORDER BY f.valid_from DESC LIMIT 1) AS id FROM pid)",
            f"dv AS (SELECT 'pver:' || subject || ':' || {_VERSION_ID.get(dialect, _VERSION_ID['sqlite'])} AS k "
            f"FROM pl_facts WHERE id IN (SELECT id FROM pd) AND valid_to > :at)",
        ]
        parts += [
            f"{_SELECT}kind = 'principal' AND ref = :caller AND {_LIVE}",
            f"{_SELECT}kind IN {_kinds(HOLDER_KINDS)} AND subject IN (SELECT subject FROM uid) AND {_LIVE}",
            f"{_SELECT}kind IN {_kinds(GROUP_KINDS)} AND subject IN (SELECT ref FROM gid) AND {_LIVE}",
            f"{_SELECT}id IN (SELECT id FROM pp UNION ALL SELECT id FROM pd) AND valid_to > :at",
            f"{_SELECT}fact_key IN (SELECT k FROM dv) AND {_LIVE}",
        ]
    if account:
        parts.append(f"{_SELECT}kind IN ('account', 'scp') AND subject = :account AND {_LIVE}")
    if bucket:
        # One key each per bucket, often with a long history of policy puts: last opened by T.
        parts.append(f"{_SELECT}id IN (" + " UNION ALL ".join(
            f"SELECT (SELECT f.id FROM pl_facts f WHERE f.kind = '{kind}' AND f.subject = :bucket "
            "AND f.valid_from <= :at ORDER BY f.valid_from DESC LIMIT 1)" for kind in ("bucket", "bucket_policy"))
            + ") AND valid_to > :at")
    if role:
        ctes.append(f"rid AS (SELECT subject FROM pl_facts WHERE kind = 'principal' AND ref = :role AND {_LIVE})")
        parts += [
            f"{_SELECT}kind = 'principal' AND ref = :role AND {_LIVE}",
            f"{_SELECT}kind = 'trust' AND subject IN (SELECT subject FROM rid) AND {_LIVE}",
        ]
    sql = ("WITH " + ", ".join(ctes) + " " if ctes else "") + " UNION ALL ".join(parts)
    hit = _STATEMENTS[key] = text(sql)
    return hit


def caller_bundle(engine: Engine, at: int, caller_arn: str | None, account: str | None,
                  bucket: str | None, role_arn: str | None) -> Bundle:
    """One UNION ALL statement: the IAM user/role `caller_arn` (its memberships, inline and
    attached policies, boundary, tags, revocations), its groups and theirs, every managed policy
    they attach (all versions in force), the account and its SCPs, and the resource side
    (bucket and bucket policy, or role and trust policy)."""
    out = Bundle()
    if not (caller_arn or account or bucket or role_arn):
        return out
    stmt = _statement(engine.dialect.name, bool(caller_arn), bool(account), bool(bucket), bool(role_arn))
    params = {"at": at, "caller": caller_arn, "account": account, "bucket": bucket, "role": role_arn}
    with engine.connect() as conn:
        rows = conn.execute(stmt, {k: v for k, v in params.items() if v is not None}).all()
    seen: set[tuple[str, int]] = set()
    for row in rows:
        if (row[0], row[4]) in seen:
            continue
        seen.add((row[0], row[4]))
        out.facts.append(_fact(row))
    if caller_arn is not None:
        uids = {x.subject for x in out.facts if x.kind == "principal" and x.ref == caller_arn}
        gids = {x.ref for x in out.facts if x.kind == "member" and x.subject in uids}
        pids = {x.ref for x in out.facts if x.kind in ("attach", "boundary") and x.subject in uids | gids}
        out.refs.add(("principal", caller_arn))
        out.subjects |= {(k, u) for u in uids for k in HOLDER_KINDS}
        out.subjects |= {(k, g) for g in gids for k in GROUP_KINDS}
        out.subjects |= {(k, p) for p in pids for k in ("policy", "pdefault")}
        out.triples |= {("pver", x.subject, str(x.payload.get("version_id")))
                        for x in out.facts if x.kind == "pdefault" and x.subject in pids}
    if account:
        out.subjects |= {("account", account), ("scp", account)}
    if bucket:
        out.subjects |= {("bucket", bucket), ("bucket_policy", bucket)}
    if role_arn:
        out.refs.add(("principal", role_arn))
        rids = {x.subject for x in out.facts if x.kind == "principal" and x.ref == role_arn}
        out.subjects |= {("trust", r) for r in rids}
    return out


# Decoded facts by store and full identity: a fact row never changes in place (a late event
# deletes and re-inserts a key's rows), so within one store equal columns mean an equal payload.
_DECODED: dict[tuple[str, str, int, int, int, int | None], Fact] = {}
_DECODED_MAX = 150_000
WHO_CAN_KINDS = ("principal", "account", "attach", "inline", "member", "policy", "pver", "pdefault",
                 "boundary", "trust", "scp", "bucket", "bucket_policy", "ownership", "tag", "revoked")


def live_facts(engine: Engine, token: str, at: int, kinds: Iterable[str] = WHO_CAN_KINDS) -> list[Fact]:
    """Every fact of `kinds` in force at T, decoding each distinct row's JSON once per process
    (the state at nearby times shares most rows); `token` names the store. Of managed policy
    versions only the default ones are read (by fact key): the others never bear on a
    decision, and their history is the longest of all kinds."""
    kinds = tuple(kinds)
    scanned = tuple(k for k in kinds if k != "pver")
    sql = f"{_SELECT}kind IN {_kinds(scanned)} AND {_LIVE}"
    if "pver" in kinds:
        version_id = _VERSION_ID.get(engine.dialect.name, _VERSION_ID["sqlite"])
        sql += (f" UNION ALL {_SELECT}fact_key IN (SELECT 'pver:' || subject || ':' || {version_id} "
                f"FROM pl_facts WHERE kind = 'pdefault' AND {_LIVE}) AND {_LIVE}")
    stmt = text(sql)
    out: list[Fact] = []
    cache = _DECODED
    with engine.connect() as conn:
        rows = conn.execute(stmt, {"at": at}).all()
    for row in rows:
        key = (token, row[0], row[4], row[5], row[6], row[8])
        f = cache.get(key)
        if f is None:
            f = _LazyFact(row)
            if len(cache) >= _DECODED_MAX:
                cache.clear()
            cache[key] = f
        out.append(f)
    return out


_QUEUE_ARN = {"sqlite": "json_extract(payload, '$.queue_arn')",
              "postgresql": "(CAST(payload AS json) ->> 'queue_arn')"}


def job_queue_spans(engine: Engine, account: str) -> list[tuple[str, int, int]]:
    """(queue ARN, earliest valid_from, valid_to) of the account's MediaConvert job facts, one row
    per queue and end: a queue is in force at T when a row has earliest ≤ T < end. Read in SQL
    (an account may hold thousands of jobs; none of their payloads is decoded here)."""
    queue = _QUEUE_ARN.get(engine.dialect.name, _QUEUE_ARN["sqlite"])
    stmt = text(f"SELECT {queue}, MIN(valid_from), valid_to FROM pl_facts WHERE kind = 'job' "
                f"AND subject = :account GROUP BY {queue}, valid_to")
    with engine.connect() as conn:
        return [(str(q), int(lo), int(hi)) for q, lo, hi in conn.execute(stmt, {"account": account}) if q]


def next_change(engine: Engine, at: int) -> int:
    """The first valid time after `at` at which any fact opens or closes (FOREVER if none): the
    state read at `at` holds until then."""
    with engine.connect() as conn:
        opens = conn.execute(select(func.min(facts_table.c.valid_from)).where(facts_table.c.valid_from > at)).scalar()
        closes = conn.execute(select(func.min(facts_table.c.valid_to)).where(facts_table.c.valid_to > at)).scalar()
    return min(x for x in (opens, closes, FOREVER) if x is not None)
