"""Compiled policies: statements with their matchers built once, indexed by action, and what they cover.

Built from validated documents only and never decides a request; the analysis API (`shape`,
`allow_statements_for`, `named_principals`, ...) answers questions about coverage, not access.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from ledger.policy.conditions import CompiledCondition, compile_conditions
from ledger.policy.document import PolicyDocument, Statement
from ledger.policy.errors import ValidationError
from ledger.policy.matching import compile_arn_pattern, glob_regex, normalize_resource
from ledger.policy.principals import NamedPrincipals, PrincipalMatcher
from ledger.policy.request import Request
from ledger.policy.variables import QMARK, STAR, Template, VarRef, parse_template, resolve

__all__ = [
    "DEFAULT_COMPILER",
    "CompiledPolicy",
    "CompiledStatement",
    "PolicyCompiler",
    "StatementShape",
    "compile_policy",
]

_CANDIDATES_MAX = 2048
_EVERY_SERVICE = frozenset({"*"})
_NO_CONTEXT: Mapping[str, tuple[str, ...]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class StatementShape:
    """What one statement covers, for analysis (pruning, explanations) without a request."""

    index: int
    sid: str | None
    allows: bool
    # No Resource element (trust policies), or "*" among its Resource patterns.
    covers_every_resource: bool
    # Some Resource/NotResource pattern holds a policy variable, resolved per request.
    resource_uses_variables: bool
    # Services its resource patterns can name, lower-cased; "*" when a pattern leaves the
    # service open (a wildcard in the service field, NotResource, or every resource).
    resource_services: frozenset[str]
    # Context keys its conditions and variables read, as first written (as MissingContextValues).
    condition_keys: tuple[str, ...]
    # Its Principal element; None when it has none (identity policies, NotPrincipal).
    principals: NamedPrincipals | None
    excludes_principals: bool  # it has a NotPrincipal element


@lru_cache(maxsize=8192)
def _action_regex(pattern_lower: str) -> re.Pattern[str]:
    """A wildcard action pattern, compiled once per pattern text."""
    return re.compile(glob_regex(pattern_lower.replace("*", STAR).replace("?", QMARK)), re.DOTALL)


@lru_cache(maxsize=4096)
def _not_action_regex(patterns_lower: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for a NotAction list, compiled once per list."""
    return _alternation(
        tuple(glob_regex(a.replace("*", STAR).replace("?", QMARK)) for a in patterns_lower)
    )


