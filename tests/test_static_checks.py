"""The static checks anyone can run are part of the test command, so CI runs them too:
ruff over every Python tree, and mypy --strict over the two packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, check=False)


class TestStaticChecks:
    def test_ruff_finds_nothing_in_any_python_tree(self) -> None:
        result = _run("ruff", "check", "ledger", "projections", "tests", "benchmarks", "migrations")
        assert result.returncode == 0, result.stdout + result.stderr

    @pytest.mark.filterwarnings("ignore")
    def test_mypy_strict_accepts_the_library_and_the_read_side(self) -> None:
        result = _run("mypy", "--strict", "ledger", "projections")
        assert result.returncode == 0, result.stdout + result.stderr
