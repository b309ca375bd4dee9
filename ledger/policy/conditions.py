"""Condition operators: compile a statement's Condition block once, evaluate it per request.

Three-valued when asked (True / False / None = unknown because a key is absent); never raises
on odd request values: a value an operator cannot read simply does not match.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from ledger.policy.document import split_operator
from ledger.policy.matching import compile_arn_pattern, glob_regex
from ledger.policy.variables import Template, VarRef, parse_template, resolve

__all__ = ["CompiledCondition", "compile_conditions", "evaluate_conditions", "parse_date"]

Context = Mapping[str, tuple[str, ...]]

_NEGATED_BASE = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
# Operator families whose values may contain policy variables.
_VARIABLE_FAMILIES = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"}
)


def _parse_number(text: str) -> float | None:
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    return None if math.isnan(value) else value


_EPOCH = re.compile(r"^-?\d+(\.\d+)?$")


def parse_date(text: str) -> float | None:
    """ISO 8601 (date, date-time, `Z` or offset) or epoch seconds -> epoch seconds; else None."""
    text = text.strip()
    if _EPOCH.match(text):
        try:
            return float(text)
        except (ValueError, OverflowError):
            return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


Matcher = Callable[[str], bool]


def _build_matcher(base: str, values: list[str]) -> Matcher:
    """A predicate: does a request value match ANY of the policy values (which are OR-ed)?"""
    if base == "StringEquals":
        exact = frozenset(values)
        return exact.__contains__
    if base == "StringEqualsIgnoreCase":
        folded = frozenset(v.casefold() for v in values)
        return lambda v: v.casefold() in folded
    if base == "StringLike":
        rx = re.compile("|".join(f"(?:{glob_regex(v)})" for v in values), re.DOTALL)
        return lambda v: rx.fullmatch(v) is not None
    if base in ("ArnEquals", "ArnLike"):
        # ArnEquals and ArnLike behave the same: per-segment, case-sensitive, with wildcards.
        apats = [compile_arn_pattern(v, False) for v in values]
        return lambda v: any(p.fullmatch(v) is not None for p in apats)
    if base.startswith("Numeric"):
        nums = [n for n in (_parse_number(v) for v in values) if n is not None]
        cmp = _COMPARE[base[len("Numeric") :]]
        return lambda v: (x := _parse_number(v)) is not None and any(cmp(x, n) for n in nums)
    if base.startswith("Date"):
        dates = [d for d in (parse_date(v) for v in values) if d is not None]
        dcmp = _COMPARE[base[len("Date") :]]
        return lambda v: (x := parse_date(v)) is not None and any(dcmp(x, d) for d in dates)
    if base == "Bool":
        bools = frozenset(v.lower() for v in values)
        return lambda v: v.lower() in bools
    if base == "BinaryEquals":
        blobs = frozenset(b for b in (_b64(v) for v in values) if b is not None)
        return lambda v: (x := _b64(v)) is not None and x in blobs
    if base == "IpAddress":
        nets = [n for n in (_network(v) for v in values) if n is not None]

        def ip_match(v: str) -> bool:
            addr = _address(v)
            return addr is not None and any(
                addr.version == n.version and addr in n for n in nets
            )

        return ip_match
    raise ValueError(f"no matcher for {base}")  # unreachable: operators validated at parse


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


class CompiledCondition:
    """One (operator, key, values) triple of a Condition block."""

    __slots__ = (
        "base",
        "compare",
        "if_exists",
        "key",
        "key_name",
        "matcher",
        "negated",
        "null_values",
        "operator",
        "points",
        "qualifier",
        "templates",
        "var_keys",
    )

    def __init__(self, operator: str, key: str, values: tuple[str, ...], variables: bool) -> None:
        parsed = split_operator(operator)
        if parsed is None:  # pragma: no cover - documents are validated before compiling
            raise ValueError(f"unknown condition operator {operator}")
        qualifier, base, if_exists = parsed
        self.operator = operator
        self.key_name = key
        self.key = key.lower()
        self.qualifier = qualifier
        self.if_exists = if_exists
        self.negated = base in _NEGATED_BASE
        self.base = _NEGATED_BASE.get(base, base)
        self.null_values = tuple(v.lower() == "true" for v in values) if base == "Null" else ()
        self.templates: tuple[Template, ...] | None = None
        self.var_keys: tuple[str, ...] = ()
        self.matcher: Matcher | None = None
        # Numeric and Date operators: the policy's values as numbers (epoch seconds for dates)
        # and the comparison, so a condition can be decided over a range of request values.
        self.points: tuple[float, ...] = ()
        self.compare: Callable[[float, float], bool] | None = None
        if self.base.startswith("Numeric"):
            self.points = tuple(n for n in map(_parse_number, values) if n is not None)
            self.compare = _COMPARE[self.base[len("Numeric") :]]
        elif self.base.startswith("Date"):
            self.points = tuple(d for d in map(parse_date, values) if d is not None)
            self.compare = _COMPARE[self.base[len("Date") :]]
        if base == "Null":
            return
        if variables and self.base in _VARIABLE_FAMILIES and any("${" in v for v in values):
            self.templates = tuple(parse_template(v, True) for v in values)
            self.var_keys = tuple(
                p.key for t in self.templates for p in t if isinstance(p, VarRef)
            )
            if all(len(t) == 1 and isinstance(t[0], str) for t in self.templates):
                # only escapes, no real variables: the values are static after all
                self.matcher = self._static([t[0] for t in self.templates])  # type: ignore[misc]
                self.templates = None
        else:
            self.matcher = self._static([self._literal(v, variables) for v in values])

    def _literal(self, value: str, variables: bool) -> str:
        if self.base in ("StringLike", "ArnEquals", "ArnLike"):
            # wildcard families: turn the text into sentinel form (escapes honoured)
            tmpl = parse_template(value, False)
            return tmpl[0]  # type: ignore[return-value]
        return value

    def _static(self, values: list[str]) -> Matcher:
        if self.base in ("StringLike", "ArnEquals", "ArnLike"):
            return _build_matcher(self.base, values)
        # non-wildcard families get the plain text back (sentinels mapped to the real chars)
        return _build_matcher(self.base, [v.replace("\x00", "*").replace("\x01", "?") for v in values])

    def _resolved_matcher(self, ctx: Context) -> tuple[Matcher | None, bool]:
        """Matcher with variables substituted; flag True if some variable was missing."""
        assert self.templates is not None
        values: list[str] = []
        missing = False
        for t in self.templates:
            r = resolve(t, ctx)
            if r is None:
                missing = True  # that value matches nothing
            else:
                values.append(r)
        if not values:
            return None, missing
        return _cached_matcher(self.base, tuple(values)), missing

    def evaluate(self, ctx: Context, unknown: bool) -> bool | None:
        """True / False, or None (unknown) when `unknown` and a needed key is absent."""
        req = ctx.get(self.key)
        if self.base == "Null":
            if req is None and unknown:
                return None
            present = req is not None
            return any(want_absent != present for want_absent in self.null_values)
        if req is None:
            if unknown:
                return None
            if self.qualifier == "all":
                return True
            if self.qualifier == "any":
                return False
            return self.if_exists or self.negated
        matcher = self.matcher
        if matcher is None:
            matcher, missing = self._resolved_matcher(ctx)
            if missing and unknown:
                return None
            if matcher is None:
                matcher = _never
        if self.qualifier == "all":
            if self.negated:
                return not any(matcher(v) for v in req)
            return all(matcher(v) for v in req)
        if self.qualifier == "any":
            if self.negated:
                return any(not matcher(v) for v in req)
            return any(matcher(v) for v in req)
        hit = any(matcher(v) for v in req)
        return not hit if self.negated else hit


    def holds_at(self, x: float, dates: bool) -> bool | None:
        """The result for a present, single-valued key whose value is `x` (epoch seconds when
        `dates`, else a number); None when only the value's text could tell (string, ARN, IP,
        Bool and Binary operators)."""
        if self.base == "Null":
            return any(not want_absent for want_absent in self.null_values)
        compare = self.compare
        if compare is None:
            return None
        if dates and self.base.startswith("Numeric"):
            hit = False  # a date's ISO text never reads as a number
        else:
            hit = any(compare(x, p) for p in self.points)
        # ForAllValues / ForAnyValue over one value, and IfExists on a present key, reduce to
        # the plain operator.
        return not hit if self.negated else hit


def _never(_: str) -> bool:
    return False


_MATCHER_CACHE: dict[tuple[str, tuple[str, ...]], Matcher] = {}


def _cached_matcher(base: str, values: tuple[str, ...]) -> Matcher:
    key = (base, values)
    m = _MATCHER_CACHE.get(key)
    if m is None:
        if len(_MATCHER_CACHE) > 4096:
            _MATCHER_CACHE.clear()
        if base in ("StringLike", "ArnEquals", "ArnLike"):
            m = _build_matcher(base, list(values))
        else:
            m = _build_matcher(
                base, [v.replace("\x00", "*").replace("\x01", "?") for v in values]
            )
        _MATCHER_CACHE[key] = m
    return m


def compile_conditions(
    condition: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...], variables: bool
) -> tuple[CompiledCondition, ...]:
    return tuple(
        CompiledCondition(op, key, values, variables)
        for op, block in condition
        for key, values in block
    )


def evaluate_conditions(
    conditions: tuple[CompiledCondition, ...], ctx: Context, unknown: bool = False
) -> bool | None:
    """AND over every operator and key: False wins, then unknown, then True."""
    result: bool | None = True
    for cond in conditions:
        r = cond.evaluate(ctx, unknown)
        if r is False:
            return False
        if r is None:
            result = None
    return result
