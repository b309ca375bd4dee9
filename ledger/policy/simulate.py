"""`ledger simulate`: evaluate JSON-lines scenarios, one JSON line out per scenario in.

A bad scenario becomes an error line and the batch goes on; nothing ever raises out of
`simulate_lines`. Only `run_simulate` touches streams, and only the ones it is handed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

from ledger.policy.arn import PrincipalKind, RequestPrincipal, parse_arn, principal_from_arn
from ledger.policy.compiled import compile_policy
from ledger.policy.document import PolicyType
from ledger.policy.errors import LedgerError, PolicyValidationError, ScenarioError
from ledger.policy.evaluator import PolicyEntry, PolicySet, evaluate
from ledger.policy.parsing import parse_policy
from ledger.policy.request import TRUST_ACTIONS, Request

__all__ = ["run_simulate", "simulate_lines", "simulate_scenario"]

_ACTION = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9_.-]+$")
_ACCOUNT = re.compile(r"^\d{12}$")
_MAX_LINE = 2_000_000
# The identity-policy slot takes any identity policy, so it gets the largest identity quota
# (a role's inline policies, 10,240 characters).
_IDENTITY_MAX = 10240


def _policy(value: Any, where: str, ptype: PolicyType, max_size: int | None = None) -> Any:
    if not isinstance(value, (dict, str)):
        raise ScenarioError(f"{where}: must be a policy document (object or JSON string)")
    try:
        return parse_policy(value, ptype, max_size=max_size)
    except PolicyValidationError as exc:
        raise PolicyValidationError(
            f"{where}.{exc.path}" if exc.path else where, exc.reason
        ) from None


def _opt_str(sc: dict[str, Any], key: str) -> str | None:
    v = sc.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not v:
        raise ScenarioError(f"{key}: must be a non-empty string")
    return v


def _list(sc: dict[str, Any], key: str) -> list[Any] | None:
    v = sc.get(key)
    if v is None:
        return None
    if not isinstance(v, list):
        raise ScenarioError(f"{key}: must be a list")
    return v


def _principal(sc: dict[str, Any]) -> RequestPrincipal:
    """The caller, with the scenario's account and unique id filled in."""
    principal_text = sc.get("principal")
    if not isinstance(principal_text, str) or not principal_text:
        raise ScenarioError("principal: required, the caller's ARN or service principal")
    principal_account = _opt_str(sc, "principal_account")
    if principal_account is not None and not _ACCOUNT.match(principal_account):
        raise ScenarioError("principal_account: must be a 12-digit account id")
    principal = principal_from_arn(principal_text, principal_account)
    if principal.account is None and principal_account is not None:
        principal = type(principal)(
            principal.arn, principal.kind, principal_account, principal.unique_id,
            principal.role_arn,
        )
    unique_id = _opt_str(sc, "principal_unique_id")
    if unique_id is not None:
        principal = type(principal)(
            principal.arn, principal.kind, principal.account, unique_id, principal.role_arn
        )
    return principal


def _target(sc: dict[str, Any], principal: RequestPrincipal) -> tuple[str, str, str | None]:
    """(action, resource, resource account) checked against each other."""
    action = sc.get("action")
    if not isinstance(action, str) or not _ACTION.match(action):
        raise ScenarioError('action: required, of the form "service:Action"')
    resource = sc.get("resource", "*")
    if resource is None:
        resource = "*"
    if not isinstance(resource, str) or not resource:
        raise ScenarioError('resource: must be an ARN or "*"')
    resource_account = _opt_str(sc, "resource_account")
    if resource_account is not None and not _ACCOUNT.match(resource_account):
        raise ScenarioError("resource_account: must be a 12-digit account id")
    if resource != "*":
        arn = parse_arn(resource)
        if arn.account:
            if resource_account is not None and resource_account != arn.account:
                raise ScenarioError(
                    f'resource_account "{resource_account}" contradicts the account in '
                    f'the resource ARN "{arn.account}"'
                )
            resource_account = arn.account
        elif resource_account is None:
            raise ScenarioError(
                "resource_account: required, the resource ARN has no account field"
            )
    if resource_account is None:
        resource_account = principal.account
    return action, resource, resource_account


def _context(sc: dict[str, Any]) -> dict[str, Any]:
    """The context as given, once every value is a string or a list of strings."""
    context = sc.get("context") or {}
    if not isinstance(context, dict):
        raise ScenarioError("context: must be an object of key -> string or list of strings")
    for key, value in context.items():
        ok = isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
        if not ok:
            raise ScenarioError(f"context.{key}: must be a string or a list of strings")
    return context


