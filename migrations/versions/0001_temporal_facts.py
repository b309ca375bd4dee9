"""Temporal facts: per-key change rows, validity intervals and projection tracking.

Revision ID: 0001_temporal_facts
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_temporal_facts"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pl_fact_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fact_key", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("ref", sa.Text, nullable=False),
        sa.Column("op", sa.Text, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("cause", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.UniqueConstraint("position", "seq", name="uq_pl_fact_changes_position_seq"),
    )
    op.create_index("ix_pl_fact_changes_key", "pl_fact_changes", ["fact_key"])
    op.create_table(
        "pl_facts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fact_key", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("ref", sa.Text, nullable=False),
        sa.Column("valid_from", sa.BigInteger, nullable=False),
        sa.Column("valid_to", sa.BigInteger, nullable=False),
        sa.Column("opened_position", sa.BigInteger, nullable=False),
        sa.Column("opened_type", sa.Text, nullable=False),
        sa.Column("closed_position", sa.BigInteger, nullable=True),
        sa.Column("closed_type", sa.Text, nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_pl_facts_kind_subject_from", "pl_facts", ["kind", "subject", "valid_from"])
    op.create_index("ix_pl_facts_kind_ref_from", "pl_facts", ["kind", "ref", "valid_from"])
    op.create_index("ix_pl_facts_kind_from", "pl_facts", ["kind", "valid_from"])
    op.create_index("ix_pl_facts_key", "pl_facts", ["fact_key"])
    op.create_table(
        "pl_tracking",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pl_tracking")
    op.drop_table("pl_facts")
    op.drop_table("pl_fact_changes")
