"""What a compiled policy could grant, deny or name, asked through the policy engine's analysis
API (`CompiledPolicy.allow_statements_for`, `StatementShape`, `named_principals`) without a request.

The read side's pruning reads policies only through here; it never decides a request nor reads state.
"""

from __future__ import annotations

from ledger.policy import CompiledPolicy, CompiledStatement
from ledger.policy.document import Statement

Statements = tuple[CompiledStatement, ...]
# (Allow statements to match per resource, or () for "any resource"; services their Resource can name)
AllowShape = tuple[Statements, frozenset[str]]
_ANY_SERVICE = frozenset("*")


def document_statements(compiled: CompiledPolicy) -> tuple[Statement, ...]:
    """The statements as written (parsed), in document order."""
    return tuple(compiled.document.statements)


def allow_shape(compiled: CompiledPolicy, action_lower: str) -> AllowShape | None:
    """None if no Allow statement covers the action; ((), {"*"}) if one covers every resource
    (or uses policy variables, decided per caller); otherwise the statements to match per
    resource and the services their Resource patterns can name ("*" when a pattern leaves the
    service open)."""
    allows = compiled.allow_statements_for(action_lower)
    if not allows:
        return None
    shapes = [st.shape for st in allows]
    if any(s.covers_every_resource or s.resource_uses_variables for s in shapes):
        return (), _ANY_SERVICE
    return allows, frozenset().union(*(s.resource_services for s in shapes))


def denies_everywhere(compiled: CompiledPolicy, action_lower: str) -> bool:
    """A Deny statement for the action on every resource, with no condition or variable."""
    return compiled.unconditional_deny_everywhere(action_lower)


def any_matches_resource(statements: Statements, resource: str) -> bool:
    """Whether the Resource (or NotResource) of any of `statements` covers `resource`."""
    return any(st.matches_arn(resource) for st in statements)


def named_principals(compiled: CompiledPolicy) -> tuple[frozenset[str], frozenset[str]] | None:
    """(ARNs, unique ids and other principal values its Allow statements name, accounts they
    name); None when one names everyone ("*", NotPrincipal, or no Principal element)."""
    named = compiled.named_principals()
    if named.everyone:
        return None
    return named.identifiers, named.accounts


def trusted_accounts(compiled: CompiledPolicy, action_lower: str) -> dict[str, list[str]]:
    """Accounts an Allow statement for the action names (id or :root), each with the condition
    keys of those statements, in the order written."""
    out: dict[str, list[str]] = {}
    for st in compiled.allow_statements_for(action_lower):
        principals = st.shape.principals
        if principals is None:
            continue
        for acct in principals.accounts:
            keys = out.setdefault(acct, [])
            keys += [name for name in st.shape.condition_keys if name not in keys]
    return out
