"""A worker process for the concurrency and crash tests: runs ledger commands from a JSON spec.

`python -m tests.trust._worker SPEC_JSON` prints one JSON result per command on stdout. It
classifies every exception as typed (a `LedgerError`) or untyped; it never hides one.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def _run(spec: dict[str, Any]) -> list[dict[str, Any]]:
    from ledger.application.facade import Ledger
    from ledger.errors import LedgerError

    results: list[dict[str, Any]] = []
    if spec.get("open_at_start"):  # a first-use race: opening the store is what races
        time.sleep(max(0.0, spec.get("start_at", 0) - time.time()))
    try:
        ledger = Ledger.open(spec["url"])
        for account in spec.get("warm", []):
            ledger.account_state(account)  # read the same version as the rivals before racing
    except Exception as error:
        return [{"ok": False, "error": type(error).__name__, "untyped": not isinstance(error, LedgerError),
                 "message": str(error)[:300]}]
    time.sleep(max(0.0, spec.get("start_at", 0) - time.time()))
    for name, args in spec["ops"]:
        try:
            found = getattr(ledger, name)(*args)
            results.append({"ok": True, "events": len(found) if isinstance(found, list) else 0})
        except LedgerError as error:
            results.append({"ok": False, "error": type(error).__name__, "untyped": False,
                            "message": str(error)[:300]})
        except Exception as error:
            results.append({"ok": False, "error": type(error).__name__, "untyped": True,
                            "message": str(error)[:300]})
    ledger.close()
    return results


if __name__ == "__main__":
    print(json.dumps(_run(json.loads(sys.argv[1]))))
