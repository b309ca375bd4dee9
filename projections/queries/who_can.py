"""`who_can`: every caller allowed a request at T, directly, through role chains or PassRole paths.

Reads one `Snapshot` and decides through `projections.assemble.decide`; never reads the clock or a store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ledger.catalog import diagnose_request, evaluated_resource
from ledger.errors import LedgerError
from ledger.policy import PolicySet, PrincipalKind, principal_from_arn
from projections.assemble import AuditDecision, Inputs, decide, resource_side
from projections.queries.candidates import Candidates
from projections.queries.policy_shape import trusted_accounts
from projections.results import AsOf, PathStep, WhoCanEntry, WhoCanResult
from projections.view import PrincipalInfo, Snapshot

MEDIACONVERT = "mediaconvert.amazonaws.com"
_ROOT_NOTE = ("the root user cannot call sts:AssumeRole (AWS STS API reference, AssumeRole: "
              "\"You cannot use root user credentials to call AssumeRole\")")
_DELEGATED = ("the trust policy names account {acct}; its principals need an identity-based allow "
              "for sts:AssumeRole")


def who_can(snap: Snapshot, as_of: AsOf, action: str, resource: str, *, paths: bool, max_depth: int,
            context: dict[str, Any] | None, prune: bool) -> WhoCanResult:
    """Every caller allowed at T (with `paths`, also through role chains up to `max_depth` and
    PassRole to MediaConvert); for sts:AssumeRole, plus one delegated entry per trusted account."""
    ctx = dict(context or {})
    callers = [p.arn for p in snap.principals()] + [f"arn:aws:iam::{a}:root" for a in snap.accounts()]
    cands = Candidates(snap, callers, prune)
    found: dict[str, WhoCanEntry] = {}
    direct: list[str] = []
    for arn in cands.for_action(action, evaluated_resource(action, resource)):
        d = decide(snap, arn, action, resource, ctx, unknown_context=True)
        if d.allowed:
            direct.append(arn)
            found[arn] = _entry(arn, d, (_step(arn, action, resource, d),))
    if paths:
        roles = {p.arn: p for p in snap.principals() if p.kind == "role"}
        # reach[role] = path from that role to the target
        reach = {arn: found[arn].path for arn in direct if arn in roles}
        _pass_role_paths(snap, cands, roles, reach, found, ctx)
        _assume_chains(snap, cands, roles, reach, found, ctx, max_depth)
    principals = [found[k] for k in sorted(found)]
    if action.lower() == "sts:assumerole":
        principals += _delegated(snap, resource)
    return WhoCanResult(as_of=as_of, action=action, resource=resource, principals=tuple(principals),
                        notes=tuple(diagnose_request(action, resource)))


def _step(principal: str, action: str, resource: str, d: AuditDecision,
          conditional: bool | None = None) -> PathStep:
    return PathStep(principal=principal, action=action, resource=resource, eval_decision=d.eval_decision,
                    via=d.decision.matched_statements, conditional=conditional)


def _entry(arn: str, d: AuditDecision, path: tuple[PathStep, ...], missing: Iterable[str] = ()) -> WhoCanEntry:
    """An allowed caller: conditional when its decision or any step on its path is; then with
    the context keys left open."""
    keys = sorted(set(d.decision.missing_context_values) | set(missing), key=str.lower)
    conditional = bool(d.decision.conditional) or any(s.conditional for s in path)
    return WhoCanEntry(principal=arn, eval_decision="allowed", conditional=conditional, path=path,
                       missing_context=tuple(keys) if conditional else ())


def _pass_role_paths(snap: Snapshot, cands: Candidates, roles: dict[str, PrincipalInfo],
                     reach: dict[str, tuple[PathStep, ...]], found: dict[str, WhoCanEntry],
                     ctx: dict[str, Any]) -> None:
    """PassRole to MediaConvert: the service assumes the role, which must reach the target."""
    for role_arn, role_path in list(reach.items()):
        role = roles[role_arn]
        trust = decide(snap, MEDIACONVERT, "sts:AssumeRole", role_arn, ctx, unknown_context=True)
        if not trust.allowed:
            continue
        queue = f"arn:aws:mediaconvert:us-east-1:{role.account}:queues/Default"
        service_step = PathStep(principal=MEDIACONVERT, action="sts:AssumeRole", resource=role_arn,
                                eval_decision="allowed", via=trust.decision.matched_statements)
        for arn in cands.passers(role.account, role_arn):
            if arn in found or arn == role_arn:
                continue
            pass_ctx = dict(ctx, **{"iam:PassedToService": MEDIACONVERT})
            d1 = decide(snap, arn, "iam:PassRole", role_arn, pass_ctx, unknown_context=True)
            if not d1.allowed:
                continue
            d2 = decide(snap, arn, "mediaconvert:CreateJob", queue, ctx, unknown_context=True)
            if not d2.allowed:
                continue
            path = (_step(arn, "iam:PassRole", role_arn, d1, bool(d1.decision.conditional)),
                    _step(arn, "mediaconvert:CreateJob", queue, d2, bool(d2.decision.conditional)),
                    service_step, *role_path)
            missing = set(d1.decision.missing_context_values) | set(d2.decision.missing_context_values)
            found[arn] = _entry(arn, d2, path, missing)


def _assume_chains(snap: Snapshot, cands: Candidates, roles: dict[str, PrincipalInfo],
                   reach: dict[str, tuple[PathStep, ...]], found: dict[str, WhoCanEntry],
                   ctx: dict[str, Any], max_depth: int) -> None:
    """Callers that may assume a role that reaches the target, breadth first, `max_depth` hops."""
    frontier = dict(reach)
    for _ in range(max_depth):
        nxt: dict[str, tuple[PathStep, ...]] = {}
        for role_arn, role_path in frontier.items():
            for arn in cands.assumers(role_arn, found):
                if arn == role_arn or arn in found:
                    continue
                d = decide(snap, arn, "sts:AssumeRole", role_arn, ctx, unknown_context=True)
                if not d.allowed:
                    continue
                path = (_step(arn, "sts:AssumeRole", role_arn, d, bool(d.decision.conditional)), *role_path)
                found[arn] = _entry(arn, d, path, d.decision.missing_context_values)
                if arn in roles:
                    nxt[arn] = path
        if not nxt:
            break
        frontier = nxt


def _trusted_accounts(snap: Snapshot, role_arn: str) -> dict[str, list[str]]:
    """Accounts an Allow statement of the role's trust policy names (id or :root) for
    sts:AssumeRole, each with the condition keys of those statements."""
    _, entry = resource_side(snap, "sts:AssumeRole", role_arn, Inputs(None, PolicySet()))
    return {} if entry is None else trusted_accounts(entry.compiled, "sts:assumerole")


def _delegated(snap: Snapshot, role_arn: str) -> list[WhoCanEntry]:
    """One entry per account the trust policy names: any of its principals with an
    identity-based Allow for sts:AssumeRole on the role can assume it, including principals the
    ledger does not know (the account's root user itself cannot)."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return []
    accounts = _trusted_accounts(snap, role_arn)
    return [WhoCanEntry(principal=f"arn:aws:iam::{acct}:root", eval_decision="allowed", conditional=True,
                        path=(), missing_context=tuple(sorted(accounts[acct], key=str.lower)),
                        delegated=True, reason=_DELEGATED.format(acct=acct))
            for acct in sorted(accounts)]


def explain_root_assume(snap: Snapshot, d: AuditDecision, principal: str, action: str,
                        resource: str) -> AuditDecision:
    """Explain the one answer AWS gives for a reason outside the policies: a root user asking
    for sts:AssumeRole on a role whose trust policy names its account."""
    if action.lower() != "sts:assumerole" or not principal.endswith(":root") or d.allowed:
        return d
    try:
        rp = principal_from_arn(principal)
    except LedgerError:
        return d
    if rp.kind is not PrincipalKind.ROOT:
        return d
    notes = [_ROOT_NOTE]
    if rp.account in _trusted_accounts(snap, resource):
        notes.append(_DELEGATED.format(acct=rp.account) + ": ask who_can(\"sts:AssumeRole\", role) "
                     "for the delegated entry, or can() for one of its users or roles")
    d.notes = notes
    return d
