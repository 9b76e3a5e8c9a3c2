"""Running an import: stream the file in batches, normalize rows in worker processes, classify and write each
batch with set-based SQL in one transaction, count every row, and stop cleanly when cancelled.

Shape of a run (``ImportRunner.run``)::

    RecordReader (stream) ──chunks──▶ normalize_rows in N processes (ordered, bounded in flight)
                                          │
                                          ▼
    per batch, one transaction: dedupe in the batch ─▶ blocklist lookup ─▶ existing contacts lookup
        ─▶ INSERT new / UPDATE changed / mark unchanged ─▶ memberships ─▶ error rows ─▶ counters + progress

Memory stays flat in file size: a batch at a time, a bounded number of batches in flight, and repeats of a number
across batches are found in the database (``Contact.import_mark`` = this import's id) instead of a set of every
phone in the file. The counters of a batch commit with its rows, so a crash, a cancel or a retry never counts a
row twice, and a re-delivered task resumes after the last committed batch.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from itertools import islice
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from smsportal.audit import audit
from smsportal.models import AuditLog

from . import bulk
from .importing import (
    BlockReader,
    ImportFileError,
    MappingProblem,
    RecordReader,
    Source,
    block_mode,
    build_row_spec,
    stored_values,
)
from .models import BlocklistEntry, Contact, ContactField, ContactList, Group, Import
from .normalize_worker import read_message, write_message
from .rows import _JSON, UNIT_SEPARATOR, RowSpec, normalize_block, normalize_rows
from .search import build_search_text

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=2)  # a RUNNING import without a heartbeat this long is resumed by a re-delivery


def _setting(name: str, default):
    return getattr(settings, name, default)


def chunk_rows() -> int:
    """Rows per batch for files read record by record (XLSX, UTF-16)."""
    return int(_setting("IMPORT_BATCH_ROWS", 10_000))


def block_bytes() -> int:
    """Bytes per batch for CSV files cut into blocks (about 12,000 typical contact rows per 512 KB)."""
    return int(_setting("IMPORT_BLOCK_BYTES", 512 * 1024))


def worker_count(file_size: int) -> int:
    """Processes normalizing rows: all cores for big files, none (in-process) for small ones."""
    configured = _setting("IMPORT_WORKERS", None)
    workers = int(configured) if configured is not None else (os.cpu_count() or 1)
    if file_size < int(_setting("IMPORT_PARALLEL_MIN_BYTES", 4 * 1024 * 1024)):
        return 0
    return max(0, workers) if workers > 1 else 0


class Chunk(NamedTuple):
    kind: str  # "rows": parsed records (cells); "block": whole CSV records as bytes
    payload: object  # list of cells, or (encoding, delimiter, bytes)
    end_offset: int  # byte offset after the block (the resume point); 0 for "rows"
    fraction: float  # share of the file read


def _row_chunks(records: Iterator[list[str]], size: int, reader: RecordReader) -> Iterator[Chunk]:
    while True:
        batch = list(islice(records, size))
        if not batch:
            return
        yield Chunk("rows", batch, 0, reader.fraction_read())


def _block_chunks(reader: BlockReader, start_offset: int | None, encoding: str, delimiter: str) -> Iterator[Chunk]:
    for _start, end, data in reader.blocks(start_offset):
        yield Chunk("block", (encoding, delimiter, data), end, reader.fraction(end))


def _normalize_here(spec: RowSpec, chunk: Chunk) -> tuple[int, list, list]:
    if chunk.kind == "block":
        return normalize_block(spec, *chunk.payload)
    return len(chunk.payload), normalize_rows(spec, chunk.payload), chunk.payload


class WorkerFailed(RuntimeError):
    pass


class _Worker:
    """One ``contacts.normalize_worker`` subprocess."""

    def __init__(self, spec: RowSpec):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(settings.BASE_DIR), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "contacts.normalize_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=str(settings.BASE_DIR),
        )
        self.busy = None  # the chunk being normalized
        write_message(self.proc.stdin, ("spec", spec))

    def send(self, chunk: Chunk) -> None:
        self.busy = chunk
        try:
            write_message(self.proc.stdin, (chunk.kind, chunk.payload))
        except (BrokenPipeError, OSError) as exc:
            raise WorkerFailed(f"a row-normalizing process stopped ({exc})") from None

    def receive(self):
        result = read_message(self.proc.stdout)
        if result is None:
            raise WorkerFailed(f"a row-normalizing process stopped (exit code {self.proc.poll()})")
        chunk, self.busy = self.busy, None
        count, results, raws = result
        return chunk, count, results, raws if raws is not None else chunk.payload

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


@contextmanager
def normalizer(spec: RowSpec, workers: int):
    """A function chunks → (chunk, record count, results, original cells) in file order. With ``workers``, rows
    are normalized in that many subprocesses, round robin, one chunk each at a time: a worker gets its next chunk
    as soon as its result is read (before the main process writes that result), so reading, normalizing and
    writing overlap, and at most ``workers`` chunks are in flight (memory stays flat)."""
    if workers <= 1:
        yield lambda chunks: ((c, *_normalize_here(spec, c)) for c in chunks)
        return
    pool = [_Worker(spec) for _ in range(workers)]
    try:

        def run(chunks):
            iterator = iter(chunks)
            active = 0
            for worker in pool:
                chunk = next(iterator, None)
                if chunk is None:
                    break
                worker.send(chunk)
                active += 1
            i = 0
            while active:
                worker = pool[i % workers]
                i += 1
                if worker.busy is None:
                    continue
                done = worker.receive()
                chunk = next(iterator, None)
                if chunk is None:
                    active -= 1
                else:
                    worker.send(chunk)
                yield done

        yield run
    finally:
        for worker in pool:
            worker.close()


@contextmanager
def _lean_connection():
    """On SQLite, while an import writes: a smaller page cache and no memory-mapped reads, so the worker's memory
    stays flat as the database grows (a 1M-contact database would otherwise be mapped into the process); and
    checkpoints every ~40 MB of WAL instead of every 4 MB (a fifth less CPU per row: pages changed by several
    batches are copied back once). Restored afterwards, since the connection serves other tasks too."""
    if connection.vendor != "sqlite":
        yield
        return

    def read(cursor, name):
        cursor.execute(f"PRAGMA {name}")
        row = cursor.fetchone()
        return None if row is None else int(row[0])

    with connection.cursor() as cursor:
        cache, mmap = read(cursor, "cache_size"), read(cursor, "mmap_size")
        checkpoint = read(cursor, "wal_autocheckpoint")
        cursor.execute(f"PRAGMA cache_size={-int(_setting('IMPORT_SQLITE_CACHE_KB', 32768))}")
        if mmap is not None:
            cursor.execute("PRAGMA mmap_size=0")
        if checkpoint is not None:
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if cache is not None:
                cursor.execute(f"PRAGMA cache_size={cache}")
            if mmap is not None:
                cursor.execute(f"PRAGMA mmap_size={mmap}")
            if checkpoint is not None:
                cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoint}")


class Cancelled(Exception):
    pass


class ImportRunner:
    def __init__(self, imp: Import):
        self.imp = imp
        self.mode = imp.mode
        self.mark = imp.pk
        self.group_ids: dict[str, int] = {}
        self.list_ids: dict[str, int] = {}
        self.source_label = f"Import #{imp.pk}: {imp.original_name}"[:200]
        columns = (imp.mapping or {}).get("columns") or []
        self.seen_table = ""  # PostgreSQL: see bulk.seen_table_create
        self.needs_memberships = bool(
            imp.target_group_id or imp.target_list_id or "group" in columns or "list" in columns
        )

    # --- entry point ---------------------------------------------------------------------------------------

    def run(self) -> None:
        imp = self.imp
        try:
            spec = self._spec()
        except MappingProblem as exc:
            self._finish(Import.Status.FAILED, exc.message)
            return
        skip = imp.processed_rows
        source = Source(
            kind=imp.file_kind,
            encoding=imp.encoding or "utf-8",
            delimiter=imp.delimiter or ",",
            sheet_name=imp.sheet_name,
            has_header=imp.has_header,
        )
        try:
            fileobj = imp.file.storage.open(imp.file.name, "rb")
        except OSError:
            self._finish(Import.Status.FAILED, "The uploaded file is gone from storage; upload it again.")
            return
        raw = getattr(fileobj, "file", fileobj)
        records = None
        try:
            if block_mode(source, raw):
                blocks = BlockReader(raw, source, size=imp.file_size, block_bytes=block_bytes())
                first_row = blocks.first_row
                resume = imp.resume_offset if skip and imp.resume_offset else None
                chunks = _block_chunks(blocks, resume, source.encoding, source.delimiter)
            else:
                reader = RecordReader(raw, source, size=imp.file_size)
                records = iter(reader)
                if skip:
                    for _ in islice(records, skip):
                        pass
                chunks = _row_chunks(records, chunk_rows(), reader)
                first_row = None
            done = skip
            if connection.vendor == "postgresql" and imp.mode != Import.Mode.BLOCKLIST:
                self.seen_table = bulk.seen_table_create(imp.pk)
            with normalizer(spec, worker_count(imp.file_size)) as normalize, _lean_connection():
                for chunk, count, results, raws in normalize(chunks):
                    if self._cancel_requested():
                        raise Cancelled
                    if first_row is None:
                        first_row = reader.first_row
                    with transaction.atomic():
                        self._apply(raws, first_row + done, results, chunk.fraction, chunk.end_offset)
                    done += count
        except Cancelled:
            self._finish(Import.Status.CANCELLED, "")
            return
        except ImportFileError as exc:
            self._finish(Import.Status.FAILED, str(exc))
            return
        except Exception as exc:
            log.exception("import %s failed", imp.pk)
            self.imp.refresh_from_db(fields=["processed_rows"])
            where = f"after row {self.imp.processed_rows + (2 if imp.has_header else 1) - 1}"
            detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            if type(exc).__name__ == "Error" and "field larger than field limit" in str(exc):
                detail = 'a value is larger than 16 MB, probably a quote (") that is never closed'
            self._finish(
                Import.Status.FAILED,
                f"The import stopped {where}: {detail}. The rows before it are saved; you can retry from there.",
            )
            return
        finally:
            if records is not None:
                records.close()
            fileobj.close()
            if self.seen_table:
                try:
                    bulk.seen_table_drop(self.seen_table)
                except Exception:  # the session may be gone; the table went with it
                    log.warning("could not drop %s", self.seen_table)
        self._finish(Import.Status.DONE, "")

    def _spec(self) -> RowSpec:
        imp = self.imp
        columns = list((imp.mapping or {}).get("columns") or [])
        fields = {f.key: f for f in ContactField.objects.all()}
        country = imp.default_country
        if not country:
            from smsportal.models import WorkspaceSettings

            country = WorkspaceSettings.load().default_country
        return build_row_spec(
            columns,
            fields,
            default_country=country,
            day_first=country not in {"US", "CA", "PH", "BZ", "FM", "PW", "MH"},
            phone_only=imp.mode == Import.Mode.BLOCKLIST,
        )

    def _refresh_statistics(self) -> None:
        try:
            self.imp.refresh_from_db(fields=["created_count", "updated_count", "mode"])
            _analyze(self.imp)
        except Exception:  # statistics are an optimisation: never fail an import for them
            log.warning("ANALYZE after import %s failed", self.imp.pk, exc_info=True)

    def _cancel_requested(self) -> bool:
        return bool(Import.objects.filter(pk=self.imp.pk, cancel_requested=True).exists())

    # --- a batch ---------------------------------------------------------------------------------------------

    def _apply(self, cells: list, first_row: int, results: list, fraction: float, end_offset: int = 0) -> None:
        """One batch: ``cells[i]`` is on spreadsheet row ``first_row + i``; ``results[i]`` is its Record tuple,
        a refusal reason, or None (blank row)."""
        if connection.vendor == "postgresql":
            # Each batch commits without waiting for its WAL flush: a crash can lose the last batches, but their
            # rows and counters together (one transaction), so a retry resumes exactly after what is on disk.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        counts = dict.fromkeys(("created", "updated", "unchanged", "skipped", "duplicate", "invalid", "blocked"), 0)
        empty = 0
        errors: list[tuple[int, list, str]] = []
        batch: dict[str, tuple[int, int, tuple]] = {}  # phone → (row number, index, record: see rows.Record)
        for index, result in enumerate(results):
            if result is None:
                empty += 1
                continue
            row = first_row + index
            if result.__class__ is str:
                counts["invalid"] += 1
                errors.append((row, stored_values(cells[index]), _explain(result, cells[index])))
                continue
            phone = result[0]
            first = batch.get(phone)
            if first is not None:
                counts["duplicate"] += 1
                errors.append((row, stored_values(cells[index]), f"Duplicate: {phone} is also on row {first[0]}."))
                continue
            batch[phone] = (row, index, result)

        if self.mode == Import.Mode.BLOCKLIST:
            self._apply_blocklist(batch, cells, counts, errors)
        else:
            self._apply_contacts(batch, cells, counts, errors)

        bulk.insert_row_errors(self.imp.pk, errors)
        total = sum(counts.values())
        Import.objects.filter(pk=self.imp.pk).update(
            processed_rows=F("processed_rows") + len(results),
            total_rows=F("total_rows") + total,
            empty_count=F("empty_count") + empty,
            created_count=F("created_count") + counts["created"],
            updated_count=F("updated_count") + counts["updated"],
            unchanged_count=F("unchanged_count") + counts["unchanged"],
            skipped_count=F("skipped_count") + counts["skipped"],
            duplicate_count=F("duplicate_count") + counts["duplicate"],
            invalid_count=F("invalid_count") + counts["invalid"],
            blocked_count=F("blocked_count") + counts["blocked"],
            progress=min(99, int(fraction * 100)),
            resume_offset=end_offset,
            heartbeat_at=timezone.now(),
        )

    def _apply_contacts(self, batch: dict, cells: list, counts: dict, errors: list) -> None:
        existing, blocked = bulk.lookup_phones(list(batch), seen_table=self.seen_table, mark=self.mark)
        for phone, reason in blocked.items():
            row, index, _record = batch.pop(phone)
            counts["blocked"] += 1
            label = BlocklistEntry.Reason(reason).label if reason in BlocklistEntry.Reason.values else reason
            errors.append((row, stored_values(cells[index]), f"{phone} is on the blocklist ({label}); not imported."))
        new_rows, updates, touched_ids, touched_phones = [], [], [], []
        accepted = [] if self.needs_memberships else None
        mark, add_only = self.mark, self.mode == Import.Mode.ADD_ONLY
        if not existing:
            new_rows = [entry[2] for entry in batch.values()]
            if accepted is not None:
                accepted = [(phone, entry[2]) for phone, entry in batch.items()]
        else:
            for phone, (row, index, rec) in batch.items():
                ex = existing.get(phone)
                if ex is None:
                    new_rows.append(rec)
                    if accepted is not None:
                        accepted.append((phone, rec))
                    continue
                contact_id = ex[0]
                if ex[6] == mark:
                    counts["duplicate"] += 1
                    errors.append((row, stored_values(cells[index]), f"Duplicate: {phone} is on an earlier row."))
                    continue
                if accepted is not None:
                    accepted.append((phone, rec))
                if add_only:
                    counts["skipped"] += 1
                    touched_ids.append(contact_id)
                    touched_phones.append(phone)
                    continue
                merged = _merge(ex, rec)
                if merged is None:
                    counts["unchanged"] += 1
                    touched_ids.append(contact_id)
                    touched_phones.append(phone)
                else:
                    counts["updated"] += 1
                    updates.append(merged)

        inserted = bulk.insert_contacts(new_rows, mark=self.mark)
        if inserted == len(new_rows):
            counts["created"] += inserted
        else:
            # Someone created some of these numbers between our lookup and the insert (another import, the UI):
            # classify those rows again as existing contacts.
            counts["created"] += self._reclassify_raced(new_rows, batch, counts, updates, touched_ids, touched_phones)
        bulk.update_contacts(updates, mark=self.mark)
        if self.seen_table:
            bulk.seen_table_add(self.seen_table, touched_phones)
        else:
            bulk.mark_contacts(touched_ids, mark=self.mark)
        if accepted:
            self._memberships(accepted)

    def _reclassify_raced(self, new_rows, batch, counts, updates, touched_ids, touched_phones) -> int:
        """Returns how many of ``new_rows`` this import did create."""
        phones = [r[0] for r in new_rows]
        now_existing = bulk.existing_contacts(phones)
        created = 0
        for phone in phones:
            ex = now_existing.get(phone)
            if ex is None:
                continue
            if ex[6] == self.mark:
                created += 1
                continue
            rec = batch[phone][2]
            if self.mode == Import.Mode.ADD_ONLY:
                counts["skipped"] += 1
                touched_ids.append(ex[0])
                touched_phones.append(phone)
                continue
            merged = _merge(ex, rec)
            if merged is None:
                counts["unchanged"] += 1
                touched_ids.append(ex[0])
                touched_phones.append(phone)
            else:
                counts["updated"] += 1
                updates.append(merged)
        return created

    def _memberships(self, accepted: list[tuple[str, tuple]]) -> None:
        imp = self.imp
        if not accepted:
            return
        all_phones = [p for p, _ in accepted]
        group_phones: dict[int, list[str]] = {}
        list_phones: dict[int, list[str]] = {}
        if imp.target_group_id:
            group_phones.setdefault(imp.target_group_id, []).extend(all_phones)
        if imp.target_list_id:
            list_phones.setdefault(imp.target_list_id, []).extend(all_phones)
        for phone, rec in accepted:
            if len(rec) < 8:
                continue
            for name in rec[6]:
                group_phones.setdefault(self._group_id(name), []).append(phone)
            for name in rec[7]:
                list_phones.setdefault(self._list_id(name), []).append(phone)
        for group_id, phones in group_phones.items():
            added = bulk.add_to_group_by_phone(group_id, list(dict.fromkeys(phones)))
            if added:
                Group.objects.filter(pk=group_id).update(member_count=F("member_count") + added)
        for list_id, phones in list_phones.items():
            added = bulk.add_to_list_by_phone(list_id, list(dict.fromkeys(phones)))
            if added:
                ContactList.objects.filter(pk=list_id).update(member_count=F("member_count") + added)

    def _group_id(self, name: str) -> int:
        key = name.casefold()
        if key not in self.group_ids:
            group = Group.objects.filter(name__iexact=name).first()
            if group is None:
                group = Group.objects.create(
                    name=name, description=f"Created by {self.source_label}", created_by_id=self.imp.created_by_id
                )
                audit(
                    action=AuditLog.Action.CREATE, obj=group, source=self.source_label, changes={"import": self.imp.pk}
                )
            self.group_ids[key] = group.pk
        return self.group_ids[key]

    def _list_id(self, name: str) -> int:
        key = name.casefold()
        if key not in self.list_ids:
            contact_list = ContactList.objects.filter(name__iexact=name).first()
            if contact_list is None:
                contact_list = ContactList.objects.create(
                    name=name, description=f"Created by {self.source_label}", created_by_id=self.imp.created_by_id
                )
                audit(
                    action=AuditLog.Action.CREATE,
                    obj=contact_list,
                    source=self.source_label,
                    changes={"import": self.imp.pk},
                )
            self.list_ids[key] = contact_list.pk
        return self.list_ids[key]

    def _apply_blocklist(self, batch: dict, cells: list, counts: dict, errors: list) -> None:
        phones = list(batch)
        existing = bulk.existing_blocklist(phones)
        new, again = [], []
        for phone in phones:
            if phone not in existing:
                new.append(phone)
            elif existing[phone] == self.mark:
                row, index, _rec = batch[phone]
                counts["duplicate"] += 1
                errors.append((row, stored_values(cells[index]), f"Duplicate: {phone} is on an earlier row."))
            else:
                counts["unchanged"] += 1
                again.append(phone)
        added = bulk.insert_blocklist(
            new,
            reason=BlocklistEntry.Reason.IMPORTED,
            source=self.source_label,
            user_id=self.imp.created_by_id,
            mark=self.mark,
        )
        counts["created"] += added
        counts["unchanged"] += len(new) - added  # blocked meanwhile by someone else
        bulk.mark_blocklist(again, mark=self.mark)
        bulk.set_status_by_phone(new, status=Contact.Status.BLOCKED, from_statuses=[Contact.Status.ACTIVE])

    # --- the end ------------------------------------------------------------------------------------------

    def _finish(self, status: str, message: str) -> None:
        self._refresh_statistics()
        Import.objects.filter(pk=self.imp.pk).update(
            status=status,
            error_message=message,
            finished_at=timezone.now(),
            progress=100 if status == Import.Status.DONE else F("progress"),
            heartbeat_at=timezone.now(),
        )
        self.imp.refresh_from_db()
        imp = self.imp
        changes = {
            "status": status,
            "mode": imp.mode,
            "rows": imp.total_rows,
            "created": imp.created_count,
            "updated": imp.updated_count,
            "unchanged": imp.unchanged_count,
            "skipped": imp.skipped_count,
            "duplicates": imp.duplicate_count,
            "invalid": imp.invalid_count,
            "blocked": imp.blocked_count,
        }
        if imp.target_group_id:
            changes["group"] = imp.target_group_id
        if imp.target_list_id:
            changes["list"] = imp.target_list_id
        audit(
            actor=imp.created_by,
            action=AuditLog.Action.BLOCK if imp.mode == Import.Mode.BLOCKLIST else AuditLog.Action.IMPORT,
            obj=imp,
            changes=changes,
            source="import",
        )


ANALYZE_AFTER_ROWS = 10_000


def _analyze(imp: Import) -> None:
    """After a big import on PostgreSQL, fresh planner statistics at once (autovacuum may take minutes): without
    them a search for a common name picks the trigram index and sorts every match instead of reading the newest
    contacts first (280 ms instead of 20 ms at 1M contacts)."""
    written = imp.created_count + imp.updated_count
    if connection.vendor != "postgresql" or written < ANALYZE_AFTER_ROWS:
        return
    table = BlocklistEntry._meta.db_table if imp.mode == Import.Mode.BLOCKLIST else Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")


def _merge(existing: tuple, rec: tuple):
    """The update row for an existing contact, or None when the file changes nothing. Empty cells keep what the
    contact has; the import never changes a contact's status."""
    contact_id, first, last, attrs, _status, country, _mark = existing
    phone, rec_first, rec_last, rec_attrs_json, rec_region = rec[:5]
    new_first = rec_first or first
    new_last = rec_last or last
    new_attrs = {**attrs, **json.loads(rec_attrs_json)} if rec_attrs_json != "{}" else attrs
    new_country = rec_region or country
    if new_first == first and new_last == last and new_attrs == attrs and new_country == country:
        return None
    return (
        contact_id,
        new_first,
        new_last,
        _JSON.encode(new_attrs),
        new_country,
        build_search_text(new_first, new_last, phone, new_attrs),
    )


def _explain(reason: str, cells: list) -> str:
    """Add a hint when a refused row swallowed following lines (an opening quote that is never closed)."""
    if isinstance(cells, str):
        if cells.count("\n") < 5:
            return reason
        cells = cells.split(UNIT_SEPARATOR)
    for cell in cells or ():
        if isinstance(cell, str) and cell.count("\n") >= 5:
            lines = cell.count("\n") + 1
            return f'{reason} A value on this row runs over {lines} lines: check for a quote (") that is not closed.'
    return reason
