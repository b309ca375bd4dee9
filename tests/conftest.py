"""Shared fixtures: the same behaviour suite runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import settings

POSTGRES_ENV = "LEDGER_TEST_POSTGRES_URL"
HYPOTHESIS_PROFILE_ENV = "HYPOTHESIS_PROFILE"

# `ci`, the default, is what .ci/run and the README's test command run. No deadline: on a shared
# 2-core machine a wall-clock limit fails on load, not on a bug (speed is the benchmarks' job).
# Derandomized: every run tries the same examples, so a red run is a real failure that replays
# exactly, never a one-off that vanishes on retry; searching for new counter-examples is `dev`'s
# job (random, five times the examples, with the example database). No health check is
# suppressed globally; a test whose fixture or size truly trips one says so in its own settings.
settings.register_profile("ci", deadline=None, max_examples=100, derandomize=True)
settings.register_profile("dev", deadline=None, max_examples=500)
settings.load_profile(os.environ.get(HYPOTHESIS_PROFILE_ENV, "ci"))


@pytest.fixture(autouse=True)
def _logs_at_every_level() -> Iterator[None]:
    """Each test starts from structlog's defaults (every level), so `capture_logs` sees every
    event whatever an earlier CLI test configured."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def postgres_base_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def _drop_schema(base_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """A fresh, empty store URL on each backend (PostgreSQL in a private schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ledger.db"
        return
    base = postgres_base_url()
    if base is None:
        pytest.skip(f"{POSTGRES_ENV} is not set; PostgreSQL tests need a server URL")
    schema = "t_" + uuid.uuid4().hex[:16]
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}schema={schema}"
    _drop_schema(base, schema)
