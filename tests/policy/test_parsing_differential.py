"""Differential tests: `parse_policy` accepts, rejects and names the error path exactly as the
reference implementation kept in tests/policy/reference_parsing.py (the parser before issue 12).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import PolicyValidationError
from ledger.policy import PolicyType, parse_policy
from ledger.policy.parsing import API_MAX_CHARS
from tests.policy import reference_parsing

_WS = re.compile(r"\s+")

# Characters that decide something: whitespace IAM does not count (ASCII, Unicode, and the
# separators str.isspace knows), characters JSON escapes, control characters IAM refuses.
_TRICKY = ' \t\n\r\x0b\x0c\x1c\x1f\x00\x01\x7f"\\\x85\xa0\u2028\u3000\u00e9\ud800:*?-_./$'
_text = st.one_of(
    st.sampled_from(["", "*", "a", "S1", "true", "false", "maybe", "2012-10-17"]),
    st.text(alphabet=st.sampled_from(_TRICKY + "abcAZ09"), max_size=12),
)
_actions = st.sampled_from(["*", "s3:GetObject", "s3:Get*", "iam:*", "ec2:Describe?nstances", "s3:",
                            "GetObject", "s3:Get\n", "s3:Get\n\n", "s3:Get Object", "s3:Get\x00", "S3:x_y.z"])
_resources = st.sampled_from(["*", "arn:aws:s3:::b/*", "arn:aws:s3:::b/${aws:username}", "arn:aws:s3",
                              "arn:*", "arn:aws:iam::111122223333:role/r", "bucket", "arn:aws:s3:::b\x01",
                              "arn:aws:s3:::\u3000b"])
_principals = st.sampled_from(["*", "111122223333", "AIDAEXAMPLEEXAMPLE1", "arn:aws:iam::111122223333:root",
                               "mediaconvert.amazonaws.com", "bob", "", "arn:aws:iam", "1111222233334"])
_operators = st.sampled_from(["StringEquals", "StringLike", "ForAnyValue:StringLike", "ForAllValues:ArnLike",
                              "NumericLessThan", "Bool", "Null", "NullIfExists", "ForAnyValue:Null",
                              "StringEqualsIfExists", "IfExists", "Bogus", "ForSomeValues:StringEquals", ""])
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(), _text)
_huge = st.just(4400).map(lambda digits: 10**digits)  # no JSON writer takes an integer this long


def _rarely(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any], one_in: int = 16) -> st.SearchStrategy[Any]:
    """Mostly `usual`, one time in `one_in` `odd`."""
    return st.sampled_from([True] * (one_in - 1) + [False]).flatmap(lambda usual_one: usual if usual_one else odd)


def _junk(leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON-like value (and, rarely, one no JSON writer takes)."""
    return st.recursive(_rarely(_scalars, _huge, 30), lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)), max_leaves=leaves)


def _deep(value: Any, levels: int, as_dict: bool) -> Any:
    for _ in range(levels):
        value = {"k": value} if as_dict else [value]
    return value


_deep_junk = st.builds(_deep, st.one_of(_scalars, st.just(math.nan)), st.integers(0, 10), st.booleans())
_odd = st.one_of(_junk(4), _deep_junk)


