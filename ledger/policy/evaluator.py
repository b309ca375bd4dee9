"""The AWS IAM evaluation logic as one pure function: `evaluate(request, policies) -> Decision`.

It owns no data and has no side effects besides memoising compiled policies; it fails closed:
any error inside becomes an `implicitDeny` carrying the error, never an allow.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.policy.arn import PrincipalKind, RequestPrincipal
from ledger.policy.conditions import CompiledCondition, compile_conditions, evaluate_conditions
from ledger.policy.decision import Decision, EvalDecision, MatchedStatement
from ledger.policy.document import PolicyDocument, PrincipalElement, Statement
from ledger.policy.errors import ValidationError
from ledger.policy.matching import compile_arn_pattern, glob_regex, normalize_resource
from ledger.policy.variables import STAR, Template, VarRef, parse_template, resolve

__all__ = [
    "CompiledPolicy",
    "PolicyEntry",
    "PolicySet",
    "Request",
    "compile_policy",
    "evaluate",
]

# Grant strength of a resource-policy principal match (see `_decide`).
_NO = 0
_ACCOUNT = 1  # names the account (id or :root): delegates to the caller's identity policies
_ROLE = 2  # names the role a session belongs to: still limited by boundary and session policy
_DIRECT = 3  # names the user / session / "*" / service itself: not limited by implicit denies

_TRUST_ACTIONS = frozenset(
    {
        "sts:assumerole",
        "sts:assumerolewithsaml",
        "sts:assumerolewithwebidentity",
        "sts:tagsession",
        "sts:setsourceidentity",
        "sts:setcontext",
    }
)

_PRINCIPAL_TYPE = {
    PrincipalKind.USER: "User",
    PrincipalKind.ROLE: "AssumedRole",
    PrincipalKind.ASSUMED_ROLE: "AssumedRole",
    PrincipalKind.FEDERATED_USER: "FederatedUser",
    PrincipalKind.ROOT: "Account",
    PrincipalKind.ANONYMOUS: "Anonymous",
}


# ---------------------------------------------------------------------------------------------
# Requests


def _norm_context(context: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for key, value in context.items():
        if not isinstance(key, str):
            raise ValidationError(f"context key {key!r} must be a string")
        if isinstance(value, str):
            out[key.lower()] = (value,)
        elif isinstance(value, bool):
            out[key.lower()] = ("true" if value else "false",)
        elif isinstance(value, (list, tuple)):
            vals = []
            for v in value:
                if isinstance(v, bool):
                    vals.append("true" if v else "false")
                elif isinstance(v, (str, int, float)):
                    vals.append(str(v))
                else:
                    raise ValidationError(f"context value of {key!r} must be strings")
            out[key.lower()] = tuple(vals)
        elif isinstance(value, (int, float)):
            out[key.lower()] = (str(value),)
        else:
            raise ValidationError(f"context value of {key!r} must be a string or list of strings")
    return out


def derived_context(principal: RequestPrincipal, resource_account: str | None) -> dict[str, str]:
    """Global condition keys AWS fills in from the caller (explicit context values win).

    aws:PrincipalArn (the role ARN for a role session), aws:PrincipalAccount, aws:PrincipalType,
    aws:username (IAM users), aws:userid (user/role unique id, `ROLEID:session`, the account id
    for root, `account:name` for federated users), aws:PrincipalIsAWSService,
    aws:PrincipalServiceName (service principals), aws:ResourceAccount.
    """
    out: dict[str, str] = {}
    kind = principal.kind
    if kind is PrincipalKind.SERVICE:
        out["aws:principalisawsservice"] = "true"
        out["aws:principalservicename"] = principal.arn
        if resource_account:
            out["aws:resourceaccount"] = resource_account
        return out
    out["aws:principalisawsservice"] = "false"
    if kind is PrincipalKind.ANONYMOUS:
        out["aws:principaltype"] = "Anonymous"
        out["aws:userid"] = "anonymous"
    else:
        out["aws:principalarn"] = (
            principal.role_arn if kind is PrincipalKind.ASSUMED_ROLE and principal.role_arn
            else principal.arn
        )
        if principal.account:
            out["aws:principalaccount"] = principal.account
        out["aws:principaltype"] = _PRINCIPAL_TYPE[kind]
        name = principal.name
        if kind is PrincipalKind.USER and name:
            out["aws:username"] = name
            if principal.unique_id:
                out["aws:userid"] = principal.unique_id
        elif kind is PrincipalKind.ROOT and principal.account:
            out["aws:userid"] = principal.account
        elif kind is PrincipalKind.ASSUMED_ROLE and principal.unique_id and name:
            uid = principal.unique_id
            out["aws:userid"] = uid if ":" in uid else f"{uid}:{name}"
        elif kind is PrincipalKind.ROLE and principal.unique_id:
            out["aws:userid"] = principal.unique_id
        elif kind is PrincipalKind.FEDERATED_USER and principal.account and name:
            out["aws:userid"] = f"{principal.account}:{name}"
    if resource_account:
        out["aws:resourceaccount"] = resource_account
    return out


@dataclass(frozen=True, slots=True)
class Request:
    """One authorisation question. `resource` is an ARN or "*"; `resource_account` owns it
    (None = the caller's account). Context keys are case-insensitive."""

    principal: RequestPrincipal
    action: str
    resource: str = "*"
    resource_account: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    derive_context: bool = True
    action_lower: str = field(init=False, repr=False, compare=False)
    resource_norm: str = field(init=False, repr=False, compare=False)
    ctx: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.action, str) or not isinstance(self.resource, str):
            raise ValidationError("action and resource must be strings")
        object.__setattr__(self, "action_lower", self.action.lower())
        object.__setattr__(self, "resource_norm", normalize_resource(self.resource))
        ctx = _norm_context(self.context)
        if self.derive_context:
            for key, value in derived_context(self.principal, self.effective_resource_account).items():
                ctx.setdefault(key, (value,))
        object.__setattr__(self, "ctx", ctx)

    @property
    def effective_resource_account(self) -> str | None:
        return self.resource_account if self.resource_account else self.principal.account

    @property
    def same_account(self) -> bool:
        return self.resource_account is None or self.resource_account == self.principal.account


