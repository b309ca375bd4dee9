"""Imports every command module so each registers its commands on the shared `app`."""

import importlib

for _module in ("core", "audit", "imports", "integrity"):
    try:
        importlib.import_module(f"ledger.cli.{_module}")
    except ModuleNotFoundError as missing:
        if missing.name != f"ledger.cli.{_module}":
            raise
