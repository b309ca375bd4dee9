"""`ledger simulate`: evaluate JSON-lines scenarios, one JSON line out per scenario in.

A bad scenario becomes an error line and the batch goes on; nothing ever raises out of
`simulate_lines`. Only `run_simulate` touches streams, and only the ones it is handed.
"""

from __future__ import annotations

import json
import marshal
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import IO, Any, Protocol

from ledger.policy.arn import PrincipalKind, RequestPrincipal
from ledger.policy.compiled import CompiledPolicy
from ledger.policy.decision import combine_resource_decisions
from ledger.policy.document import PolicyType
from ledger.policy.errors import LedgerError, PolicyValidationError, ScenarioError
from ledger.policy.evaluator import PolicyEntry, PolicySet, evaluate
from ledger.policy.parsing import parse_policy
from ledger.policy.request import TRUST_ACTIONS, Request
from ledger.policy.scenario import (
    assumed_owner_notes,
    read_context,
    read_list,
    read_principal,
    read_resources,
    read_target,
)

__all__ = ["ScenarioAdvisor", "run_simulate", "simulate_lines", "simulate_scenario"]


class ScenarioAdvisor(Protocol):
    """What the engine cannot know itself, supplied by the caller (the CLI passes the AWS service
    catalogue, `ledger.catalog.CatalogAdvisor`): the resource AWS evaluates the request against
    (an action with no resource type is evaluated against all resources), and warnings."""

    def evaluated_resource(self, action: str, resource: str, principal_arn: str) -> str: ...

    def warnings(self, request: Request, policies: PolicySet, resource_as_given: str) -> list[str]: ...

_MAX_LINE = 2_000_000
# The identity-policy slot takes any identity policy, so it gets the largest identity quota
# (a role's inline policies, 10,240 characters).
_IDENTITY_MAX = 10240


# Documents seen recently, by (type, size limit, document as sent): a batch that repeats one
# (as test suites do) validates and compiles it once. Failures are remembered too. A document is
# kept from its second sighting on: a batch of fresh policies would otherwise fill the cache with
# thousands of objects never asked for again, and the garbage collector would walk them all
# (measured: a fifth of the time of such a batch). `_MET` remembers only the keys' hashes; a
# collision only keeps a document one sighting early.
_DocumentKey = tuple[PolicyType, int | None, str | bytes]
_SEEN: OrderedDict[_DocumentKey, CompiledPolicy | tuple[str, str]] = OrderedDict()
_SEEN_MAX = 1024
_MET: OrderedDict[int, None] = OrderedDict()
_MET_MAX = 4096


def _document_key(value: dict[str, Any] | str) -> str | bytes | None:
    """A key equal only for equal documents as sent: the JSON text itself, or a JSON object's
    `marshal` bytes (it tells apart every JSON value, key order, 1, 1.0 and true included, and
    costs a sixth of writing the object back as text); None if it cannot (too deep, or a type
    that is not plain JSON), and the document is then validated uncached."""
    if isinstance(value, str):
        return value
    try:
        return marshal.dumps(value)
    except (ValueError, RecursionError):
        return None


def _compiled(value: dict[str, Any] | str, ptype: PolicyType,
              max_size: int | None) -> CompiledPolicy | tuple[str, str]:
    """The compiled document, or the (path, reason) it was rejected for."""
    text = _document_key(value)
    key = (ptype, max_size, text) if text is not None else None
    if key is not None and (hit := _SEEN.get(key)) is not None:
        _SEEN.move_to_end(key)
        return hit
    result: CompiledPolicy | tuple[str, str]
    try:
        # Not through the shared compiler: this cache already knows equal documents.
        result = CompiledPolicy(parse_policy(value, ptype, max_size=max_size))
    except PolicyValidationError as exc:
        result = (exc.path, exc.reason)
    if key is not None and _met_before(key):
        _SEEN[key] = result
        if len(_SEEN) > _SEEN_MAX:
            _SEEN.popitem(last=False)
    return result


def _met_before(key: _DocumentKey) -> bool:
    """Whether `key` was met recently (and forget it); else remember it."""
    digest = hash(key)
    if digest in _MET:
        del _MET[digest]
        return True
    _MET[digest] = None
    if len(_MET) > _MET_MAX:
        _MET.popitem(last=False)
    return False


def _policy(value: Any, where: str, ptype: PolicyType, max_size: int | None = None) -> CompiledPolicy:
    if not isinstance(value, (dict, str)):
        raise ScenarioError(f"{where}: must be a policy document (object or JSON string)")
    result = _compiled(value, ptype, max_size)
    if isinstance(result, tuple):
        path, reason = result
        raise PolicyValidationError(f"{where}.{path}" if path else where, reason)
    return result


