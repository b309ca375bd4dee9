"""The one error hierarchy of permission-ledger: every failure a user can cause is one of these.

Framework errors (SQLAlchemy, psycopg, eventsourcing, pydantic) never escape: they are translated
into these at the boundary, and the CLI turns each into one readable line and a non-zero exit.
"""

from __future__ import annotations

from typing import Any


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


class InvalidNameError(ValidationError):
    code = "InvalidName"


class InvalidTimeError(ValidationError):
    code = "InvalidTime"


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


class NotFoundError(LedgerError):
    code = "NoSuchEntity"


class AccountNotFoundError(NotFoundError):
    code = "NoSuchAccount"


class PrincipalNotFoundError(NotFoundError):
    """The user, role or role session a command names as its caller does not exist."""

    code = "NoSuchPrincipal"


class EntityAlreadyExistsError(LedgerError):
    code = "EntityAlreadyExists"


class LimitExceededError(LedgerError):
    """An AWS quota would be exceeded (access keys, policy versions, attachments, ...)."""

    code = "LimitExceeded"


class DeleteConflictError(LedgerError):
    """The entity still has dependents (attachments, members, policies) and cannot be deleted."""

    code = "DeleteConflict"


class InvalidStateError(LedgerError):
    """The command is well formed but not valid in the entity's current state."""

    code = "InvalidState"


class AccessDeniedError(LedgerError):
    """Enforcing mode: the actor is not authorised for the command."""

    code = "AccessDenied"


class ConcurrencyError(LedgerError):
    """Another writer changed the same entities first; the command wrote nothing."""

    code = "ConcurrentModification"


class DuplicateSourceError(LedgerError):
    """An event with the same source id was already recorded; nothing new was written."""

    code = "DuplicateSource"


class StoreError(LedgerError):
    """The store could not be opened or used (bad URL, unreachable server, wrong schema)."""

    code = "StoreError"


class ImportFormatError(ValidationError):
    """An import file (CloudTrail, snapshot) is malformed or truncated."""

    code = "MalformedImport"


class IntegrityError(LedgerError):
    """Tamper evidence failed: the stored log does not match a checkpoint or a proof."""

    code = "IntegrityViolation"


class ProofError(ValidationError):
    """An inclusion or consistency proof was asked for positions the tree does not have."""

    code = "InvalidProofRequest"
