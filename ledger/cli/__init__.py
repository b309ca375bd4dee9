"""Command-line interface of permission-ledger (`ledger ...`)."""

from ledger.cli.app import app, main

__all__ = ["app", "main"]
