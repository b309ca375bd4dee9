"""CLI start-up loads only what a command needs: `--help` no storage or engine library, a warm
`can` no Alembic; a schema behind head is still migrated; deferred logging still logs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ledger.application.importing as importing_package
from ledger import Ledger

_PROBE = """
import sys
from ledger.cli import main
sys.argv = ["ledger", *{args!r}]
try:
    main()
except SystemExit:
    pass
print("LOADED " + " ".join(sorted(m for m in {watch!r} if m in sys.modules)), file=sys.stderr)
"""
_HEAVY = ["sqlalchemy", "alembic", "eventsourcing", "psycopg", "structlog", "ledger.domain.events",
          "ledger.policy.document", "cryptography", "pydantic", "msgspec", "sqlite3", "projections",
          "ledger.application", "ledger.catalog", "sqlalchemy.dialects.postgresql"]
# What typer itself loads to invoke any command (it coerces parameters with pydantic).
_TYPER_INVOKE = {"pydantic"}


def _loaded(*args: str, probe: str = _PROBE) -> list[str]:
    """Which of the heavy modules a CLI run in a fresh interpreter imported."""
    out = subprocess.run([sys.executable, "-c", probe.format(args=list(args), watch=_HEAVY)],
                         capture_output=True, text=True, check=True, timeout=120)
    line = [x for x in out.stderr.splitlines() if x.startswith("LOADED")][-1]
    return line.split()[1:]


class TestStartUpImports:
    def test_help_loads_no_storage_engine_or_model_library(self) -> None:
        """`ledger --help` imports none of SQLAlchemy, Alembic, eventsourcing, pydantic models."""
        assert [] == _loaded("--help")

    def test_command_help_loads_only_what_typer_needs_to_invoke(self) -> None:
        """`ledger can --help` and `ledger import config --help` load no store, model or engine of ours."""
        assert _TYPER_INVOKE >= set(_loaded("can", "--help"))
        assert _TYPER_INVOKE >= set(_loaded("import", "config", "--help"))

    def test_the_library_package_loads_nothing_until_a_name_is_used(self) -> None:
        """`import ledger` and `import ledger.application.importing` load no importer, store or engine."""
        probe = ("import sys, ledger, ledger.application.importing\n"
                 "print('LOADED ' + ' '.join(sorted(m for m in {watch!r} + ['ledger.application.importing.config',"
                 " 'ledger.application.importing.runner'] if m in sys.modules)), file=sys.stderr)\n")
        assert ["ledger.application"] == _loaded(probe=probe)

    def test_can_on_a_warm_store_does_not_load_alembic(self, tmp_path: Path) -> None:
        """A store already at the migration head answers `can` without importing Alembic."""
        url = f"sqlite:///{tmp_path}/warm.db"
        with Ledger.open(url) as ledger:
            ledger.create_account("111122223333", "a")
            ledger.create_user("111122223333", "bob")
            ledger.can("arn:aws:iam::111122223333:user/bob", "s3:GetObject", "*")
        loaded = _loaded("--db", url, "can", "arn:aws:iam::111122223333:user/bob", "s3:GetObject", "*")
        assert "alembic" not in loaded
        assert "sqlalchemy" in loaded
        assert "sqlalchemy.dialects.postgresql" not in loaded


class TestLazyImportingPackage:
    def test_every_public_importer_name_resolves_to_its_module_object(self) -> None:
        """Each name in `ledger.application.importing.__all__` is the object its module defines."""
        modules = {"ImportSummary": "runner", "import_buckets": "buckets", "import_cloudtrail": "runner",
                   "import_config": "config", "import_organization": "organization", "import_snapshot": "runner"}
        assert sorted(modules) == sorted(importing_package.__all__)
        for name, module in modules.items():
            assert getattr(importlib.import_module(f"ledger.application.importing.{module}"), name) is \
                getattr(importing_package, name)

    def test_an_unknown_name_is_an_attribute_error(self) -> None:
        """A name the package does not export raises AttributeError, as a plain module would."""
        with pytest.raises(AttributeError):
            _ = importing_package.no_such_importer


class TestMigrationShortcut:
    def test_a_schema_behind_head_is_still_migrated(self, tmp_path: Path) -> None:
        """A read-side schema one revision behind is brought to head when opened."""
        from alembic import command
        from alembic.config import Config
        from sqlalchemy import create_engine, inspect, text

        from projections.sql_schema import _MIGRATIONS, _head_revision

        url = f"sqlite:///{tmp_path}/old.db"
        with Ledger.open(url) as ledger:
            ledger.read_side().close()
        engine = create_engine(url)
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "-1")
        with engine.connect() as conn:
            assert [_head_revision()] != conn.execute(text("SELECT version_num FROM pl_alembic_version")).scalars().all()
        with Ledger.open(url) as ledger:
            ledger.read_side().close()
        with engine.connect() as conn:
            assert [_head_revision()] == conn.execute(text("SELECT version_num FROM pl_alembic_version")).scalars().all()
            indexes = {i["name"] for i in inspect(conn).get_indexes("pl_facts")}
        assert "ix_pl_facts_kind_subject_from" not in indexes
        engine.dispose()


class TestDeferredLogging:
    def test_logging_configured_before_structlog_loads_still_applies(self) -> None:
        """configure_logging('info') before structlog is imported logs info events on first use."""
        code = (
            "import sys\n"
            "from ledger.adapters.logging import configure_logging, get_logger\n"
            "configure_logging('info', json_output=True)\n"
            "assert 'structlog' not in sys.modules\n"
            "log = get_logger('probe')\n"
            "log.debug('hidden')\n"
            "log.info('shown', k=1)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
        lines = [json.loads(x) for x in out.stderr.splitlines() if x.startswith("{")]
        assert [("shown", 1)] == [(x["event"], x["k"]) for x in lines]
