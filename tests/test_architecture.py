"""The layering and size rules of the code base, checked on the source text with `ast`: it never
imports the modules it checks, and never allow-lists a breach without a written reason."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("ledger", "projections", "migrations")
ALL_CODE = (*PRODUCT, "tests", "benchmarks")

# fnmatch's `*` also matches "/", so "ledger/policy/*" covers every module below that folder.
POLICY_ENGINE = ("ledger/policy/*",)
DOMAIN = ("ledger/domain/*", "ledger/policy/*", "ledger/integrity/*", "ledger/timeaxis.py", "ledger/errors.py",
          "ledger/gc_pause.py")
OUTSIDE_THE_DOMAIN = ("projections", "sqlalchemy", "alembic", "eventsourcing", "psycopg", "typer", "rich",
                      "structlog", "ledger.cli", "ledger.application", "ledger.adapters")
PROJECTIONS = ("projections/*",)
ABOVE_PROJECTIONS = ("ledger.cli", "ledger.application")
STORAGE_LIBRARIES = ("sqlalchemy", "alembic", "eventsourcing", "psycopg")
PERSISTENCE_MODULES = ("ledger/adapters/*", "projections/sql.py", "projections/sql_*.py", "projections/tables.py",
                       "migrations/*")

MAX_MODULE_LINES = 450
LONG_MODULES = {
    "ledger/domain/events.py": "the event catalogue: one cohesive table",
}
MAX_FUNCTION_LINES = 80
LONG_FUNCTIONS: dict[str, str] = {}


@dataclass(frozen=True)
class Import:
    """One imported module, made absolute; `from a import b` is `a.b` when `b` is a module of ours."""

    module: str
    line: int

    def is_of(self, names: tuple[str, ...]) -> bool:
        return any(self.module == name or self.module.startswith(name + ".") for name in names)


def modules(*tops: str) -> list[Path]:
    return sorted(path for top in tops for path in (ROOT / top).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def matches(path: Path, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch(relative(path), pattern) for pattern in patterns)


@cache
def syntax_tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_ours(dotted: str) -> bool:
    place = ROOT.joinpath(*dotted.split("."))
    return place.with_suffix(".py").is_file() or (place / "__init__.py").is_file()


def _package_of(path: Path) -> list[str]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return parts[:-1]


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    if node.level == 0:
        return node.module or ""
    package = _package_of(path)
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(path: Path) -> list[Import]:
    """Every import anywhere in the module: top level, inside functions and under TYPE_CHECKING."""
    return imports_in(syntax_tree(path), path)


def imports_in(tree: ast.Module, path: Path) -> list[Import]:
    """The distinct imports of a parsed module that lives at `path` (which anchors relative imports)."""
    return list(dict.fromkeys(_each_import(tree, path)))


def _each_import(tree: ast.Module, path: Path) -> Iterator[Import]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, path)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield Import(candidate if _is_ours(candidate) else base, node.lineno)


def _report(breaches: list[str]) -> str:
    return f"{len(breaches)} breach(es):\n" + "\n".join(breaches)


class TestTheScanner:
    """The import scanner sees every form of import, so the rules below cannot pass vacuously."""

    def test_it_resolves_absolute_relative_from_and_lazy_imports(self) -> None:
        """Plain, dotted, from-module, from-package, relative and function-local imports all count."""
        tree = ast.parse(
            "import json\nimport sqlalchemy.orm\nfrom ledger import errors\nfrom ledger.errors import LedgerError\n"
            "from . import arn\nfrom .document import parse_policy\n"
            "def lazy() -> None:\n    from projections.sql import SqlFacts\n"
        )
        found = [(i.module, i.line) for i in imports_in(tree, ROOT / "ledger" / "policy" / "probe.py")]
        assert sorted([("json", 1), ("sqlalchemy.orm", 2), ("ledger.errors", 3), ("ledger.errors", 4),
                       ("ledger.policy.arn", 5), ("ledger.policy.document", 6), ("projections.sql", 8)]) == sorted(found)

    def test_it_finds_the_layers_it_checks(self) -> None:
        """Each rule's set of modules is non-empty, so an empty glob cannot make a rule pass."""
        assert [] == [patterns for patterns in (POLICY_ENGINE, DOMAIN, PROJECTIONS, PERSISTENCE_MODULES)
                      if not any(matches(path, patterns) for path in modules(*PRODUCT))]


