"""The one error hierarchy of permission-ledger: every failure a user can cause is one of these.

Framework errors (SQLAlchemy, psycopg, eventsourcing, pydantic) never escape: they are translated
into these at the boundary, and the CLI turns each into one readable line and a non-zero exit.
The root and the errors the policy engine raises live in `ledger.policy.errors` (the engine
imports nothing outside its package); they are re-exported here and the hierarchy extends them.
"""

from __future__ import annotations

from ledger.policy import errors as _engine

# Bound here (not merely imported) so they are this module's own public names under mypy --strict.
LedgerError = _engine.LedgerError
ValidationError = _engine.ValidationError
InvalidArnError = _engine.InvalidArnError
PolicyValidationError = _engine.PolicyValidationError
ScenarioError = _engine.ScenarioError


class InvalidNameError(ValidationError):
    code = "InvalidName"


class InvalidTimeError(ValidationError):
    code = "InvalidTime"


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


class StoreNotFoundError(StoreError):
    """A command that only reads was pointed at a place where no ledger exists."""

    code = "NoSuchStore"


class ImportFormatError(ValidationError):
    """An import file (CloudTrail, snapshot) is malformed or truncated."""

    code = "MalformedImport"


class ImportTooLargeError(ImportFormatError):
    """An import file decompresses to more than the configured limit (see
    `ledger.application.importing.jsonstream.DEFAULT_MAX_FILE_BYTES`)."""

    code = "ImportTooLarge"


class OrganizationStructureError(ImportFormatError):
    """An organisation that cannot be: an OU cycle, an account or OU under two parents, a parent
    that is neither the root nor a listed OU, a policy attached to a target nobody lists."""

    code = "InvalidOrganization"


class IntegrityError(LedgerError):
    """Tamper evidence failed: the stored log does not match a checkpoint or a proof."""

    code = "IntegrityViolation"


class ProofError(ValidationError):
    """An inclusion or consistency proof was asked for positions the tree does not have."""

    code = "InvalidProofRequest"
