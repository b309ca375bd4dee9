"""Import throughput benchmark: a generated CloudTrail set imported into a fresh SQLite ledger,
against a baseline of merely parsing the same files. Reports records/s and peak memory (RSS);
then the same for AWS Config items (`bench_config_import`).

    python -m benchmarks.bench_import [--records N] [--quick]
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
from pathlib import Path
from typing import Any

FULL_RECORDS = 1_000_000
QUICK_RECORDS = 20_000
PER_FILE = 10_000
ACCOUNTS = ["100000000001", "100000000002", "100000000003", "100000000004"]
READ_CALLS = [("s3.amazonaws.com", "GetObject"), ("ec2.amazonaws.com", "DescribeInstances"),
              ("iam.amazonaws.com", "GetUser"), ("kms.amazonaws.com", "Decrypt"),
              ("s3.amazonaws.com", "PutObject"), ("sts.amazonaws.com", "GetCallerIdentity")]


def _user(account: str, n: int) -> dict[str, Any]:
    return {"type": "IAMUser", "principalId": f"AIDABENCH{account[-4:]}{n:06d}",
            "arn": f"arn:aws:iam::{account}:user/user{n}", "accountId": account,
            "accessKeyId": f"AKIABENCH{account[-4:]}{n:06d}", "userName": f"user{n}"}


def generate(directory: Path, records: int, seed: int = 5) -> list[Path]:
    """Write `records` CloudTrail records (gzipped, {"Records": [...]}) in files of 10k."""
    rng = random.Random(seed)
    files: list[Path] = []
    start = 1_700_000_000
    for file_no in range(0, records, PER_FILE):
        batch = []
        for i in range(file_no, min(records, file_no + PER_FILE)):
            account = ACCOUNTS[i % len(ACCOUNTS)]
            user = _user(account, rng.randrange(200))
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + i))
            roll = rng.random()
            record: dict[str, Any] = {"eventVersion": "1.09", "userIdentity": user, "eventTime": when,
                                      "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.1",
                                      "eventID": f"bench-{i:08d}", "eventType": "AwsApiCall",
                                      "recipientAccountId": account, "responseElements": None}
            if roll < 0.01:
                role = f"role{rng.randrange(50)}"
                record.update(eventSource="iam.amazonaws.com", eventName="AttachRolePolicy",
                              requestParameters={"roleName": role,
                                                 "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
            elif roll < 0.03:
                role = f"role{rng.randrange(50)}"
                record.update(eventSource="sts.amazonaws.com", eventName="AssumeRole",
                              requestParameters={"roleArn": f"arn:aws:iam::{account}:role/{role}",
                                                 "roleSessionName": f"s{i}", "durationSeconds": 3600},
                              responseElements={"credentials": {"accessKeyId": f"ASIABENCH{i:011d}",
                                                                "expiration": "Jan 1, 2030, 1:00:00 AM",
                                                                "sessionToken": "x" * 64},
                                                "assumedRoleUser": {
                                                    "arn": f"arn:aws:sts::{account}:assumed-role/{role}/s{i}"}})
            else:
                source, name = READ_CALLS[i % len(READ_CALLS)]
                params = {"bucketName": f"bucket-{account}", "key": f"k/{i}"} if source.startswith("s3") else {}
                record.update(eventSource=source, eventName=name, requestParameters=params)
                if rng.random() < 0.02:
                    record["errorCode"] = "AccessDenied"
            batch.append(record)
        path = directory / f"part-{file_no // PER_FILE:05d}.json.gz"
        with gzip.open(path, "wt", compresslevel=1) as out:
            json.dump({"Records": batch}, out)
        files.append(path)
    return files


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / (1024 * 1024)


def run(quick: bool, records: int | None = None) -> list[dict[str, Any]]:
    """Baseline (parse only) and import throughput on SQLite; one dict per measurement."""
    from ledger import Ledger
    from ledger.application.importing import import_cloudtrail
    from ledger.application.importing.files import load_records

    count = records or (QUICK_RECORDS if quick else FULL_RECORDS)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        data = directory / "trail"
        data.mkdir()
        files = generate(data, count)
        started = time.perf_counter()
        parsed = sum(len(json.loads(gzip.decompress(p.read_bytes()))["Records"]) for p in files)
        seconds = time.perf_counter() - started
        results.append({"name": "baseline: gunzip + json.loads", "records": parsed, "seconds": round(seconds, 3),
                        "records_per_s": round(parsed / seconds)})
        started = time.perf_counter()
        validated = sum(len(load_records(p)) for p in files)
        seconds = time.perf_counter() - started
        results.append({"name": "baseline: load + validate (importer's reader)", "records": validated,
                        "seconds": round(seconds, 3), "records_per_s": round(validated / seconds)})
        with Ledger.open(f"sqlite:///{directory}/bench.db") as ledger:
            cpu = time.process_time()
            summary = import_cloudtrail(ledger, [data])
            cpu = time.process_time() - cpu
            # CPU seconds as well: on a shared machine wall time also measures the neighbours.
            results.append({"name": "import cloudtrail (SQLite)", "records": summary.records,
                            "events": summary.events, "seconds": round(summary.seconds, 3),
                            "cpu_seconds": round(cpu, 3), "records_per_s": round(summary.records_per_second),
                            "records_per_cpu_s": round(summary.records / cpu) if cpu > 0 else None,
                            "target_records_per_s": 20_000, "peak_rss_mib": round(_peak_rss_mib(), 1)})
            again = import_cloudtrail(ledger, [data])
            results.append({"name": "re-import (all duplicates)", "records": again.records,
                            "seconds": round(again.seconds, 3), "records_per_s": round(again.records_per_second),
                            "new_events": again.events})
    from benchmarks import bench_config_import  # AWS Config items, with their own parse-only baselines

    results.extend(bench_config_import.run(quick))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RECORDS} records (CI)")
    args = parser.parse_args()
    for row in run(args.quick, args.records):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
