"""Context keys known only as a range of values (a session's issue time, an MFA age): conditions
decided for every value of the range at once.

Exact over the policy's own comparison points; it never guesses: a condition whose result
depends on where in the range the value lies stays unknown.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise, product
from typing import TYPE_CHECKING

from ledger.policy.errors import ValidationError

if TYPE_CHECKING:
    from ledger.policy.conditions import CompiledCondition

__all__ = ["ValueRange", "evaluate_ranged", "number_text", "range_samples", "settle"]

Context = Mapping[str, tuple[str, ...]]
# Refining a decision over the pieces of its ranges evaluates it once per piece: keep it bounded.
_MAX_PIECES = 64


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True, slots=True)
class ValueRange:
    """Every value a context key may take, `low` to `high` inclusive: timezone-aware datetimes
    for date keys (`aws:TokenIssueTime`, `aws:CurrentTime`), ints or floats for numeric keys
    (`aws:MultiFactorAuthAge`). Give it as the key's value in `Request(context=...)`."""

    low: datetime | float
    high: datetime | float

    def __post_init__(self) -> None:
        low, high = self.low, self.high
        if isinstance(low, datetime) and isinstance(high, datetime):
            if low.utcoffset() is None or high.utcoffset() is None:
                raise ValidationError("a date range needs timezone-aware datetimes")
        elif _is_number(low) and _is_number(high):
            if not (math.isfinite(low) and math.isfinite(high)):  # type: ignore[arg-type]
                raise ValidationError("a numeric range needs finite numbers")
        else:
            raise ValidationError("a range is two datetimes or two numbers")
        if low > high:  # type: ignore[operator]
            raise ValidationError(f"range low {low} is after its high {high}")

    @property
    def dates(self) -> bool:
        """Whether it ranges over datetimes (else over numbers)."""
        return isinstance(self.low, datetime)

    def bounds(self) -> tuple[float, float]:
        """(low, high) as numbers: epoch seconds for datetimes, as the Date operators compare."""
        low, high = self.low, self.high
        if isinstance(low, datetime) and isinstance(high, datetime):
            return low.timestamp(), high.timestamp()
        return float(low), float(high)  # type: ignore[arg-type]

    def text(self, x: float) -> str | None:
        """The context value (text) of the point `x` of the range; None if no value of the
        range reads back as exactly `x` (two comparison points closer than a microsecond)."""
        if not self.dates:
            return number_text(x)
        text = datetime.fromtimestamp(x, UTC).isoformat()
        return text if datetime.fromisoformat(text).timestamp() == x else None


def number_text(x: float) -> str:
    """A number as positional decimal text (no exponent), which reads back as exactly `x`
    under both the Numeric and the Date (epoch seconds) operators."""
    text = repr(float(x))
    return text if "e" not in text else format(Decimal(x), "f")


def _samples(low: float, high: float, points: set[float]) -> list[float]:
    """One value in each piece of [low, high] cut at `points`: the ends, every point inside, and
    the middle of each open interval between them (the conditions are constant on each)."""
    inner = sorted(p for p in points if low < p < high)
    marks = [low, *inner, high] if high > low else [low]
    out = list(marks)
    for a, b in pairwise(marks):
        mid = a + (b - a) / 2
        if a < mid < b:
            out.append(mid)
    return out


def _conjunction(conditions: Sequence[CompiledCondition], x: float, dates: bool) -> bool | None:
    result: bool | None = True
    for cond in conditions:
        r = cond.holds_at(x, dates)
        if r is False:
            return False
        if r is None:
            result = None
    return result


def settle(conditions: Sequence[CompiledCondition], rng: ValueRange) -> bool | None:
    """True if the conditions (on one ranged key, AND-ed) hold for every value of the range,
    False if for none, None if it depends on the value."""
    low, high = rng.bounds()
    seen: set[bool] = set()
    for x in _samples(low, high, {p for c in conditions for p in c.points}):
        r = _conjunction(conditions, x, rng.dates)
        if r is None:
            return None
        seen.add(r)
        if len(seen) > 1:
            return None
    return seen.pop()


def evaluate_ranged(
    conditions: tuple[CompiledCondition, ...],
    ctx: Context,
    ranges: Mapping[str, ValueRange],
    unknown: bool,
) -> tuple[bool | None, list[tuple[str, str]], bool]:
    """A statement's conditions (AND) when some keys are ranges: (result, the ranged keys it
    depends on as (key, name as written), whether sampling the ranges can refine it: False
    when a ranged key meets an operator that compares text)."""
    result: bool | None = True
    by_key: dict[str, list[CompiledCondition]] = {}
    for cond in conditions:
        if cond.key in ranges:
            by_key.setdefault(cond.key, []).append(cond)
            continue
        r = cond.evaluate(ctx, unknown)
        if r is False:
            return False, [], True
        if r is None:
            result = None
    open_keys: list[tuple[str, str]] = []
    refinable = True
    for key, conds in by_key.items():
        r = settle(conds, ranges[key])
        if r is False:
            return False, [], True
        if r is None:
            result = None
            open_keys.append((key, conds[0].key_name))
            refinable = refinable and all(c.compare is not None or c.base == "Null" for c in conds)
    return result, open_keys, refinable


def range_samples(
    ranges: Mapping[str, ValueRange], points: Mapping[str, set[float]]
) -> Iterator[dict[str, str]] | None:
    """For each piece of the ranges (cut at each key's comparison `points`), the ranged keys'
    values as context text; None when there are too many pieces or a piece has no value."""
    per_key: list[list[tuple[str, str]]] = []
    count = 1
    for key, rng in ranges.items():
        low, high = rng.bounds()
        texts = []
        for x in _samples(low, high, points.get(key, set())):
            text = rng.text(x)
            if text is None:
                return None
            texts.append((key, text))
        per_key.append(texts)
        count *= len(texts)
        if count > _MAX_PIECES:
            return None
    return (dict(combo) for combo in product(*per_key))
