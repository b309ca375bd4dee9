"""The README's library tour runs as written, against a fresh default store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


class TestReadmeTour:
    def test_the_python_tour_runs_and_its_claims_hold(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every statement of the tour executes; the decision it shows is 'allowed'."""
        blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
        assert blocks, "the README has a python tour"
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("LEDGER_DB", raising=False)
        namespace: dict[str, object] = {}
        exec(compile(blocks[0], str(README), "exec"), namespace)
        decision = namespace["decision"]
        assert decision.eval_decision == "allowed"  # type: ignore[attr-defined]
        assert (tmp_path / "ledger.db").exists()
        namespace["ledger"].close()  # type: ignore[attr-defined]
