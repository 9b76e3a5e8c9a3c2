"""The few set-based statements the send pipeline needs, written once for SQLite and PostgreSQL.

The ORM has no ``INSERT … SELECT`` and no ``executemany`` UPDATE by id; both are the difference between
seconds and minutes at a million messages. Values go through Django's own adapters, so the rows are exactly
what the ORM would have written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection

from .models import Message

# Columns of an INSERTed Message row, in order (every NOT NULL column without a database default).
INSERT_COLUMNS = (
    "uuid",
    "campaign_id",
    "contact_id",
    "account_id",
    "to",
    "sender",
    "text",
    "segments",
    "status",
    "external_id",
    "error_code",
    "error_text",
    "attempts",
    "is_test",
    "created_at",
    "updated_at",
    "claim_token",
)


def qn(name: str) -> str:
    return connection.ops.quote_name(name)


def table() -> str:
    return qn(Message._meta.db_table)


def uuid_sql() -> str:
    """A random (version 4) uuid computed by the database, in the column's storage format."""
    if connection.vendor == "postgresql":
        return "gen_random_uuid()"
    # SQLite stores UUIDField as 32 hex characters.
    return (
        "lower(hex(randomblob(4)) || hex(randomblob(2)) || '4' || substr(hex(randomblob(2)), 2) || "
        "substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || hex(randomblob(6)))"
    )


def db_uuid(value: uuid.UUID):
    return Message._meta.get_field("uuid").get_db_prep_value(value, connection)


def db_datetime(value: datetime | None):
    return connection.ops.adapt_datetimefield_value(value)


def db_decimal(value):
    if value is None:
        return None
    field = Message._meta.get_field("cost")
    return connection.ops.adapt_decimalfield_value(field.to_python(value), field.max_digits, field.decimal_places)


def insert_select(
    select_sql: str,
    select_params: Sequence,
    *,
    campaign_id: int,
    account_id: int | None,
    sender: str,
    text: str,
    segments: int,
    now: datetime,
) -> int:
    """INSERT one pending message per row of ``select_sql`` (which yields ``id, phone`` of contacts).

    Rows that already exist for (campaign, contact) are skipped (``ON CONFLICT DO NOTHING``), so running it
    twice inserts nothing new. Returns the number of rows inserted.
    """
    cols = ", ".join(qn(c) for c in INSERT_COLUMNS)
    ts = db_datetime(now)
    sql = (
        f"INSERT INTO {table()} ({cols}) "  # noqa: S608 - identifiers are ours, values are parameters
        f"SELECT {uuid_sql()}, %s, sub.{qn('id')}, %s, sub.{qn('phone')}, %s, %s, %s, %s, '', '', '', 0, "
        "%s, %s, %s, '' "
        f"FROM ({select_sql}) sub WHERE 1 = 1 ON CONFLICT DO NOTHING"
    )
    params = [campaign_id, account_id, sender, text, segments, Message.Status.PENDING, False, ts, ts]
    with connection.cursor() as cur:
        # The SELECT list's placeholders come before the subquery's own.
        cur.execute(sql, [*params, *select_params])
        return max(cur.rowcount, 0)


def insert_rows(rows: Iterable[tuple]) -> int:
    """INSERT pending messages given as tuples in ``INSERT_COLUMNS`` order; conflicts are skipped."""
    rows = list(rows)
    if not rows:
        return 0
    cols = ", ".join(qn(c) for c in INSERT_COLUMNS)
    marks = ", ".join(["%s"] * len(INSERT_COLUMNS))
    sql = f"INSERT INTO {table()} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608
    with connection.cursor() as cur:
        cur.executemany(sql, rows)
        count = cur.rowcount
    return len(rows) if count is None or count < 0 else count


def update_by_id(columns: Sequence[str], rows: Sequence[tuple], *, guard: str | None = None) -> None:
    """``UPDATE message SET col = %s, … WHERE id = %s [AND guard = %s]`` for many rows in one executemany.

    Each row is ``(*values, id)`` or ``(*values, id, guard_value)``.
    """
    if not rows:
        return
    sets = ", ".join(f"{qn(c)} = %s" for c in columns)
    where = f"{qn('id')} = %s" + (f" AND {qn(guard)} = %s" if guard else "")
    sql = f"UPDATE {table()} SET {sets} WHERE {where}"  # noqa: S608
    with connection.cursor() as cur:
        cur.executemany(sql, list(rows))
