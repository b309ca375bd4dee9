"""An independent reference for reports: the existing point-in-time `can`, asked per principal,
per action and per sampled time (each change point and the middle of each span between them)."""

from __future__ import annotations

from typing import Any

from ledger import Ledger
from ledger.timeaxis import from_us

DEMO_WINDOW = ("2024-01-01T00:00:00Z", "2024-04-01T00:00:00Z")
DEMO_BUCKET = "arn:aws:s3:::archive-media-out"


def known_principals(ledger: Ledger, at_us: int) -> list[str]:
    """Every user, role and account root in force at `at_us`."""
    snap, _ = ledger.read_side().snapshot(from_us(at_us))
    snap = snap.preload()
    return sorted({p.arn for p in snap.principals()} | {f"arn:aws:iam::{a}:root" for a in snap.accounts()})


def sample_times(report: dict[str, Any]) -> list[int]:
    """The window's start, every change point, and the middle of each span between them."""
    points = sorted({report["window"]["from_us"]} | {s["at_us"] for s in report["graph"]["samples"]})
    ends = [*points[1:], report["window"]["to_us"]]
    return sorted(set(points) | {(a + b) // 2 for a, b in zip(points, ends, strict=True) if b > a})


def directly_allowed(ledger: Ledger, principal: str, action: str, resource: str, at_us: int) -> bool:
    """`can` at T, with the context keys nobody supplied treated as unknown (a conditional allow counts)."""
    d = ledger.read_side().can(principal, action, resource, at=from_us(at_us), unknown_context=True)
    return d.eval_decision == "allowed"


def covering(report: dict[str, Any], principal: str, action: str, at_us: int) -> dict[str, Any] | None:
    """The report's interval of (principal, action) in force at `at_us`, if any."""
    return next((i for i in report["intervals"] if i["principal"] == principal and i["action"] == action
                 and i["start_us"] <= at_us < i["end_us"]), None)


def path_holds(ledger: Ledger, path: list[dict[str, Any]], at_us: int) -> bool:
    """Every step of a path is allowed at T by `can` (with the context the path supplies)."""
    for step in path:
        if step["principal"].endswith(".amazonaws.com"):
            continue  # a service's AssumeRole is decided by the trust policy: the role's own can() below
        d = ledger.read_side().can(step["principal"], step["action"], step["resource"], context=step.get("context"),
                                   at=from_us(at_us), unknown_context=True)
        if d.eval_decision != "allowed":
            return False
    return True