def _policy_set(sc: dict[str, Any], principal: RequestPrincipal, action: str) -> PolicySet:
    """Every policy of the scenario, parsed, compiled and labelled (in the scenario's order)."""
    id_type = (
        "role" if principal.kind in (PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE) else "user"
    )
    identity = [
        PolicyEntry(
            compile_policy(_policy(d, f"identity_policies[{i}]", PolicyType.IDENTITY, _IDENTITY_MAX)),
            f"identity_policies[{i}]",
            id_type,
        )
        for i, d in enumerate(_list(sc, "identity_policies") or [])
    ]
    resource_entry = None
    rp = sc.get("resource_policy")
    if rp is not None:
        rtype = PolicyType.TRUST if action.lower() in TRUST_ACTIONS else PolicyType.RESOURCE
        resource_entry = PolicyEntry(
            compile_policy(_policy(rp, "resource_policy", rtype)), "resource_policy", "resource"
        )
    boundaries = None
    raw_b = _list(sc, "permission_boundaries")
    if raw_b is not None:
        boundaries = [
            PolicyEntry(
                compile_policy(_policy(d, f"permission_boundaries[{i}]", PolicyType.BOUNDARY)),
                f"permission_boundaries[{i}]",
                "permissions-boundary",
            )
            for i, d in enumerate(raw_b)
        ]
    session = None
    sp = sc.get("session_policy")
    if sp is not None:
        docs = sp if isinstance(sp, list) else [sp]
        session = [
            PolicyEntry(
                compile_policy(
                    _policy(d, "session_policy" if not isinstance(sp, list)
                            else f"session_policy[{i}]", PolicyType.SESSION)
                ),
                "session_policy" if not isinstance(sp, list) else f"session_policy[{i}]",
                "session",
            )
            for i, d in enumerate(docs)
        ]
    scps = None
    raw_s = _list(sc, "scps")
    if raw_s is not None:
        scps = []
        for i, level in enumerate(raw_s):
            if not isinstance(level, list):
                raise ScenarioError(f"scps[{i}]: must be a list of policy documents")
            scps.append(
                [
                    PolicyEntry(
                        compile_policy(_policy(d, f"scps[{i}][{j}]", PolicyType.SCP)),
                        f"scps[{i}][{j}]",
                        "scp",
                    )
                    for j, d in enumerate(level)
                ]
            )
    return PolicySet(
        identity=identity,
        resource=resource_entry,
        boundaries=boundaries,
        session=session,
        scps=scps,
    )


def build_request(sc: dict[str, Any]) -> tuple[Request, PolicySet]:
    """Turn a scenario object into (Request, PolicySet); ScenarioError/PolicyValidationError."""
    principal = _principal(sc)
    action, resource, resource_account = _target(sc, principal)
    context = _context(sc)
    policies = _policy_set(sc, principal, action)
    return Request(principal, action, resource, resource_account, context), policies


def _error_line(sid: Any, message: str) -> dict[str, Any]:
    return {
        "id": sid,
        "EvalDecision": None,
        "MatchedStatements": [],
        "MissingContextValues": [],
        "error": message,
    }


def _message(exc: LedgerError) -> str:
    return f"{exc.code}: {exc.message}"


def simulate_scenario(scenario: Any) -> dict[str, Any]:
    """Evaluate one parsed scenario object into its output object (never raises)."""
    sid = scenario.get("id") if isinstance(scenario, dict) else None
    try:
        if not isinstance(scenario, dict):
            raise ScenarioError("scenario must be a JSON object")
        request, policies = build_request(scenario)
        decision = evaluate(request, policies)
        if decision.errors:
            return _error_line(sid, "EvaluationError: " + "; ".join(decision.errors))
        return {
            "id": sid,
            "EvalDecision": decision.eval_decision,
            "MatchedStatements": [m.to_dict() for m in decision.matched_statements],
            "MissingContextValues": list(decision.missing_context_values),
            "PermissionsBoundaryDecisionDetail": decision.permissions_boundary_decision_detail,
            "OrganizationsDecisionDetail": decision.organizations_decision_detail,
            "error": None,
        }
    except LedgerError as exc:
        return _error_line(sid, _message(exc))
    except RecursionError:
        return _error_line(sid, "InvalidScenario: scenario is nested too deeply")
    except Exception as exc:  # noqa: BLE001 - never let one scenario stop the batch
        return _error_line(sid, f"InternalError: {type(exc).__name__}: {exc}")


def _dumps(obj: dict[str, Any]) -> str:
    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
        text.encode("utf-8")  # a lone surrogate (e.g. "id": "\ud800") is not writable text
        return text
    except UnicodeEncodeError:
        return json.dumps(_error_line(None, "InvalidScenario: the scenario holds text that is not Unicode "
                                            "(an unpaired surrogate escape)"))
    except (TypeError, ValueError):
        return json.dumps(_error_line(None, "InvalidScenario: output is not JSON-serialisable"))


def simulate_lines(lines: Iterable[str | bytes]) -> Iterator[str]:
    """One JSON line (without newline) per non-blank input line, in input order."""
    for line in lines:
        try:
            if isinstance(line, (bytes, bytearray)):
                try:
                    line = bytes(line).decode("utf-8")  # noqa: PLW2901 - the decoded line replaces the raw one
                except UnicodeDecodeError:
                    yield _dumps(_error_line(None, "InvalidScenario: line is not valid UTF-8"))
                    continue
            if not line.strip():
                continue
            if len(line) > _MAX_LINE:
                yield _dumps(_error_line(None, "InvalidScenario: line is too long"))
                continue
            try:
                scenario = json.loads(line)
            except RecursionError:
                yield _dumps(_error_line(None, "InvalidScenario: scenario is nested too deeply"))
                continue
            except ValueError as exc:
                yield _dumps(_error_line(None, f"InvalidScenario: malformed JSON: {exc}"))
                continue
            yield _dumps(simulate_scenario(scenario))
        except Exception as exc:  # noqa: BLE001  # pragma: no cover - belt and braces
            yield _dumps(_error_line(None, f"InternalError: {type(exc).__name__}"))


def run_simulate(in_stream: IO[str], out_stream: IO[str]) -> int:
    """Stream scenarios from `in_stream` to `out_stream`; exit code 0, or 1 if any line erred."""
    status = 0
    for out in simulate_lines(in_stream):
        if not out.endswith('"error": null}'):
            status = 1
        out_stream.write(out + "\n")
    out_stream.flush()
    return status
