"""The policy engine stands alone: it imports only itself, pydantic and the stdlib, and owns its errors."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import ledger.errors
import ledger.policy.errors
from ledger.policy import parse_policy

ENGINE = Path(ledger.policy.errors.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


def allowed(module: str) -> bool:
    top = module.split(".", maxsplit=1)[0]
    return module == "ledger.policy" or module.startswith("ledger.policy.") or top == "pydantic" \
        or top in sys.stdlib_module_names


class TestEngineImports:
    """Every module of ledger/policy imports nothing outside the engine but pydantic and the stdlib."""

    @pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda p: p.name)
    def test_module_imports_only_the_engine(self, path: Path) -> None:
        """No import of the rest of the ledger, of projections or of any other package."""
        assert set() == {m for m in imported_modules(path) if not allowed(m)}


class TestEngineErrors:
    """The engine defines its errors; `ledger.errors` re-exports them inside the one hierarchy."""

    @pytest.mark.parametrize("name", ["LedgerError", "ValidationError", "InvalidArnError",
                                      "PolicyValidationError", "ScenarioError"])
    def test_ledger_errors_reexports_the_engine_class(self, name: str) -> None:
        """`from ledger.errors import X` gives the very class the engine raises."""
        assert getattr(ledger.policy.errors, name) is getattr(ledger.errors, name)

    def test_ledger_errors_extend_the_engine_root(self) -> None:
        """The ledger's own errors are LedgerErrors of the engine's root class."""
        assert issubclass(ledger.errors.NotFoundError, ledger.policy.errors.LedgerError)
        assert issubclass(ledger.errors.InvalidNameError, ledger.policy.errors.ValidationError)

    def test_engine_error_is_caught_through_ledger_errors(self) -> None:
        """A rejected document is a ledger.errors.PolicyValidationError and a LedgerError."""
        with pytest.raises(ledger.errors.LedgerError) as caught:
            parse_policy({"Statement": []})
        assert (ledger.errors.PolicyValidationError, "MalformedPolicyDocument") == \
            (type(caught.value), caught.value.code)
