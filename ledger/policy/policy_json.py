"""Policy JSON as IAM reads it: the strict text reader, the nesting bound and the size quotas.

Checks only, each exactly as IAM counts and in the order its errors are reported; it builds no
policy model and raises nothing but PolicyValidationError for a document it is handed.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ledger.policy.document import PolicyType
from ledger.policy.errors import PolicyValidationError

__all__ = [
    "API_MAX_CHARS",
    "SizeTally",
    "check_dict_size",
    "check_nesting",
    "check_text_size",
    "load_policy_json",
    "read_text",
]

# IAM API Reference, CreatePolicy/PutUserPolicy...: "The maximum length of the policy document that
# you can pass in this operation, including whitespace" is "Maximum length of 131072". The size
# quotas (SIZE_LIMITS) count characters without whitespace; this bound counts every character,
# whitespace inside values included, so a 2,048-character policy cannot carry megabytes of blanks.
API_MAX_CHARS = 131_072
_MAX_DEPTH = 8
# Written back as JSON (`ensure_ascii=False`), a string escapes these; of the whitespace, only
# what is not a control character stays whitespace (a newline is written as backslash-n).
_CONTROL = re.compile(r"[\x00-\x1f]")
_SHORT_ESCAPES = frozenset("\b\f\n\r\t")
_BLANK_WRITTEN = re.compile(r"[^\S\x00-\x1f]")


def _reject_constant(name: str) -> Any:
    raise PolicyValidationError("", f"{name} is not a JSON value (IAM policies are strict JSON)")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise PolicyValidationError("", f'duplicate key "{key}"')
            seen.add(key)
    return out


def _decode(doc: str | bytes | bytearray, raw_limit: int) -> Any:
    """Strict JSON as IAM parses it: UTF-8, no duplicate keys, no NaN/Infinity, bounded size."""
    if len(doc) > raw_limit:
        raise PolicyValidationError(
            "", f"document is too large: {len(doc)} characters, at most {raw_limit} with whitespace")
    if isinstance(doc, (bytes, bytearray)):
        try:
            doc = bytes(doc).decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyValidationError("", "document is not valid UTF-8") from None
    try:
        return json.loads(doc, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except PolicyValidationError:
        raise
    except RecursionError:
        raise PolicyValidationError("", "document is nested too deeply") from None
    except ValueError as exc:
        raise PolicyValidationError("", f"malformed JSON: {exc}") from None


def load_policy_json(doc: str | bytes | bytearray, raw_limit: int = API_MAX_CHARS) -> dict[str, Any]:
    """A policy document's JSON text as a dict, parsed as IAM parses it (duplicate keys, NaN and
    Infinity rejected; at most `raw_limit` characters): every path that takes a policy as text
    uses this, so none of them can accept what `parse_policy` rejects."""
    try:
        data = _decode(doc, raw_limit)
    except PolicyValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - fail typed: any surprise in a hostile document is a rejection
        raise PolicyValidationError("", f"invalid document ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise PolicyValidationError("", "document must be a JSON object")
    return data


def _blank_free_length(text: str) -> int:
    # str.split() splits on exactly the characters IAM's whitespace rule (and re's \s) names.
    return len("".join(text.split()))


def _too_big(ptype: PolicyType, limit: int) -> PolicyValidationError:
    return PolicyValidationError("", f"document exceeds the {ptype.value} policy size limit of {limit} characters")


def read_text(doc: str | bytes | bytearray, ptype: PolicyType, limit: int, raw_limit: int) -> Any:
    """The JSON value of a document sent as text or bytes, after the size checks IAM makes on
    the text itself (bytes bounded before decoding, the quota before parsing)."""
    if isinstance(doc, (bytes, bytearray)):
        if len(doc) > raw_limit:
            raise PolicyValidationError(
                "", f"document is too large: {len(doc)} bytes, at most {raw_limit} with whitespace")
        try:
            doc = bytes(doc).decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyValidationError("", "document is not valid UTF-8") from None
    if len(doc) <= raw_limit and _blank_free_length(doc) > limit:
        raise _too_big(ptype, limit)
    return _decode(doc, raw_limit)


def _depth_ok(obj: Any, depth: int = 0) -> bool:
    """Nested no deeper than IAM's grammar allows; also rejects NaN and infinities, which no
    JSON text can hold (`json.loads` of `NaN` or a dict built in Python can)."""
    if depth > _MAX_DEPTH:
        return False
    if isinstance(obj, dict):
        return all(_depth_ok(v, depth + 1) for v in obj.values())
    if isinstance(obj, list):
        return all(_depth_ok(v, depth + 1) for v in obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        raise PolicyValidationError("", "NaN and Infinity are not JSON values (IAM policies are strict JSON)")
    return True


def check_nesting(data: Any) -> None:
    """No deeper than IAM's grammar, and no NaN or infinity, whichever comes first in the document."""
    if not _depth_ok(data):
        raise PolicyValidationError("", "document is nested too deeply")


def check_text_size(length: int, blank_free: int, ptype: PolicyType, limit: int, raw_limit: int) -> None:
    """The API's bound on the whole text, then the type's quota on its non-whitespace characters."""
    if length > raw_limit:
        raise PolicyValidationError(
            "", f"document is too large: {length} characters, at most {raw_limit} with whitespace")
    if blank_free > limit:
        raise _too_big(ptype, limit)


def check_dict_size(data: dict[str, Any], ptype: PolicyType, limit: int, raw_limit: int) -> None:
    """A document given as a dict is measured as the compact JSON text it would be written as."""
    try:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise PolicyValidationError("", "document is not JSON-serialisable") from None
    check_text_size(len(text), _blank_free_length(text), ptype, limit, raw_limit)


class SizeTally:
    """What `check_dict_size` would measure, counted while the validator reads the document:
    `chars` for brackets, commas, colons and non-string scalars, `texts` for every string (keys
    included). `plain` turns False on anything JSON might write differently (a dict or list
    subclass); the caller then measures with `check_dict_size` instead."""

    __slots__ = ("chars", "plain", "texts")

    def __init__(self) -> None:
        self.chars = 0
        self.texts: list[str] = []
        self.plain = True

    def obj(self, value: dict[str, Any]) -> None:
        """A JSON object: braces, a colon per member, commas between, and its keys."""
        self.chars += 1 + 2 * len(value) if value else 2
        self.texts.extend(value)
        if type(value) is not dict:
            self.plain = False

    def array(self, value: list[Any]) -> None:
        """A JSON array: brackets and commas between (its items are counted where read)."""
        self.chars += 1 + len(value) if value else 2
        if type(value) is not list:
            self.plain = False

    def lengths(self) -> tuple[int, int] | None:
        """(characters of the compact JSON text, those not whitespace), or None if not plain."""
        if not self.plain:
            return None
        try:
            joined = "".join(self.texts)
        except TypeError:  # a key or value that only compares equal to a string
            return None
        length = self.chars + 2 * len(self.texts) + len(joined) + joined.count('"') + joined.count("\\")
        if joined.isascii() and joined.isprintable():
            return length, length - joined.count(" ")
        for c in _CONTROL.findall(joined):
            length += 1 if c in _SHORT_ESCAPES else 5
        return length, length - len(_BLANK_WRITTEN.findall(joined))
