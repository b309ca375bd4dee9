"""Synthetic CloudTrail files for the crash, hostile-input and secrets suites (test data only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MEDIA = "111111111111"


def data_event(i: int) -> dict[str, Any]:
    """An S3 GetObject data event by one of 50 users (one AccessObserved fact each)."""
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": f"AIDAUSER{i % 50:012d}",
                         "arn": f"arn:aws:iam::{MEDIA}:user/u{i % 50}", "accountId": MEDIA,
                         "accessKeyId": "AKIAEXAMPLE0000001", "userName": f"u{i % 50}"},
        "eventTime": f"2024-03-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
        "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7", "requestParameters": {"bucketName": "media-out", "key": f"k{i}"},
        "responseElements": None, "eventID": f"evt-{i:08d}", "eventType": "AwsApiCall",
        "recipientAccountId": MEDIA, "eventCategory": "Data", "managementEvent": False, "readOnly": True,
        "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::media-out/k{i}"}],
    }


def write_cloudtrail_files(directory: Path, files: int, per_file: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in range(files):
        path = directory / f"trail-{f:03d}.json"
        records = [data_event(f * per_file + i) for i in range(per_file)]
        path.write_text(json.dumps({"Records": records}))
        paths.append(path)
    return paths


SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY1"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENxyz0123456789"
PASSWORD = "Tr0ub4dor&3-not-to-be-stored"


def secret_bearing_records() -> list[dict[str, Any]]:
    """CreateUser, CreateLoginProfile (password), CreateAccessKey (secret) and AssumeRole
    (session token) records whose request/response elements carry credentials."""
    admin = {"type": "IAMUser", "principalId": "AIDAADMIN00000000001", "arn": f"arn:aws:iam::{MEDIA}:user/admin",
             "accountId": MEDIA, "accessKeyId": "AKIAADMIN00000000001", "userName": "admin"}

    def base(i: int, source: str, name: str) -> dict[str, Any]:
        return {"eventVersion": "1.09", "userIdentity": admin, "eventTime": f"2024-03-01T09:0{i}:00Z",
                "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
                "sourceIPAddress": "198.51.100.7", "eventID": f"secret-{i}", "eventType": "AwsApiCall",
                "recipientAccountId": MEDIA}

    return [
        {**base(1, "iam.amazonaws.com", "CreateUser"), "requestParameters": {"userName": "dana"},
         "responseElements": {"user": {"path": "/", "userName": "dana", "userId": "AIDADANA000000000001",
                                       "arn": f"arn:aws:iam::{MEDIA}:user/dana", "createDate": "Mar 1, 2024 9:01:00 AM"}}},
        {**base(2, "iam.amazonaws.com", "CreateLoginProfile"),
         "requestParameters": {"userName": "dana", "password": PASSWORD, "passwordResetRequired": False},
         "responseElements": {"loginProfile": {"userName": "dana", "createDate": "Mar 1, 2024 9:02:00 AM",
                                               "passwordResetRequired": False, "password": PASSWORD}}},
        {**base(3, "iam.amazonaws.com", "CreateAccessKey"), "requestParameters": {"userName": "dana"},
         "responseElements": {"accessKey": {"accessKeyId": "AKIADANA000000000001", "status": "Active",
                                            "userName": "dana", "secretAccessKey": SECRET_ACCESS_KEY,
                                            "createDate": "Mar 1, 2024 9:03:00 AM"}}},
        {**base(4, "sts.amazonaws.com", "AssumeRole"),
         "requestParameters": {"roleArn": f"arn:aws:iam::{MEDIA}:role/Ops", "roleSessionName": "ops",
                               "durationSeconds": 3600},
         "responseElements": {"credentials": {"accessKeyId": "ASIAOPS0000000000001", "sessionToken": SESSION_TOKEN,
                                              "secretAccessKey": SECRET_ACCESS_KEY,
                                              "expiration": "Mar 1, 2024 10:04:00 AM"},
                              "assumedRoleUser": {"assumedRoleId": "AROAOPS:ops",
                                                  "arn": f"arn:aws:sts::{MEDIA}:assumed-role/Ops/ops"}}},
    ]