class TestImportRules:
    """Imports point inward: the pure core imports no framework; only persistence touches storage."""

    def test_the_policy_engine_imports_only_itself_pydantic_and_the_stdlib(self) -> None:
        """ledger/policy/** imports ledger.policy.*, pydantic and the standard library, nothing else."""
        breaches = [
            f"{relative(path)}:{imp.line}: imports {imp.module}: the policy engine imports only "
            "ledger.policy, pydantic and the stdlib"
            for path in modules(*PRODUCT) if matches(path, POLICY_ENGINE)
            for imp in imports_of(path)
            if not (imp.is_of(("ledger.policy", "pydantic")) or imp.module.split(".")[0] in sys.stdlib_module_names)
        ]
        assert not breaches, _report(breaches)

    def test_the_domain_imports_no_framework_storage_or_outer_layer(self) -> None:
        """The domain, policy engine, integrity, time axis, errors and GC helper import no framework,
        storage, projection, CLI, application or adapter module."""
        breaches = [
            f"{relative(path)}:{imp.line}: imports {imp.module}: the domain imports none of "
            f"{', '.join(OUTSIDE_THE_DOMAIN)}"
            for path in modules(*PRODUCT) if matches(path, DOMAIN)
            for imp in imports_of(path) if imp.is_of(OUTSIDE_THE_DOMAIN)
        ]
        assert not breaches, _report(breaches)

    def test_projections_never_import_the_cli_or_the_application(self) -> None:
        """projections/** is composed by the facade and the CLI, never the other way round."""
        breaches = [
            f"{relative(path)}:{imp.line}: imports {imp.module}: projections never import "
            f"{' nor '.join(ABOVE_PROJECTIONS)}"
            for path in modules(*PRODUCT) if matches(path, PROJECTIONS)
            for imp in imports_of(path) if imp.is_of(ABOVE_PROJECTIONS)
        ]
        assert not breaches, _report(breaches)

    def test_only_persistence_modules_touch_storage_libraries(self) -> None:
        """sqlalchemy, alembic, eventsourcing and psycopg appear only in ledger/adapters, the
        projections' table modules and migrations."""
        breaches = [
            f"{relative(path)}:{imp.line}: imports {imp.module}: only {', '.join(PERSISTENCE_MODULES)} "
            "touch storage libraries"
            for path in modules(*PRODUCT) if not matches(path, PERSISTENCE_MODULES)
            for imp in imports_of(path) if imp.is_of(STORAGE_LIBRARIES)
        ]
        assert not breaches, _report(breaches)


def _functions(path: Path) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(syntax_tree(path)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return (node.end_lineno or node.lineno) - node.lineno + 1


def _line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


class TestSizeLimits:
    """Modules stay under 450 lines and functions under 80, except the few listed with a reason."""

    def test_no_module_is_longer_than_the_limit(self) -> None:
        """Every module of the product, the tests and the benchmarks has at most 450 lines."""
        breaches = [
            f"{relative(path)}:{MAX_MODULE_LINES + 1}: {_line_count(path)} lines: "
            f"no module over {MAX_MODULE_LINES} lines"
            for path in modules(*ALL_CODE)
            if _line_count(path) > MAX_MODULE_LINES and relative(path) not in LONG_MODULES
        ]
        assert not breaches, _report(breaches)

    def test_no_function_is_longer_than_the_limit(self) -> None:
        """Every function (methods and nested functions included) has at most 80 lines."""
        breaches = [
            f"{relative(path)}:{node.lineno}: {node.name} has {_length(node)} lines: "
            f"no function over {MAX_FUNCTION_LINES} lines"
            for path in modules(*ALL_CODE)
            for node in _functions(path)
            if _length(node) > MAX_FUNCTION_LINES and f"{relative(path)}::{node.name}" not in LONG_FUNCTIONS
        ]
        assert not breaches, _report(breaches)

    def test_every_listed_exception_is_still_needed(self) -> None:
        """An allow-listed module or function that shrank under the limit (or is gone) leaves the list."""
        stale = [
            f"{name}: {_line_count(ROOT / name) if (ROOT / name).is_file() else 'no such module'} lines: "
            f"remove it from LONG_MODULES"
            for name in LONG_MODULES
            if not (ROOT / name).is_file() or _line_count(ROOT / name) <= MAX_MODULE_LINES
        ]
        for entry in LONG_FUNCTIONS:
            name, function = entry.split("::")
            lengths = [_length(node) for node in _functions(ROOT / name) if node.name == function] \
                if (ROOT / name).is_file() else []
            if not lengths or max(lengths) <= MAX_FUNCTION_LINES:
                stale.append(f"{entry}: {max(lengths, default=0)} lines: remove it from LONG_FUNCTIONS")
        assert not stale, _report(stale)
