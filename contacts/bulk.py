"""Set-based SQL for imports and bulk actions, on SQLite and PostgreSQL.

One statement per batch, never one per row: a list of phones or ids travels as ONE parameter (a JSON array read
with ``json_each`` on SQLite; on PostgreSQL one string split by ``string_to_array``: psycopg would otherwise quote
every array element in Python), and rows travel by ``executemany`` on SQLite and ``COPY`` into a temporary table
on PostgreSQL. A 10,000-row batch is a handful of statements whatever its size. Table and column names come from
the models.
"""

# ruff: noqa: S608  (table and column names come from model metadata; every value is a parameter)
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from django.db import connection, transaction
from django.utils import timezone

from .models import BlocklistEntry, Contact, GroupMembership, ImportRowError, ListMembership

C = Contact._meta.db_table
B = BlocklistEntry._meta.db_table
E = ImportRowError._meta.db_table


def _pg() -> bool:
    return connection.vendor == "postgresql"


_SEP = "\x1f"  # never in a phone or a status; control characters are stripped from imported text


def _pg_array(values: Sequence) -> tuple[str, list]:
    """A PostgreSQL array expression with ONE text parameter."""
    values = list(values)
    if values and all(isinstance(v, int) for v in values):
        return "string_to_array(%s, ',')::bigint[]", [",".join(map(str, values))]
    return "string_to_array(%s, E'\\x1f')", [_SEP.join(values)]


def in_list(column: str, values: Sequence) -> tuple[str, list]:
    """``column IN (values)`` as SQL with one parameter."""
    if _pg():
        array, params = _pg_array(values)
        return f"{column} = ANY({array})", params
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(list(values))]


def _pg_copy(cursor, table: str, columns: Sequence[str], rows) -> None:
    """COPY rows into a table (psycopg formats them in C)."""
    raw = getattr(cursor, "cursor", cursor)
    with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


_STAGE = "contacts_stage"


def _pg_stage(cursor, rows, *, with_id: bool) -> None:
    """Fill the session's staging table (created on first use) with (id?, phone/first/last/attributes/country/
    search) rows. Callers run inside a transaction and empty it after use."""
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (id bigint, phone varchar(16), first_name varchar(100), "
        "last_name varchar(100), attributes text, country varchar(2), search_text text) ON COMMIT DELETE ROWS"
    )
    cursor.execute(f"DELETE FROM {_STAGE}")
    if with_id:
        columns = ("id", "first_name", "last_name", "attributes", "country", "search_text")
        _pg_copy(cursor, _STAGE, columns, rows)
    else:
        columns = ("phone", "first_name", "last_name", "attributes", "country", "search_text")
        _pg_copy(cursor, _STAGE, columns, (r[:6] for r in rows))


def now_db():
    return connection.ops.adapt_datetimefield_value(timezone.now())


def _json_value(value):
    if value is None:
        return {}
    if isinstance(value, (dict, list)):
        return value
    return json.loads(value)


def existing_contacts(phones: Sequence[str]) -> dict[str, tuple]:
    """phone → (id, first_name, last_name, attributes dict, status, country, import_mark)."""
    if not phones:
        return {}
    where, params = in_list("phone", phones)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT phone, id, first_name, last_name, attributes, status, country, import_mark FROM {C} WHERE {where}",
            params,
        )
        return {r[0]: (r[1], r[2], r[3], _json_value(r[4]), r[5], r[6], r[7]) for r in cursor.fetchall()}


def lookup_phones(phones: Sequence[str], *, seen_table: str = "", mark: int | None = None):
    """One pass over a batch's phones: (existing contacts as ``existing_contacts`` gives them, blocklisted phone →
    reason). With ``seen_table`` (PostgreSQL imports, see ``seen_table_create``), a contact whose phone is in it
    comes back with ``import_mark = mark``: seen earlier in this import."""
    if not phones:
        return {}, {}
    if _pg():
        array, params = _pg_array(phones)
        source = f"unnest({array}) AS j(value)"
    else:
        source, params = "json_each(%s) AS j", [json.dumps(list(phones))]
    seen_join, seen_col = "", "NULL"
    if seen_table:
        seen_join, seen_col = f" LEFT JOIN {seen_table} AS s ON s.phone = j.value", "s.phone"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT j.value, c.id, c.first_name, c.last_name, c.attributes, c.status, c.country, c.import_mark, "
            f"b.reason, {seen_col} FROM {source} LEFT JOIN {C} AS c ON c.phone = j.value "
            f"LEFT JOIN {B} AS b ON b.phone = j.value{seen_join} WHERE c.id IS NOT NULL OR b.id IS NOT NULL",
            params,
        )
        contacts, blocked = {}, {}
        for r in cursor.fetchall():
            if r[1] is not None:
                contacts[r[0]] = (r[1], r[2], r[3], _json_value(r[4]), r[5], r[6], mark if r[9] else r[7])
            if r[8] is not None:
                blocked[r[0]] = r[8]
        return contacts, blocked


