"""The errors the policy engine raises; also the root of the ledger's one error hierarchy.

Defined here so the engine imports nothing outside its package: `ledger.errors` re-exports these
classes and extends the hierarchy. Never add an error the engine itself does not raise.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "InvalidArnError",
    "LedgerError",
    "PolicyValidationError",
    "ScenarioError",
    "ValidationError",
]


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    code: str = "LedgerError"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.details}


class ValidationError(LedgerError):
    """Input that is malformed on its face: a bad ARN, a bad name, a bad document."""

    code = "ValidationError"


class InvalidArnError(ValidationError):
    code = "InvalidArn"


class PolicyValidationError(ValidationError):
    """A policy document that AWS would reject; `path` names the offending JSON element."""

    code = "MalformedPolicyDocument"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason, path=path, reason=reason)
        self.path = path
        self.reason = reason


class ScenarioError(ValidationError):
    """A `ledger simulate` scenario that cannot be evaluated as given."""

    code = "InvalidScenario"
