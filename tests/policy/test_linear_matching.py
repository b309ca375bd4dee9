"""Wildcard matching never backtracks: steps bounded by pattern x text, answers equal to a regex reference."""

from __future__ import annotations

import re
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.policy.matching import (
    StepCounter,
    arn_fullmatch,
    arn_pattern_regex,
    compile_arn_pattern,
    compile_glob,
    glob_fullmatch,
    glob_regex,
)
from ledger.policy.variables import QMARK, STAR
from tests.policy._helpers import allow, decide, doc

# The reproduction of issue 15 item 9: a 136-character policy that took 69 s against a 60-character key.
HOSTILE_RESOURCE = "arn:aws:s3:::b/" + "*a" * 8 + "*c"
HOSTILE_KEY = "arn:aws:s3:::b/" + "a" * 60


def sentinel(pattern: str) -> str:
    return pattern.replace("*", STAR).replace("?", QMARK)


def naive_glob(pattern: str) -> str:
    """The backtracking reference: `*` → `.*`, `?` → `.` (correct, but exponential on hostile input)."""
    return "".join(".*" if c == STAR else "." if c == QMARK else re.escape(c) for c in pattern)


def naive_arn(pattern: str) -> str:
    """The reference for ARN patterns: the five head fields never cross a colon, the resource part does;
    with fewer fields, a star ending the last one crosses colons."""
    def seg(s: str, colon_ok_at_end: bool) -> str:
        out = []
        for i, c in enumerate(s):
            if c == STAR:
                out.append(".*" if colon_ok_at_end and i == len(s) - 1 else "[^:]*")
            elif c == QMARK:
                out.append("[^:]")
            else:
                out.append(re.escape(c))
        return "".join(out)
    if pattern == STAR:
        return ".*"
    segs = pattern.split(":", 5)
    if len(segs) == 6:
        return ":".join([seg(s, False) for s in segs[:5]] + [naive_glob(segs[5])])
    return ":".join(seg(s, i == len(segs) - 1) for i, s in enumerate(segs))


def bound(pattern: str, text: str) -> int:
    return (len(pattern) + 1) * (len(text) + 2)


globs = st.text(alphabet=f"ab:/{STAR}{QMARK}", max_size=12)
texts = st.text(alphabet="ab:/", max_size=24)
arn_patterns = st.lists(st.text(alphabet=f"ab/{STAR}{QMARK}", max_size=4), min_size=1, max_size=7).map(":".join)
arn_values = st.lists(st.text(alphabet="ab/", max_size=4), min_size=1, max_size=7).map(":".join)


class TestStepBound:
    """The matcher makes at most (pattern+1) x (text+2) comparisons, for any pattern and text."""

    @settings(max_examples=300)
    @given(globs, texts)
    def test_glob_steps_are_bounded_by_pattern_times_text(self, pattern: str, text: str) -> None:
        """Steps of `glob_fullmatch` never exceed (len(pattern)+1) x (len(text)+2)."""
        counter = StepCounter()
        glob_fullmatch(pattern, text, counter)
        assert counter.steps <= bound(pattern, text)

    @settings(max_examples=300)
    @given(arn_patterns, arn_values)
    def test_arn_steps_are_bounded_by_pattern_times_text(self, pattern: str, value: str) -> None:
        """ARN matching is field-wise globbing, inside the same bound."""
        counter = StepCounter()
        arn_fullmatch(pattern, value, counter)
        assert counter.steps <= bound(pattern, value)

    def test_steps_grow_linearly_with_the_text_for_the_hostile_pattern(self) -> None:
        """Doubling the key of issue 15's pattern at most doubles the steps (plus the pattern's length)."""
        pattern = sentinel("*a" * 8 + "*c")
        counts = []
        for n in (60, 120, 240, 480):
            counter = StepCounter()
            assert False is glob_fullmatch(pattern, "a" * n, counter)
            counts.append(counter.steps)
        assert all(b <= 2 * a + len(pattern) * 2 for a, b in pairwise(counts))

    def test_the_reported_policy_is_bounded(self) -> None:
        """The 136-character Resource of issue 15 against the 60-character key stays in the bound."""
        counter = StepCounter()
        assert False is arn_fullmatch(sentinel(HOSTILE_RESOURCE), HOSTILE_KEY, counter)
        assert counter.steps <= bound(HOSTILE_RESOURCE, HOSTILE_KEY)


