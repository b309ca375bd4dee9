"""Context keys given as a range (`ValueRange`): a condition is settled when it holds, or fails,
for every value of the range, and unknown only when it truly depends on the value."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import ValidationError
from ledger.policy import PolicySet, PolicyType, Request, ValueRange, evaluate, principal_from_arn
from ledger.policy.conditions import CompiledCondition
from ledger.policy.ranges import number_text, settle
from tests.policy._helpers import A, allow, decide, doc, entry

T0 = datetime(2024, 3, 1, 14, 0, tzinfo=UTC)
KEY = "aws:TokenIssueTime"
MFA = "aws:MultiFactorAuthAge"
SESSION = f"arn:aws:sts::{A}:assumed-role/Editor/s1"
BASES = ["Equals", "NotEquals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals"]
FORMS = [("", ""), ("", "IfExists"), ("ForAllValues:", ""), ("ForAnyValue:", "")]


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def condition(operator: str, key: str, values: list[str]) -> CompiledCondition:
    return CompiledCondition(operator, key, tuple(values), True)


def scalar(cond: CompiledCondition, text: str) -> bool:
    """Reference: the ordinary (scalar) evaluation with the key holding one value."""
    result = cond.evaluate({cond.key: (text,)}, False)
    assert result is not None
    return result


class TestValueRange:
    """A range is two aware datetimes or two finite numbers, low <= high."""

    @pytest.mark.parametrize("low, high", [
        (datetime(2024, 1, 1), datetime(2024, 1, 2)),  # naive
        (T0, 5),
        (1, "2"),
        (True, 5),
        (0, float("inf")),
        (T0, T0 - timedelta(seconds=1)),
        (5, 4),
    ], ids=["naive", "mixed", "text", "bool", "infinite", "dates-reversed", "numbers-reversed"])
    def test_bad_ranges_are_validation_errors(self, low: Any, high: Any) -> None:
        """Anything else is rejected with a typed error."""
        with pytest.raises(ValidationError):
            ValueRange(low, high)

    def test_offsets_are_honoured(self) -> None:
        """A datetime in another offset is the same instant."""
        plus_two = T0.astimezone(timezone(timedelta(hours=2)))
        assert ValueRange(T0, T0).bounds() == ValueRange(plus_two, plus_two).bounds()

    def test_a_ranged_key_is_not_a_string_value(self) -> None:
        """The request keeps the range apart; the key has no single value in the context."""
        r = Request(principal_from_arn(SESSION), "s3:GetObject",
                    context={"AWS:TokenIssueTime": ValueRange(T0, T0)})
        assert ("aws:tokenissuetime" not in r.ctx, ValueRange(T0, T0)) == (True, r.ranges["aws:tokenissuetime"])

    @pytest.mark.parametrize("x", [0.0, 5.0, -3.25, 1e-05, 123456789012.5, 1e20])
    def test_number_text_reads_back_exactly(self, x: float) -> None:
        """A number's context text is positional and reads back as the same number."""
        text = number_text(x)
        assert (x, False) == (float(text), "e" in text)


# --------------------------------------------------------------------------- one condition

DATE_TABLE = [
    # operator, policy values (hours after T0), range (hours), expected
    ("DateLessThan", [-24], (-12, 0), False),
    ("DateLessThan", [24], (-12, 0), True),
    ("DateLessThan", [-6], (-12, 0), None),
    ("DateLessThan", [0], (-12, 0), None),
    ("DateLessThanEquals", [0], (-12, 0), True),
    ("DateGreaterThan", [-12], (-12, 0), None),
    ("DateGreaterThanEquals", [-12], (-12, 0), True),
    ("DateEquals", [-6], (-12, 0), None),
    ("DateEquals", [-6], (-6, -6), True),
    ("DateEquals", [5, 7], (-12, 0), False),
    ("DateNotEquals", [5, 7], (-12, 0), True),
    ("DateNotEquals", [-6], (-12, 0), None),
    ("DateLessThan", [-100, 100], (-12, 0), True),
    ("DateGreaterThan", [-100, 100], (-12, 0), True),
    ("DateLessThanIfExists", [-24], (-12, 0), False),
    ("ForAnyValue:DateGreaterThan", [-24], (-12, 0), True),
    ("ForAllValues:DateNotEquals", [-6], (-12, 0), None),
    ("NumericLessThan", [1], (-12, 0), False),  # a date's text never reads as a number
    ("NumericNotEquals", [1], (-12, 0), True),
]


