"""Test oracle: `ledger.policy.parsing` as it was before validation was made cheap (issue 12).

Kept verbatim (with `split_operator` copied in) so the differential tests can compare the fast
validator's accept/reject and error path with it; never imported by the product.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ledger.policy.document import (
    CONDITION_OPERATORS,
    SIZE_LIMITS,
    PolicyDocument,
    PolicyType,
    PrincipalElement,
    Statement,
)
from ledger.policy.errors import PolicyValidationError

_IDENTITY_LIKE = frozenset(
    {
        PolicyType.IDENTITY,
        PolicyType.INLINE_USER,
        PolicyType.INLINE_GROUP,
        PolicyType.INLINE_ROLE,
        PolicyType.BOUNDARY,
        PolicyType.SESSION,
        PolicyType.SCP,
    }
)

# IAM API Reference, CreatePolicy/PutUserPolicy...: "The maximum length of the policy document that
# you can pass in this operation, including whitespace" is "Maximum length of 131072". The size
# quotas (SIZE_LIMITS) count characters without whitespace; this bound counts every character,
# whitespace inside values included, so a 2,048-character policy cannot carry megabytes of blanks.
API_MAX_CHARS = 131_072
_MAX_DEPTH = 8
_ACTION_RE = re.compile(r"^(\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?_.-]+)$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_UNIQUE_ID_RE = re.compile(r"^A[A-Z0-9]{15,127}$")
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_WS = re.compile(r"\s+")

_TOP_KEYS = frozenset({"Version", "Id", "Statement"})
_STMT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_PRINCIPAL_KEYS = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})


def _reject_constant(name: str) -> Any:
    raise PolicyValidationError("", f"{name} is not a JSON value (IAM policies are strict JSON)")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise PolicyValidationError("", f'duplicate key "{key}"')
        out[key] = value
    return out


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
    except Exception as exc:
        raise PolicyValidationError("", f"invalid document ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise PolicyValidationError("", "document must be a JSON object")
    return data


def _check_text(path: str, value: str) -> str:
    if _BAD_CHARS.search(value):
        raise PolicyValidationError(path, "contains a control or invalid character")
    return value


def _string_or_list(path: str, value: Any, *, allow_empty: bool = False) -> tuple[str, ...]:
    if isinstance(value, str):
        return (_check_text(path, value),)
    if isinstance(value, list):
        if not value and not allow_empty:
            raise PolicyValidationError(path, "must not be an empty list")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise PolicyValidationError(f"{path}[{i}]", "must be a string")
            out.append(_check_text(f"{path}[{i}]", item))
        return tuple(out)
    raise PolicyValidationError(path, "must be a string or a list of strings")


def _parse_principal(path: str, value: Any) -> PrincipalElement:
    if isinstance(value, str):
        if value != "*":
            raise PolicyValidationError(path, 'must be "*" or an object such as {"AWS": ...}')
        return PrincipalElement(wildcard=True)
    if not isinstance(value, dict):
        raise PolicyValidationError(path, 'must be "*" or an object such as {"AWS": ...}')
    if not value:
        raise PolicyValidationError(path, "must name at least one principal")
    fields: dict[str, tuple[str, ...]] = {}
    for key, raw in value.items():
        if key not in _PRINCIPAL_KEYS:
            raise PolicyValidationError(
                f"{path}.{key}", "unknown principal type (AWS, Service, Federated, CanonicalUser)"
            )
        vals = _string_or_list(f"{path}.{key}", raw)
        for i, v in enumerate(vals):
            vpath = f"{path}.{key}" if isinstance(raw, str) else f"{path}.{key}[{i}]"
            if not v:
                raise PolicyValidationError(vpath, "must not be empty")
            if key == "AWS" and not (
                v == "*"
                or _ACCOUNT_RE.match(v)
                or _UNIQUE_ID_RE.match(v)
                or (v.startswith("arn:") and v.count(":") >= 5)
            ):
                raise PolicyValidationError(
                    vpath, f'invalid AWS principal "{v}": expected "*", an account id or an ARN'
                )
        fields[key] = vals
    return PrincipalElement(
        aws=fields.get("AWS", ()),
        service=fields.get("Service", ()),
        federated=fields.get("Federated", ()),
        canonical_user=fields.get("CanonicalUser", ()),
    )


def _condition_value(path: str, v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, str):
        return _check_text(path, v)
    raise PolicyValidationError(path, "condition values must be strings, numbers or booleans")


def _parse_condition(path: str, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, dict):
        raise PolicyValidationError(path, "must be an object of operator -> {key: values}")
    blocks = []
    for op, body in value.items():
        opath = f"{path}.{op}"
        if split_operator(op) is None:
            raise PolicyValidationError(opath, f'unknown condition operator "{op}"')
        if not isinstance(body, dict) or not body:
            raise PolicyValidationError(opath, "must be a non-empty object of key -> values")
        entries = []
        for key, raw in body.items():
            kpath = f"{opath}.{key}"
            if not key or _BAD_CHARS.search(key):
                raise PolicyValidationError(kpath, "invalid condition key")
            if isinstance(raw, list):
                if not raw:
                    raise PolicyValidationError(kpath, "must not be an empty list")
                vals = tuple(_condition_value(f"{kpath}[{i}]", v) for i, v in enumerate(raw))
            else:
                vals = (_condition_value(kpath, raw),)
            if op == "Null" and any(v.lower() not in ("true", "false") for v in vals):
                raise PolicyValidationError(kpath, 'Null takes "true" or "false"')
            entries.append((key, vals))
        blocks.append((op, tuple(entries)))
    return tuple(blocks)


def _parse_statement(path: str, raw: Any, ptype: PolicyType) -> Statement:
    if not isinstance(raw, dict):
        raise PolicyValidationError(path, "must be an object")
    for key in raw:
        if key not in _STMT_KEYS:
            raise PolicyValidationError(f"{path}.{key}", "unknown statement element")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyValidationError(f"{path}.Sid", "must be a string")
    if sid is not None:
        _check_text(f"{path}.Sid", sid)
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyValidationError(f"{path}.Effect", 'must be "Allow" or "Deny"')

    has_p, has_np = "Principal" in raw, "NotPrincipal" in raw
    if ptype in _IDENTITY_LIKE and (has_p or has_np):
        name = "Principal" if has_p else "NotPrincipal"
        raise PolicyValidationError(
            f"{path}.{name}", f"not allowed in a {ptype.value} policy"
        )
    if ptype in (PolicyType.RESOURCE, PolicyType.TRUST) and not (has_p or has_np):
        raise PolicyValidationError(path, f"Principal is required in a {ptype.value} policy")
    if has_p and has_np:
        raise PolicyValidationError(path, "must not have both Principal and NotPrincipal")
    if ptype is PolicyType.TRUST and has_np:
        raise PolicyValidationError(f"{path}.NotPrincipal", "not allowed in a trust policy")
    principal = _parse_principal(f"{path}.Principal", raw["Principal"]) if has_p else None
    not_principal = (
        _parse_principal(f"{path}.NotPrincipal", raw["NotPrincipal"]) if has_np else None
    )

    has_a, has_na = "Action" in raw, "NotAction" in raw
    if has_a == has_na:
        raise PolicyValidationError(path, "must have exactly one of Action or NotAction")
    akey = "Action" if has_a else "NotAction"
    actions = _string_or_list(f"{path}.{akey}", raw[akey])
    for i, a in enumerate(actions):
        if not _ACTION_RE.match(a):
            apath = f"{path}.{akey}" if isinstance(raw[akey], str) else f"{path}.{akey}[{i}]"
            raise PolicyValidationError(apath, f'invalid action "{a}": expected "service:Action"')

    has_r, has_nr = "Resource" in raw, "NotResource" in raw
    if has_r and has_nr:
        raise PolicyValidationError(path, "must not have both Resource and NotResource")
    resources: tuple[str, ...] | None = None
    rkey = "Resource" if has_r else "NotResource"
    if ptype is PolicyType.TRUST:
        if has_r or has_nr:
            raise PolicyValidationError(f"{path}.{rkey}", "not allowed in a trust policy")
    else:
        if not (has_r or has_nr):
            raise PolicyValidationError(path, "must have Resource or NotResource")
        resources = _string_or_list(f"{path}.{rkey}", raw[rkey])
        for i, r in enumerate(resources):
            rpath = f"{path}.{rkey}" if isinstance(raw[rkey], str) else f"{path}.{rkey}[{i}]"
            if not (r == "*" or (r.startswith("arn:") and (r.count(":") >= 5 or r.endswith("*")))):
                raise PolicyValidationError(rpath, f'"{r}" must be an ARN or "*"')

    condition = _parse_condition(f"{path}.Condition", raw["Condition"]) if "Condition" in raw else ()
    return Statement(
        sid=sid,
        effect=effect,
        principal=principal,
        not_principal=not_principal,
        action=actions if has_a else None,
        not_action=None if has_a else actions,
        resource=resources if has_r else None,
        not_resource=resources if has_nr else None,
        condition=condition,
    )


def _size(text: str) -> int:
    return len(_WS.sub("", text))


def parse_policy(
    doc: str | bytes | dict[str, Any],
    policy_type: PolicyType | str = PolicyType.IDENTITY,
    *,
    max_size: int | None = None,
) -> PolicyDocument:
    """Parse and validate a policy; raise PolicyValidationError naming the path and reason.

    `max_size` overrides the AWS quota for the type (e.g. a trust policy raised to 4,096).
    """
    try:
        ptype = PolicyType(policy_type)
    except ValueError:
        raise PolicyValidationError("", f'unknown policy type "{policy_type}"') from None
    limit = SIZE_LIMITS[ptype] if max_size is None else max_size
    try:
        return _parse(doc, ptype, limit)
    except PolicyValidationError:
        raise
    except RecursionError:
        raise PolicyValidationError("", "document is nested too deeply") from None
    except Exception as exc:
        raise PolicyValidationError("", f"invalid document ({type(exc).__name__})") from None


def _parse(doc: Any, ptype: PolicyType, limit: int) -> PolicyDocument:
    raw_limit = max(API_MAX_CHARS, limit)
    if isinstance(doc, (bytes, bytearray)):
        if len(doc) > raw_limit:
            raise PolicyValidationError(
                "", f"document is too large: {len(doc)} bytes, at most {raw_limit} with whitespace")
        try:
            doc = bytes(doc).decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyValidationError("", "document is not valid UTF-8") from None
    if isinstance(doc, str):
        if len(doc) <= raw_limit and _size(doc) > limit:
            raise PolicyValidationError(
                "", f"document exceeds the {ptype.value} policy size limit of {limit} characters"
            )
        data = _decode(doc, raw_limit)
    elif isinstance(doc, dict):
        data = doc
    else:
        raise PolicyValidationError("", "document must be a JSON object")
    if not isinstance(data, dict):
        raise PolicyValidationError("", "document must be a JSON object")
    if not _depth_ok(data):
        raise PolicyValidationError("", "document is nested too deeply")
    if not isinstance(doc, str):
        try:
            text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            raise PolicyValidationError("", "document is not JSON-serialisable") from None
        if len(text) > raw_limit:
            raise PolicyValidationError(
                "", f"document is too large: {len(text)} characters, at most {raw_limit} with whitespace")
        if _size(text) > limit:
            raise PolicyValidationError(
                "", f"document exceeds the {ptype.value} policy size limit of {limit} characters"
            )
    for key in data:
        if key not in _TOP_KEYS:
            raise PolicyValidationError(str(key), "unknown top-level element")
    version = data.get("Version")
    if version is not None and version not in ("2012-10-17", "2008-10-17"):
        raise PolicyValidationError("Version", 'must be "2012-10-17" or "2008-10-17"')
    pid = data.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise PolicyValidationError("Id", "must be a string")
    if "Statement" not in data:
        raise PolicyValidationError("Statement", "is required")
    raw = data["Statement"]
    stmts: tuple[Statement, ...]
    if isinstance(raw, dict):
        stmts = (_parse_statement("Statement", raw, ptype),)
    elif isinstance(raw, list):
        if not raw:
            raise PolicyValidationError("Statement", "must contain at least one statement")
        stmts = tuple(_parse_statement(f"Statement[{i}]", s, ptype) for i, s in enumerate(raw))
    else:
        raise PolicyValidationError("Statement", "must be an object or a list of objects")
    return PolicyDocument(version=version, id=pid, statements=stmts, policy_type=ptype)


def split_operator(op: str) -> tuple[str | None, str, bool] | None:
    """Split `ForAnyValue:StringLikeIfExists` into (qualifier, base, if_exists); None if unknown."""
    qualifier: str | None = None
    rest = op
    if ":" in op:
        prefix, _, rest = op.partition(":")
        if prefix == "ForAllValues":
            qualifier = "all"
        elif prefix == "ForAnyValue":
            qualifier = "any"
        else:
            return None
    if_exists = False
    if rest.endswith("IfExists") and rest != "IfExists":
        if_exists = True
        rest = rest[: -len("IfExists")]
    if rest not in CONDITION_OPERATORS:
        return None
    if rest == "Null" and (if_exists or qualifier):
        return None
    return qualifier, rest, if_exists
