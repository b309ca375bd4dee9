"""permission-ledger: an event-sourced permission ledger for AWS-IAM-style access control."""