# ---------------------------------------------------------------------------------------------
# Compilation


class _PrincipalMatcher:
    """Compiled Principal / NotPrincipal element."""

    __slots__ = ("accounts", "any", "arns", "others", "services")

    def __init__(self, el: PrincipalElement) -> None:
        self.any = el.wildcard or "*" in el.aws
        self.accounts: set[str] = set()
        self.arns: set[str] = set()
        for v in el.aws:
            if v == "*":
                continue
            if v.isdigit():
                self.accounts.add(v)
                continue
            parts = v.split(":")
            if len(parts) == 6 and parts[2] == "iam" and parts[5] == "root":
                self.accounts.add(parts[4])
            else:
                self.arns.add(v)
        self.services = {s.lower() for s in el.service}
        self.others = set(el.federated) | set(el.canonical_user)

    def grant(self, p: RequestPrincipal) -> int:
        """How strongly this element names `p` (one of _NO/_ACCOUNT/_ROLE/_DIRECT)."""
        if self.any:
            return _DIRECT
        kind = p.kind
        if kind is PrincipalKind.SERVICE:
            return _DIRECT if p.arn.lower() in self.services else _NO
        if kind is PrincipalKind.ANONYMOUS:
            return _NO
        best = _NO
        if p.arn in self.arns or p.arn in self.others:
            best = _ROLE if kind is PrincipalKind.ROLE else _DIRECT
        elif p.unique_id and (
            p.unique_id in self.arns or p.unique_id.split(":", 1)[0] in self.arns
        ):
            best = _DIRECT if kind is not PrincipalKind.ROLE else _ROLE
        elif kind is PrincipalKind.ASSUMED_ROLE and p.role_arn and self._role_named(p.role_arn):
            best = _ROLE
        if best == _NO and kind is PrincipalKind.ROOT and p.account in self.accounts:
            return _DIRECT  # naming the account names its root user directly
        if best == _NO and p.account in self.accounts:
            best = _ACCOUNT
        return best

    def _role_named(self, role_arn: str) -> bool:
        if role_arn in self.arns:
            return True
        # A session ARN carries no role path: match role ARNs by account and final name.
        acct_name = _role_key(role_arn)
        return any(_role_key(a) == acct_name for a in self.arns if ":role/" in a)

    def excludes(self, p: RequestPrincipal) -> bool:
        """NotPrincipal: the caller is excluded only if every identity it has is listed."""
        if self.any:
            return True
        kind = p.kind
        if kind is PrincipalKind.SERVICE:
            return p.arn.lower() in self.services
        if kind is PrincipalKind.ANONYMOUS:
            return False
        if p.account not in self.accounts:
            return False
        if kind is PrincipalKind.ROOT:
            return True
        if kind is PrincipalKind.ASSUMED_ROLE:
            return p.arn in self.arns and bool(p.role_arn) and self._role_named(p.role_arn or "")
        return p.arn in self.arns


