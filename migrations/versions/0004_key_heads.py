"""Per-key lookups of the incremental projector answered from indexes alone.

`pl_fact_changes (fact_key)` becomes `(fact_key, at)`: a key's latest valid time is read
from the index. `pl_facts (fact_key)` becomes `(fact_key, valid_to)`: a key's open interval
(valid_to = FOREVER) is one index probe. Both still serve every lookup by key alone.

Revision ID: 0004_key_heads
Revises: 0003_read_indexes
"""

from alembic import op

revision = "0004_key_heads"
down_revision = "0003_read_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_pl_fact_changes_key", table_name="pl_fact_changes")
    op.create_index("ix_pl_fact_changes_key_at", "pl_fact_changes", ["fact_key", "at"])
    op.drop_index("ix_pl_facts_key", table_name="pl_facts")
    op.create_index("ix_pl_facts_key_to", "pl_facts", ["fact_key", "valid_to"])


def downgrade() -> None:
    op.drop_index("ix_pl_facts_key_to", table_name="pl_facts")
    op.create_index("ix_pl_facts_key", "pl_facts", ["fact_key"])
    op.drop_index("ix_pl_fact_changes_key_at", table_name="pl_fact_changes")
    op.create_index("ix_pl_fact_changes_key", "pl_fact_changes", ["fact_key"])
