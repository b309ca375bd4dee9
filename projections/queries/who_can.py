"""`who_can`: every caller allowed a request at T, directly, through role chains or PassRole paths.

Reads one `Snapshot` and decides through `projections.assemble.decide`; never reads the clock or a store.
"""

from __future__ import annotations

from typing import Any

from ledger.catalog import diagnose_request, evaluated_resource
from ledger.errors import LedgerError
from ledger.policy import PolicySet, PrincipalKind, principal_from_arn
from projections.assemble import AuditDecision, decide, resource_side, unseen_note
from projections.gather import Inputs
from projections.queries.candidates import Candidates
from projections.queries.paths import MEDIACONVERT, Best, assume_chains, hop, open_ended, pass_role_paths
from projections.queries.policy_shape import trusted_accounts
from projections.results import AsOf, WhoCanEntry, WhoCanResult
from projections.view import Snapshot

__all__ = ["MEDIACONVERT", "explain_root_assume", "who_can"]

_ROOT_NOTE = ("the root user cannot call sts:AssumeRole (AWS STS API reference, AssumeRole: "
              "\"You cannot use root user credentials to call AssumeRole\")")
_DELEGATED = ("the trust policy names account {acct}; its principals need an identity-based allow "
              "for sts:AssumeRole")
_EACH_OWNER = "each caller's own account (as if it owned it)"


def who_can(snap: Snapshot, as_of: AsOf, action: str, resource: str, *, paths: bool, max_depth: int,
            context: dict[str, Any] | None, prune: bool, resource_owner: str | None = None,
            only: frozenset[str] | None = None) -> WhoCanResult:
    """Every caller allowed at T (with `paths`, also through role chains up to `max_depth` and
    PassRole to MediaConvert: a caller allowed directly by its own request, any other by its
    strongest path); for sts:AssumeRole, plus one
    delegated entry per trusted account. Callers whose answer rests on a policy the ledger never
    saw are listed as conditional, naming it. `only` limits the callers decided (their paths
    still go through every role, so give the roles too when asking for paths)."""
    ctx = dict(context or {})
    callers = [p.arn for p in snap.principals()] + [f"arn:aws:iam::{a}:root" for a in snap.accounts()]
    if only is not None:  # a caller that re-decides a few principals (`ledger report`) asks for them only
        callers = [c for c in callers if c in only]
    cands = Candidates(snap, callers, prune, resource_owner)
    best = Best()
    for arn in cands.for_action(action, evaluated_resource(action, resource)):
        d = decide(snap, arn, action, resource, ctx, unknown_context=True, resource_owner=resource_owner)
        if open_ended(d):
            best.offer_direct(arn, hop(d, arn, action, resource, target=True))
    if paths:
        roles = {p.arn: p for p in snap.principals() if p.kind == "role"}
        direct = {arn: reach for arn, reach in best.strongest.items() if arn in roles}
        pass_role_paths(snap, best, roles, direct, cands.passers, ctx)
        assume_chains(snap, best, roles, cands.assumers, ctx, max_depth)
    principals = [best.answer(k) for k in sorted(best.strongest)]
    if action.lower() == "sts:assumerole":
        principals += _delegated(snap, resource)
    return WhoCanResult(as_of=as_of, action=action, resource=resource, principals=tuple(principals),
                        notes=tuple(resource_notes(snap, action, resource, resource_owner)))


def resource_notes(snap: Snapshot, action: str, resource: str, resource_owner: str | None) -> list[str]:
    """What the answer assumed about the resource, or why nobody can act on it at T."""
    scratch = Inputs(None, PolicySet())
    resource_side(snap, action, resource, scratch, resource_owner)
    notes = list(scratch.errors) + [n for n in diagnose_request(action, resource) if n not in scratch.errors]
    if scratch.unseen is not None:
        owner = f"account {resource_owner} (the given resource owner)" if resource_owner else _EACH_OWNER
        notes.append(unseen_note(scratch.unseen, owner))
    return notes


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
    # The engine may say it already (its own notes come first in the answer): say it once.
    said = any("root user cannot call sts:AssumeRole" in n for n in getattr(d.decision, "notes", ()))
    notes = [] if said else [_ROOT_NOTE]
    if rp.account in _trusted_accounts(snap, resource):
        notes.append(_DELEGATED.format(acct=rp.account) + ": ask who_can(\"sts:AssumeRole\", role) "
                     "for the delegated entry, or can() for one of its users or roles")
    d.notes = [*d.notes, *notes]
    return d
