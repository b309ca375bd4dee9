"""Parse and validate AWS IAM JSON policies into the frozen document model.

Validation only: no evaluation here, and never any exception other than PolicyValidationError
for a document the caller passes in.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ledger.policy.document import (
    SIZE_LIMITS,
    PolicyDocument,
    PolicyType,
    PrincipalElement,
    Statement,
    split_operator,
)
from ledger.policy.errors import PolicyValidationError
from ledger.policy.policy_json import (
    API_MAX_CHARS,
    SizeTally,
    check_dict_size,
    check_nesting,
    check_text_size,
    load_policy_json,
    read_text,
)

__all__ = ["API_MAX_CHARS", "load_policy_json", "parse_policy"]

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

_ACTION_RE = re.compile(r"^(\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?_.-]+)$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_UNIQUE_ID_RE = re.compile(r"^A[A-Z0-9]{15,127}$")
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")

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
_EVERYONE = PrincipalElement(wildcard=True)
_NULL_CHARS = len("null")

# Action and resource strings already found valid, each mapped to itself: a string seen before is
# checked by one lookup, and every document holding it shares one string object. Bounded: cleared
# when full, and long strings are never kept.
_KNOWN_MAX = 16_384
_KNOWN_LONGEST = 256
_KNOWN_ACTIONS: dict[str, str] = {}
_KNOWN_RESOURCES: dict[str, str] = {}


def _remember(known: dict[str, str], values: tuple[str, ...]) -> None:
    if len(known) >= _KNOWN_MAX:
        known.clear()
    for v in values:
        if type(v) is str and len(v) <= _KNOWN_LONGEST:
            known.setdefault(v, v)


def _known(known: dict[str, str], value: Any, tally: SizeTally) -> tuple[str, ...] | None:
    """The values of a string-or-list element when every one is known valid, else None."""
    try:
        if type(value) is str:
            found: tuple[str, ...] = (known[value],)
            tally.texts.append(value)
            return found
        if type(value) is list and value:
            found = tuple(map(known.__getitem__, value))
            tally.chars += 1 + len(value)  # as tally.array(value), for a list known to be plain
            tally.texts.extend(value)
            return found
    except (KeyError, TypeError):
        pass
    return None


def _check_text(path: str, value: str) -> str:
    if _BAD_CHARS.search(value):
        raise PolicyValidationError(path, "contains a control or invalid character")
    return value


def _string_or_list(path: str, value: Any, tally: SizeTally) -> tuple[str, ...]:
    if isinstance(value, str):
        tally.texts.append(value)
        return (_check_text(path, value),)
    if isinstance(value, list):
        if not value:
            raise PolicyValidationError(path, "must not be an empty list")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise PolicyValidationError(f"{path}[{i}]", "must be a string")
            if _BAD_CHARS.search(item):
                _check_text(f"{path}[{i}]", item)
        tally.array(value)
        tally.texts.extend(value)
        return tuple(value)
    raise PolicyValidationError(path, "must be a string or a list of strings")


def _item_path(path: str, value: Any, i: int) -> str:
    """The path of the i-th value of an element written as a string (the element) or a list."""
    return path if isinstance(value, str) else f"{path}[{i}]"


def _actions(path: str, key: str, value: Any, tally: SizeTally) -> tuple[str, ...]:
    where = f"{path}.{key}"
    actions = _string_or_list(where, value, tally)
    for i, a in enumerate(actions):
        if not _ACTION_RE.match(a):
            raise PolicyValidationError(_item_path(where, value, i), f'invalid action "{a}": expected "service:Action"')
    _remember(_KNOWN_ACTIONS, actions)
    return actions


def _resources(path: str, key: str, value: Any, tally: SizeTally) -> tuple[str, ...]:
    where = f"{path}.{key}"
    resources = _string_or_list(where, value, tally)
    for i, r in enumerate(resources):
        if not (r == "*" or (r.startswith("arn:") and (r.count(":") >= 5 or r.endswith("*")))):
            raise PolicyValidationError(_item_path(where, value, i), f'"{r}" must be an ARN or "*"')
    _remember(_KNOWN_RESOURCES, resources)
    return resources


def _parse_principal(path: str, value: Any, tally: SizeTally) -> PrincipalElement:
    if isinstance(value, str):
        if value != "*":
            raise PolicyValidationError(path, 'must be "*" or an object such as {"AWS": ...}')
        tally.texts.append(value)
        return _EVERYONE
    if not isinstance(value, dict):
        raise PolicyValidationError(path, 'must be "*" or an object such as {"AWS": ...}')
    if not value:
        raise PolicyValidationError(path, "must name at least one principal")
    tally.obj(value)
    fields: dict[str, tuple[str, ...]] = {}
    for key, raw in value.items():
        if key not in _PRINCIPAL_KEYS:
            raise PolicyValidationError(
                f"{path}.{key}", "unknown principal type (AWS, Service, Federated, CanonicalUser)"
            )
        vals = _string_or_list(f"{path}.{key}", raw, tally)
        for i, v in enumerate(vals):
            if not v:
                raise PolicyValidationError(_item_path(f"{path}.{key}", raw, i), "must not be empty")
            if key == "AWS" and not (
                v == "*"
                or _ACCOUNT_RE.match(v)
                or _UNIQUE_ID_RE.match(v)
                or (v.startswith("arn:") and v.count(":") >= 5)
            ):
                raise PolicyValidationError(
                    _item_path(f"{path}.{key}", raw, i),
                    f'invalid AWS principal "{v}": expected "*", an account id or an ARN',
                )
        fields[key] = vals
    return PrincipalElement(
        aws=fields.get("AWS", ()),
        service=fields.get("Service", ()),
        federated=fields.get("Federated", ()),
        canonical_user=fields.get("CanonicalUser", ()),
    )


def _condition_value(path: str, index: int | None, v: Any, tally: SizeTally) -> str:
    if isinstance(v, str):
        if _BAD_CHARS.search(v):
            _check_text(path if index is None else f"{path}[{index}]", v)
        tally.texts.append(v)
        return v
    if isinstance(v, bool):
        tally.chars += 4 if v else 5
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        text = json.dumps(v)
        if isinstance(v, float) and not math.isfinite(v):  # only from a dict; reported by check_nesting
            raise PolicyValidationError("", "NaN and Infinity are not JSON values")
        tally.chars += len(text)
        return text
    raise PolicyValidationError(
        path if index is None else f"{path}[{index}]", "condition values must be strings, numbers or booleans"
    )


def _condition_values(kpath: str, raw: Any, tally: SizeTally) -> tuple[str, ...]:
    if type(raw) is list and raw:
        try:
            clean = not _BAD_CHARS.search("".join(raw))
        except TypeError:  # not all strings
            clean = False
        if clean:
            tally.array(raw)
            tally.texts.extend(raw)
            return tuple(raw)
    if isinstance(raw, list):
        if not raw:
            raise PolicyValidationError(kpath, "must not be an empty list")
        tally.array(raw)
        return tuple([_condition_value(kpath, i, v, tally) for i, v in enumerate(raw)])
    return (_condition_value(kpath, None, raw, tally),)


def _parse_condition(path: str, value: Any, tally: SizeTally) -> tuple[Any, ...]:
    if not isinstance(value, dict):
        raise PolicyValidationError(path, "must be an object of operator -> {key: values}")
    tally.obj(value)
    blocks = []
    for op, body in value.items():
        if split_operator(op) is None:
            raise PolicyValidationError(f"{path}.{op}", f'unknown condition operator "{op}"')
        if not isinstance(body, dict) or not body:
            raise PolicyValidationError(f"{path}.{op}", "must be a non-empty object of key -> values")
        tally.obj(body)
        entries = []
        for key, raw in body.items():
            if not key or _BAD_CHARS.search(key):
                raise PolicyValidationError(f"{path}.{op}.{key}", "invalid condition key")
            vals = _condition_values(f"{path}.{op}.{key}", raw, tally)
            if op == "Null" and any(v.lower() not in ("true", "false") for v in vals):
                raise PolicyValidationError(f"{path}.{op}.{key}", 'Null takes "true" or "false"')
            entries.append((key, vals))
        blocks.append((op, tuple(entries)))
    return tuple(blocks)


def _principals(
    path: str, raw: dict[str, Any], ptype: PolicyType, tally: SizeTally
) -> tuple[PrincipalElement | None, PrincipalElement | None]:
    """(Principal, NotPrincipal), each None when absent, under the policy type's rules."""
    has_p, has_np = "Principal" in raw, "NotPrincipal" in raw
    if ptype in _IDENTITY_LIKE and (has_p or has_np):
        name = "Principal" if has_p else "NotPrincipal"
        raise PolicyValidationError(f"{path}.{name}", f"not allowed in a {ptype.value} policy")
    if ptype in (PolicyType.RESOURCE, PolicyType.TRUST) and not (has_p or has_np):
        raise PolicyValidationError(path, f"Principal is required in a {ptype.value} policy")
    if has_p and has_np:
        raise PolicyValidationError(path, "must not have both Principal and NotPrincipal")
    if ptype is PolicyType.TRUST and has_np:
        raise PolicyValidationError(f"{path}.NotPrincipal", "not allowed in a trust policy")
    principal = _parse_principal(f"{path}.Principal", raw["Principal"], tally) if has_p else None
    not_principal = _parse_principal(f"{path}.NotPrincipal", raw["NotPrincipal"], tally) if has_np else None
    return principal, not_principal


