"""Wildcard, action, ARN and principal matching as AWS defines it.

Pure functions over strings; patterns arrive in sentinel form (see `variables.STAR`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from ledger.policy.variables import QMARK, STAR

__all__ = [
    "arn_pattern_regex",
    "compile_arn_pattern",
    "compile_glob",
    "glob_regex",
    "normalize_resource",
    "wildcard_match",
]


def glob_regex(pattern: str) -> str:
    """Regex for a whole-string glob: `*` any run (crossing `:` and `/`), `?` one character."""
    out = []
    for ch in pattern:
        if ch == STAR:
            out.append(".*")
        elif ch == QMARK:
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _segment_regex(seg: str, last: bool) -> str:
    out = []
    n = len(seg)
    for i, ch in enumerate(seg):
        if ch == STAR:
            # AWS: a `*` that ends the last given segment may expand across colon boundaries.
            out.append(".*" if (last and i == n - 1) else "[^:]*")
        elif ch == QMARK:
            out.append("[^:]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


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


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Plain-text glob: `*` and `?` in `pattern` are wildcards (used by StringLike, actions)."""
    sentinel = pattern.replace("*", STAR).replace("?", QMARK)
    return compile_glob(sentinel, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, value: str, *, fold_prefix: bool = True) -> bool:
    """Plain-text ARN pattern match (`*`/`?` wildcards, segment rules of `arn_pattern_regex`)."""
    sentinel = pattern.replace("*", STAR).replace("?", QMARK)
    if fold_prefix:
        value = normalize_resource(value)
    return compile_arn_pattern(sentinel, fold_prefix).fullmatch(value) is not None
