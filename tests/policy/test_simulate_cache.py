"""simulate's document cache: transparent (a cached answer is the one a fresh validation gives),
never confusing two documents, and keeping only documents that come back."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.policy import simulate as simulate_module
from ledger.policy import simulate_scenario
from tests.policy._helpers import ALICE, A, allow, doc

OBJ = "arn:aws:s3:::bucket/k"


def _string_condition(value: Any) -> dict[str, Any]:
    return doc(allow("s3:GetObject", "*", Condition={"StringEquals": {"aws:UserAgent": value}}))


def _two_unknown(first: str, second: str) -> dict[str, Any]:
    return {"Statement": {first: 1, second: 2, "Effect": "Allow", "Action": "*", "Resource": "*"}}


def _nested(levels: int) -> dict[str, Any]:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return {"Statement": value}


# Pairs of documents Python finds equal (1 == 1.0 == True; dicts ignore key order) that IAM reads
# differently: "1", "1.0" and "true" are different strings, and the first unknown element differs.
LOOKALIKES: list[Any] = [
    _string_condition(1), _string_condition(1.0), _string_condition(True), _string_condition("1"),
    _two_unknown("Foo", "Bar"), _two_unknown("Bar", "Foo"),
    json.dumps(_string_condition(1)), json.dumps(_string_condition(1.0)),
    doc(allow("s3:GetObject", ["*"])), doc(allow("s3:GetObject", "*")),
]


def scenario(document: Any) -> dict[str, Any]:
    return {"principal": ALICE, "principal_account": A, "action": "s3:GetObject", "resource": OBJ,
            "resource_owner": A, "context": {"aws:UserAgent": "1"}, "identity_policies": [document]}


def fresh(document: Any) -> dict[str, Any]:
    """The answer with the cache emptied first: the document validated and compiled anew."""
    simulate_module._SEEN.clear()
    simulate_module._MET.clear()
    return simulate_scenario(scenario(document))


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    simulate_module._SEEN.clear()
    simulate_module._MET.clear()
    yield
    simulate_module._SEEN.clear()
    simulate_module._MET.clear()


class TestTransparent:
    """Whatever came before, a scenario's answer is the one a fresh validation gives."""

    @settings(max_examples=60)
    @given(st.lists(st.sampled_from(range(len(LOOKALIKES))), min_size=1, max_size=12))
    def test_any_sequence_answers_as_fresh(self, order: list[int]) -> None:
        """Repeats and lookalikes in any order: each answer equals the uncached one."""
        expected = [fresh(LOOKALIKES[i]) for i in order]
        simulate_module._SEEN.clear()
        simulate_module._MET.clear()
        assert expected == [simulate_scenario(scenario(LOOKALIKES[i])) for i in order]

    def test_string_values_one_one_point_oh_and_true_decide_apart(self) -> None:
        """StringEquals "1" matches the context value "1"; 1.0 is "1.0" and true is "true" (no match)."""
        decisions = [simulate_scenario(scenario(LOOKALIKES[i]))["EvalDecision"] for i in (0, 1, 2, 0, 1, 2)]
        assert ["allowed", "implicitDeny", "implicitDeny"] * 2 == decisions

    def test_key_order_decides_which_unknown_element_is_named(self) -> None:
        """Two documents equal as dicts but written in another order name their own first unknown key."""
        errors = [simulate_scenario(scenario(LOOKALIKES[i]))["error"] for i in (4, 5, 4, 5, 4, 5)]
        assert [".Statement.Foo:", ".Statement.Bar:"] * 3 == [e[e.index(".Statement"):e.index(":", 30) + 1]
                                                               for e in errors]


class TestWhatIsKept:
    """Only documents that come back are kept; documents that cannot be keyed are still validated."""

    def test_a_document_seen_once_is_not_kept(self) -> None:
        """A batch of fresh policies leaves the cache empty."""
        for i in range(5):
            simulate_scenario(scenario(_string_condition(f"v{i}")))
        assert 0 == len(simulate_module._SEEN)

    def test_a_document_seen_twice_is_kept_once(self) -> None:
        """The second sighting keeps it; later ones reuse the same compiled policy."""
        for _ in range(4):
            simulate_scenario(scenario(_string_condition("again")))
        assert 1 == len(simulate_module._SEEN)

    @pytest.mark.parametrize("document", [OrderedDict(_string_condition("1")), _nested(3000)],
                             ids=["a dict subclass", "nested past marshal's bound"])
    def test_unkeyable_documents_answer_as_fresh(self, document: Any) -> None:
        """A document marshal cannot write is validated every time, and answered as fresh."""
        expected = fresh(document)
        assert [expected] * 3 == [simulate_scenario(scenario(document)) for _ in range(3)]
