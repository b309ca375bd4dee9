"""Headless Chromium for the report's browser tests: the system's `chromium-headless-shell`
(Debian's package; `.ci/run` installs it), launched by Playwright through `executable_path`.
The tests skip, saying why, only when no such executable or Playwright can be found."""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ENV = "LEDGER_TEST_CHROMIUM"
ARTEFACTS_ENV = "LEDGER_TEST_ARTEFACTS"


def chromium_executable() -> str | None:
    """$LEDGER_TEST_CHROMIUM, else Debian's chromium-headless-shell, else another Chromium."""
    given = os.environ.get(CHROMIUM_ENV)
    if given:
        return given if os.path.isfile(given) else None
    for name in ("chromium-headless-shell", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    candidates = sorted(glob.glob("/usr/lib/chromium*/chromium-headless-shell"))
    return candidates[0] if candidates else None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install -e '.[dev]')")
    executable = chromium_executable()
    if executable is None:
        pytest.skip("no Chromium executable: apt-get install chromium-headless-shell (.ci/run does), "
                    f"or set {CHROMIUM_ENV}")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    """Where screenshots go: $LEDGER_TEST_ARTEFACTS when set (kept), else the test's tmp dir."""
    folder = Path(os.environ.get(ARTEFACTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class OpenPage:
    """A report page open in Chromium, with every console error and page error it raised."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def open(self, path: Path) -> OpenPage:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("#access-chart .main-svg")
        self.page.wait_for_selector("#paths-graph .main-svg")
        return self


@pytest.fixture
def page(browser: Any) -> Iterator[OpenPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = OpenPage(context.new_page())
    yield opened
    context.close()
