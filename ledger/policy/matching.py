"""Wildcard, action, ARN and principal matching as AWS defines it, in time linear in the pattern
times the text: never by backtracking, whatever a hostile policy writes.

Pure functions over strings; patterns arrive in sentinel form (see `variables.STAR`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from ledger.policy.variables import QMARK, STAR

__all__ = [
    "StepCounter",
    "arn_fullmatch",
    "arn_pattern_regex",
    "compile_arn_pattern",
    "compile_glob",
    "glob_fullmatch",
    "glob_regex",
    "normalize_resource",
    "wildcard_match",
]

# Every regex built here follows one shape: the text between two stars is found at its EARLIEST
# position inside an atomic group `(?>.*?piece)`, which the engine never re-enters. Committing to
# the earliest occurrence is always right when a star follows (that star absorbs any gap), so the
# regex runs the same greedy algorithm as `glob_fullmatch`: O(pattern x text), no backtracking
# into earlier stars. Only the star before the final piece is a plain `.*`, whose back-off is
# bounded by the length of that fixed-width piece.


class StepCounter:
    """Counts the character comparisons a matcher makes (for the tests that bound them)."""

    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = 0


def _piece_regex(piece: str, any_char: str) -> str:
    return "".join(any_char if ch == QMARK else re.escape(ch) for ch in piece)


def _star_regex(pattern: str, any_char: str, last_star_crosses_colons: bool = False) -> str:
    """Regex for one glob (sentinel form) whose wildcards match `any_char`; see the module note."""
    pieces = pattern.split(STAR)
    if len(pieces) == 1:
        return _piece_regex(pattern, any_char)
    out = [_piece_regex(pieces[0], any_char)]
    for piece in pieces[1:-1]:
        if piece:
            out.append(f"(?>{any_char}*?{_piece_regex(piece, any_char)})")
    final = ".*" if last_star_crosses_colons and not pieces[-1] else f"{any_char}*"
    out.append(final + _piece_regex(pieces[-1], any_char))
    return "".join(out)


def glob_regex(pattern: str) -> str:
    """Regex for a whole-string glob: `*` any run (crossing `:` and `/`), `?` one character.

    Compile it with re.DOTALL; it never backtracks into an earlier star (see the module note)."""
    return _star_regex(pattern, ".")


def _segment_regex(seg: str, last: bool) -> str:
    # AWS: a `*` that ends the last given segment may expand across colon boundaries.
    return _star_regex(seg, "[^:]", last_star_crosses_colons=last)


def arn_pattern_regex(pattern: str, fold_prefix: bool) -> str:
    """Regex for an ARN pattern compared segment by segment.

    The first five colon-separated fields (arn, partition, service, region, account) each match
    on their own: wildcards there do not cross a colon. The sixth field, the resource part,
    is a glob whose `*` crosses `/` and `:`. With `fold_prefix` the first five fields are
    lower-cased (the subject must be normalised the same way, see `normalize_resource`).
    """
    if pattern == STAR:
        return ".*"
    segs = pattern.split(":", 5)
    if len(segs) == 6:
        head = segs[:5]
        if fold_prefix:
            head = [s.lower() for s in head]
        return ":".join([_segment_regex(s, False) for s in head] + [glob_regex(segs[5])])
    if fold_prefix:
        segs = [s.lower() for s in segs]
    last = len(segs) - 1
    return ":".join(_segment_regex(s, i == last) for i, s in enumerate(segs))


@lru_cache(maxsize=8192)
def compile_arn_pattern(pattern: str, fold_prefix: bool) -> re.Pattern[str]:
    return re.compile(arn_pattern_regex(pattern, fold_prefix), re.DOTALL)


@lru_cache(maxsize=8192)
def compile_glob(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    return re.compile(glob_regex(pattern), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def normalize_resource(arn: str) -> str:
    """Lower-case the five fields before the resource part, which alone is case-sensitive."""
    if arn.count(":") < 5:
        return arn
    head, sep, rest = _split5(arn)
    return head.lower() + sep + rest


def _split5(arn: str) -> tuple[str, str, str]:
    idx = -1
    for _ in range(5):
        idx = arn.index(":", idx + 1)
    return arn[:idx], ":", arn[idx + 1 :]


def glob_fullmatch(pattern: str, text: str, counter: StepCounter | None = None) -> bool:
    """Whether the glob `pattern` (sentinel form: `STAR` any run, `QMARK` one character) matches
    all of `text`: the greedy two-pointer walk, at most (len(pattern)+1) x (len(text)+1) steps.

    On a mismatch it only ever returns to the LAST star seen and lets it absorb one more
    character; earlier stars never need to move again (the last one can absorb any gap)."""
    p_len, t_len = len(pattern), len(text)
    pi = ti = steps = 0
    star = -1  # index in pattern of the last star seen
    resume = 0  # where in text the text after that star starts
    while ti < t_len:
        steps += 1
        ch = pattern[pi] if pi < p_len else None
        if ch == STAR:
            star, resume = pi, ti
            pi += 1
        elif ch is not None and (ch == QMARK or ch == text[ti]):
            pi += 1
            ti += 1
        elif star >= 0:
            resume += 1
            pi, ti = star + 1, resume
        else:
            break
    else:
        while pi < p_len and pattern[pi] == STAR:
            pi += 1
            steps += 1
        if counter is not None:
            counter.steps += steps
        return pi == p_len
    if counter is not None:
        counter.steps += steps
    return False


def arn_fullmatch(pattern: str, value: str, counter: StepCounter | None = None) -> bool:
    """`arn_pattern_regex`'s semantics (sentinel-form pattern, no case folding) by field-wise
    `glob_fullmatch`: the same answers in the same linear bound."""
    if pattern == STAR:
        return True
    segs = pattern.split(":", 5)
    if len(segs) == 6:
        vals = value.split(":", 5)
        if len(vals) != 6:
            return False
        return all(glob_fullmatch(p, v, counter) for p, v in zip(segs, vals, strict=True))
    last = segs[-1]
    if last.endswith(STAR):
        vals = value.split(":", len(segs) - 1)
        if len(vals) != len(segs):
            return False
        # The final star absorbs everything from the first colon of the rest onwards.
        vals[-1] = vals[-1].split(":", 1)[0]
    else:
        vals = value.split(":")
        if len(vals) != len(segs):
            return False
    return all(glob_fullmatch(p, v, counter) for p, v in zip(segs, vals, strict=True))


def _sentinel(pattern: str) -> str:
    return pattern.replace("*", STAR).replace("?", QMARK)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Plain-text glob: `*` and `?` in `pattern` are wildcards (used by StringLike, actions)."""
    if ignore_case:  # the regex engine's own case folding, on the same backtrack-free shape
        return compile_glob(_sentinel(pattern), True).fullmatch(value) is not None
    return glob_fullmatch(_sentinel(pattern), value)


def arn_match(pattern: str, value: str, *, fold_prefix: bool = True) -> bool:
    """Plain-text ARN pattern match (`*`/`?` wildcards, segment rules of `arn_pattern_regex`)."""
    sentinel = _sentinel(pattern)
    if fold_prefix:
        value = normalize_resource(value)
        segs = sentinel.split(":", 5)
        folded = [s.lower() for s in segs[:5]] if len(segs) == 6 else [s.lower() for s in segs]
        sentinel = ":".join(folded + segs[5:])
    return arn_fullmatch(sentinel, value)