class TestOneCondition:
    """`settle`: every Date/Numeric operator, IfExists, qualifiers, negation and several values."""

    @pytest.mark.parametrize("operator, hours, span, expected", DATE_TABLE,
                             ids=[f"{o}-{h}-{s}" for o, h, s, _ in DATE_TABLE])
    def test_date_table(self, operator: str, hours: list[int], span: tuple[int, int],
                        expected: bool | None) -> None:
        """Settled exactly when every value of the range agrees."""
        cond = condition(operator, KEY, [iso(T0 + timedelta(hours=h)) for h in hours])
        low, high = (T0 + timedelta(hours=h) for h in span)
        assert expected == settle([cond], ValueRange(low, high))

    @pytest.mark.parametrize("operator, values, span, expected", [
        ("NumericLessThan", ["3600"], (0, 1800), True),
        ("NumericLessThan", ["3600"], (0, 3600), None),
        ("NumericLessThanEquals", ["3600"], (0, 3600), True),
        ("NumericGreaterThan", ["3600"], (0, 3600), False),
        ("NumericGreaterThanIfExists", ["3600"], (0, 3601), None),
        ("NumericEquals", ["10", "20"], (10, 10), True),
        ("NumericNotEquals", ["10", "20"], (0, 5), True),
        ("NumericNotEquals", ["10", "20"], (0, 15), None),
        ("NumericEquals", ["not-a-number"], (0, 15), False),
        ("DateGreaterThan", ["1000"], (2000, 3000), True),  # numbers as epoch seconds
    ])
    def test_number_table(self, operator: str, values: list[str], span: tuple[int, int],
                          expected: bool | None) -> None:
        """Numeric keys settle the same way."""
        assert expected == settle([condition(operator, MFA, values)], ValueRange(*span))

    @pytest.mark.parametrize("values, expected", [(["true"], False), (["false"], True),
                                                  (["true", "false"], True)])
    def test_null_knows_the_key_exists(self, values: list[str], expected: bool) -> None:
        """A ranged key is present, whatever its value: Null settles at once."""
        assert expected == settle([condition("Null", KEY, values)], ValueRange(T0, T0))

    def test_text_operators_stay_unknown(self) -> None:
        """A string operator on a ranged key cannot be settled from the range."""
        assert None is settle([condition("StringLike", KEY, ["2024-*"])], ValueRange(T0, T0))

    def test_a_failing_condition_settles_the_conjunction(self) -> None:
        """AND: one condition false everywhere decides, even beside an unknown one."""
        conds = [condition("StringLike", KEY, ["2024-*"]),
                 condition("DateLessThan", KEY, [iso(T0 - timedelta(days=1))])]
        assert False is settle(conds, ValueRange(T0 - timedelta(hours=1), T0))

    def test_two_conditions_leaving_no_value(self) -> None:
        """After 12:00 and before 06:00 holds nowhere, although each holds somewhere."""
        conds = [condition("DateGreaterThan", KEY, [iso(T0 - timedelta(hours=2))]),
                 condition("DateLessThan", KEY, [iso(T0 - timedelta(hours=8))])]
        assert False is settle(conds, ValueRange(T0 - timedelta(hours=12), T0))


# --------------------------------------------------------------------------- property vs brute force

operators = st.tuples(st.sampled_from(FORMS), st.sampled_from(BASES)).map(
    lambda f: f"{f[0][0]}{{family}}{f[1]}{f[0][1]}")
offsets = st.integers(min_value=-10_000, max_value=10_000)  # seconds around T0, µs precision below
micros = st.integers(min_value=0, max_value=999_999)


def _date(seconds: int, us: int) -> datetime:
    return T0 + timedelta(seconds=seconds, microseconds=us)


def _date_samples(low: datetime, high: datetime, points: list[datetime], rng: random.Random) -> list[datetime]:
    """Reference samples: the ends, every policy point and its microsecond neighbours, and
    random instants; the ones inside the range."""
    out = [low, high]
    for p in points:
        out += [p - timedelta(microseconds=1), p, p + timedelta(microseconds=1)]
    span = int((high - low) / timedelta(microseconds=1))
    out += [low + timedelta(microseconds=rng.randint(0, span)) for _ in range(40)]
    return [s for s in out if low <= s <= high]


