"""Drop `pl_facts (kind, subject, valid_from)`: a strict prefix of `(kind, subject, valid_from,
valid_to)` from 0003, which serves every lookup it did. One index fewer to build on a rebuild
(about a sixth of the index-build time) and to maintain per projected fact.

Revision ID: 0006_drop_subject_prefix_index
Revises: 0005_drop_prefix_index
"""

from alembic import op

revision = "0006_drop_subject_prefix_index"
down_revision = "0005_drop_prefix_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_pl_facts_kind_subject_from", table_name="pl_facts")


def downgrade() -> None:
    op.create_index("ix_pl_facts_kind_subject_from", "pl_facts", ["kind", "subject", "valid_from"])
