"""Alembic environment and versions for every read-side table the project owns."""