def seen_table_create(import_id: int) -> str:
    """PostgreSQL: a session table of the phones an import found unchanged (or skipped). Marking them in
    ``contacts_contact`` instead would rewrite every such row (a new tuple version, WAL, index entries): a re-import
    of a million unchanged contacts would cost as much as importing them. Temporary: no WAL, gone with the session."""
    name = f"contacts_seen_{int(import_id)}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} (phone varchar(16) PRIMARY KEY)")
    return name


def seen_table_add(name: str, phones: Sequence[str]) -> None:
    if phones:
        array, params = _pg_array(phones)
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {name} (phone) SELECT unnest({array}) ON CONFLICT DO NOTHING", params)


def seen_table_drop(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


def blocked_phones(phones: Sequence[str]) -> dict[str, str]:
    """phone → blocklist reason, for the phones on the blocklist."""
    if not phones:
        return {}
    where, params = in_list("phone", phones)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT phone, reason FROM {B} WHERE {where}", params)
        return dict(cursor.fetchall())


def existing_blocklist(phones: Sequence[str]) -> dict[str, int | None]:
    """phone → import_mark, for the phones already on the blocklist."""
    if not phones:
        return {}
    where, params = in_list("phone", phones)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT phone, import_mark FROM {B} WHERE {where}", params)
        return dict(cursor.fetchall())


_CONTACT_INSERT_COLS = (
    "phone",
    "first_name",
    "last_name",
    "attributes",
    "status",
    "country",
    "search_text",
    "import_mark",
    "created_at",
    "updated_at",
)


def insert_contacts(rows: Sequence[tuple], *, mark: int | None) -> int:
    """Insert (phone, first_name, last_name, attributes JSON, country, search_text, …) rows as active contacts
    (fields after the sixth are ignored); a phone that exists meanwhile is left alone. Returns how many were
    inserted."""
    if not rows:
        return 0
    now = now_db()
    cols = ", ".join(_CONTACT_INSERT_COLS)
    with connection.cursor() as cursor:
        if _pg():
            with transaction.atomic():
                _pg_stage(cursor, rows, with_id=False)
                cursor.execute(
                    f"INSERT INTO {C} ({cols}) SELECT phone, first_name, last_name, attributes::jsonb, 'active', "
                    f"country, search_text, %s, %s, %s FROM {_STAGE} ON CONFLICT (phone) DO NOTHING",
                    [mark, now, now],
                )
                inserted = cursor.rowcount
                cursor.execute(f"DELETE FROM {_STAGE}")
            return inserted
        # The same mark and time on every row are written as literals (an int and our own timestamp), so each
        # row's parameters are the record tuple itself, with no per-row tuple building.
        literal_mark = "NULL" if mark is None else str(int(mark))
        literal_now = "'" + str(now).replace("'", "") + "'"
        cursor.executemany(
            f"INSERT INTO {C} ({cols}) VALUES (%s, %s, %s, %s, 'active', %s, %s, {literal_mark}, {literal_now}, "
            f"{literal_now}) ON CONFLICT (phone) DO NOTHING",
            [r if len(r) == 6 else r[:6] for r in rows],
        )
        return cursor.rowcount


def update_contacts(rows: Sequence[tuple], *, mark: int | None) -> None:
    """Update (id, first_name, last_name, attributes JSON, country, search_text) rows."""
    if not rows:
        return
    now = now_db()
    with connection.cursor() as cursor:
        if _pg():
            with transaction.atomic():
                _pg_stage(cursor, rows, with_id=True)
                cursor.execute(
                    f"UPDATE {C} AS t SET first_name = v.first_name, last_name = v.last_name, "
                    "attributes = v.attributes::jsonb, country = v.country, search_text = v.search_text, "
                    f"import_mark = %s, updated_at = %s FROM {_STAGE} AS v WHERE t.id = v.id",
                    [mark, now],
                )
                cursor.execute(f"DELETE FROM {_STAGE}")
            return
        cursor.executemany(
            f"UPDATE {C} SET first_name = %s, last_name = %s, attributes = %s, country = %s, search_text = %s, "
            "import_mark = %s, updated_at = %s WHERE id = %s",
            [(f, ln, a, c, s, mark, now, i) for i, f, ln, a, c, s in rows],
        )


def mark_contacts(ids: Sequence[int], *, mark: int) -> None:
    if not ids:
        return
    where, params = in_list("id", ids)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {C} SET import_mark = %s WHERE {where}", [mark, *params])


def _add_memberships(model, fk_column: str, target_id: int, phones: Sequence[str]) -> int:
    if not phones:
        return 0
    table = model._meta.db_table
    where, params = in_list("phone", phones)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({fk_column}, contact_id, added_at) SELECT %s, id, %s FROM {C} WHERE {where} "
            f"ON CONFLICT ({fk_column}, contact_id) DO NOTHING",
            [target_id, now_db(), *params],
        )
        return max(cursor.rowcount, 0)


