"""Benchmarks of permission-ledger."""