def _one_or_list(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return _rarely(st.one_of(values, st.lists(values, min_size=1, max_size=3)),
                   st.one_of(st.lists(values, max_size=0), st.lists(st.one_of(values, _scalars), max_size=3), _odd))


def _condition() -> st.SearchStrategy[Any]:
    values = _rarely(st.sampled_from(["true", "false", "x", "a b", 10, 1.5, True, False]),
                     st.one_of(st.sampled_from([math.nan, math.inf, -0.0, 10**20]), _scalars, _huge))
    block = st.dictionaries(_rarely(st.sampled_from(["aws:username", "s3:max-keys", "k"]), _text),
                            st.one_of(values, st.lists(values, min_size=1, max_size=3)), min_size=1, max_size=3)
    return _rarely(st.dictionaries(_operators, _rarely(block, _odd), min_size=1, max_size=3), _odd)


def _principal() -> st.SearchStrategy[Any]:
    kinds = _rarely(st.sampled_from(["AWS", "Service", "Federated", "CanonicalUser"]), st.just("Bogus"))
    return _rarely(st.one_of(st.just("*"), st.dictionaries(kinds, _one_or_list(_principals), min_size=1, max_size=3)),
                   st.one_of(_principals, _odd))


_STATEMENT_PARTS: dict[str, st.SearchStrategy[Any]] = {
    "Sid": _rarely(st.text(alphabet="abcXYZ019", max_size=6), st.one_of(_text, st.none(), st.integers())),
    "Effect": _rarely(st.sampled_from(["Allow", "Deny"]), st.one_of(st.just("allow"), _scalars)),
    "Principal": _principal(),
    "NotPrincipal": _principal(),
    "Action": _one_or_list(_actions),
    "NotAction": _one_or_list(_actions),
    "Resource": _one_or_list(_resources),
    "NotResource": _one_or_list(_resources),
    "Condition": _condition(),
    "Bogus": _scalars,
}
_SHAPES = [["Effect", "Action", "Resource"], ["Sid", "Effect", "NotAction", "Resource", "Condition"],
           ["Effect", "Principal", "Action", "Resource"], ["Effect", "Principal", "Action"],
           ["Sid", "Effect", "NotPrincipal", "Action", "NotResource"], ["Effect", "Action", "Resource", "Condition"]]


@st.composite
def _statements(draw: st.DrawFn) -> dict[str, Any]:
    """A statement of a usual shape for some policy type, now and then with elements added or
    dropped, in random order."""
    keys = list(draw(st.sampled_from(_SHAPES)))
    if draw(_rarely(st.just(False), st.just(True), 4)):
        keys = keys[: draw(st.integers(0, len(keys)))] + draw(st.lists(st.sampled_from(sorted(_STATEMENT_PARTS)),
                                                                          max_size=3))
    keys = draw(st.permutations(list(dict.fromkeys(keys))))
    return {key: draw(_STATEMENT_PARTS[key]) for key in keys}


@st.composite
def _documents(draw: st.DrawFn) -> Any:
    statements = _rarely(st.one_of(st.lists(_statements(), min_size=1, max_size=4), _statements()),
                         st.one_of(st.lists(_statements(), max_size=0), _odd))
    parts = {"Version": _rarely(st.sampled_from(["2012-10-17", "2008-10-17"]), st.one_of(st.just("2013-01-01"),
                                                                                        _scalars)),
             "Id": _rarely(st.text(alphabet="abc-1", max_size=5), st.one_of(_text, st.none(), st.integers())),
             "Statement": statements, "Extra": _scalars}
    keys = draw(st.permutations(["Version", "Id", "Statement"]))
    doc = {k: draw(parts[k]) for k in keys if k == "Statement" or draw(st.booleans())}
    if draw(_rarely(st.just(False), st.just(True), 20)):
        doc["Extra"] = draw(_scalars)
    return draw(_rarely(st.just(doc), _odd, 20))


def _compact_size(document: Any) -> int | None:
    """The size IAM counts for `document` (the oracle's own rule), None if it is not JSON."""
    if isinstance(document, (str, bytes)):
        text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
    else:
        try:
            text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            return None
    return len(_WS.sub("", text))


@st.composite
def _forms(draw: st.DrawFn) -> Any:
    """The document as a dict, or as JSON text or bytes, sometimes with a duplicate key or NaN."""
    document = draw(_documents())
    form = draw(st.sampled_from(["dict", "dict", "text", "bytes", "duplicate", "nan"]))
    indent, ascii_only = draw(st.sampled_from([None, 0, 2])), draw(st.booleans())
    try:
        text = json.dumps(document, indent=indent, ensure_ascii=ascii_only)
    except ValueError:  # an integer too long to write
        form = "dict"
    if form == "dict":
        return document
    if form == "duplicate":
        text = text.replace('"Effect": ', '"Effect": "Allow", "Effect": ', 1)
    elif form == "nan":
        text = text.replace("1.5", "NaN", 1)
    return text.encode("utf-8", "surrogatepass") if form == "bytes" else text


def outcome(parse: Any, document: Any, ptype: Any, max_size: int | None) -> tuple[Any, ...]:
    """("accepted", document) or ("rejected", path, reason)."""
    try:
        return ("accepted", parse(document, ptype, max_size=max_size))
    except PolicyValidationError as exc:
        return ("rejected", exc.path, exc.reason)


_ptypes = _rarely(st.sampled_from(list(PolicyType)), st.just("bucket-ish"), 30)


class TestSameVerdictAsTheReference:
    """The validator agrees with the reference on every document, as dict, text or bytes."""

    @settings(max_examples=600)
    @given(_forms(), _ptypes, st.sampled_from([None, -1, 0, 1]))
    def test_same_verdict_and_error_path(self, document: Any, ptype: Any, delta: int | None) -> None:
        """Accept/reject, the error's path and reason, and the parsed document are the reference's."""
        size = _compact_size(document)
        max_size = None if delta is None or size is None else max(size + delta, 0)
        expected = outcome(reference_parsing.parse_policy, document, ptype, max_size)
        assert expected == outcome(parse_policy, document, ptype, max_size)

    @given(st.lists(_statements(), min_size=1, max_size=3), st.sampled_from(list(PolicyType)))
    def test_same_verdict_on_statement_lists(self, statements: list[dict[str, Any]], ptype: PolicyType) -> None:
        """Documents that reach the statement rules (a list of statements, nothing else wrong)."""
        document = {"Version": "2012-10-17", "Statement": statements}
        expected = outcome(reference_parsing.parse_policy, document, ptype, None)
        assert expected == outcome(parse_policy, document, ptype, None)


def _padded(length: int, blank: str) -> dict[str, Any]:
    """A small identity policy whose compact JSON is exactly `length` characters long."""
    base = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                                     "Condition": {"StringEquals": {"aws:UserAgent": "ab"}}}]}
    overhead = len(json.dumps(base, separators=(",", ":"), ensure_ascii=False))
    width = len(json.dumps(blank, ensure_ascii=False)) - 2
    count, rest = divmod(length - overhead, width)
    value = "a" + blank * count + "b" * rest + "b"
    base["Statement"][0]["Condition"]["StringEquals"]["aws:UserAgent"] = value
    return base