def _role_key(arn: str) -> tuple[str, str]:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return ("", arn)
    return (parts[4], parts[5].rsplit("/", 1)[-1])


class CompiledStatement:
    """A statement ready for matching: resource and condition matchers built once."""

    __slots__ = (
        "allow",
        "cond_keys",
        "conditions",
        "effect",
        "index",
        "not_principal",
        "principal",
        "res_any",
        "res_exact",
        "res_not",
        "res_regex",
        "res_templates",
        "sid",
    )

    def __init__(self, index: int, st: Statement, variables: bool) -> None:
        self.index = index
        self.sid = st.sid
        self.allow = st.effect == "Allow"
        self.effect = st.effect
        patterns = st.resource if st.resource is not None else st.not_resource
        self.res_not = st.not_resource is not None
        self.res_any = patterns is None  # trust policies carry no Resource
        exact: set[str] = set()
        regexes: list[str] = []
        templates: list[Template] = []
        var_keys: list[str] = []
        for pat in patterns or ():
            tmpl = parse_template(pat, variables)
            if len(tmpl) == 1 and isinstance(tmpl[0], str):
                s = tmpl[0]
                if s == STAR:
                    self.res_any = True
                elif "\x00" in s or "\x01" in s:
                    regexes.append(compile_arn_pattern(s, True).pattern)
                else:
                    exact.add(normalize_resource(s))
            else:
                templates.append(tmpl)
                var_keys.extend(p.key for p in tmpl if isinstance(p, VarRef))
        if self.res_any and self.res_not:
            # NotResource "*" excludes everything
            self.res_any = False
            regexes = [".*"]
            exact = set()
            templates = []
        self.res_exact = frozenset(exact)
        self.res_regex = (
            re.compile("|".join(f"(?:{r})" for r in regexes), re.DOTALL) if regexes else None
        )
        self.res_templates = tuple(templates)
        self.conditions: tuple[CompiledCondition, ...] = compile_conditions(st.condition, variables)
        keys: dict[str, str] = {}
        for c in self.conditions:
            keys.setdefault(c.key, c.key_name)
            for k in c.var_keys:
                keys.setdefault(k, k)
        for k in var_keys:
            keys.setdefault(k, k)
        self.cond_keys = tuple(keys.items())
        self.principal = _PrincipalMatcher(st.principal) if st.principal is not None else None
        self.not_principal = (
            _PrincipalMatcher(st.not_principal) if st.not_principal is not None else None
        )

    def matches_resource(self, req: Request) -> bool:
        if self.res_any:
            return True
        hit = self._listed(req)
        return not hit if self.res_not else hit

    def _listed(self, req: Request) -> bool:
        norm = req.resource_norm
        if norm in self.res_exact:
            return True
        if self.res_regex is not None and self.res_regex.fullmatch(norm) is not None:
            return True
        for tmpl in self.res_templates:
            resolved = resolve(tmpl, req.ctx)
            if resolved is None:
                continue  # a missing variable makes that pattern match nothing
            if resolved == STAR or compile_arn_pattern(resolved, True).fullmatch(norm):
                return True
        return False


