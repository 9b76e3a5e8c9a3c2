"""The few set-based statements the send pipeline needs, written once for SQLite and PostgreSQL.

The ORM has no ``INSERT … SELECT`` and no ``executemany`` UPDATE by id; both are the difference between
seconds and minutes at a million messages. Values go through Django's own adapters, so the rows are exactly
what the ORM would have written.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
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
    """A time-ordered (version 7 layout) uuid computed by the database, in the column's storage format.

    Takes one parameter, the current epoch milliseconds (``uuid_ms()``): rows made together sit together in the
    unique index, so inserting a million of them appends to its end instead of writing all over it (random
    uuids make the snapshot several times slower once the index outgrows the cache). 74 random bits keep the
    values unique across workers.
    """
    if connection.vendor == "postgresql":
        return (
            "(lpad(to_hex(%s::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || "
            "substr('89ab', 1 + floor(random() * 4)::int, 1) || substr(md5(random()::text), 1, 15))::uuid"
        )
    # SQLite stores UUIDField as 32 lower-case hex characters.
    return (
        "(printf('%%012x', %s) || '7' || substr(lower(hex(randomblob(2))), 2) || "
        "substr('89ab', 1 + (abs(random()) %% 4), 1) || substr(lower(hex(randomblob(2))), 2) || "
        "lower(hex(randomblob(6))))"
    )


def uuid_ms() -> int:
    return int(time.time() * 1000)


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
    params = [uuid_ms(), campaign_id, account_id, sender, text, segments, Message.Status.PENDING, False, ts, ts]
    with connection.cursor() as cur:
        # The SELECT list's placeholders come before the subquery's own.
        cur.execute(sql, [*params, *select_params])
        return max(cur.rowcount, 0)


def insert_rendered(
    rows: Sequence[tuple[int, str, str, int]], *, campaign_id: int, account_id: int | None, sender: str, now: datetime
) -> int:
    """INSERT pending messages ``(contact_id, phone, text, segments)``; the database makes each uuid.
    Conflicts on (campaign, contact) are skipped. Returns the number inserted.

    PostgreSQL: one ``INSERT … SELECT FROM unnest(arrays)`` (a statement per row would be parsed and planned
    per row: 5× slower). SQLite: one ``executemany`` (in-process, already fast).
    """
    if not rows:
        return 0
    cols = ", ".join(qn(c) for c in INSERT_COLUMNS)
    ts = db_datetime(now)
    ms = uuid_ms()
    if connection.vendor == "postgresql":
        sql = (
            f"INSERT INTO {table()} ({cols}) "  # noqa: S608
            f"SELECT {uuid_sql()}, %s, u.contact_id, %s, u.phone, %s, u.body, u.segments, %s, '', '', '', 0, "
            "false, %s, %s, '' "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[]) AS u(contact_id, phone, body, segments) "
            "ON CONFLICT DO NOTHING"
        )
        params = [
            ms,
            campaign_id,
            account_id,
            sender,
            Message.Status.PENDING,
            ts,
            ts,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
        ]
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return max(cur.rowcount, 0)
    marks = ", ".join([uuid_sql()] + ["%s"] * (len(INSERT_COLUMNS) - 1))
    sql = f"INSERT INTO {table()} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608
    pending = Message.Status.PENDING
    values = [
        (ms, campaign_id, contact_id, account_id, phone, sender, text, segs, pending, "", "", "", 0, False, ts, ts, "")
        for contact_id, phone, text, segs in rows
    ]
    with connection.cursor() as cur:
        cur.executemany(sql, values)
        count = cur.rowcount
    return len(rows) if count is None or count < 0 else count


def _pg_array_type(column: str) -> str:
    if column == "id":
        return "bigint[]"
    field = next(f for f in Message._meta.concrete_fields if f.column == column)
    return f"{field.db_type(connection)}[]"


def update_by_id(columns: Sequence[str], rows: Sequence[tuple], *, guard: str | None = None) -> None:
    """``UPDATE message SET col = value, … WHERE id = … [AND guard = …]`` for many rows at once.

    Each row is ``(*values, id)`` or ``(*values, id, guard_value)``. PostgreSQL: one ``UPDATE … FROM
    unnest(arrays)``; SQLite: one ``executemany``.
    """
    if not rows:
        return
    if connection.vendor == "postgresql":
        names = [*columns, "id", *([guard] if guard else [])]
        aliases = [f"c{i}" for i in range(len(names))]
        arrays = ", ".join(f"%s::{_pg_array_type(n)}" for n in names)
        sets = ", ".join(f"{qn(c)} = u.{a}" for c, a in zip(columns, aliases, strict=False))
        where = f"m.{qn('id')} = u.{aliases[len(columns)]}"
        if guard:
            where += f" AND m.{qn(guard)} = u.{aliases[-1]}"
        sql = (
            f"UPDATE {table()} AS m SET {sets} FROM unnest({arrays}) AS u({', '.join(aliases)}) "  # noqa: S608
            f"WHERE {where}"
        )
        params = [[row[i] for row in rows] for i in range(len(names))]
        with connection.cursor() as cur:
            cur.execute(sql, params)
        return
    sets = ", ".join(f"{qn(c)} = %s" for c in columns)
    where = f"{qn('id')} = %s" + (f" AND {qn(guard)} = %s" if guard else "")
    sql = f"UPDATE {table()} SET {sets} WHERE {where}"  # noqa: S608
    with connection.cursor() as cur:
        cur.executemany(sql, list(rows))
