"""Imports every command module so each registers its commands on the shared `app`."""

from ledger.cli import audit, core, imports, integrity, maintain, report

__all__ = ["audit", "core", "imports", "integrity", "maintain", "report"]
