"""Run every benchmark and print one table each: `python -m benchmarks [--quick] [--only NAME]...`.

Each benchmark measures its baseline in the same process, since absolute times drift.
"""

from __future__ import annotations

import argparse
import importlib
import time

from benchmarks.bench_store import print_table
from ledger.adapters.logging import configure_logging

SUITES = {
    "policy": ("benchmarks.bench_policy", "Policy engine: µs per decision and simulate throughput, vs cedarpy"),
    "store": ("benchmarks.bench_store", "Event store: batched append and command latency"),
    "projections": ("benchmarks.bench_projections", "Projections: rebuild, can(at), who_can(at), memory"),
    "import": ("benchmarks.bench_import", "CloudTrail and AWS Config import throughput and memory"),
    "integrity": ("benchmarks.bench_integrity", "Tamper evidence: verify throughput"),
    "trust": ("benchmarks.bench_trust", "Trust report: tamper, concurrency, crash and fuzz campaigns"),
    "report": ("benchmarks.bench_report", "ledger report: one bucket over a year, page size, first paint"),
    "scale": ("benchmarks.bench_scale", "Issue 12 scale targets: measured, same-run baseline, ratio (>1: better)"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (minutes, not tens of minutes)")
    parser.add_argument("--only", action="append", choices=sorted(SUITES), help="run just these suites")
    args = parser.parse_args()
    configure_logging("error")
    # The scale table re-runs the other suites' heaviest measurements: only on request.
    for name in args.only or [name for name in SUITES if name != "scale"]:
        module_name, title = SUITES[name]
        module = importlib.import_module(module_name)
        started = time.perf_counter()
        rows = module.run(quick=args.quick)
        print_table(f"{title} ({time.perf_counter() - started:.0f} s)", rows)


if __name__ == "__main__":
    main()
