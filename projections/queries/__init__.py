"""The audit queries over the temporal projection: `ReadSide` coordinates one module per question.

`ReadSide` is the entry point; the question modules stay pure over a `Snapshot` and never write.
"""

from projections.queries.read_side import ReadSide

__all__ = ["ReadSide"]
