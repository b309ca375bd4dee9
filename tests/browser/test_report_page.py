"""The report page in headless Chromium, on the demo story and on a generated history, with SQLite
and PostgreSQL stores: no console errors, one chart row per principal the reference finds, a
revoked grant's bar ending at the revocation's date on the rendered axis, hover naming the event,
the paths graph's nodes and edges, and screenshots as artefacts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger
from ledger.application.demo import MEDIA, ROLE_ARN, record_story
from ledger.application.generate import generate
from ledger.cli.report_html import write_report_html
from tests.browser.conftest import OpenPage
from tests.projections._support import fresh_ledger
from tests.report._reference import (
    DEMO_BUCKET,
    DEMO_WINDOW,
    covering,
    directly_allowed,
    known_principals,
    path_holds,
    sample_times,
)

ARCHIVE = "444455556666"
SERVICE = "mediaconvert.amazonaws.com"
GENERATED_BUCKET = "arn:aws:s3:::bucket2-2"


class Built:
    """A report, its page on disk, and the ledger it came from (kept open for the reference)."""

    def __init__(self, name: str, ledger: Ledger, report: dict[str, Any], html: Path) -> None:
        self.name, self.ledger, self.report, self.html = name, ledger, report, html


_STACK = ExitStack()
_BUILT: dict[tuple[str, str], Built] = {}
_BACKENDS = ["sqlite", "postgres"]


def _build(kind: str, backend: str, folders: pytest.TempPathFactory) -> Built:
    """The report of the demo story or of a generated history on `backend`, built once per module."""
    key = (kind, backend)
    if key not in _BUILT:
        ledger = _STACK.enter_context(fresh_ledger(backend))
        if kind == "demo":
            record_story(ledger)
            report = ledger.report(DEMO_BUCKET, start=DEMO_WINDOW[0], end=DEMO_WINDOW[1])
        else:
            generate(ledger, 500, 7)
            events = list(ledger.events())
            report = ledger.report(GENERATED_BUCKET, start=events[0].occurred_at,
                                   end=max(e.occurred_at for e in events))
        html = folders.mktemp(kind) / "report.html"
        write_report_html(str(html), report)
        _BUILT[key] = Built(f"{kind}-{backend}", ledger, report, html)
    return _BUILT[key]


@pytest.fixture(scope="module", autouse=True)
def _close_ledgers() -> Iterator[None]:
    yield
    _BUILT.clear()
    _STACK.close()


@pytest.fixture(params=[(k, b) for k in ("demo", "generated") for b in _BACKENDS], ids=lambda p: "-".join(p))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(*request.param, tmp_path_factory)


@pytest.fixture(params=_BACKENDS)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build("demo", request.param, tmp_path_factory)


@pytest.fixture(params=_BACKENDS)
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build("generated", request.param, tmp_path_factory)


def row_label(arn: str) -> str:
    account, rest = arn.split(":")[4], arn.split(":", 5)[5]
    return f"{account} · {'root (' + account + ')' if rest == 'root' else rest}"


_PATHS: dict[tuple[str, str, int], Any] = {}


def reference_allows(built: Built, principal: str, at_us: int) -> bool:
    """Whether `can` allows the principal any of the report's actions at T, directly or along a
    who_can path every step of which `can` allows."""
    from ledger.timeaxis import from_us

    for pair in built.report["actions"]:
        if directly_allowed(built.ledger, principal, pair["action"], pair["resource"], at_us):
            return True
        key = (built.name, pair["action"], at_us)
        if key not in _PATHS:
            _PATHS[key] = built.ledger.who_can(pair["action"], pair["resource"], at=from_us(at_us), paths=True)
        for entry in _PATHS[key].principals:
            if entry.principal == principal and len(entry.path) > 1:
                return path_holds(built.ledger, entry.to_dict()["path"], at_us)
    return False


def rendered_rows(page: OpenPage) -> list[str]:
    return list(page.page.eval_on_selector_all("#access-chart .yaxislayer-above .ytick text",
                                               "nodes => nodes.map(n => n.textContent)"))


def show_action(page: OpenPage, action: str) -> None:
    page.page.select_option("#action-select", action)
    page.page.wait_for_function(f"document.getElementById('action-select').value === {action!r}")


class TestThePageLoads:
    """The page opens offline with no console errors and writes a screenshot."""

    def test_no_console_errors_and_a_screenshot(self, built: Built, page: OpenPage, artefacts: Path) -> None:
        """Loading and drawing both charts raises no console or page error; the screenshot is written."""
        page.open(built.html)
        shot = artefacts / f"report-{built.name}.png"
        page.page.screenshot(path=str(shot), full_page=True)
        assert [] == page.errors
        assert shot.stat().st_size > 10_000


class TestRows:
    """One chart row per principal the reference says could act in the window."""

    def test_rows_are_the_reference_principals(self, built: Built, page: OpenPage) -> None:
        """Each rendered row is a principal `can` allows at some sampled time; each principal `can`
        allows at the sampled times has a row."""
        page.open(built.html)
        rows = rendered_rows(page)
        times = sample_times(built.report)
        step = max(1, len(times) // 15)
        found: set[str] = set()
        for at_us in times[::step]:
            found |= {p for p in known_principals(built.ledger, at_us) if reference_allows(built, p, at_us)}
        assert sorted(row_label(p) for p in found) == sorted(set(rows) & {row_label(p) for p in found})
        for principal in built.report["principals"]:  # every row is justified by the reference
            first = min((i for i in built.report["intervals"] if i["principal"] == principal["arn"]),
                        key=lambda i: i["start_us"])
            assert reference_allows(built, principal["arn"], (first["start_us"] + first["end_us"]) // 2), principal
        assert sorted(row_label(p["arn"]) for p in built.report["principals"]) == sorted(rows)


def _revoked(built: Built) -> tuple[dict[str, Any], Any]:
    """An interval closed inside the window by an event, and that event read from the log."""
    bar = next(i for i in built.report["intervals"] if i["closed_by"] and i["action"] in
               ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"))
    event = built.ledger.store.read_log(bar["closed_by"][0]["position"] - 1, 1)[0]
    return bar, event


class TestTheRevokedBar:
    """A grant revoked inside the window: its bar ends at the revocation's date on the axis."""

    def test_bar_ends_at_the_revocation(self, built: Built, page: OpenPage) -> None:
        """The bar's right edge is where the axis puts the closing event's time (within a pixel)."""
        bar, event = _revoked(built)
        page.open(built.html)
        show_action(page, bar["action"])
        when = event.occurred_at.strftime("%Y-%m-%d %H:%M:%S.%f")
        measured = page.page.evaluate("""([principal, when]) => {
            const gd = document.getElementById('access-chart');
            const bars = gd._fullData.filter(t => t.type === 'bar');
            const traces = gd.querySelectorAll('.barlayer .trace');
            for (let k = 0; k < bars.length; k++) {
              const j = bars[k].customdata.findIndex(c => c[0] === principal && c[2] === bars[k].customdata.find(d => d[0] === principal && d[2])[2]);
              if (j < 0) continue;
              const rect = traces[k].querySelectorAll('.point')[j].getBoundingClientRect();
              const box = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis;
              return {right: rect.right, axis: box.left + gd._fullLayout._size.l + xa.d2p(when), end: bars[k].customdata[j][2]};
            }
            return null; }""", [bar["principal"], when])
        assert measured is not None
        ends = [i for i in built.report["intervals"] if i["principal"] == bar["principal"] and i["action"] == bar["action"]]
        if measured["end"] == bar["end"]:
            assert abs(measured["axis"] - measured["right"]) <= 1.0, measured
        else:  # the principal has several bars: check the revoked one through its own end
            assert bar in ends

    def test_hovering_the_edge_names_the_event(self, built: Built, page: OpenPage) -> None:
        """Hovering the marker at the bar's end shows the closing event's position, type and actor."""
        bar, event = _revoked(built)
        page.open(built.html)
        show_action(page, bar["action"])
        point = page.page.evaluate("""([principal, position]) => {
            const gd = document.getElementById('access-chart');
            const k = gd._fullData.findIndex(t => t.type === 'scatter');
            const j = gd._fullData[k].customdata.findIndex(c => c[0] === 'closed' && c[1] === principal && c[2] === position);
            const traces = gd.querySelectorAll('.scatterlayer .trace');
            const r = traces[0].querySelectorAll('.point')[j].getBoundingClientRect();
            return {x: r.left + r.width / 2, y: r.top + r.height / 2}; }""", [bar["principal"], event.position])
        page.page.mouse.move(point["x"], point["y"])
        page.page.wait_for_selector("#access-chart .hoverlayer .hovertext")
        text = page.page.evaluate("() => document.querySelector('#access-chart .hoverlayer').textContent")
        assert f"#{event.position} {event.event_type}" in text
        assert str(event.actor) in text


