"""What the ledger knows of a request's time keys at T, and decisions that use it: aws:CurrentTime
is T; aws:TokenIssueTime a recorded instant, the interval AWS allows, or absent; never a guess.

Pure: evaluates through the policy engine; never reads the clock, a store or the caller's context.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ledger.policy as engine
from ledger.policy import Decision, PolicyEntry, PolicySet, Request, evaluate
from ledger.policy.conditions import parse_date
from ledger.policy.document import split_operator
from ledger.timeaxis import from_us, iso

CURRENT_TIME = "aws:CurrentTime"
EPOCH_TIME = "aws:EpochTime"
TOKEN_ISSUE_TIME = "aws:TokenIssueTime"  # noqa: S105 - a condition key name, not a secret
MFA_AGE = "aws:MultiFactorAuthAge"
# STS API Reference, AssumeRole DurationSeconds: "from 900 seconds (15 minutes) up to the maximum
# session duration set for the role", which is one hour unless the role says otherwise. (A chained
# session is shorter, at most one hour: the role's maximum is the wider, safe bound for it.)
ROLE_SESSION_DEFAULT_MAX_S = 3600
# A key with a long-term credential: present only with temporary credentials (TokenIssueTime)
# or when MFA was used (MultiFactorAuthAge); IAM users' access keys and the root user have neither.
LONG_TERM_ABSENT = frozenset({TOKEN_ISSUE_TIME.lower(), MFA_AGE.lower()})
# p2-engine's public type for a key known to lie in [low, high] (same name and fields as this
# stand-in); when the engine exports it, ranges go to the engine instead of being sampled here.
_ENGINE_RANGE: Any = getattr(engine, "ValueRange", None)
_SEVERITY = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}


@dataclass(frozen=True, slots=True)
class ValueRange:
    """A context key whose value lies somewhere in [low, high] (aware datetimes)."""

    low: datetime
    high: datetime


@dataclass(frozen=True)
class TimeKnowledge:
    """Concrete time keys, keys known only to lie in a range, and keys known to be absent
    (shared between requests: never changed once built)."""

    values: dict[str, str] = field(default_factory=dict)
    ranges: dict[str, ValueRange] = field(default_factory=dict)
    absent: frozenset[str] = frozenset()  # lower-case names

    def without(self, supplied: Any) -> TimeKnowledge:
        """What is left once the caller's own context supplies some keys (theirs win)."""
        if not supplied:
            return self
        given = {str(k).lower() for k in supplied}
        return TimeKnowledge({k: v for k, v in self.values.items() if k.lower() not in given},
                             {k: r for k, r in self.ranges.items() if k.lower() not in given},
                             frozenset(self.absent - given))


