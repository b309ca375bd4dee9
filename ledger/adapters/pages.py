"""Raw pages of the event log, (position, topic, JSON state) as stored, for a projection rebuild.

Read-only, one plain query per page on the recorder's own connections; it never decodes events.
"""

from __future__ import annotations

from typing import Any

from ledger.timeaxis import MAX_POSITION

EVENTS_TABLE = "ledger_events"
_SQLITE_PAGE = (f"SELECT rowid, topic, state FROM {EVENTS_TABLE} "  # noqa: S608 - a constant table name
                "WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?")


def stored_page(recorder: Any, dialect: str, after: int, limit: int,
                upto: int | None = None) -> list[tuple[int, str, bytes]]:
    """Up to `limit` stored events after position `after` (and at most `upto`), in log order,
    without eventsourcing's per-row notification objects and originator-id parsing."""
    params = (after, MAX_POSITION if upto is None else upto, limit)
    if dialect == "sqlite":
        with recorder.datastore.transaction(commit=False) as cursor:
            raw = cursor.sqlite_cursor
            raw.row_factory = None  # plain tuples, not sqlite3.Row
            raw.execute(_SQLITE_PAGE, params)
            return list(raw.fetchall())
    from psycopg.rows import tuple_row
    from psycopg.sql import SQL, Identifier

    statement = SQL(
        "SELECT notification_id, topic, state FROM {schema}.{table} "
        "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
    ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(EVENTS_TABLE))
    # Binary results: the JSON state arrives as bytes rather than as hex text to decode.
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
        curs.execute(statement, params, prepare=True)
        return list(curs.fetchall())