class TestAgreesWithTheRegexReference:
    """Each matcher (two-pointer and the regex forms the engine compiles) equals the naive regex."""

    @settings(max_examples=400)
    @given(globs, texts)
    def test_glob_forms_agree(self, pattern: str, text: str) -> None:
        """`glob_fullmatch`, `compile_glob` and `glob_regex` all answer as `.*`/`.` would."""
        expected = re.fullmatch(naive_glob(pattern), text, re.DOTALL) is not None
        got = (glob_fullmatch(pattern, text), compile_glob(pattern).fullmatch(text) is not None,
               re.fullmatch(glob_regex(pattern), text, re.DOTALL) is not None)
        assert (expected, expected, expected) == got

    @settings(max_examples=400)
    @given(arn_patterns, arn_values)
    def test_arn_forms_agree(self, pattern: str, value: str) -> None:
        """`arn_fullmatch` and `compile_arn_pattern` answer as the segment-wise reference does."""
        expected = re.fullmatch(naive_arn(pattern), value, re.DOTALL) is not None
        got = (arn_fullmatch(pattern, value), compile_arn_pattern(pattern, False).fullmatch(value) is not None)
        assert (expected, expected) == got

    @settings(max_examples=200)
    @given(st.lists(st.text(alphabet=f"ab{STAR}{QMARK}", max_size=5), min_size=1, max_size=4), texts)
    def test_alternations_agree(self, patterns: list[str], text: str) -> None:
        """Several patterns joined with `|` (as statements and StringLike values are) still agree."""
        joined = re.compile("|".join(f"(?:{glob_regex(p)})" for p in patterns), re.DOTALL)
        expected = any(re.fullmatch(naive_glob(p), text, re.DOTALL) for p in patterns)
        assert expected == (joined.fullmatch(text) is not None)


class TestNoBacktrackingShape:
    """Every regex built for a glob has at most one unbounded quantifier outside atomic groups."""

    @settings(max_examples=200)
    @given(st.text(alphabet=f"abc.{STAR}{QMARK}", max_size=16))
    def test_glob_regex_has_one_free_star(self, pattern: str) -> None:
        """Between stars the regex commits (`(?>…)`); only the star before the last piece is free."""
        free = re.sub(r"\(\?>[^()]*\)", "", glob_regex(pattern))
        assert free.count("*") == (1 if STAR in pattern else 0)

    @settings(max_examples=200)
    @given(arn_patterns)
    def test_arn_regex_has_one_free_star_per_field(self, pattern: str) -> None:
        """Each ARN field is one such glob: one free star at most per field that has a star."""
        free = re.sub(r"\(\?>[^()]*\)", "", arn_pattern_regex(pattern, False))
        assert free.count("*") <= sum(1 for field in pattern.split(":", 5) if STAR in field)


class TestHostilePoliciesDecideCorrectly:
    """Issue 15 item 9: the hostile Resource and StringLike decide (right) instead of stalling."""

    def test_hostile_resource_pattern(self) -> None:
        """The 136-character pattern denies the all-`a` key and allows one that ends in `c`."""
        policy = doc(allow("s3:GetObject", HOSTILE_RESOURCE))
        got = (decide(action="s3:GetObject", resource=HOSTILE_KEY, identity=[policy]).eval_decision,
               decide(action="s3:GetObject", resource=HOSTILE_KEY + "c", identity=[policy]).eval_decision)
        assert ("implicitDeny", "allowed") == got

    def test_hostile_string_like(self) -> None:
        """The same glob in StringLike decides both ways."""
        policy = doc(dict(allow("s3:ListBucket", "*"), Condition={"StringLike": {"s3:prefix": "*a" * 8 + "*c"}}))
        got = tuple(decide(action="s3:ListBucket", resource="arn:aws:s3:::b", identity=[policy],
                           context={"s3:prefix": prefix}).eval_decision for prefix in ("a" * 60, "a" * 60 + "c"))
        assert ("implicitDeny", "allowed") == got

    def test_hostile_arn_like(self) -> None:
        """And in ArnLike."""
        policy = doc(dict(allow("s3:ListBucket", "*"),
                          Condition={"ArnLike": {"aws:SourceArn": HOSTILE_RESOURCE}}))
        got = tuple(decide(action="s3:ListBucket", resource="arn:aws:s3:::b", identity=[policy],
                           context={"aws:SourceArn": arn}).eval_decision for arn in (HOSTILE_KEY, HOSTILE_KEY + "c"))
        assert ("implicitDeny", "allowed") == got