def add_to_group_by_phone(group_id: int, phones: Sequence[str]) -> int:
    """Add the contacts with these phones to a group; returns how many memberships are new."""
    return _add_memberships(GroupMembership, "group_id", group_id, phones)


def add_to_list_by_phone(list_id: int, phones: Sequence[str]) -> int:
    return _add_memberships(ListMembership, "contact_list_id", list_id, phones)


def add_queryset_to(model, fk_column: str, target_id: int, contact_ids_sql: tuple[str, Sequence]) -> int:
    """``INSERT … SELECT`` every contact id the SQL selects into a group/list; returns how many are new."""
    table = model._meta.db_table
    sql, params = contact_ids_sql
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({fk_column}, contact_id, added_at) SELECT %s, ids.id, %s FROM ({sql}) AS ids "
            f"WHERE true ON CONFLICT ({fk_column}, contact_id) DO NOTHING",
            [target_id, now_db(), *params],
        )
        return max(cursor.rowcount, 0)


def insert_blocklist(
    phones: Sequence[str], *, reason: str, source: str, note: str = "", user_id: int | None, mark: int | None
) -> int:
    """Add phones to the blocklist (existing entries are kept as they are). Returns how many were added."""
    if not phones:
        return 0
    now = now_db()
    cols = "phone, reason, source, note, created_by_id, created_at, import_mark"
    with connection.cursor() as cursor:
        if _pg():
            array, params = _pg_array(phones)
            cursor.execute(
                f"INSERT INTO {B} ({cols}) SELECT p, %s, %s, %s, %s, %s, %s FROM unnest({array}) AS v(p) "
                "ON CONFLICT (phone) DO NOTHING",
                [reason, source[:200], note, user_id, now, mark, *params],
            )
            return cursor.rowcount
        cursor.executemany(
            f"INSERT INTO {B} ({cols}) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (phone) DO NOTHING",
            [(p, reason, source[:200], note, user_id, now, mark) for p in phones],
        )
        return cursor.rowcount


def mark_blocklist(phones: Sequence[str], *, mark: int) -> None:
    if not phones:
        return
    where, params = in_list("phone", phones)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {B} SET import_mark = %s WHERE {where}", [mark, *params])


def set_status_by_phone(phones: Sequence[str], *, status: str, from_statuses: Iterable[str], opted_out_at=None) -> int:
    """Set the status of the contacts with these phones that are in one of ``from_statuses``."""
    if not phones:
        return 0
    where, params = in_list("phone", phones)
    statuses = list(from_statuses)
    status_in, status_params = in_list("status", statuses)
    extra, extra_params = "", []
    if opted_out_at is not None:
        extra, extra_params = ", opted_out_at = %s", [connection.ops.adapt_datetimefield_value(opted_out_at)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {C} SET status = %s, updated_at = %s{extra} WHERE {where} AND {status_in}",
            [status, now_db(), *extra_params, *params, *status_params],
        )
        return cursor.rowcount


def insert_row_errors(import_id: int, errors: Sequence[tuple[int, list, str]]) -> None:
    """(row number, original values, reason) rows of an import's error report."""
    if not errors:
        return
    with connection.cursor() as cursor:
        if _pg():
            _pg_copy(
                cursor,
                E,
                ("import_run_id", "row_number", '"values"', "reason"),
                ((import_id, n, json.dumps(v), r[:300]) for n, v, r in errors),
            )
            return
        cursor.executemany(
            f'INSERT INTO {E} (import_run_id, row_number, "values", reason) VALUES (%s, %s, %s, %s)',
            [(import_id, n, json.dumps(v), r[:300]) for n, v, r in errors],
        )
