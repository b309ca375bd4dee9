"""The README's library tour runs as written, and again: it uses a fresh file of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _run_tour() -> dict[str, object]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "the README has a python tour"
    namespace: dict[str, object] = {}
    try:
        exec(compile(blocks[0], str(README), "exec"), namespace)
    finally:
        ledger = namespace.get("ledger")
        if ledger is not None:
            ledger.close()  # type: ignore[attr-defined]
    return namespace


class TestReadmeTour:
    def test_the_python_tour_runs_and_its_claims_hold(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every statement of the tour executes; the decision it shows is 'allowed'."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("LEDGER_DB", raising=False)
        decision = _run_tour()["decision"]
        assert "allowed" == decision.eval_decision  # type: ignore[attr-defined]

    def test_the_tour_runs_twice_in_a_row(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A second run in the same place starts from its own fresh file, not from the first
        run's ledger (which would refuse to create the same accounts again)."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("LEDGER_DB", raising=False)
        first, second = _run_tour(), _run_tour()
        assert ["allowed", "allowed"] == [run["decision"].eval_decision for run in (first, second)]  # type: ignore[attr-defined]
        assert [] == list(tmp_path.iterdir())  # nothing left in the user's directory
