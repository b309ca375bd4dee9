"""Imports every command module so each registers its commands on the shared `app`.

Start-up: every module imported here is loaded by `ledger --help` and by every command. At module
level they import only typer, Rich (through `ledger.cli.render`), `ledger.cli.app`, `ledger.errors`
and `ledger.timeaxis`; the application, projections, store, catalog and policy engine are imported
inside the command that uses them (names for annotations under `TYPE_CHECKING`).
`tests/foundation/test_startup.py` fails when `--help` loads one of them.
"""

from ledger.cli import audit, core, imports, integrity, maintain, report

__all__ = ["audit", "core", "imports", "integrity", "maintain", "report"]
