"""Parsing the time formats CloudTrail uses (ISO-8601 event times, and the Java-style
"Aug 1, 2024, 1:33:28 PM" of response elements). Pure; never guesses a timezone other than UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

_JAVA_FORMATS = ("%b %d, %Y, %I:%M:%S %p", "%b %d, %Y %I:%M:%S %p")


def parse_event_time(text: str) -> datetime | None:
    """An ISO-8601 time as UTC, or None if it is not one."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except (ValueError, AttributeError, TypeError):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_any_time(value: object) -> datetime | None:
    """ISO-8601 or CloudTrail's Java-style date (always UTC in CloudTrail), or None."""
    if not isinstance(value, str) or not value:
        return None
    iso = parse_event_time(value)
    if iso is not None:
        return iso
    for fmt in _JAVA_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None
