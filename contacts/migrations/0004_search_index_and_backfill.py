"""Search: fill ``Contact.search_text`` for contacts that predate it, and on PostgreSQL a trigram index so a
free-text search (``search_text LIKE '%term%'``) is an index lookup instead of a scan. The index needs the pg_trgm
extension; where the database user may not create it, the migration goes on without the index (searches then scan,
which is still within budget at 1M contacts) and says so."""

import warnings

from django.db import DatabaseError, migrations, transaction


def backfill_search_text(apps, schema_editor):
    from contacts.search import build_search_text

    Contact = apps.get_model("contacts", "Contact")
    last = 0
    while True:
        batch = list(
            Contact.objects.filter(pk__gt=last, search_text="")
            .order_by("pk")
            .only("pk", "phone", "first_name", "last_name", "attributes")[:2000]
        )
        if not batch:
            return
        for c in batch:
            c.search_text = build_search_text(c.first_name, c.last_name, c.phone, c.attributes or {})
        Contact.objects.bulk_update(batch, ["search_text"], batch_size=500)
        last = batch[-1].pk


def trigram_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            try:
                with transaction.atomic(using=connection.alias):
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except DatabaseError as exc:
                warnings.warn(
                    f"contacts: no trigram index for contact search (cannot create extension pg_trgm: {exc}). "
                    "Ask a database administrator to run CREATE EXTENSION pg_trgm, then migrate again.",
                    stacklevel=1,
                )
                return
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS contact_search_trgm ON contacts_contact USING gin (search_text gin_trgm_ops)"
        )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS contact_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0003_import_resume_offset")]

    operations = [
        migrations.RunPython(backfill_search_text, migrations.RunPython.noop),
        migrations.RunPython(trigram_index, drop_trigram_index),
    ]
