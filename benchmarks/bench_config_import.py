"""AWS Config import throughput: a generated configuration history (IAM roles, users, groups and
managed policies changing over time, delivered as gzipped ConfigHistory files: `configuration` as
an object, its policy documents URL-encoded as IAM returns them) imported into a fresh SQLite
ledger, against baselines of merely parsing, and reading and validating, the same files.

    python -m benchmarks.bench_config_import [--items N] [--quick]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

FULL_ITEMS = 200_000
QUICK_ITEMS = 20_000
PER_FILE = 10_000
ACCOUNT = "100000000001"
TARGET_ITEMS_PER_S = 20_000


def _doc(action: str) -> str:
    return urllib.parse.quote(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": "*"}]}, separators=(",", ":")))


_TRUSTS = [urllib.parse.quote(json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{a}:root"}, "Action": "sts:AssumeRole"}]}))
    for a in (ACCOUNT, "100000000002")]
_INLINE = [_doc("s3:GetObject"), _doc("s3:*")]
_POLICIES = [f"arn:aws:iam::{ACCOUNT}:policy/p{i}" for i in range(50)]


def _configuration(kind: str, n: int, version: int) -> dict[str, Any]:
    """The n-th resource of `kind` after `version` changes; each change flips one property in
    turn, as one Config item records one change: the trust policy, one attached policy, the
    inline policy's document, the group membership."""
    flips = [(version + 3 - k) // 4 % 2 for k in range(4)]  # how often each property has flipped
    attached = [{"policyName": f"p{(n + 1) % 50}", "policyArn": _POLICIES[(n + 1) % 50]}] if flips[1] else []
    if kind == "policy":
        return {"policyName": f"p{n}", "policyId": f"ANPABENCH{n:011d}", "arn": _POLICIES[n], "path": "/",
                "defaultVersionId": "v1", "policyVersionList": [
                    {"versionId": "v1", "isDefaultVersion": True, "document": _INLINE[version % 2]}]}
    out: dict[str, Any] = {"path": "/", f"{kind}Name": f"{kind}{n}", f"{kind}Id": f"A{kind[:3].upper()}BENCH{n:010d}",
                           "arn": f"arn:aws:iam::{ACCOUNT}:{kind}/{kind}{n}", "attachedManagedPolicies": attached,
                           f"{kind}PolicyList": [{"policyName": "inline", "policyDocument": _INLINE[flips[2]]}]}
    if kind == "role":
        out["assumeRolePolicyDocument"] = _TRUSTS[flips[0]]
    if kind == "user":
        out["groupList"] = [f"group{n % 100}"] if flips[3] else []
    return out


def generate(directory: Path, items: int, seed: int = 7) -> list[Path]:
    """Write `items` configuration items (gzipped ConfigHistory files of 10k, in time order)."""
    rng = random.Random(seed)
    resources = [("policy", n) for n in range(50)] + [("group", n) for n in range(100)] + \
                [("user", n) for n in range(200)] + [("role", n) for n in range(650)]
    versions = {r: 0 for r in resources}
    start = 1_700_000_000
    files: list[Path] = []
    types = {"policy": "Policy", "group": "Group", "user": "User", "role": "Role"}
    for file_no in range(0, items, PER_FILE):
        batch = []
        for i in range(file_no, min(items, file_no + PER_FILE)):
            kind, n = resources[i] if i < len(resources) else rng.choice(resources)
            version = versions[(kind, n)]
            versions[(kind, n)] += 1
            config = _configuration(kind, n, version)
            batch.append({
                "configurationItemVersion": "1.3", "configurationItemCaptureTime":
                    time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(start + i)),
                "configurationStateId": (start + i) * 1000, "awsAccountId": ACCOUNT,
                "configurationItemStatus": "ResourceDiscovered" if version == 0 else "OK",
                "resourceType": f"AWS::IAM::{types[kind]}",
                "resourceId": config.get("policyId") or config[f"{kind}Id"], "resourceName": f"{kind}{n}",
                "ARN": config["arn"], "awsRegion": "global", "tags": {}, "relationships": [],
                "supplementaryConfiguration": {}, "configuration": config})
        path = directory / f"{ACCOUNT}_Config_us-east-1_ConfigHistory_{file_no // PER_FILE:05d}.json.gz"
        with gzip.open(path, "wt", compresslevel=1) as out:
            json.dump({"fileVersion": "1.0", "configurationItems": batch}, out)
        files.append(path)
    return files


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / (1024 * 1024)


def run(quick: bool, items: int | None = None) -> list[dict[str, Any]]:
    """Parse-only baselines and the Config import, measured in the same process (SQLite)."""
    from ledger import Ledger
    from ledger.application.importing.config import import_config, read_items
    from ledger.application.importing.reconcile import ObservationSummary

    count = items or (QUICK_ITEMS if quick else FULL_ITEMS)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        data = directory / "config"
        data.mkdir()
        files = generate(data, count)
        started, cpu = time.perf_counter(), time.process_time()
        parsed = sum(len(json.loads(gzip.decompress(p.read_bytes()))["configurationItems"]) for p in files)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows.append({"name": "config baseline: gunzip + json.loads", "items": parsed, "seconds": round(seconds, 3),
                     "cpu_seconds": round(cpu, 3), "items_per_s": round(parsed / seconds),
                     "items_per_cpu_s": round(parsed / cpu) if cpu > 0 else None})
        started, cpu = time.perf_counter(), time.process_time()
        read = sum(len(items) for _, items in read_items(files, ObservationSummary(kind="config")))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows.append({"name": "config baseline: read + validate items (importer's reader)", "items": read,
                     "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "items_per_s": round(read / seconds),
                     "items_per_cpu_s": round(read / cpu) if cpu > 0 else None})
        with Ledger.open(f"sqlite:///{directory}/bench.db") as ledger:
            cpu = time.process_time()
            summary = import_config(ledger, [data])
            cpu = time.process_time() - cpu
            rows.append({"name": "import config (SQLite)", "items": summary.imported, "events": summary.events,
                         "seconds": round(summary.seconds, 3), "cpu_seconds": round(cpu, 3),
                         "items_per_s": round(summary.imported / summary.seconds) if summary.seconds else None,
                         "items_per_cpu_s": round(summary.imported / cpu) if cpu > 0 else None,
                         "target_items_per_s": TARGET_ITEMS_PER_S, "peak_rss_mib": round(_peak_rss_mib(), 1)})
            if rows[0]["items_per_cpu_s"] and rows[-1]["items_per_cpu_s"]:
                # Per CPU-second, so that other processes sharing the cores cancel out of the ratio.
                rows[-1]["cpu_ratio_to_parse_only"] = round(rows[-1]["items_per_cpu_s"] / rows[0]["items_per_cpu_s"], 3)
            again = import_config(ledger, [data])
            rows.append({"name": "config re-import (all duplicates)", "items": again.records,
                         "seconds": round(again.seconds, 3), "new_events": again.events})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ITEMS} items (CI)")
    args = parser.parse_args()
    for row in run(args.quick, args.items):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