def _parse_statement(path: str, raw: Any, ptype: PolicyType, tally: SizeTally) -> Statement:
    if not isinstance(raw, dict):
        raise PolicyValidationError(path, "must be an object")
    tally.obj(raw)
    if not raw.keys() <= _STMT_KEYS:
        for key in raw:
            if key not in _STMT_KEYS:
                raise PolicyValidationError(f"{path}.{key}", "unknown statement element")
    sid = raw.get("Sid")
    if sid is None:
        tally.chars += _NULL_CHARS if "Sid" in raw else 0
    elif not isinstance(sid, str):
        raise PolicyValidationError(f"{path}.Sid", "must be a string")
    else:
        if _BAD_CHARS.search(sid):
            _check_text(f"{path}.Sid", sid)
        tally.texts.append(sid)
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyValidationError(f"{path}.Effect", 'must be "Allow" or "Deny"')
    tally.texts.append(effect)
    principal, not_principal = (
        _principals(path, raw, ptype, tally) if ptype not in _IDENTITY_LIKE or "Principal" in raw
        or "NotPrincipal" in raw else (None, None)
    )

    has_a = "Action" in raw
    if has_a == ("NotAction" in raw):
        raise PolicyValidationError(path, "must have exactly one of Action or NotAction")
    akey = "Action" if has_a else "NotAction"
    value = raw[akey]
    actions = _known(_KNOWN_ACTIONS, value, tally) or _actions(path, akey, value, tally)

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
        value = raw[rkey]
        resources = _known(_KNOWN_RESOURCES, value, tally) or _resources(path, rkey, value, tally)

    condition = _parse_condition(f"{path}.Condition", raw["Condition"], tally) if "Condition" in raw else ()
    if has_a:
        return Statement(sid, effect, principal, not_principal, actions, None,
                         resources if has_r else None, resources if has_nr else None, condition)
    return Statement(sid, effect, principal, not_principal, None, actions,
                     resources if has_r else None, resources if has_nr else None, condition)


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
    except Exception as exc:  # noqa: BLE001 - fail typed: any surprise in a hostile document is a rejection
        raise PolicyValidationError("", f"invalid document ({type(exc).__name__})") from None


