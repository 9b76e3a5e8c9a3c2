"""Import files: what a file is (kind, encoding, delimiter, sheet, header), reading its rows as a stream, and the
column mapping. The run itself (batches, workers, writes) is in ``contacts/import_runner.py``.

Reading never loads a file into memory: CSV goes through ``csv.reader`` over a decoding stream; XLSX through
openpyxl's read-only mode. Every problem with the file itself is an ``ImportFileError`` with a sentence for the
person who uploaded it; problems with a row are the row's own (see ``contacts/rows.py``).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import rows as R
from .phone import normalize_phone
from .search import fold

CSV, XLSX = "csv", "xlsx"
TEXT_EXTENSIONS = {".csv", ".txt", ".tsv", ".tab"}
EXCEL_EXTENSIONS = {".xlsx"}
ALLOWED_EXTENSIONS = TEXT_EXTENSIONS | EXCEL_EXTENSIONS
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAMPLE_BYTES = 256 * 1024
PREVIEW_ROWS = 20
MAX_COLUMNS = 200
CELL_STORE_MAX = 500  # characters of a cell kept in an error report


ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (with BOM)",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "cp1252": "Windows-1252",
    "latin-1": "ISO-8859-1 (Latin-1)",
}


class ImportFileError(Exception):
    """The file cannot be read as contacts; the message says why and what to do."""


# --- detection ---------------------------------------------------------------------------------------------

_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
)


def detect_encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (with or without BOM), else Windows-1252, else Latin-1."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:8192]
    if len(sample) >= 4:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > len(odd) * 0.3 and even.count(0) < len(even) * 0.05:
            return "utf-16-le"
        if even.count(0) > len(even) * 0.3 and odd.count(0) < len(odd) * 0.05:
            return "utf-16-be"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut at the sample's end is not an error
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # Mostly UTF-8 with a few stray Windows bytes (two files pasted together): still UTF-8, the stray bytes are
    # read as Windows-1252 (see rows.decode_errors). Plain Windows-1252 text has (almost) no valid UTF-8 sequences.
    text = head.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for c in text if c > "\x7f") - bad
    if good > bad:
        return "utf-8"
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    controls = sum(1 for c in text[:20000] if c < " " and c not in "\t\r\n\f\v")
    return controls > max(2, len(text[:20000]) * 0.01)


def detect_delimiter(text: str) -> str:
    """The candidate that splits the first lines into the same number (> 1) of fields most consistently."""
    lines = text.splitlines(keepends=True)
    if len(lines) > 1:
        lines = lines[:-1]  # the sample's last line may be cut
    sample = "".join(lines[:200])
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r][:100]
        except csv.Error:
            continue
        if not counts:
            continue
        mode, freq = Counter(counts).most_common(1)[0]
        if mode < 2:
            continue
        score = (freq / len(counts), mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def cell_text(value) -> str:
    """A spreadsheet cell as the text a person sees (numbers without a float's '.0', dates as ISO)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e17:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0, 0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def header_signature(header: list[str]) -> str:
    return hashlib.sha256("\x1f".join(fold(h) for h in header).encode()).hexdigest()


def column_label(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA (as spreadsheets name columns)."""
    label = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        label = chr(65 + rem) + label
    return label


@dataclass
class FileInfo:
    kind: str
    encoding: str = ""
    delimiter: str = ""
    sheet_names: list[str] = field(default_factory=list)
    sheet_name: str = ""
    has_header: bool = True
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # first non-blank data rows (as detected), for the mapping
    estimated_rows: int = 0
    # The first records as read: (spreadsheet row number, cells), blank ones included.
    records: list[tuple[int, list[str]]] = field(default_factory=list)

    @property
    def column_count(self) -> int:
        return max([len(self.header), *(len(r) for _n, r in self.records)], default=0)

    def data_rows(self, has_header: bool) -> list[tuple[int, list[str]]]:
        """(row number, cells) of the first non-blank data rows, with or without the first record as header."""
        started, out = False, []
        for number, cells in self.records:
            blank = not any(c.strip() for c in cells)
            if not started:
                if blank:
                    continue
                started = True
                if has_header:
                    continue
            if not blank:
                out.append((number, cells))
        return out[:PREVIEW_ROWS]


def _kind_from_content(head: bytes, name: str) -> str:
    ext = Path(name).suffix.lower()
    if ext not in ALLOWED_EXTENSIONS:
        if ext in {".xls", ".xlsm", ".xlsb", ".ods", ".numbers"}:
            raise ImportFileError(
                f"“{name}” is a {ext} spreadsheet. Save it as Excel Workbook (.xlsx) or CSV and upload that."
            )
        shown = ext or "no extension"
        raise ImportFileError(f"“{name}” has {shown}. Upload a CSV file (.csv, .txt, .tsv) or an Excel .xlsx file.")
    if head.startswith(b"PK\x03\x04"):
        return XLSX  # an .xlsx renamed .csv is still read as what it is
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            f"“{name}” is an old Excel (.xls) workbook. Save it as Excel Workbook (.xlsx) or CSV and upload that."
        )
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise ImportFileError(f"“{name}” is {what}, not a CSV or Excel file.")
    if ext in EXCEL_EXTENSIONS:
        return CSV  # text named .xlsx: read it as the text it is
    return CSV


def detect(fileobj, name: str, *, sheet_name: str = "", default_country: str = "") -> FileInfo:
    """Read the start of a file and say what it is. Raises ImportFileError."""
    fileobj.seek(0)
    head = fileobj.read(SAMPLE_BYTES)
    if not head or not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise ImportFileError(f"“{name}” is empty.")
    kind = _kind_from_content(head, name)
    if kind == XLSX:
        info = _detect_xlsx(fileobj, name, sheet_name, default_country)
    else:
        info = _detect_csv(fileobj, head, name)
        _detect_header(info, default_country)
    if not info.rows:
        if info.has_header:
            raise ImportFileError(f"“{name}” has a header row ({', '.join(info.header[:5])}) but no rows of data.")
        raise ImportFileError(f"“{name}” has no rows of data.")
    return info


def _detect_csv(fileobj, head: bytes, name: str) -> FileInfo:
    encoding = detect_encoding(head)
    text = head.decode(encoding, errors="replace")
    if _looks_binary(text):
        raise ImportFileError(
            f"“{name}” is not a text file (it contains binary data). Upload a CSV file or an Excel .xlsx file."
        )
    delimiter = detect_delimiter(text)
    info = FileInfo(kind=CSV, encoding=encoding, delimiter=delimiter)
    fileobj.seek(0)
    with _csv_reader(fileobj, encoding, delimiter) as (reader, _raw):
        try:
            _read_records(info, reader)
        except csv.Error as exc:
            raise ImportFileError(f"“{name}” cannot be read as CSV near row {len(info.records) + 1}: {exc}.") from None
    info.estimated_rows = 0
    return info


def _open_workbook(fileobj, name: str):
    import openpyxl

    fileobj.seek(0)
    try:
        return openpyxl.load_workbook(fileobj, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise ImportFileError(f"“{name}” is not an Excel workbook that can be read ({type(exc).__name__}).") from None
    except Exception as exc:  # openpyxl raises many things on broken files; none may become a 500
        raise ImportFileError(f"“{name}” is not an Excel workbook that can be read ({type(exc).__name__}).") from None


def _sheet_rows(ws) -> Iterator[list[str]]:
    for values in ws.iter_rows(values_only=True):
        cells = [cell_text(v) for v in values[:MAX_COLUMNS]]
        while cells and cells[-1] == "":
            cells.pop()
        yield cells


def _detect_xlsx(fileobj, name: str, sheet_name: str, default_country: str) -> FileInfo:
    """The chosen sheet; otherwise the first sheet with data rows (a workbook often starts with notes)."""
    wb = _open_workbook(fileobj, name)
    try:
        names = list(wb.sheetnames)
        if not names:
            raise ImportFileError(f"“{name}” has no sheets.")
        chosen = sheet_name if sheet_name in names else ""
        candidates = [chosen] if chosen else names
        fallback = None
        for candidate in candidates:
            ws = wb[candidate]
            if not hasattr(ws, "iter_rows"):
                continue  # a chart sheet
            try:
                estimated = ws.max_row or 0
            except Exception:
                estimated = 0
            ws.reset_dimensions()  # some writers store a wrong size; read every row there is
            info = FileInfo(kind=XLSX, sheet_names=names, sheet_name=candidate, estimated_rows=estimated)
            _read_records(info, _sheet_rows(ws))
            _detect_header(info, default_country)
            if info.rows or chosen:
                return info
            if fallback is None and any(any(c.strip() for c in cells) for _n, cells in info.records):
                fallback = info
        return fallback or FileInfo(kind=XLSX, sheet_names=names, sheet_name=names[0])
    finally:
        wb.close()


def _read_records(info: FileInfo, records) -> None:
    """Keep the first records (with their row numbers) until enough non-blank ones for a header and a preview."""
    non_blank = 0
    for number, cells in enumerate(records, start=1):
        cells = cells[:MAX_COLUMNS]
        info.records.append((number, cells))
        if any(c.strip() for c in cells):
            non_blank += 1
            if non_blank > PREVIEW_ROWS + 1:
                return
        elif number > 10_000:  # a sea of blank rows: stop looking
            return


def _detect_header(info: FileInfo, default_country: str) -> None:
    first = next((cells for _n, cells in info.records if any(c.strip() for c in cells)), None)
    if first is None:
        info.rows = []
        return
    looks_like_data = any(normalize_phone(c, default_country or "SE").ok for c in first if c.strip())
    info.has_header = not looks_like_data
    info.rows = [cells for _n, cells in info.data_rows(info.has_header)]
    info.header = header_names([c.strip() for c in first] if info.has_header else [], info.column_count)


def header_names(header: list[str], width: int) -> list[str]:
    names = [(h or "").strip()[:100] for h in header] + [""] * max(0, width - len(header))
    return [n or f"Column {column_label(i)}" for i, n in enumerate(names)]


# --- reading -----------------------------------------------------------------------------------------------


@contextmanager
def _csv_reader(fileobj, encoding: str, delimiter: str):
    errors = R.decode_errors(encoding)
    fileobj.seek(0)
    text = io.TextIOWrapper(fileobj, encoding=encoding, errors=errors, newline="")
    try:
        yield csv.reader(text, delimiter=delimiter or ","), fileobj
    finally:
        try:
            text.detach()  # leave the caller's file open (and unclosed by the wrapper's finalizer)
        except ValueError:
            pass


@dataclass
class Source:
    """How to read an import's file: what ``detect`` found plus the user's choices."""

    kind: str
    encoding: str = "utf-8"
    delimiter: str = ","
    sheet_name: str = ""
    has_header: bool = True


class RecordReader:
    """Iterates the data records (lists of str) of a file: leading blank rows and the header row are skipped
    (as ``detect`` skips them), every record after that is yielded, blank ones included, so record k of the data
    is on spreadsheet row ``first_row + k``. CSV records come straight from ``csv.reader`` (no per-row Python)."""

    def __init__(self, fileobj, source: Source, *, size: int = 0):
        self.fileobj = fileobj
        self.source = source
        self.size = size
        self.first_row = 1 + int(source.has_header)  # spreadsheet row number of the first data record
        self._xlsx_rows_read = 0
        self._estimated = 0

    def fraction_read(self) -> float:
        if self.source.kind == CSV:
            try:
                return min(1.0, self.fileobj.tell() / self.size) if self.size else 0.0
            except (OSError, ValueError):
                return 0.0
        return min(1.0, self._xlsx_rows_read / self._estimated) if self._estimated else 0.0

    def __iter__(self) -> Iterator[list[str]]:
        if self.source.kind == XLSX:
            yield from self._records(self._xlsx())
        else:
            with _csv_reader(self.fileobj, self.source.encoding, self.source.delimiter) as (reader, _raw):
                yield from self._records(reader)

    def _records(self, records: Iterator[list[str]]) -> Iterator[list[str]]:
        number = 0
        for cells in records:
            number += 1
            if cells and "".join(cells).strip():
                break
        else:
            return
        if self.source.has_header:
            self.first_row = number + 1
        else:
            self.first_row = number
            yield cells
        yield from records

    def _xlsx(self) -> Iterator[list[str]]:
        wb = _open_workbook(self.fileobj, "the file")
        try:
            try:
                ws = wb[self.source.sheet_name] if self.source.sheet_name else wb.worksheets[0]
            except KeyError:
                raise ImportFileError(f"The sheet “{self.source.sheet_name}” is no longer in the file.") from None
            try:
                self._estimated = ws.max_row or 0
            except Exception:
                self._estimated = 0
            ws.reset_dimensions()
            for cells in _sheet_rows(ws):
                self._xlsx_rows_read += 1
                yield cells
        finally:
            wb.close()


BLOCK_ENCODINGS = {"utf-8", "utf-8-sig", "cp1252", "latin-1", "iso8859-1", "ascii"}
BLOCK_BYTES = 512 * 1024
MAX_BLOCK_BYTES = 64 * 1024 * 1024


def block_mode(source: Source, fileobj) -> bool:
    """Whether a CSV file can be cut into blocks of whole records as bytes: an ASCII-compatible encoding (a
    newline or quote byte is then always that character) and newline-terminated lines."""
    if source.kind != CSV:
        return False
    try:
        name = codecs.lookup(source.encoding).name
    except LookupError:
        return False
    if name not in BLOCK_ENCODINGS:
        return False
    fileobj.seek(0)
    head = fileobj.read(SAMPLE_BYTES)
    return b"\n" in head or b"\r" not in head


def _record_end(data: bytes, start: int = 0) -> int:
    """Index after the first record of ``data[start:]`` (a newline outside quotes), or -1."""
    parity = 0
    pos = start
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return -1
        parity += data.count(b'"', pos, nl)
        if parity % 2 == 0:
            return nl + 1
        pos = nl + 1


def _last_record_end(data: bytes) -> int:
    """Index after the last whole record in ``data`` (which starts at a record boundary), or -1. A newline
    ends a record when the quotes before it pair up (RFC 4180 quoting: an escaped quote is two quotes)."""
    idx = data.rfind(b"\n")
    for _ in range(64):
        if idx < 0:
            return -1
        if data.count(b'"', 0, idx) % 2 == 0:
            return idx + 1
        idx = data.rfind(b"\n", 0, idx)
    return -1


class BlockReader:
    """Cuts a CSV file into blocks of whole records, as bytes, for worker processes to decode and parse. Reads
    past leading blank lines and the header itself; knows the byte offset where each block ends (the resume
    point) and the spreadsheet row number of the first data record."""

    def __init__(self, fileobj, source: Source, *, size: int, block_bytes: int = BLOCK_BYTES):
        self.fileobj = fileobj
        self.source = source
        self.size = size
        self.block_bytes = block_bytes
        self.delimiter = (source.delimiter or ",").encode("latin-1")
        self.data_offset, self.first_row = self._find_data_start()

    def _find_data_start(self) -> tuple[int, int]:
        self.fileobj.seek(0)
        head = self.fileobj.read(4 * 1024 * 1024)
        pos = 3 if head.startswith(codecs.BOM_UTF8) else 0
        row = 0
        while pos < len(head):
            end = _record_end(head, pos)
            record = head[pos : end if end > 0 else len(head)]
            row += 1
            blank = not record.replace(self.delimiter, b"").replace(b'"', b"").strip()
            if not blank:
                if not self.source.has_header:
                    return pos, row
                return (end if end > 0 else len(head)), row + 1
            if end < 0:
                break
            pos = end
        return len(head), row + 1

    def fraction(self, offset: int) -> float:
        return min(1.0, offset / self.size) if self.size else 0.0

    def blocks(self, start: int | None = None):
        """(start offset, end offset, bytes) of each block, from ``start`` (default: the first data record)."""
        pos = self.data_offset if start is None else start
        self.fileobj.seek(pos)
        buf = b""
        while True:
            chunk = self.fileobj.read(self.block_bytes)
            if not chunk:
                if buf:
                    yield pos, pos + len(buf), buf
                return
            buf = buf + chunk if buf else chunk
            cut = _last_record_end(buf)
            if cut <= 0:
                if len(buf) < MAX_BLOCK_BYTES:
                    continue  # a very long record (or a quote never closed): read on
                cut = buf.rfind(b"\n") + 1  # give up on quote pairing; the row will say "quote not closed"
                if cut <= 0:
                    continue
            block, buf = buf[:cut], buf[cut:]
            yield pos, pos + cut, block
            pos += cut


# --- mapping -----------------------------------------------------------------------------------------------

_HEADER_GUESSES = {
    R.PHONE: {
        "phone",
        "phone number",
        "phonenumber",
        "phone no",
        "mobile",
        "mobile number",
        "mobile phone",
        "cell",
        "cellphone",
        "cell phone",
        "msisdn",
        "number",
        "tel",
        "telephone",
        "telefon",
        "telefonnummer",
        "mobil",
        "mobilnummer",
        "mobiltelefon",
        "telephone number",
        "portable",
        "handy",
        "movil",
        "celular",
        "telefono",
        "τηλεφωνο",
        "κινητο",
        "sms",
        "to",
        "recipient",
    },
    R.FIRST_NAME: {
        "first name",
        "firstname",
        "first",
        "given name",
        "forename",
        "fornamn",
        "vorname",
        "prenom",
        "nombre",
        "name",
        "ονομα",
        "fname",
    },
    R.LAST_NAME: {
        "last name",
        "lastname",
        "last",
        "surname",
        "family name",
        "efternamn",
        "nachname",
        "nom",
        "apellido",
        "επωνυμο",
        "lname",
    },
    R.COUNTRY: {"country", "country code", "land", "pays", "pais", "region", "χωρα"},
    R.GROUP: {"group", "groups", "grupp", "grupper", "tags", "tag", "gruppe", "groupe", "grupo"},
    R.LIST: {"list", "lists", "lista", "liste"},
}


def _norm_header(value: str) -> str:
    return fold(value.replace("_", " ").replace("-", " ").replace(".", " ")).strip()


def guess_mapping(header: list[str], rows: list[list[str]], fields, default_country: str) -> list[str]:
    """A target per column from header names, declared fields and, for the phone, the values themselves."""
    field_by_name = {}
    for f in fields:
        field_by_name.setdefault(_norm_header(f.key), f.key)
        field_by_name.setdefault(_norm_header(f.label), f.key)
    mapping = [""] * len(header)
    taken: set[str] = set()
    for i, name in enumerate(header):
        norm = _norm_header(name)
        for target, names in _HEADER_GUESSES.items():
            if norm in names and (target not in taken or target in (R.GROUP, R.LIST)):
                mapping[i] = target
                taken.add(target)
                break
        else:
            key = field_by_name.get(norm)
            if key and f"{R.FIELD_PREFIX}{key}" not in taken:
                mapping[i] = f"{R.FIELD_PREFIX}{key}"
                taken.add(mapping[i])
    if R.PHONE not in taken and rows:
        scores = []
        for i in range(len(header)):
            if mapping[i]:
                continue
            values = [r[i] for r in rows if i < len(r) and r[i].strip()]
            ok = sum(1 for v in values if normalize_phone(v, default_country).ok)
            scores.append((ok / len(values) if values else 0, i))
        if scores:
            share, i = max(scores)
            if share >= 0.5:
                mapping[i] = R.PHONE
    return mapping


@dataclass
class MappingProblem(Exception):
    message: str


def build_row_spec(
    columns: list[str], fields_by_key: dict, *, default_country: str, day_first: bool, phone_only: bool = False
) -> R.RowSpec:
    """A RowSpec from a mapping (one target per column). Raises MappingProblem with a sentence."""
    phone_cols = [i for i, t in enumerate(columns) if t == R.PHONE]
    if not phone_cols:
        raise MappingProblem("Choose the column that holds the phone numbers.")
    if len(phone_cols) > 1:
        raise MappingProblem("Only one column can be the phone number.")
    single = {}
    for target in (R.FIRST_NAME, R.LAST_NAME, R.COUNTRY):
        cols = [i for i, t in enumerate(columns) if t == target]
        if len(cols) > 1:
            labels = {R.FIRST_NAME: "first name", R.LAST_NAME: "last name", R.COUNTRY: "country"}
            raise MappingProblem(f"Only one column can be the {labels[target]}.")
        single[target] = cols[0] if cols else -1
    specs = []
    seen = set()
    for i, target in enumerate(columns):
        if not target.startswith(R.FIELD_PREFIX):
            continue
        key = target[len(R.FIELD_PREFIX) :]
        field_def = fields_by_key.get(key)
        if field_def is None:
            raise MappingProblem(f"The field “{key}” does not exist any more; choose another for column {i + 1}.")
        if key in seen:
            raise MappingProblem(f"Only one column can fill the field “{field_def.label}”.")
        seen.add(key)
        specs.append(R.FieldSpec(i, key, field_def.label, field_def.type, tuple(field_def.choices or ())))
    return R.RowSpec(
        phone_col=phone_cols[0],
        first_col=single[R.FIRST_NAME],
        last_col=single[R.LAST_NAME],
        country_col=single[R.COUNTRY],
        fields=tuple(specs),
        group_cols=tuple(i for i, t in enumerate(columns) if t == R.GROUP),
        list_cols=tuple(i for i, t in enumerate(columns) if t == R.LIST),
        default_country=default_country,
        day_first=day_first,
        phone_only=phone_only,
    )


def stored_values(cells: list[str] | str) -> list[str]:
    """A row's original values as kept for the error report (each cell capped). ``cells`` may be the cells
    joined by the unit separator (how worker processes hand them back)."""
    if isinstance(cells, str):
        cells = cells.split(R.UNIT_SEPARATOR) if cells else []
    return [c if len(c) <= CELL_STORE_MAX else c[:CELL_STORE_MAX] + "…" for c in (cells or [])[:MAX_COLUMNS]]