def _policy_set(sc: dict[str, Any], principal: RequestPrincipal, action: str) -> PolicySet:
    """Every policy of the scenario, parsed, compiled and labelled (in the scenario's order)."""
    id_type = (
        "role" if principal.kind in (PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE) else "user"
    )
    identity = [
        PolicyEntry(
            _policy(d, f"identity_policies[{i}]", PolicyType.IDENTITY, _IDENTITY_MAX),
            f"identity_policies[{i}]",
            id_type,
        )
        for i, d in enumerate(read_list(sc, "identity_policies") or [])
    ]
    resource_entry = None
    rp = sc.get("resource_policy")
    if rp is not None:
        rtype = PolicyType.TRUST if action.lower() in TRUST_ACTIONS else PolicyType.RESOURCE
        resource_entry = PolicyEntry(
            _policy(rp, "resource_policy", rtype), "resource_policy", "resource"
        )
    boundaries = None
    raw_b = read_list(sc, "permission_boundaries")
    if raw_b is not None:
        boundaries = [
            PolicyEntry(
                _policy(d, f"permission_boundaries[{i}]", PolicyType.BOUNDARY),
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
                _policy(d, "session_policy" if not isinstance(sp, list)
                        else f"session_policy[{i}]", PolicyType.SESSION),
                "session_policy" if not isinstance(sp, list) else f"session_policy[{i}]",
                "session",
            )
            for i, d in enumerate(docs)
        ]
    scps = None
    raw_s = read_list(sc, "scps")
    if raw_s is not None:
        scps = []
        for i, level in enumerate(raw_s):
            if not isinstance(level, list):
                raise ScenarioError(f"scps[{i}]: must be a list of policy documents")
            scps.append(
                [
                    PolicyEntry(
                        _policy(d, f"scps[{i}][{j}]", PolicyType.SCP),
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


def build_requests(
    sc: dict[str, Any], advisor: ScenarioAdvisor | None = None
) -> tuple[list[Request], PolicySet, bool]:
    """Turn a scenario object into one Request per resource, the PolicySet, and whether the
    resources came as a list; ScenarioError/PolicyValidationError. The advisor, when given, maps
    each resource to the one AWS evaluates (an action with no resource type: all resources)."""
    principal = read_principal(sc)
    action, targets, listed = read_target(sc, principal)
    context = read_context(sc)
    policies = _policy_set(sc, principal, action)
    requests = [
        Request(principal, action, advisor.evaluated_resource(action, r, principal.arn) if advisor else r,
                owner, context)
        for r, owner in targets
    ]
    return requests, policies, listed


def _error_line(sid: Any, message: str) -> dict[str, Any]:
    return {
        "id": sid,
        "EvalDecision": None,
        "MatchedStatements": [],
        "MissingContextValues": [],
        "Warnings": [],
        "error": message,
    }


def _message(exc: LedgerError) -> str:
    return f"{exc.code}: {exc.message}"


def simulate_scenario(scenario: Any, advisor: ScenarioAdvisor | None = None) -> dict[str, Any]:
    """Evaluate one parsed scenario object into its output object (never raises)."""
    sid = scenario.get("id") if isinstance(scenario, dict) else None
    try:
        if not isinstance(scenario, dict):
            raise ScenarioError("scenario must be a JSON object")
        requests, policies, listed = build_requests(scenario, advisor)
        warnings: list[str] = []
        if advisor is not None:
            for request, given in zip(requests, read_resources(scenario)[0], strict=True):
                warnings += [w for w in advisor.warnings(request, policies, given) if w not in warnings]
        parts = [evaluate(r, policies) for r in requests]
        errors = [e for d in parts for e in d.errors]
        if errors:
            return _error_line(sid, "EvaluationError: " + "; ".join(errors))
        decision = combine_resource_decisions(parts) if listed else parts[0]
        out = {
            "id": sid,
            "EvalDecision": decision.eval_decision,
            "MatchedStatements": [m.to_dict() for m in decision.matched_statements],
            "MissingContextValues": list(decision.missing_context_values),
            "PermissionsBoundaryDecisionDetail": decision.permissions_boundary_decision_detail,
            "OrganizationsDecisionDetail": decision.organizations_decision_detail,
            "EvalDecisionDetails": decision.eval_decision_details,
            "Conditional": decision.conditional,
            "Notes": [*assumed_owner_notes(scenario, requests[0].principal), *decision.notes],
            "Warnings": warnings,
        }
        if listed:
            asked = read_resources(scenario)[0]
            out["ResourceSpecificResults"] = [
                {**d.resource_result(), "EvalResourceName": name} for d, name in zip(parts, asked, strict=True)
            ]
        out["error"] = None
        return out
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


def simulate_lines(lines: Iterable[str | bytes], advisor: ScenarioAdvisor | None = None) -> Iterator[str]:
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
            yield _dumps(simulate_scenario(scenario, advisor))
        except Exception as exc:  # noqa: BLE001  # pragma: no cover - belt and braces
            yield _dumps(_error_line(None, f"InternalError: {type(exc).__name__}"))


def run_simulate(in_stream: IO[str], out_stream: IO[str], advisor: ScenarioAdvisor | None = None) -> int:
    """Stream scenarios from `in_stream` to `out_stream`; exit code 0, or 1 if any line erred."""
    status = 0
    for out in simulate_lines(in_stream, advisor):
        if not out.endswith('"error": null}'):
            status = 1
        out_stream.write(out + "\n")
    out_stream.flush()
    return status
