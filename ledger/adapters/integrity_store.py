"""The adapter between the event store and the pure integrity code (`ledger.integrity`): it reads
the stored log as raw records, from one snapshot, for checkpoints, verification and proofs.

It reads the store but never writes it, and never decodes events (a tampered state must reach the
hashes byte for byte, even if it is not JSON); the hashing and checking stay in `ledger.integrity`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.adapters.store import EVENTS_TABLE, EventStore
from ledger.errors import LedgerError, ProofError, StoreError
from ledger.integrity.checkpoint import DEFAULT_CHUNK_SIZE, Checkpoint, CheckpointBuilder
from ledger.integrity.leaves import Record
from ledger.integrity.logtree import InclusionProof, LogTree, build_log_tree, prove_inclusion
from ledger.integrity.verify import VerificationReport, verify_log

__all__ = [
    "checkpoint_store",
    "iter_store_records",
    "prove_store",
    "save_checkpoint",
    "store_log_tree",
    "verify_store",
]

_FETCH = 20_000
# The table name is a module constant, never user input; only the bound values vary.
# CAST: a state rewritten as TEXT behind the ledger's back must still hash as its bytes.
_SQLITE_SELECT = (
    f"SELECT rowid, originator_id, originator_version, topic, CAST(state AS BLOB) "  # noqa: S608 - constant table name
    f"FROM {EVENTS_TABLE} ORDER BY rowid"
)


def iter_store_records(store: EventStore, batch: int = _FETCH) -> Iterator[Record]:
    """Every stored event as `(position, originator_id, version, topic, state)`, in position
    order, from one consistent snapshot of the store (a read transaction), undecoded."""
    url = store.url
    try:
        if url.dialect == "sqlite" and url.sqlite_path not in (None, ":memory:"):
            yield from _sqlite_records(url.sqlite_path or "", batch)
        elif url.dialect == "postgresql":
            yield from _postgres_records(store, batch)
        else:
            yield from store.iter_records(batch=batch)
    except LedgerError:
        raise
    except Exception as error:  # noqa: BLE001 - driver errors become one typed store error
        text = (str(error).strip() or type(error).__name__).splitlines()[0][:300]
        raise StoreError(f"cannot read the event log: {text}") from None


def _sqlite_records(path: str, batch: int) -> Iterator[Record]:
    # A private read-only connection with plain tuple rows: faster than the recorder's
    # sqlite3.Row pool, and unable to write whatever happens.
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False)
    # Invalid UTF-8 planted in a text column must become a finding (an unencodable leaf),
    # not a decoding error that aborts the whole verification.
    conn.text_factory = _lenient_text
    try:
        conn.execute("BEGIN")  # one snapshot for the whole read (WAL readers never block writers)
        cursor = conn.execute(_SQLITE_SELECT)
        while True:
            rows = cursor.fetchmany(batch)
            if not rows:
                return
            # SQLite keeps the originator id as 32 hex digits; leaves.py accepts str UUIDs.
            yield from rows
    finally:
        conn.close()


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _postgres_records(store: EventStore, batch: int) -> Iterator[Record]:
    import psycopg
    from psycopg.rows import tuple_row
    from psycopg.sql import SQL, Identifier

    assert store.url.pg_params is not None
    schema = store.url.schema or "public"
    query = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM {schema}.{table} ORDER BY notification_id"
    ).format(schema=Identifier(schema), table=Identifier(EVENTS_TABLE))
    with psycopg.connect(**store.url.pg_params, row_factory=tuple_row) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        with conn.cursor(name="ledger_integrity_read") as cursor:
            cursor.itersize = batch
            cursor.execute(query)
            for position, originator_id, version, topic, state in cursor:
                yield position, originator_id, version, topic, bytes(state)
        conn.rollback()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def checkpoint_store(
    store: EventStore,
    signing_key: Ed25519PrivateKey | None = None,
    *,
    created_at: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    keep_leaf_hashes: bool = False,
) -> tuple[Checkpoint, bytes | None]:
    """A checkpoint of the whole stored log (signed when a key is given), plus the leaf-hash
    manifest bytes when asked for."""
    builder = CheckpointBuilder(chunk_size, keep_leaf_hashes=keep_leaf_hashes)
    builder.extend(iter_store_records(store))
    checkpoint = builder.checkpoint(created_at or _now(), signing_key)
    return checkpoint, builder.leaf_hashes if keep_leaf_hashes else None


def verify_store(
    store: EventStore,
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey | None = None,
    *,
    leaf_manifest: bytes | None = None,
) -> VerificationReport:
    """Recompute the tree from the stored events and check it against every checkpoint."""
    return verify_log(iter_store_records(store), checkpoints, public_key, leaf_manifest=leaf_manifest)


def store_log_tree(store: EventStore) -> LogTree:
    """The Merkle tree of the stored log (with each leaf's position)."""
    return build_log_tree(iter_store_records(store))


def prove_store(
    store: EventStore, position: int, checkpoint: Checkpoint | None = None
) -> tuple[InclusionProof, bool]:
    """An inclusion proof of the event at `position`, in the tree of `checkpoint` (default: the
    whole current log), and whether it verifies against that checkpoint's root."""
    log = store_log_tree(store)
    size = log.size if checkpoint is None else checkpoint.tree_size
    if size > log.size:
        raise ProofError(
            f"the checkpoint covers {size} events but the log has only {log.size}",
            tree_size=size,
        )
    proof = prove_inclusion(log, position, size)
    if proof.index >= size:
        raise ProofError(
            f"position {position} is not among the {size} events of the checkpoint",
            position=position,
        )
    expected = proof.root_hash if checkpoint is None else checkpoint.root_hash
    return proof, proof.verify(expected)


_CHECKPOINTS_DDL = {
    "sqlite": "CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
              "tree_size INTEGER NOT NULL, created_at TEXT NOT NULL, body TEXT NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS {table} (id BIGSERIAL PRIMARY KEY, "
                  "tree_size BIGINT NOT NULL, created_at TEXT NOT NULL, body TEXT NOT NULL)",
}


def save_checkpoint(store: EventStore, checkpoint: Checkpoint) -> None:
    """Keep `checkpoint` in the store (its own table, created on first use): `verify` and
    `--prove` then find it. A stored checkpoint is only as trustworthy as the store, unless it
    is signed by a key the verifier holds; keep a copy out of band."""
    from ledger.adapters.store_snapshot import CHECKPOINTS_TABLE

    url = store.url
    row = (checkpoint.tree_size, checkpoint.created_at, checkpoint.to_json())
    # Built from constants only: the schema is restricted by StoreUrl.parse; values are bound.
    qualified = f'"{url.schema}".{CHECKPOINTS_TABLE}' if url.schema else CHECKPOINTS_TABLE
    dialect = "sqlite" if url.dialect == "sqlite" else "postgresql"
    create = _CHECKPOINTS_DDL[dialect].format(table=qualified)
    mark = "?" if dialect == "sqlite" else "%s"
    insert = f"INSERT INTO {qualified} (tree_size, created_at, body) VALUES ({mark}, {mark}, {mark})"  # noqa: S608
    try:
        if url.dialect == "sqlite":
            conn = sqlite3.connect(url.sqlite_path or ":memory:", timeout=60, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(create)
                conn.execute(insert, row)
                conn.execute("COMMIT")
            finally:
                conn.close()
            return
        import psycopg

        assert url.pg_params is not None
        with psycopg.connect(**url.pg_params) as pg:
            pg.execute("SELECT pg_advisory_xact_lock(727275)")  # first use: one CREATE at a time
            pg.execute(create)
            pg.execute(insert, row)
    except Exception as error:  # noqa: BLE001 - driver errors become one typed store error
        text = (str(error).strip() or type(error).__name__).splitlines()[0][:300]
        raise StoreError(f"cannot save the checkpoint in the store: {text}") from None