@lru_cache(maxsize=8192)
def _alternation(regexes: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled regex matching any of `regexes` (whole-string), once per tuple."""
    return re.compile("|".join(f"(?:{r})" for r in regexes), re.DOTALL)


def _resource_services(st: Statement) -> frozenset[str]:
    if st.resource is None:
        return _EVERY_SERVICE
    services: set[str] = set()
    for pattern in st.resource:
        parts = pattern.split(":", 3)
        service = parts[2].lower() if len(parts) > 3 else "*"
        services.add("*" if "*" in service or "?" in service or "${" in service else service)
    return frozenset(services)


class CompiledStatement:
    """A statement ready for matching: resource and condition matchers built once."""

    __slots__ = (
        "_shape",
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
        "source",
    )

    def __init__(self, index: int, st: Statement, variables: bool) -> None:
        self.index = index
        self.source = st
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
        self.res_regex = _alternation(tuple(regexes)) if regexes else None
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
        self.principal = PrincipalMatcher(st.principal) if st.principal is not None else None
        self.not_principal = (
            PrincipalMatcher(st.not_principal) if st.not_principal is not None else None
        )
        self._shape: StatementShape | None = None

    @property
    def shape(self) -> StatementShape:
        """What this statement covers (built on first use: only analysis needs it)."""
        if self._shape is None:
            self._shape = StatementShape(
                index=self.index,
                sid=self.sid,
                allows=self.allow,
                covers_every_resource=self.res_any,
                resource_uses_variables=bool(self.res_templates),
                resource_services=_EVERY_SERVICE if self.res_any else _resource_services(self.source),
                condition_keys=tuple(name for _, name in self.cond_keys),
                principals=self.principal.named if self.principal is not None else None,
                excludes_principals=self.not_principal is not None,
            )
        return self._shape

    def matches_resource(self, req: Request) -> bool:
        """Whether its Resource/NotResource covers the request's resource (variables resolved
        from the request's context)."""
        if self.res_any:
            return True
        hit = self._listed(req.resource_norm, req.ctx)
        return not hit if self.res_not else hit

    def matches_arn(self, resource: str) -> bool:
        """Whether its Resource/NotResource covers `resource` with no request context: a
        policy variable takes its default value or makes its pattern match nothing."""
        if self.res_any:
            return True
        hit = self._listed(normalize_resource(resource), _NO_CONTEXT)
        return not hit if self.res_not else hit

    def _listed(self, norm: str, ctx: Mapping[str, tuple[str, ...]]) -> bool:
        if norm in self.res_exact:
            return True
        if self.res_regex is not None and self.res_regex.fullmatch(norm) is not None:
            return True
        for tmpl in self.res_templates:
            resolved = resolve(tmpl, ctx)
            if resolved is None:
                continue  # a missing variable makes that pattern match nothing
            if resolved == STAR or compile_arn_pattern(resolved, True).fullmatch(norm):
                return True
        return False


class CompiledPolicy:
    """A policy with its statements indexed by action for fast candidate lookup.

    Lazy: only the action index is built up front. A statement's resource, condition and
    principal matchers are built the first time a request's action selects it, since most
    statements of a policy never match the action asked about.
    """

    __slots__ = (
        "_by_prefix",
        "_cache",
        "_exact",
        "_indexed",
        "_named",
        "_not",
        "_statements",
        "_wild",
        "document",
    )

    def __init__(self, document: PolicyDocument) -> None:
        self.document = document
        self._statements: list[CompiledStatement | None] = [None] * len(document.statements)
        self._indexed = False
        self._exact: dict[str, list[int]] = {}
        self._by_prefix: dict[str, list[tuple[re.Pattern[str], int]]] = {}
        self._wild: list[tuple[re.Pattern[str], int]] = []
        self._not: list[tuple[re.Pattern[str], int]] = []
        self._cache: OrderedDict[str, tuple[CompiledStatement, ...]] = OrderedDict()
        self._named: dict[str | None, NamedPrincipals] = {}

    @property
    def statements(self) -> tuple[CompiledStatement, ...]:
        """Every statement, compiled, in document order."""
        return tuple(self._statement(i) for i in range(len(self._statements)))

    def _statement(self, i: int) -> CompiledStatement:
        st = self._statements[i]
        if st is None:
            st = self._statements[i] = CompiledStatement(
                i, self.document.statements[i], self.document.variables_enabled
            )
        return st

    def _build_index(self) -> None:
        exact, by_prefix, wild = self._exact, self._by_prefix, self._wild
        for i, st in enumerate(self.document.statements):
            if st.action is None:
                self._not.append((_not_action_regex(tuple(a.lower() for a in st.not_action or ())), i))
                continue
            for a in st.action:
                a = a.lower()  # noqa: PLW2901 - the lower-cased pattern replaces the written one
                if "*" not in a and "?" not in a:
                    hits = exact.get(a)
                    if hits is None:
                        exact[a] = [i]
                    else:
                        hits.append(i)
                    continue
                prefix, sep, _ = a.partition(":")
                if sep and "*" not in prefix and "?" not in prefix:
                    by_prefix.setdefault(prefix, []).append((_action_regex(a), i))
                else:
                    wild.append((_action_regex(a), i))
        self._indexed = True

    def _indexed_candidates(self, action_lower: str) -> list[int]:
        if not self._indexed:
            self._build_index()
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
        return sorted(idx)

    def candidates(self, action_lower: str) -> tuple[CompiledStatement, ...]:
        """Statements whose Action/NotAction covers the (lower-cased) action, in document order
        (the action index is built on the first question)."""
        hit = self._cache.get(action_lower)
        if hit is not None:
            return hit
        result = tuple(self._statement(i) for i in self._indexed_candidates(action_lower))
        if len(self._cache) >= _CANDIDATES_MAX:
            self._cache.popitem(last=False)
        self._cache[action_lower] = result
        return result

    # -----------------------------------------------------------------------------------------
    # Analysis: what the policy could grant, for pruning; never a decision.

    def allow_statements_for(self, action: str) -> tuple[CompiledStatement, ...]:
        """The Allow statements whose Action/NotAction covers `action`, in document order."""
        return tuple(st for st in self.candidates(action.lower()) if st.allow)

    def unconditional_deny_everywhere(self, action: str) -> bool:
        """Whether a Deny statement covers `action` on every resource with no condition and no
        policy variable: wherever this policy applies, a request for the action is denied."""
        return any(
            not st.allow and st.res_any and not st.res_not and not st.cond_keys
            and not st.conditions
            for st in self.candidates(action.lower())
        )

    def named_principals(self, action: str | None = None) -> NamedPrincipals:
        """Who the Allow statements name, together (those covering `action`, or all of them):
        `everyone` when one of them has "*", NotPrincipal or no Principal element at all."""
        key = action.lower() if action is not None else None
        hit = self._named.get(key)
        if hit is not None:
            return hit
        allows = self.statements if key is None else self.candidates(key)
        out = NamedPrincipals()
        for st in allows:
            if not st.allow:
                continue
            named = st.principal.named if st.principal is not None else NamedPrincipals(everyone=True)
            out = out.union(named)
        if len(self._named) >= _CANDIDATES_MAX:
            self._named.clear()
        self._named[key] = out
        return out


class PolicyCompiler:
    """A bounded cache of compiled policies, owned by its caller, least recently used evicted.

    Keyed by the document itself (frozen, so hashable; equal documents, type included, have
    the same canonical JSON), so equal documents share one compiled policy and its
    per-action candidate memo.
    """

    __slots__ = ("_compiled", "max_size")

    def __init__(self, max_size: int = 4096) -> None:
        if max_size < 1:
            raise ValidationError("a policy compiler must hold at least one policy")
        self.max_size = max_size
        self._compiled: OrderedDict[PolicyDocument, CompiledPolicy] = OrderedDict()

    def compile(self, doc: PolicyDocument) -> CompiledPolicy:
        """The compiled form of `doc`: from the cache, or compiled now and remembered."""
        hit = self._compiled.get(doc)
        if hit is not None:
            self._compiled.move_to_end(doc)
            return hit
        compiled = CompiledPolicy(doc)
        self._compiled[doc] = compiled
        if len(self._compiled) > self.max_size:
            self._compiled.popitem(last=False)
        return compiled

    def __len__(self) -> int:
        return len(self._compiled)

    def clear(self) -> None:
        """Forget every compiled policy."""
        self._compiled.clear()


DEFAULT_COMPILER = PolicyCompiler()


def compile_policy(doc: PolicyDocument) -> CompiledPolicy:
    """Compile once through the shared default compiler (callers wanting their own bound and
    lifetime own a `PolicyCompiler`)."""
    return DEFAULT_COMPILER.compile(doc)