class TestSizeBoundaries:
    """At the API's 131,072 characters and at each quota, the same verdict as the reference."""

    @pytest.mark.parametrize("blank", [" ", "\u3000", "\x85", "\n", "\t", '"', "\\", "\x1f", "x", "\u00e9"])
    @pytest.mark.parametrize("delta", [-1, 0, 1])
    @pytest.mark.parametrize("as_text", [False, True])
    def test_api_bound(self, blank: str, delta: int, as_text: bool) -> None:
        """One character either side of the whole-text bound, whatever the characters are."""
        document: Any = _padded(API_MAX_CHARS + delta, blank)
        if as_text:
            document = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
        for ptype in (PolicyType.RESOURCE, PolicyType.INLINE_USER):
            for max_size in (None, 200_000):
                expected = outcome(reference_parsing.parse_policy, document, ptype, max_size)
                assert expected == outcome(parse_policy, document, ptype, max_size)

    @pytest.mark.parametrize("blank", [" ", "\u2028", "\n", '"', "\\", "\x01", "y"])
    @pytest.mark.parametrize("delta", [-1, 0, 1])
    def test_quota(self, blank: str, delta: int) -> None:
        """One character either side of a type's quota, counted without whitespace."""
        document = _padded(3000, blank)
        size = _compact_size(document)
        assert size is not None
        for form in (document, json.dumps(document, indent=2)):
            expected = outcome(reference_parsing.parse_policy, form, "identity", size + delta)
            assert expected == outcome(parse_policy, form, "identity", size + delta)
