"""Hostile-input strategies and the checks shared by the fuzz tests and `benchmarks.bench_trust`.

A finding is an exception that is not a `LedgerError` from the library, or, from the CLI, a
traceback, an exit code other than 0/1/2, or a change to the log on a rejected input.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from ledger.application.facade import Ledger
from ledger.errors import LedgerError

SQL_FRAGMENTS = [
    "'; DROP TABLE ledger_events; --", "\" OR 1=1 --", "x' UNION SELECT state FROM ledger_events --",
    "arn:aws:iam::111122223333:user/a'); DELETE FROM ledger_events; --", "%s", "?", "$1", "\\x00",
]
ODD_STRINGS = [
    "", " ", "\x00", "a\x00b", "\ud800", "é" * 300, "a" * 100_000, "arn:aws:iam::", "arn:aws:iam::*:user/*",
    "arn:aws:iam::111122223333:user/" + "x" * 2000, "arn:aws:s3:::b/" + "\u202e" * 10, "../../etc/passwd",
    "1" * 12, "0" * 12, "-1", "1e400", "NaN", "2024-02-30T00:00:00Z", "9999-12-31T23:59:59Z",
    "0000-01-01", "2024-03-01T14:00:00+25:00", "{}", "[]", "null",
]

hostile_text = st.one_of(
    st.sampled_from(SQL_FRAGMENTS + ODD_STRINGS),
    st.text(max_size=80),
    st.binary(max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.builds(lambda a, b: a + b, st.sampled_from(["arn:aws:iam::111122223333:", "arn:aws:s3:::", "arn:"]),
              st.text(max_size=40)),
)

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), hostile_text)
json_value = st.recursive(
    json_leaf,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.one_of(hostile_text, st.sampled_from(
                                   ["Version", "Statement", "Effect", "Action", "Resource", "Principal",
                                    "Condition", "NotAction", "Sid"])), children, max_size=4)),
    max_leaves=12,
)


def policy_like(effect: Any, action: Any, resource: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": resource, **extra}]}


hostile_policy = st.one_of(
    json_value,
    st.builds(policy_like, st.one_of(st.sampled_from(["Allow", "Deny"]), hostile_text),
              st.one_of(hostile_text, st.lists(hostile_text, max_size=3)),
              st.one_of(hostile_text, st.lists(hostile_text, max_size=3)),
              st.dictionaries(st.sampled_from(["Condition", "Principal", "NotResource", "Sid"]), json_value, max_size=2)),
    st.sampled_from(["[" * 5000 + "]" * 5000, "{" * 3000, '{"Version": "2012-10-17", "Statement": ' + "[" * 2000,
                     json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",
                                                                         "Resource": "*" * 200_000}]})]),
    hostile_text,
)


class Finding(Exception):
    """Raised by a check when hostile input got through untyped or changed the log."""


def typed_or_ok(ledger: Ledger, fn: Any, *args: Any, **kwargs: Any) -> bool:
    """Call `fn`; True if it succeeded, False on a `LedgerError` (and then nothing may have been
    written). Anything else is a `Finding`."""
    before = ledger.store.max_position()
    try:
        fn(*args, **kwargs)
    except LedgerError:
        after = ledger.store.max_position()
        if after != before:
            raise Finding(f"{getattr(fn, '__name__', fn)} was rejected but wrote {after - before} events") from None
        return False
    except RecursionError as error:
        raise Finding(f"{getattr(fn, '__name__', fn)}: untyped RecursionError") from error
    except Exception as error:
        raise Finding(f"{getattr(fn, '__name__', fn)}: untyped {type(error).__name__}: {str(error)[:200]}") from error
    return True
