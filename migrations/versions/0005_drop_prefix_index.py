"""Drop `pl_facts (kind, valid_from)`: a strict prefix of `(kind, valid_from, valid_to)` from
0003, which serves every lookup it did. One index fewer to maintain per projected fact.

Revision ID: 0005_drop_prefix_index
Revises: 0004_key_heads
"""

from alembic import op

revision = "0005_drop_prefix_index"
down_revision = "0004_key_heads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_pl_facts_kind_from", table_name="pl_facts")


def downgrade() -> None:
    op.create_index("ix_pl_facts_kind_from", "pl_facts", ["kind", "valid_from"])
