"""What a compiled policy could grant, deny or name, read from its statements without a request.

The read side's one look inside compiled statements (until the policy engine offers an analysis
API, which then replaces this module alone); it never decides a request nor reads any state.
"""

from __future__ import annotations

from typing import Any

from ledger.policy import CompiledPolicy, PrincipalKind, Request, RequestPrincipal
from ledger.policy.document import Statement

# Compiled statements, opaque outside this module.
Statements = tuple[Any, ...]
# (Allow statements to match per resource, or () for "any resource"; services their Resource can name)
AllowShape = tuple[Statements, frozenset[str]]


def document_statements(compiled: CompiledPolicy) -> tuple[Statement, ...]:
    """The statements as written (parsed), in document order."""
    return tuple(compiled.document.statements)


def allow_shape(compiled: CompiledPolicy, action_lower: str) -> AllowShape | None:
    """None if no Allow statement covers the action; ((), {"*"}) if one covers every resource
    (or uses policy variables, decided per caller); otherwise the statements to match per
    resource and the services their Resource patterns can name ("*" when a pattern leaves the
    service open)."""
    allows = [st for st in compiled.candidates(action_lower) if st.allow]
    if not allows:
        return None
    if any(st.res_any or st.res_templates for st in allows):
        return (), frozenset("*")
    services: set[str] = set()
    statements = compiled.document.statements
    for st in allows:
        raw = statements[st.index]
        if raw.not_resource is not None:
            services.add("*")
            continue
        for pattern in raw.resource or ():
            parts = pattern.split(":", 3)
            service = parts[2].lower() if len(parts) > 3 else "*"
            services.add("*" if "*" in service or "?" in service else service)
    return tuple(allows), frozenset(services)


def denies_everywhere(compiled: CompiledPolicy, action_lower: str) -> bool:
    """A Deny statement for the action on every resource, with no condition or variable."""
    return any(not st.allow and st.res_any and not st.res_not and not st.cond_keys and not st.conditions
               for st in compiled.candidates(action_lower))


def resource_probe(action_lower: str, resource: str) -> Request:
    """A request for `resource` that only Resource matching may look at."""
    return Request(RequestPrincipal("arn:aws:iam::000000000000:root", PrincipalKind.ROOT, "000000000000"),
                   action_lower, resource, derive_context=False)


def any_matches_resource(statements: Statements, probe: Request) -> bool:
    """Whether the Resource (or NotResource) of any of `statements` covers the probe's resource."""
    return any(st.matches_resource(probe) for st in statements)


def named_principals(compiled: CompiledPolicy) -> tuple[frozenset[str], frozenset[str]] | None:
    """(ARNs and other principal values its Allow statements name, accounts they name); None when
    one names everyone ("*", NotPrincipal, or no Principal element)."""
    named: set[str] = set()
    accounts: set[str] = set()
    for st in compiled.statements:
        if not st.allow:
            continue
        pm = st.principal
        if pm is None or st.not_principal is not None or pm.any:
            return None
        named |= pm.arns | pm.others
        accounts |= pm.accounts
    return frozenset(named), frozenset(accounts)


def trusted_accounts(compiled: CompiledPolicy, action_lower: str) -> dict[str, list[str]]:
    """Accounts an Allow statement for the action names (id or :root), each with the condition
    keys of those statements, in the order written."""
    out: dict[str, list[str]] = {}
    for st in compiled.candidates(action_lower):
        if not st.allow or st.principal is None:
            continue
        for acct in st.principal.accounts:
            keys = out.setdefault(acct, [])
            keys += [name for _, name in st.cond_keys if name not in keys]
    return out
