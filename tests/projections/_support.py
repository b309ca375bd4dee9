"""Helpers shared by the projection tests: fresh stores on each backend, histories, fact dumps."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from ledger import Ledger
from ledger.errors import LedgerError

A, B = "111111111111", "222222222222"
T0 = datetime(2024, 3, 1, tzinfo=UTC)
PG_ENV = "LEDGER_TEST_POSTGRES_URL"


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def backend_url(backend: str, tmp: str) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{tmp}/l-{uuid.uuid4().hex[:8]}.db", None
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set; PostgreSQL behaviour tests need a server URL")
    schema = "t_" + uuid.uuid4().hex[:16]
    return f"{base}{'&' if '?' in base else '?'}schema={schema}", schema


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(os.environ[PG_ENV], autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def close(ledger: Ledger) -> None:
    rs = ledger.__dict__.get("_read_side_instance")
    if rs is not None:
        rs.close()
    ledger.close()


@contextmanager
def fresh_ledger(backend: str) -> Iterator[Ledger]:
    """A ledger on a brand-new SQLite file or PostgreSQL schema, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        url, schema = backend_url(backend, tmp)
        ledger = Ledger.open(url)
        try:
            yield ledger
        finally:
            close(ledger)
            if schema:
                drop_schema(schema)


def try_(fn: Any, *args: Any, **kwargs: Any) -> bool:
    try:
        fn(*args, **kwargs)
        return True
    except LedgerError:
        return False


def fact_rows(facts: list[Any]) -> list[tuple[Any, ...]]:
    return sorted((f.key, f.valid_from, f.valid_to, f.opened_position, f.opened_type, f.closed_position,
                   f.closed_type, json.dumps(f.payload, sort_keys=True)) for f in facts)


# ------------------------------------------------------------------ a small random history

def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