class CompiledPolicy:
    """A policy with its statements indexed by action for fast candidate lookup."""

    __slots__ = ("_by_prefix", "_cache", "_exact", "_not", "_wild", "document", "statements")

    def __init__(self, document: PolicyDocument) -> None:
        self.document = document
        variables = document.variables_enabled
        self.statements = tuple(
            CompiledStatement(i, st, variables) for i, st in enumerate(document.statements)
        )
        self._exact: dict[str, list[int]] = {}
        self._by_prefix: dict[str, list[tuple[re.Pattern[str], int]]] = {}
        self._wild: list[tuple[re.Pattern[str], int]] = []
        self._not: list[tuple[re.Pattern[str], int]] = []
        for i, st in enumerate(document.statements):
            if st.action is not None:
                for a in st.action:
                    self._index_action(a.lower(), i)
            else:
                pats = [glob_regex(a.lower().replace("*", "\x00").replace("?", "\x01"))
                        for a in st.not_action or ()]
                rx = re.compile("|".join(f"(?:{p})" for p in pats), re.DOTALL)
                self._not.append((rx, i))
        self._cache: OrderedDict[str, tuple[CompiledStatement, ...]] = OrderedDict()

    def _index_action(self, a: str, i: int) -> None:
        if "*" not in a and "?" not in a:
            self._exact.setdefault(a, []).append(i)
            return
        rx = re.compile(glob_regex(a.replace("*", "\x00").replace("?", "\x01")), re.DOTALL)
        prefix, sep, _ = a.partition(":")
        if sep and "*" not in prefix and "?" not in prefix:
            self._by_prefix.setdefault(prefix, []).append((rx, i))
        else:
            self._wild.append((rx, i))

    def candidates(self, action_lower: str) -> tuple[CompiledStatement, ...]:
        """Statements whose Action/NotAction covers the action, in document order."""
        hit = self._cache.get(action_lower)
        if hit is not None:
            return hit
        idx: set[int] = set(self._exact.get(action_lower, ()))
        prefix = action_lower.partition(":")[0]
        for rx, i in self._by_prefix.get(prefix, ()):
            if rx.fullmatch(action_lower):
                idx.add(i)
        for rx, i in self._wild:
            if rx.fullmatch(action_lower):
                idx.add(i)
        for rx, i in self._not:
            if not rx.fullmatch(action_lower):
                idx.add(i)
        result = tuple(self.statements[i] for i in sorted(idx))
        if len(self._cache) >= 2048:
            self._cache.popitem(last=False)
        self._cache[action_lower] = result
        return result


_COMPILED: OrderedDict[str, CompiledPolicy] = OrderedDict()
_COMPILED_MAX = 4096