class TestAgainstBruteForce:
    """Settled ⇒ every sampled value agrees; unknown ⇒ sampled values disagree (exact)."""

    @settings(max_examples=300)
    @given(operators, st.lists(st.tuples(offsets, micros), min_size=1, max_size=3),
           st.tuples(offsets, micros), st.tuples(offsets, micros), st.booleans())
    def test_date_conditions(self, operator: str, values: list[tuple[int, int]], a: tuple[int, int],
                             b: tuple[int, int], negate: bool) -> None:
        """Every Date operator (IfExists, ForAllValues/ForAnyValue) over random date ranges."""
        points = [_date(*v) for v in values]
        low, high = sorted([_date(*a), _date(*b)])
        cond = condition(operator.format(family="Date"), KEY, [iso(p) for p in points])
        result = settle([cond], ValueRange(low, high))
        seen = {scalar(cond, iso(s)) for s in _date_samples(low, high, points, random.Random(1))}
        if result is None:
            assert {True, False} == seen
        else:
            assert {result} == seen

    @settings(max_examples=300)
    @given(operators, st.lists(st.integers(-50, 50), min_size=1, max_size=3),
           st.integers(-60, 60), st.integers(-60, 60), st.sampled_from(["", ".5"]))
    def test_numeric_conditions(self, operator: str, values: list[int], a: int, b: int,
                                fraction: str) -> None:
        """Every Numeric operator over random integer ranges with integer or half values."""
        low, high = sorted([a, b])
        texts = [f"{v}{fraction}" for v in values]
        cond = condition(operator.format(family="Numeric"), MFA, texts)
        result = settle([cond], ValueRange(low, high))
        samples = {low, high} | {float(t) + d for t in texts for d in (-0.25, 0.0, 0.25)}
        samples |= {low + (high - low) * i / 16 for i in range(17)}
        seen = {scalar(cond, number_text(s)) for s in samples if low <= s <= high}
        if result is None:
            assert {True, False} == seen
        else:
            assert {result} == seen


# --------------------------------------------------------------------------- whole decisions

def put_with(*conditions: dict[str, Any]) -> list[dict[str, Any]]:
    return [doc(*(allow("s3:PutObject", "*", Sid=f"S{i}", Condition=c) for i, c in enumerate(conditions)))]


RANGE = ValueRange(T0 - timedelta(hours=12), T0)


