"""Compiled policies: the compile cache the caller owns."""

from __future__ import annotations

import pytest

from ledger.errors import ValidationError
from ledger.policy import PolicyCompiler, PolicyType, compile_policy, parse_policy
from tests.policy._helpers import allow, doc


class TestPolicyCompiler:
    """`PolicyCompiler`: a bounded compile cache the caller owns."""

    def test_equal_documents_share_one_compiled_policy(self) -> None:
        """A document equal to one compiled before is served from the cache."""
        compiler = PolicyCompiler()
        first = compiler.compile(parse_policy(doc(allow("s3:GetObject"))))
        again = compiler.compile(parse_policy(doc(allow("s3:GetObject"))))
        assert (True, 1) == (first is again, len(compiler))

    def test_policy_type_is_part_of_the_key(self) -> None:
        """The same text used as two policy types compiles twice."""
        compiler = PolicyCompiler()
        d = doc(allow("s3:GetObject"))
        a = compiler.compile(parse_policy(d, PolicyType.IDENTITY))
        b = compiler.compile(parse_policy(d, PolicyType.BOUNDARY))
        assert (False, 2) == (a is b, len(compiler))

    def test_least_recently_used_is_evicted_beyond_the_bound(self) -> None:
        """Above `max_size` the policy used longest ago is dropped; a hit counts as a use."""
        compiler = PolicyCompiler(max_size=2)
        docs = [parse_policy(doc(allow(f"s3:Action{i}"))) for i in range(3)]
        first = compiler.compile(docs[0])
        second = compiler.compile(docs[1])
        compiler.compile(docs[0])
        compiler.compile(docs[2])  # evicts docs[1], not the recently used docs[0]
        assert (2, True, False) == (len(compiler), compiler.compile(docs[0]) is first,
                                    compiler.compile(docs[1]) is second)

    def test_compilers_are_independent(self) -> None:
        """Each compiler has its own cache; `clear` empties only that one."""
        one, two = PolicyCompiler(), PolicyCompiler()
        d = parse_policy(doc(allow("s3:GetObject")))
        a = one.compile(d)
        one.clear()
        assert (0, False, True) == (len(one), two.compile(d) is a, one.compile(d) is not a)

    def test_module_level_compile_uses_a_shared_cache(self) -> None:
        """`compile_policy` keeps working and returns the same object for equal documents."""
        assert compile_policy(parse_policy(doc(allow("s3:ListBucket")))) is \
            compile_policy(parse_policy(doc(allow("s3:ListBucket"))))

    @pytest.mark.parametrize("size", [0, -1])
    def test_bound_must_hold_one_policy(self, size: int) -> None:
        """A compiler that could hold nothing is refused with a typed error."""
        with pytest.raises(ValidationError):
            PolicyCompiler(max_size=size)
