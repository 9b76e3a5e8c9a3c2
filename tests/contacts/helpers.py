"""Helpers for import tests: uploads from bytes, XLSX workbooks built with openpyxl, a full run."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile

from contacts import services
from contacts.models import Import


def upload(content: bytes | str, name: str = "contacts.csv") -> SimpleUploadedFile:
    if isinstance(content, str):
        content = content.encode("utf-8")
    return SimpleUploadedFile(name, content, content_type="text/csv")


def xlsx_bytes(sheets: dict[str, list[list]], merge: dict[str, list[str]] | None = None) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
        for cell_range in (merge or {}).get(title, []):
            ws.merge_cells(cell_range)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def run_import(
    capture,
    content,
    *,
    name: str = "contacts.csv",
    columns: list[str] | None = None,
    mode: str = Import.Mode.ADD_UPDATE,
    has_header: bool | None = None,
    country: str = "SE",
    actor=None,
    **configure,
) -> Import:
    """Upload → configure (the guessed mapping unless ``columns``) → start → the task runs (eagerly)."""
    imp, _info = services.import_create(upload=upload(content, name), actor=actor)
    with capture(execute=True):
        services.import_configure(
            imp=imp,
            columns=columns if columns is not None else imp.mapping["columns"],
            has_header=imp.has_header if has_header is None else has_header,
            mode=mode,
            default_country=country,
            actor=actor,
            **configure,
        )
        services.import_start(imp=imp, actor=actor)
    imp.refresh_from_db()
    return imp


def assert_counts_add_up(imp: Import) -> None:
    assert imp.total_rows == imp.counted_rows
    assert imp.processed_rows == imp.total_rows + imp.empty_count


def reasons(imp: Import) -> dict[int, str]:
    return dict(imp.row_errors.values_list("row_number", "reason"))