def at_time(at_us: int) -> dict[str, str]:
    """aws:CurrentTime and aws:EpochTime of a request made at T."""
    return {CURRENT_TIME: iso(at_us) or "", EPOCH_TIME: str(at_us // 1_000_000)}


NOTHING_KNOWN = TimeKnowledge()
# Long-term credentials (an IAM user's access keys, the root user) carry neither key.
LONG_TERM = TimeKnowledge(absent=LONG_TERM_ABSENT)


def hypothetical_session(at_us: int, longest_s: int) -> TimeKnowledge:
    """A session in force at T that the ledger did not record was issued at most `longest_s`
    seconds before T, and not after T."""
    low, high = from_us(at_us - longest_s * 1_000_000), from_us(at_us)
    assert low is not None and high is not None
    return TimeKnowledge(ranges={TOKEN_ISSUE_TIME: ValueRange(low, high)})


def settle(request: Request, policies: PolicySet, unknown_context: bool, knowledge: TimeKnowledge) -> Decision:
    """Evaluate with what the ledger knows: absent keys are absent even when other context is
    unknown, and a ranged key is settled when every value of its range gives the same answer."""
    if not knowledge.ranges and not (unknown_context and knowledge.absent):
        return evaluate(request, policies, unknown_context=unknown_context)
    if knowledge.ranges and _ENGINE_RANGE is not None:
        context = dict(request.context)
        context.update({k: _ENGINE_RANGE(r.low, r.high) for k, r in knowledge.ranges.items()})
        return _with_absent(_with_context(request, context), policies, unknown_context, knowledge.absent)
    decision = _with_absent(request, policies, unknown_context, knowledge.absent)
    missing = {m.lower() for m in decision.missing_context_values}
    for key, value_range in knowledge.ranges.items():
        if key.lower() in missing:
            decision = _sampled(request, policies, unknown_context, knowledge.absent, key, value_range, decision)
    return decision


def _with_context(request: Request, context: dict[str, Any]) -> Request:
    return Request(request.principal, request.action, request.resource, request.resource_account, context,
                   request.derive_context)


def _with_absent(request: Request, policies: PolicySet, unknown: bool, absent: frozenset[str]) -> Decision:
    """In unknown-context mode a key the ledger knows to be absent must not count as unknown: when
    only such keys are open the strict reading is exact; when other keys are open too, the
    answer stays the conservative one (those keys listed as missing)."""
    decision = evaluate(request, policies, unknown_context=unknown)
    if not unknown or not absent or not decision.missing_context_values:
        return decision
    missing = {m.lower() for m in decision.missing_context_values}
    if not missing & absent or not missing <= absent:
        return decision
    return evaluate(request, policies, unknown_context=False)


def _entries(policies: PolicySet) -> Iterator[PolicyEntry]:
    yield from policies.identity
    if policies.resource is not None:
        yield policies.resource
    yield from policies.boundaries or ()
    yield from policies.session or ()
    for level in policies.scps or ():
        yield from level


def _breakpoints(policies: PolicySet, key_lower: str) -> list[float] | None:
    """The instants (epoch seconds) where a date condition on the key can change its truth; None
    when a non-date operator reads the key (a range cannot be settled by sampling then)."""
    out: list[float] = []
    for entry in _entries(policies):
        for st in entry.compiled.document.statements:
            for operator, block in st.condition:
                for name, values in block:
                    if name.lower() != key_lower:
                        continue
                    parsed = split_operator(operator)
                    base = parsed[1] if parsed else ""
                    if base == "Null":
                        continue
                    if not base.startswith("Date"):
                        return None
                    out += [d for d in (parse_date(v) for v in values) if d is not None]
    return out


def _sample_points(low_us: int, high_us: int, breakpoints: list[float]) -> list[int]:
    """Every piece of [low, high] that the breakpoints cut it into, by one point each, and the
    breakpoints themselves: the conditions are constant on each piece."""
    cuts = sorted({low_us, high_us, *(round(b * 1_000_000) for b in breakpoints
                                      if low_us < b * 1_000_000 < high_us)})
    mids = [(a + b) // 2 for a, b in itertools.pairwise(cuts) if b - a > 1]
    return sorted(set(cuts) | set(mids))


def _sampled(request: Request, policies: PolicySet, unknown: bool, absent: frozenset[str], key: str,
             value_range: ValueRange, first: Decision) -> Decision:
    """The decision for every value the key can take in its range: one answer if they agree,
    else the most permissive (unknown context) or most restrictive one, conditional on the key."""
    breakpoints = _breakpoints(policies, key.lower())
    if breakpoints is None:
        if unknown:
            return first  # the key stays unknown: conservative
        return dataclasses.replace(first, eval_decision="implicitDeny", matched_statements=(), errors=(
            *first.errors, f"{key} is only known to lie in a range and a condition compares it "
                           "with a non-date operator"))
    low_us, high_us = _us(value_range.low), _us(value_range.high)
    decisions = []
    for point in _sample_points(low_us, high_us, breakpoints):
        context = dict(request.context, **{key: iso(point)})
        decisions.append(_with_absent(_with_context(request, context), policies, unknown, absent))
    if len({(d.eval_decision, d.conditional) for d in decisions}) == 1:
        return decisions[-1]
    if unknown:
        pick = min(decisions, key=lambda d: (_SEVERITY[d.eval_decision], d.conditional))
    else:
        pick = max(decisions, key=lambda d: _SEVERITY[d.eval_decision])
    keys = sorted({*pick.missing_context_values, key}, key=str.lower)
    return dataclasses.replace(pick, conditional=unknown, missing_context_values=tuple(keys))


def _us(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)
