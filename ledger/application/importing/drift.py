"""Could vs did: every observed call (`AccessObserved`) re-decided by the ledger as of the moment
it happened, listing where AWS and the ledger disagree. Reads only; never records anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ledger.application.facade import Ledger
from ledger.domain import events as ev
from ledger.errors import LedgerError
from ledger.timeaxis import instant

# Calls IAM policies do not govern: any authenticated caller may make them (or they are not
# IAM-authorised at all), so they can never show drift.
NOT_IAM_AUTHORISED = {"sts:GetCallerIdentity", "signin:ConsoleLogin", "sts:GetSessionToken"}
ALLOWED_BUT_DENIED = "aws_allowed_ledger_denies"
DENIED_BUT_ALLOWED = "aws_denied_ledger_allows"


@dataclass
class Finding:
    """One disagreement between what AWS did and what the ledger's state decides."""

    kind: str
    at: str
    position: int | None
    principal: str
    action: str
    resource: str
    aws: str  # "allowed" or the error code
    ledger: str  # allowed | explicitDeny | implicitDeny | unknownPrincipal | error
    explanation: str
    matched: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DriftReport:
    since: str | None
    evaluated: int = 0
    agreed: int = 0
    not_applicable: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        counts = Counter(f.kind for f in self.findings)
        return {
            "since": self.since, "evaluated": self.evaluated, "agreed": self.agreed,
            ALLOWED_BUT_DENIED: counts.get(ALLOWED_BUT_DENIED, 0),
            DENIED_BUT_ALLOWED: counts.get(DENIED_BUT_ALLOWED, 0),
            "not_applicable": dict(sorted(self.not_applicable.items())),
            "findings": [asdict(f) for f in self.findings],
        }


def _condition_context(observed: ev.AccessObserved) -> dict[str, Any]:
    """Only condition keys (`service:key`) go to the evaluator; bookkeeping stays out."""
    return {k: v for k, v in observed.context.items() if ":" in k}


def _decision_text(decision: Any) -> tuple[str, list[dict[str, Any]], str]:
    data = decision.to_dict()
    verdict = str(data.get("EvalDecision") or decision.eval_decision)
    matched = [dict(m) for m in data.get("MatchedStatements") or ()]
    notes: list[str] = []
    unknown = data.get("UnknownPolicies") or []
    if unknown:
        notes.append(f"{len(unknown)} policy document(s) the ledger does not know")
    missing = data.get("MissingContextValues") or []
    if missing:
        notes.append("missing context: " + ", ".join(map(str, missing)))
    errors = data.get("Errors") or data.get("errors") or []
    if errors:
        notes.append("errors: " + "; ".join(map(str, errors))[:300])
    return verdict, matched, "; ".join(notes)


def drift(ledger: Ledger, since: datetime | str | None = None,
          progress: Callable[[int], None] | None = None) -> DriftReport:
    """Re-decide every observed call at its `occurred_at` (optionally only those since `since`)."""
    start = instant(since, default_now=False)
    report = DriftReport(since=start.isoformat() if start else None)
    for observed in ledger.store.iter_log(topics=["AccessObserved"], batch=2000):
        assert isinstance(observed, ev.AccessObserved)
        if start is not None and observed.occurred_at < start:
            continue
        if observed.action in NOT_IAM_AUTHORISED:
            report.not_applicable[observed.action] += 1
            continue
        if observed.principal_arn.endswith(".amazonaws.com"):
            report.not_applicable["service principal"] += 1
            continue
        report.evaluated += 1
        if progress and report.evaluated % 500 == 0:
            progress(report.evaluated)
        aws = "allowed" if observed.allowed else str(observed.error_code or "denied")
        try:
            decision = ledger.can(observed.principal_arn, observed.action, observed.resource,
                                  context=_condition_context(observed), at=observed.occurred_at)
        except LedgerError as error:
            if observed.allowed:
                report.findings.append(Finding(
                    ALLOWED_BUT_DENIED, observed.occurred_at.isoformat(), observed.position,
                    observed.principal_arn, observed.action, observed.resource, aws, "unknownPrincipal",
                    f"missing history: {error.message}"))
            else:
                report.agreed += 1
            continue
        verdict, matched, notes = _decision_text(decision)
        allowed = verdict == "allowed"
        if allowed == observed.allowed:
            report.agreed += 1
            continue
        if observed.allowed:
            why = ("the ledger's state denies it: missing history (a grant it never saw) or a permission "
                   f"the ledger does not know ({verdict})")
            kind = ALLOWED_BUT_DENIED
        else:
            why = (f"AWS denied it ({aws}) but the ledger allows it through the matched statements: "
                   "a restriction the ledger does not know (SCP, condition, revoked grant) or missing history")
            kind = DENIED_BUT_ALLOWED
        report.findings.append(Finding(
            kind, observed.occurred_at.isoformat(), observed.position, observed.principal_arn, observed.action,
            observed.resource, aws, verdict, f"{why}{'; ' + notes if notes else ''}", matched))
    return report


def source_conflicts(ledger: Ledger, since: datetime | str | None = None) -> dict[str, Any]:
    """Every fact one source (CloudTrail, a snapshot, Config, the API) set one way and another
    changed without a change of its own in between, across the whole log (`conflicts`)."""
    from ledger.application.importing.conflicts import disagreements
    from ledger.application.importing.observe import STATEFUL_TOPICS

    start = instant(since, default_now=False)
    history = sorted(ledger.store.iter_log(topics=STATEFUL_TOPICS, batch=5000),
                     key=lambda e: (e.occurred_at, e.position or 0))
    found = disagreements((event, False) for event in history)
    if start is not None:
        found = [c for c in found if (when := instant(c["this"]["at"], default_now=False)) is not None
                 and when >= start]
    return {"since": start.isoformat() if start else None, "conflicts": found}