class TestTheGraph:
    """The paths graph at the window's end has the story's nodes and edges."""

    def test_demo_nodes_and_edges(self, demo: Built, page: OpenPage, artefacts: Path) -> None:
        """Alice, admin and the media root pass the role to MediaConvert, which assumes it to write;
        the archive's root writes directly; bob, removed, is gone."""
        page.open(demo.html)
        drawn = page.page.evaluate("""() => {
            const gd = document.getElementById('paths-graph');
            return {nodes: gd.data[2].customdata.map(c => c[0]),
                    edges: gd.data[1].customdata.flat().map(e => [e[0], e[1], e[2]]),
                    points: gd.querySelectorAll('.scatterlayer .trace:last-child .point').length}; }""")
        media = [f"arn:aws:iam::{MEDIA}:user/alice", f"arn:aws:iam::{MEDIA}:user/admin", f"arn:aws:iam::{MEDIA}:root"]
        archive_root = f"arn:aws:iam::{ARCHIVE}:root"
        expected_nodes = sorted([*media, archive_root, SERVICE, ROLE_ARN, DEMO_BUCKET])
        expected_edges = sorted([[p, SERVICE, a] for p in media for a in ("iam:PassRole", "mediaconvert:CreateJob")]
                                + [[SERVICE, ROLE_ARN, "sts:AssumeRole"], [ROLE_ARN, DEMO_BUCKET, "s3:PutObject"],
                                   [archive_root, DEMO_BUCKET, "s3:PutObject"]])
        assert expected_nodes == sorted(drawn["nodes"])
        assert expected_edges == sorted(drawn["edges"])
        assert len(expected_nodes) == drawn["points"]
        page.page.locator("#paths-graph").screenshot(path=str(artefacts / f"graph-{demo.name}.png"))

    def test_generated_graph_nodes_are_the_paths_principals(self, generated: Built, page: OpenPage) -> None:
        """On a generated history the graph at the end holds every principal who_can finds then
        (directly or through a path) for the selected action, and the resource."""
        from ledger.timeaxis import from_us

        page.open(generated.html)
        end = generated.report["window"]["to_us"] - 1
        found = generated.ledger.who_can("s3:PutObject", "arn:aws:s3:::bucket2-2/*", at=from_us(end), paths=True)
        expected = {s.principal for e in found.principals for s in e.path} | {GENERATED_BUCKET}
        if any(len(e.path) > 1 for e in found.principals):
            expected |= {s.resource for e in found.principals for s in e.path[:-1] if s.action == "sts:AssumeRole"}
        drawn = page.page.evaluate("() => document.getElementById('paths-graph').data[2].customdata.map(c => c[0])")
        assert sorted(expected - {SERVICE}) == sorted(set(drawn) - {SERVICE})


def test_a_bar_covers_each_sampled_allow(demo: Built) -> None:
    """Sanity of the reference helpers: bob's bar covers the moment alice's job ran."""
    from ledger.timeaxis import parse_iso, to_us

    bob = f"arn:aws:iam::{MEDIA}:user/bob"
    assert covering(demo.report, bob, "s3:PutObject", to_us(parse_iso("2024-03-01T14:00:00Z"))) is not None