def _parse(doc: Any, ptype: PolicyType, limit: int) -> PolicyDocument:
    """Validate in one reading, counting the size as it goes. IAM reports a document nested too
    deeply or too large before anything inside it, so when the reading finds an error those
    checks run first; when it finds none, the document is at most six levels deep (the grammar's
    own depth) and holds no NaN, so only its size is left to check."""
    raw_limit = max(API_MAX_CHARS, limit)
    from_text = isinstance(doc, (str, bytes, bytearray))
    if from_text:
        data = read_text(doc, ptype, limit, raw_limit)
    elif isinstance(doc, dict):
        data = doc
    else:
        raise PolicyValidationError("", "document must be a JSON object")
    if not isinstance(data, dict):
        raise PolicyValidationError("", "document must be a JSON object")
    tally = SizeTally()
    failure: Exception | None = None
    try:
        document = _document(data, ptype, tally)
    except Exception as exc:  # noqa: BLE001 - reported below, after the checks IAM makes first
        failure = exc
    if failure is not None:
        check_nesting(data)
        if not from_text:
            check_dict_size(data, ptype, limit, raw_limit)
        raise failure
    if not from_text:
        lengths = tally.lengths()
        if lengths is None:
            check_dict_size(data, ptype, limit, raw_limit)
        else:
            check_text_size(*lengths, ptype, limit, raw_limit)
    return document


def _document(data: dict[str, Any], ptype: PolicyType, tally: SizeTally) -> PolicyDocument:
    tally.obj(data)
    if not data.keys() <= _TOP_KEYS:
        for key in data:
            if key not in _TOP_KEYS:
                raise PolicyValidationError(str(key), "unknown top-level element")
    version = data.get("Version")
    if version is not None and version not in ("2012-10-17", "2008-10-17"):
        raise PolicyValidationError("Version", 'must be "2012-10-17" or "2008-10-17"')
    pid = data.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise PolicyValidationError("Id", "must be a string")
    for key, value in (("Version", version), ("Id", pid)):
        if value is not None:
            tally.texts.append(value)
        elif key in data:
            tally.chars += _NULL_CHARS
    if "Statement" not in data:
        raise PolicyValidationError("Statement", "is required")
    raw = data["Statement"]
    stmts: tuple[Statement, ...]
    if isinstance(raw, dict):
        stmts = (_parse_statement("Statement", raw, ptype, tally),)
    elif isinstance(raw, list):
        if not raw:
            raise PolicyValidationError("Statement", "must contain at least one statement")
        tally.array(raw)
        stmts = tuple([_parse_statement(f"Statement[{i}]", s, ptype, tally) for i, s in enumerate(raw)])
    else:
        raise PolicyValidationError("Statement", "must be an object or a list of objects")
    # Every field is validated above; pydantic would only rebuild each statement again.
    return PolicyDocument.model_construct(version=version, id=pid, statements=stmts, policy_type=ptype)
