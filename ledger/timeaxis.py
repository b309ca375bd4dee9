"""The one time axis: valid times as aware UTC datetimes or integer microseconds since the epoch,
ISO-8601 text, AWS's other time formats, and "@POSITION" references into the log.

Pure: parsing and arithmetic only. It never reads the store; `now()` is its only clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.errors import InvalidTimeError

FOREVER = 2**62  # "still in force": later than any valid time the ledger stores
MAX_POSITION = 2**63 - 1  # the largest log position either store can hold
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_JAVA_FORMATS = ("%b %d, %Y, %I:%M:%S %p", "%b %d, %Y %I:%M:%S %p")
_ISO_HINT = "use ISO-8601, e.g. 2024-03-01T14:00:00Z"

TimeArg = datetime | str | None


def utc(value: datetime) -> datetime:
    """`value` as an aware UTC datetime (a naive one is taken to be UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)


def to_us(value: datetime) -> int:
    """Microseconds since the epoch: the integer form in which projections store valid time."""
    delta = utc(value) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime | None:
    """The datetime of `value` microseconds, or None for FOREVER (still in force)."""
    if value >= FOREVER:
        return None
    return _EPOCH + timedelta(microseconds=value)


def iso(value: int | datetime | None) -> str | None:
    """`2024-03-01T14:00:00Z` for a datetime or microseconds; None for None or FOREVER."""
    if value is None:
        return None
    moment = from_us(value) if isinstance(value, int) else utc(value)
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def parse_iso_or_none(text: object) -> datetime | None:
    """An ISO-8601 time as UTC, or None if `text` is not one."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    return utc(value)


def parse_iso(text: str) -> datetime:
    """An ISO-8601 time as UTC; a typed error naming the expected form otherwise."""
    parsed = parse_iso_or_none(text)
    if parsed is None:
        raise InvalidTimeError(f"invalid time {str(text)[:64]!r}: {_ISO_HINT}", value=str(text)[:64])
    return parsed


def parse_aws_time(value: object) -> datetime | None:
    """ISO-8601, or the Java-style "Aug 1, 2024, 1:33:28 PM" that CloudTrail response elements
    use (always UTC there); None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    parsed = parse_iso_or_none(value)
    if parsed is not None:
        return parsed
    for fmt in _JAVA_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def instant(value: TimeArg, *, default_now: bool = True) -> datetime | None:
    """A command's or query's `at`: a datetime, ISO-8601 text, or None (= now, or None when
    `default_now` is off). "@POSITION" is not an instant by itself: see `is_position`."""
    if value is None:
        return now() if default_now else None
    if isinstance(value, datetime):
        return utc(value)
    return parse_iso(str(value))


def is_position(value: object) -> bool:
    """Whether `value` is a "@POSITION" reference into the log."""
    return isinstance(value, str) and value.strip().startswith("@")


def parse_position(value: str | int) -> int:
    """A log position from "@N", "N" or an int; positions are 1 .. 2^63-1."""
    text = str(value).strip()
    body = text[1:] if text.startswith("@") else text
    if not body.isascii() or not body.isdigit() or len(body) > 19 or not 1 <= int(body) <= MAX_POSITION:
        raise InvalidTimeError(
            f"invalid position {text[:32]!r}: use @N with 1 ≤ N ≤ {MAX_POSITION}", value=text[:32]
        )
    return int(body)