DOCS = [
    doc(allow("s3:GetObject", "arn:aws:s3:::data-*/*")),
    doc(allow("s3:*")),
    doc(deny("s3:DeleteObject"), allow(["s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::data-b/*")),
    doc(allow("sts:AssumeRole", f"arn:aws:iam::{A}:role/R")),
    doc(allow("s3:PutObject", "*", Condition={"StringEquals": {"aws:PrincipalTag/team": "media"}})),
]
BUCKET_DOCS = [
    doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "s3:*",
         "Resource": "arn:aws:s3:::data-b/*"}),
    doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/R"}, "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::data-b/*"}),
    doc({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-b/*"}),
]
TRUSTS = [
    doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "sts:AssumeRole"}),
    doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:user/alice"}, "Action": "sts:AssumeRole"}),
    doc({"Effect": "Allow", "Principal": {"Service": "mediaconvert.amazonaws.com"}, "Action": "sts:AssumeRole"}),
]
P = {n: f"arn:aws:iam::{A}:policy/{n}" for n in ("P0", "P1", "P2", "P3", "PB")}
USERS = ("alice", "bob")



def _create_policy(ledger: Ledger, i: int, m: float) -> Any:
    return ledger.create_policy(A, f"P{i}", DOCS[i], at=t(m))

def setup(ledger: Ledger) -> int:
    """Fixed opening of every generated history; returns the minute counter after it."""
    steps = [
        lambda m: ledger.create_account(A, "media", at=t(m)),
        lambda m: ledger.create_account(B, "partner", at=t(m)),
        lambda m: ledger.create_user(A, "alice", at=t(m)),
        lambda m: ledger.create_user(A, "bob", at=t(m)),
        lambda m: ledger.create_user(B, "carol", at=t(m)),
        lambda m: ledger.create_group(A, "devs", at=t(m)),
        lambda m: ledger.create_role(A, "R", TRUSTS[0], at=t(m)),
        lambda m: ledger.create_bucket(A, "data-a", object_ownership="ObjectWriter", at=t(m)),
        lambda m: ledger.create_bucket(B, "data-b", object_ownership="ObjectWriter", at=t(m)),
        *[partial(_create_policy, ledger, i) for i in range(4)],
        lambda m: ledger.create_policy(A, "PB", doc(allow("s3:*")), at=t(m)),
        lambda m: ledger.put_user_policy(B, "carol", "all", doc(allow("s3:*")), at=t(m)),
    ]
    for minute, step in enumerate(steps, start=1):
        step(minute)
    return len(steps) + 1


OPS = [
    "attach_user", "detach_user", "attach_group", "detach_group", "add_member", "remove_member",
    "put_inline", "delete_inline", "attach_role", "detach_role", "boundary", "unboundary",
    "new_version", "set_default", "bucket_policy", "no_bucket_policy", "trust", "assume",
    "revoke", "scp", "unscp", "delete_bob", "create_bob", "tag", "ownership",
]


def apply_op(ledger: Ledger, op: str, i: int, j: int, minute: int) -> bool:
    """One random command at minute `minute`; invalid ones (LedgerError) are skipped."""
    at = t(minute)
    user = USERS[i % 2]
    pol = P[f"P{j % 4}"]
    return {
        "attach_user": lambda: try_(ledger.attach_user_policy, A, user, pol, at=at),
        "detach_user": lambda: try_(ledger.detach_user_policy, A, user, pol, at=at),
        "attach_group": lambda: try_(ledger.attach_group_policy, A, "devs", pol, at=at),
        "detach_group": lambda: try_(ledger.detach_group_policy, A, "devs", pol, at=at),
        "add_member": lambda: try_(ledger.add_user_to_group, A, user, "devs", at=at),
        "remove_member": lambda: try_(ledger.remove_user_from_group, A, user, "devs", at=at),
        "put_inline": lambda: try_(ledger.put_user_policy, A, user, "inl", DOCS[j % len(DOCS)], at=at),
        "delete_inline": lambda: try_(ledger.delete_user_policy, A, user, "inl", at=at),
        "attach_role": lambda: try_(ledger.attach_role_policy, A, "R", pol, at=at),
        "detach_role": lambda: try_(ledger.detach_role_policy, A, "R", pol, at=at),
        "boundary": lambda: try_(ledger.put_user_permissions_boundary, A, user, P["P0"] if j % 2 else P["PB"], at=at),
        "unboundary": lambda: try_(ledger.delete_user_permissions_boundary, A, user, at=at),
        "new_version": lambda: try_(ledger.create_policy_version, P["P0"], DOCS[j % len(DOCS)],
                                    set_as_default=bool(i % 2), at=at),
        "set_default": lambda: try_(ledger.set_default_policy_version, P["P0"], f"v{1 + j % 3}", at=at),
        "bucket_policy": lambda: try_(ledger.put_bucket_policy, "data-b", BUCKET_DOCS[j % 3], at=at),
        "no_bucket_policy": lambda: try_(ledger.delete_bucket_policy, "data-b", at=at),
        "trust": lambda: try_(ledger.update_assume_role_policy, A, "R", TRUSTS[j % 3], at=at),
        "assume": lambda: try_(ledger.assume_role, f"arn:aws:iam::{A}:user/alice", f"arn:aws:iam::{A}:role/R",
                               "s1", 900 * (1 + j % 3), at=at),
        "revoke": lambda: try_(ledger.revoke_role_sessions, A, "R", at=at),
        "scp": lambda: try_(ledger.attach_scp, A, "scp1", doc(allow("*"), deny("s3:PutObject")), at=at),
        "unscp": lambda: try_(ledger.detach_scp, A, "scp1", at=at),
        "delete_bob": lambda: try_(ledger.delete_user, A, "bob", at=at),
        "create_bob": lambda: try_(ledger.create_user, A, "bob", at=at),
        "tag": lambda: try_(ledger.tag_user, A, user, {"team": "media" if j % 2 else "ops"}, at=at),
        "ownership": lambda: try_(ledger.put_bucket_ownership_controls, "data-b",
                                  ("BucketOwnerEnforced", "ObjectWriter")[j % 2], at=at),
    }[op]()


QUERIES = [
    (f"arn:aws:iam::{A}:user/alice", "s3:GetObject", "arn:aws:s3:::data-a/k"),
    (f"arn:aws:iam::{A}:user/alice", "s3:PutObject", "arn:aws:s3:::data-b/k"),
    (f"arn:aws:iam::{A}:user/bob", "s3:DeleteObject", "arn:aws:s3:::data-b/k"),
    (f"arn:aws:iam::{A}:user/bob", "s3:GetObject", "arn:aws:s3:::data-b/k"),
    (f"arn:aws:iam::{A}:user/alice", "sts:AssumeRole", f"arn:aws:iam::{A}:role/R"),
    (f"arn:aws:iam::{A}:role/R", "s3:PutObject", "arn:aws:s3:::data-b/k"),
    (f"arn:aws:sts::{A}:assumed-role/R/s1", "s3:GetObject", "arn:aws:s3:::data-a/k"),
    (f"arn:aws:iam::{A}:root", "s3:PutObject", "arn:aws:s3:::data-b/k"),
    (f"arn:aws:iam::{B}:user/carol", "s3:GetObject", "arn:aws:s3:::data-b/k"),
]