class TestDecisions:
    """A decision over a ranged key: settled, or conditional with the key listed as missing."""

    def test_settled_false_is_not_listed(self) -> None:
        """A condition failing for the whole range grants nothing and lists nothing."""
        d = decide(principal=SESSION, action="s3:PutObject", resource_account=A, context={KEY: RANGE},
                   identity=put_with({"DateLessThan": {KEY: "2020-01-01T00:00:00Z"}}))
        assert ("implicitDeny", False, ()) == (d.eval_decision, d.conditional, d.missing_context_values)

    def test_open_condition_is_conditional_and_listed(self) -> None:
        """A date inside the range leaves the grant conditional on the key."""
        d = decide(principal=SESSION, action="s3:PutObject", resource_account=A, context={KEY: RANGE},
                   identity=put_with({"DateGreaterThan": {KEY: iso(T0 - timedelta(hours=6))}}))
        assert ("allowed", True, (KEY,)) == (d.eval_decision, d.conditional, d.missing_context_values)

    def test_open_deny_makes_the_allow_conditional(self) -> None:
        """An unsettled Deny beside an unconditional Allow: allowed, conditionally."""
        pol = doc(allow("s3:*", Sid="All"), {"Effect": "Deny", "Action": "*", "Resource": "*",
                  "Condition": {"DateLessThan": {KEY: iso(T0 - timedelta(hours=6))}}})
        d = decide(principal=SESSION, action="s3:PutObject", resource_account=A, context={KEY: RANGE},
                   identity=[pol])
        assert ("allowed", True) == (d.eval_decision, d.conditional)

    def test_pieces_that_agree_settle_the_decision(self) -> None:
        """Allows before and after a date together cover the range: allowed, not conditional."""
        cut = iso(T0 - timedelta(hours=6))
        d = decide(principal=SESSION, action="s3:PutObject", resource_account=A, context={KEY: RANGE},
                   identity=put_with({"DateLessThan": {KEY: cut}}, {"DateGreaterThanEquals": {KEY: cut}}))
        assert ("allowed", False, ["S0", "S1"]) == (
            d.eval_decision, d.conditional, sorted(m.sid or "" for m in d.matched_statements))

    def test_text_operator_keeps_it_conditional(self) -> None:
        """Pieces are not tried when a ranged key meets a text operator: it stays conditional."""
        d = decide(principal=SESSION, action="s3:PutObject", resource_account=A, context={KEY: RANGE},
                   identity=put_with({"StringLike": {KEY: "2024-03-01T1*"}}))
        assert ("allowed", True, (KEY,)) == (d.eval_decision, d.conditional, d.missing_context_values)

    def test_policy_variable_on_a_ranged_key_is_missing(self) -> None:
        """A ranged key has no single value to substitute: the variable is missing."""
        pol = doc(allow("s3:PutObject", Condition={"StringEquals": {"s3:x-amz-meta-issued": "${aws:TokenIssueTime}"}}))
        d = decide(principal=SESSION, action="s3:PutObject", resource_account=A,
                   context={KEY: RANGE, "s3:x-amz-meta-issued": iso(T0)}, identity=[pol])
        assert ("implicitDeny", (KEY.lower(),)) == (d.eval_decision, d.missing_context_values)

    def test_other_unknown_keys_still_count(self) -> None:
        """In unknown-context mode, a missing key beside a settled range stays conditional."""
        d = decide(principal=SESSION, action="s3:PutObject", resource_account=A, context={KEY: RANGE},
                   unknown_context=True, identity=put_with({
                       "DateGreaterThan": {KEY: "2020-01-01T00:00:00Z"}, "Bool": {"aws:SecureTransport": "true"}}))
        assert ("allowed", True, ("aws:SecureTransport",)) == (
            d.eval_decision, d.conditional, d.missing_context_values)


def _statement(effect: str, op: str, hours: int) -> dict[str, Any]:
    return {"Effect": effect, "Action": "s3:PutObject", "Resource": "*",
            "Condition": {op: {KEY: iso(T0 + timedelta(hours=hours))}}}


class TestDecisionAgainstBruteForce:
    """A decision that is not conditional is the decision at every sampled instant of the range."""

    @settings(max_examples=150)
    @given(st.lists(st.tuples(st.sampled_from(["Allow", "Deny"]),
                              st.sampled_from([f"Date{b}" for b in BASES]), st.integers(-14, 2)),
                    min_size=1, max_size=4),
           st.integers(-14, 0), st.integers(-14, 0))
    def test_settled_decisions_hold_everywhere(self, stmts: list[tuple[str, str, int]], a: int, b: int) -> None:
        """Settled decisions agree with a scalar evaluation at each sample; conditional ones do not all agree."""
        low, high = sorted([T0 + timedelta(hours=a), T0 + timedelta(hours=b)])
        identity = [doc(*(_statement(*s) for s in stmts))]
        d = decide(principal=SESSION, action="s3:PutObject", resource_account=A,
                   context={KEY: ValueRange(low, high)}, identity=identity)
        points = [T0 + timedelta(hours=h) for _, _, h in stmts]
        samples = _date_samples(low, high, points, random.Random(2))
        seen = {decide(principal=SESSION, action="s3:PutObject", resource_account=A, context={KEY: iso(s)},
                       identity=identity).eval_decision for s in samples}
        if d.conditional:
            assert len(seen) > 1
        else:
            assert {d.eval_decision} == seen


def test_evaluate_accepts_ranges_directly() -> None:
    """The public contract: `Request(context={key: ValueRange(...)})` into `evaluate`."""
    ps = PolicySet(identity=[entry(put_with({"NumericLessThan": {MFA: "3600"}})[0], PolicyType.IDENTITY, "p", "role")])
    req = Request(principal_from_arn(SESSION), "s3:PutObject", "arn:aws:s3:::b/k", A,
                  {"aws:MultiFactorAuthAge": ValueRange(0, 600)})
    assert ("allowed", False) == (evaluate(req, ps).eval_decision, evaluate(req, ps).conditional)
