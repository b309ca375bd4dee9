"""The second pass: one CloudTrail record becomes its ledger facts (the state changes its service
handler finds, then the observed call itself). Pure: reads an `ImportIndex`, never stores or logs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger.application.importing.cloudtrail import iam, mediaconvert, organizations, s3, sts
from ledger.application.importing.cloudtrail.call import Call
from ledger.application.importing.cloudtrail.records import NotUnderstood, caller_arn, kind_of, record_account
from ledger.application.importing.index import ImportIndex
from ledger.domain import events as ev
from ledger.domain import names

_HANDLERS: dict[tuple[str, str], Callable[[Call], None]] = {
    (service, name): handler
    for service, handlers in (("iam", iam.HANDLERS), ("sts", sts.HANDLERS), ("s3", s3.HANDLERS),
                              ("mediaconvert", mediaconvert.HANDLERS), ("organizations", organizations.HANDLERS))
    for name, handler in handlers.items()
}


@dataclass
class Mapped:
    events: list[ev.LedgerEvent] = field(default_factory=list)
    skipped: str | None = None  # "eventSource:eventName" when the record was not understood
    reason: str | None = None


class Mapper:
    """Second pass: one record → its facts. Emits placeholder creations (and `AccountCreated`)
    for entities the ledger has never seen, once each, at their first reference in the import."""

    def __init__(self, index: ImportIndex, recorded_at: datetime | None = None) -> None:
        self.index = index
        self.recorded_at = recorded_at or datetime.now(UTC)

    def map(self, record: dict[str, Any]) -> Mapped:
        """The facts of one record (state changes, then the observed call), or why it was skipped."""
        identity = record.get("userIdentity") or {}
        principal = caller_arn(identity) or _service_event_caller(record)
        account = record_account(record)
        if principal is None or account is None:
            return Mapped(skipped=kind_of(record), reason="no identifiable caller")
        if not names.is_account_id(account):
            return Mapped(skipped=kind_of(record), reason="recipientAccountId is not a 12-digit account id")
        call = Call(self.index, self.recorded_at, record, account, principal)
        try:
            if not record.get("errorCode"):
                handler = _HANDLERS.get((call.service, call.name))
                if handler is not None:
                    handler(call)
            call.observed()
        except NotUnderstood as why:
            return Mapped(skipped=kind_of(record), reason=str(why))
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as why:
            return Mapped(skipped=kind_of(record), reason=f"malformed record ({type(why).__name__})")
        return Mapped(events=call.events)


def _service_event_caller(record: dict[str, Any]) -> str | None:
    """The service behind an Organizations service event (CreateAccountResult): it names no caller."""
    if record.get("eventType") == "AwsServiceEvent" and record.get("eventSource") == "organizations.amazonaws.com":
        return "organizations.amazonaws.com"
    return None