def compile_policy(doc: PolicyDocument) -> CompiledPolicy:
    """Compile once; memoised by the canonical JSON of the document (and its type)."""
    key = f"{doc.policy_type.value}|{doc.canonical_json()}"
    hit = _COMPILED.get(key)
    if hit is not None:
        _COMPILED.move_to_end(key)
        return hit
    compiled = CompiledPolicy(doc)
    _COMPILED[key] = compiled
    if len(_COMPILED) > _COMPILED_MAX:
        _COMPILED.popitem(last=False)
    return compiled


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    """A policy in a policy set: id and type label (as SimulatePrincipalPolicy's
    SourcePolicyType: user, group, role, aws-managed, user-managed, resource, ...) and the
    caller's opaque `origin` (e.g. the event that put it there), echoed in MatchedStatements."""

    policy: CompiledPolicy | PolicyDocument
    policy_id: str
    policy_type: str = "user-managed"
    origin: Any = None
    compiled: CompiledPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pol = self.policy
        object.__setattr__(
            self, "compiled", pol if isinstance(pol, CompiledPolicy) else compile_policy(pol)
        )


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Every policy that bears on one request.

    `boundaries`: None = no permissions boundary (each listed one must allow). `session`:
    None = no session policy (the listed ones together are the session policy). `scps`: None,
    or organisation levels root first, each a list of SCPs; every level must allow.
    """

    identity: Sequence[PolicyEntry] = ()
    resource: PolicyEntry | None = None
    boundaries: Sequence[PolicyEntry] | None = None
    session: Sequence[PolicyEntry] | None = None
    scps: Sequence[Sequence[PolicyEntry]] | None = None


# ---------------------------------------------------------------------------------------------
# Evaluation

_Hit = tuple[PolicyEntry, CompiledStatement, "bool | None", int]


def _scan(
    entries: Iterable[PolicyEntry],
    req: Request,
    unknown: bool,
    missing: dict[str, str],
    resource_policy: bool = False,
    boundary_attached: bool = False,
) -> tuple[list[_Hit], list[_Hit]]:
    allows: list[_Hit] = []
    denies: list[_Hit] = []
    ctx = req.ctx
    for entry in entries:
        for st in entry.compiled.candidates(req.action_lower):
            if not st.matches_resource(req):
                continue
            grant = _DIRECT
            if resource_policy:
                if st.principal is not None:
                    grant = st.principal.grant(req.principal)
                elif st.not_principal is not None:
                    if not st.allow and boundary_attached:
                        grant = _DIRECT  # AWS: Deny+NotPrincipal always hits a bounded principal
                    else:
                        grant = _NO if st.not_principal.excludes(req.principal) else _DIRECT
                if grant == _NO:
                    continue
            tri: bool | None = True
            if st.cond_keys:
                for low, name in st.cond_keys:
                    if low not in ctx:
                        missing.setdefault(low, name)
                if st.conditions:
                    tri = evaluate_conditions(st.conditions, ctx, unknown)
                    if tri is False:
                        continue
            (allows if st.allow else denies).append((entry, st, tri, grant))
    return allows, denies


def _matched(hits: Iterable[_Hit]) -> list[MatchedStatement]:
    return [
        MatchedStatement(e.policy_id, e.policy_type, st.index, st.sid, st.effect, e.origin)
        for e, st, _, _ in hits
    ]


class _Scans:
    __slots__ = ("boundaries", "identity", "missing", "resource", "scps", "session")

    def __init__(self) -> None:
        self.identity: tuple[list[_Hit], list[_Hit]] = ([], [])
        self.resource: tuple[list[_Hit], list[_Hit]] = ([], [])
        self.boundaries: list[tuple[list[_Hit], list[_Hit]]] | None = None
        self.session: tuple[list[_Hit], list[_Hit]] | None = None
        self.scps: list[list[tuple[list[_Hit], list[_Hit]]]] | None = None
        self.missing: dict[str, str] = {}


def _collect(req: Request, ps: PolicySet, unknown: bool) -> _Scans:
    s = _Scans()
    kind = req.principal.kind
    iam_principal = kind not in (PrincipalKind.SERVICE, PrincipalKind.ANONYMOUS)
    bounded = ps.boundaries is not None and len(ps.boundaries) > 0
    if iam_principal:
        s.identity = _scan(ps.identity, req, unknown, s.missing)
    if ps.resource is not None:
        s.resource = _scan((ps.resource,), req, unknown, s.missing, True, bounded)
    if iam_principal and kind is not PrincipalKind.ROOT:
        if bounded:
            s.boundaries = [_scan((b,), req, unknown, s.missing) for b in ps.boundaries or ()]
        if ps.session is not None:
            s.session = _scan(ps.session, req, unknown, s.missing)
    if iam_principal and ps.scps is not None:
        s.scps = [[_scan((d,), req, unknown, s.missing) for d in level] for level in ps.scps]
    return s


def _pick(hits: list[_Hit], unknown_as: bool) -> list[_Hit]:
    return [h for h in hits if h[2] is True or (h[2] is None and unknown_as)]


def _decide(
    req: Request, ps: PolicySet, s: _Scans, optimistic: bool
) -> tuple[EvalDecision, list[MatchedStatement], dict[str, bool] | None, dict[str, bool] | None]:
    """One two-valued decision; unknown conditions count as met for allows iff `optimistic`
    and for denies iff not."""
    a_u, d_u = optimistic, not optimistic
    deny_hits = _pick(s.identity[1], d_u) + _pick(s.resource[1], d_u)
    boundary_allows: list[list[_Hit]] = []
    if s.boundaries is not None:
        for allows, denies in s.boundaries:
            deny_hits += _pick(denies, d_u)
            boundary_allows.append(_pick(allows, a_u))
    session_allows: list[_Hit] | None = None
    if s.session is not None:
        deny_hits += _pick(s.session[1], d_u)
        session_allows = _pick(s.session[0], a_u)
    scp_allows: list[list[_Hit]] = []
    if s.scps is not None:
        for level in s.scps:
            level_allows: list[_Hit] = []
            for allows, denies in level:
                deny_hits += _pick(denies, d_u)
                level_allows += _pick(allows, a_u)
            scp_allows.append(level_allows)

    boundary_ok = all(boundary_allows)
    bdetail = (
        {"AllowedByPermissionsBoundary": boundary_ok} if s.boundaries is not None else None
    )
    org_ok = all(scp_allows)
    odetail = {"AllowedByOrganizations": org_ok} if s.scps is not None else None
    if deny_hits:
        return "explicitDeny", _matched(deny_hits), bdetail, odetail
    if not org_ok:
        return "implicitDeny", [], bdetail, odetail

    kind = req.principal.kind
    res_allows = _pick(s.resource[0], a_u)
    grant = max((h[3] for h in res_allows), default=_NO)
    id_allows = _pick(s.identity[0], a_u)
    if session_allows is None:
        # GetFederationToken without a session policy yields a session with no permissions
        # (only resource-based grants naming the session can still apply).
        session_ok = kind is not PrincipalKind.FEDERATED_USER
    else:
        session_ok = bool(session_allows)
    trust = req.action_lower in _TRUST_ACTIONS

    allowed = False
    used: list[_Hit] = []
    if kind in (PrincipalKind.SERVICE, PrincipalKind.ANONYMOUS):
        # No identity of their own: only the resource-based (trust / bucket) policy counts.
        allowed = grant != _NO
        used = res_allows
    elif kind is PrincipalKind.ROOT:
        if trust and req.action_lower == "sts:assumerole":
            allowed = False  # the root user cannot call AssumeRole
        elif req.same_account:
            allowed = not trust or grant != _NO
            used = res_allows
        else:
            allowed = grant != _NO
            used = res_allows
    elif req.same_account:
        identity_path = bool(id_allows) and boundary_ok and session_ok
        if trust and grant == _NO:
            allowed = False  # a role's trust policy must name the caller or its account
        elif grant == _DIRECT and not (trust and kind is PrincipalKind.USER and not boundary_ok):
            # A resource policy naming the user is not limited by the boundary, except that a
            # bounded user must have sts:AssumeRole allowed by its boundary ("Update a role
            # trust policy" in the IAM User Guide).
            allowed = True
            used = res_allows
        elif grant == _ROLE and boundary_ok and session_ok:
            allowed = True
            used = res_allows + (id_allows if identity_path else [])
        elif identity_path:
            allowed = True
            used = id_allows + res_allows
    # Cross-account: the caller's side and the resource's side must both allow.
    elif grant != _NO and id_allows and boundary_ok and session_ok:
        allowed = True
        used = id_allows + res_allows
    if not allowed:
        return "implicitDeny", [], bdetail, odetail
    if kind not in (PrincipalKind.SERVICE, PrincipalKind.ANONYMOUS, PrincipalKind.ROOT):
        for b in boundary_allows:
            used = used + b
        if session_allows:
            used = used + session_allows
    for level_hits in scp_allows:
        used = used + level_hits
    return "allowed", _matched(used), bdetail, odetail


def evaluate(request: Request, policies: PolicySet, *, unknown_context: bool = False) -> Decision:
    """Decide `request` against `policies` with AWS's evaluation logic; never raises.

    With `unknown_context`, a condition on a key the context lacks is unknown rather than
    absent: the decision is the one reached if unknown conditions hold for allows and fail for
    denies, `conditional` says whether the pessimistic reading differs, and
    `missing_context_values` lists the keys.
    """
    try:
        s = _collect(request, policies, unknown_context)
        decision, matched, bdetail, odetail = _decide(request, policies, s, True)
        conditional = False
        if unknown_context and s.missing:
            pess = _decide(request, policies, s, False)[0]
            conditional = pess != decision
        return Decision(
            decision,
            tuple(matched),
            tuple(sorted(s.missing.values(), key=str.lower)),
            bdetail,
            odetail,
            (),
            conditional,
            request.action,
            request.resource,
        )
    except Exception as exc:  # noqa: BLE001 - fail closed: report, never allow
        return Decision(
            "implicitDeny",
            errors=(f"{type(exc).__name__}: {exc}",),
            eval_action_name=getattr(request, "action", ""),
            eval_resource_name=getattr(request, "resource", ""),
        )
