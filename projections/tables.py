"""SQLAlchemy Core tables of the read side (the schema itself is owned by Alembic in migrations/).

Only persistence modules import this; folds and queries never see SQLAlchemy.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, Table, Text, UniqueConstraint

metadata = MetaData()

# Every change to a keyed fact, as folded from one event (kept so that a late, older event can
# re-derive that key's intervals by valid time rather than by arrival).
fact_changes = Table(
    "pl_fact_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fact_key", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("ref", Text, nullable=False),
    Column("op", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("cause", Text, nullable=False),
    Column("payload", Text, nullable=False),
    UniqueConstraint("position", "seq", name="uq_pl_fact_changes_position_seq"),
    Index("ix_pl_fact_changes_key_at", "fact_key", "at"),
)

# Validity intervals [valid_from, valid_to) in valid time (microseconds since the epoch).
facts = Table(
    "pl_facts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fact_key", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("ref", Text, nullable=False),
    Column("valid_from", BigInteger, nullable=False),
    Column("valid_to", BigInteger, nullable=False),
    Column("opened_position", BigInteger, nullable=False),
    Column("opened_type", Text, nullable=False),
    Column("closed_position", BigInteger, nullable=True),
    Column("closed_type", Text, nullable=True),
    Column("payload", Text, nullable=False),
    Index("ix_pl_facts_kind_subject_live", "kind", "subject", "valid_from", "valid_to"),
    Index("ix_pl_facts_kind_ref_from", "kind", "ref", "valid_from"),
    Index("ix_pl_facts_kind_from_to", "kind", "valid_from", "valid_to"),
    Index("ix_pl_facts_key_to", "fact_key", "valid_to"),
)

# One row per projection: the last log position whose effects are committed with the rows.
tracking = Table(
    "pl_tracking", metadata,
    Column("name", Text, primary_key=True),
    Column("position", BigInteger, nullable=False),
)
