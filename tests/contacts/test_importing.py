"""Reading import files: detection (kind, encoding, delimiter, header), and every kind of bad file."""

import codecs

import pytest

from contacts import services
from contacts.importing import ImportFileError, detect, detect_delimiter, detect_encoding, guess_mapping
from contacts.models import Contact, Import
from tests.factories import BlocklistEntryFactory, ContactFieldFactory

from .helpers import assert_counts_add_up, reasons, run_import, upload, xlsx_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _workspace(workspace):
    return workspace


def _detect(content: bytes, name="contacts.csv"):
    return detect(upload(content, name), name, default_country="SE")


# --- encodings -----------------------------------------------------------------------------------------------

TEXT = "phone;first_name;city\n0701234567;Åsa;Göteborg\n0707654321;Zoë;Málaga\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),  # with BOM
        (TEXT.encode("utf-16-le"), "utf-16-le"),  # without BOM
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("cp1252"), "cp1252"),
        ("phone\n0701234567 \x81\n".encode("latin-1"), "latin-1"),  # 0x81 is not cp1252
    ],
)
def test_encoding_is_detected_and_names_survive(data, encoding, django_capture_on_commit_callbacks):
    assert detect_encoding(data) == encoding
    if encoding == "latin-1":
        return
    imp = run_import(django_capture_on_commit_callbacks, data, columns=["phone", "first_name", ""])
    assert imp.created_count == 2, imp.error_message
    assert Contact.objects.get(phone="+46701234567").first_name == "Åsa"
    assert Contact.objects.get(phone="+46707654321").first_name == "Zoë"


def test_utf8_file_with_a_stray_windows_byte_keeps_every_row(django_capture_on_commit_callbacks):
    data = "phone,first_name\n0701234567,Åsa\n".encode() + b"0707654321,Caf\xe9\n"
    imp = run_import(django_capture_on_commit_callbacks, data)
    assert imp.created_count == 2
    assert Contact.objects.get(phone="+46707654321").first_name == "Café"


# --- delimiters and quoting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_detected(delimiter):
    text = delimiter.join(["phone", "first_name", "last_name"]) + "\n"
    text += delimiter.join(["0701234567", "Anna", "Berg"]) + "\n"
    text += delimiter.join(["0707654321", "Bo", "Ek"]) + "\n"
    info = _detect(text.encode())
    assert info.delimiter == delimiter
    assert info.header == ["phone", "first_name", "last_name"]


def test_commas_inside_a_semicolon_file():
    assert detect_delimiter('name;phone\n"Berg, Anna";0701234567\n"Ek, Bo";0707654321\n') == ";"


def test_quoted_fields_with_newlines_and_delimiters(django_capture_on_commit_callbacks):
    ContactFieldFactory(key="note", label="Note")
    data = 'phone,first_name,note\n0701234567,"Anna, the first","line one\nline two"\n0707654321,Bo,"a ""quote"""\n'
    imp = run_import(django_capture_on_commit_callbacks, data, columns=["phone", "first_name", "field:note"])
    assert imp.created_count == 2
    anna = Contact.objects.get(phone="+46701234567")
    assert anna.first_name == "Anna, the first"
    assert anna.attributes["note"] == "line one\nline two"
    assert Contact.objects.get(phone="+46707654321").attributes["note"] == 'a "quote"'


def test_row_numbers_count_records_not_lines(django_capture_on_commit_callbacks):
    data = 'phone,note\n0701234567,"two\nlines"\nnope,x\n'
    imp = run_import(django_capture_on_commit_callbacks, data, columns=["phone", ""])
    assert set(reasons(imp)) == {3}  # header = 1, first record = 2, bad record = 3


def test_ragged_rows(django_capture_on_commit_callbacks):
    data = "phone,first_name,last_name\n0701234567\n0707654321,Bo,Ek,extra,cells\n0700000003,Cy\n"
    imp = run_import(django_capture_on_commit_callbacks, data)
    assert imp.created_count == 3
    assert Contact.objects.get(phone="+46707654321").last_name == "Ek"
    assert Contact.objects.get(phone="+46700000003").first_name == "Cy"


def test_a_100k_character_cell(django_capture_on_commit_callbacks):
    big = "x" * 100_000
    data = f"phone,first_name\n0701234567,{big}\n0707654321,Bo\n{big},Z\n"
    imp = run_import(django_capture_on_commit_callbacks, data)
    assert imp.created_count == 1
    assert imp.invalid_count == 2
    why = reasons(imp)
    assert "First name is 100,000 characters long" in why[2]
    assert "100,000 characters" in why[4]
    stored = imp.row_errors.get(row_number=2).values[1]
    assert len(stored) < 1000  # the error report keeps a capped copy


def test_duplicated_header_names(django_capture_on_commit_callbacks):
    data = "phone,name,name,phone\n0701234567,Anna,Berg,0709999999\n"
    info = _detect(data.encode())
    assert info.header == ["phone", "name", "name", "phone"]
    mapping = guess_mapping(info.header, info.rows, [], "SE")
    assert mapping.count("phone") == 1
    imp = run_import(django_capture_on_commit_callbacks, data, columns=["phone", "first_name", "last_name", ""])
    assert imp.created_count == 1
    assert Contact.objects.get().last_name == "Berg"


def test_phone_formats_and_the_same_number_twice(django_capture_on_commit_callbacks):
    data = (
        "phone\n070 123 45 67\n070-765-43-21\n(070) 111 22 33\n0046701112234\n+46701112235\n"
        "701112236\n46701112237\n+46 70 123 45 67\n"
    )
    imp = run_import(django_capture_on_commit_callbacks, data)
    assert imp.created_count == 7
    assert imp.duplicate_count == 1
    assert "row 2" in reasons(imp)[9]
    assert Contact.objects.filter(phone="+46701112236").exists()  # leading zero lost by a spreadsheet
    assert Contact.objects.filter(phone="+46701112237").exists()  # "+" lost


def test_a_number_on_the_blocklist(django_capture_on_commit_callbacks):
    BlocklistEntryFactory(phone="+46701234567", reason="opted_out")
    imp = run_import(django_capture_on_commit_callbacks, "phone\n070-123 45 67\n")
    assert imp.blocked_count == 1
    assert "on the blocklist (Opted out by reply)" in reasons(imp)[2]
    assert not Contact.objects.exists()


# --- files that are not contact files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "contacts.csv", "is empty"),
        (b"\n\n  \n", "contacts.csv", "is empty"),
        (b"phone,first_name\n", "contacts.csv", "header row (phone, first_name) but no rows"),
        (b"phone,first_name\n,,\n\n", "contacts.csv", "no rows of data"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "photo.csv", "PNG image"),
        (bytes(range(256)) * 20, "random.csv", "not a text file"),
        (b"%PDF-1.4 blah", "contacts.pdf", "has .pdf"),
        (b"phone\n0701234567\n", "contacts.docx", "has .docx"),
        (b"phone\n0701234567\n", "contacts", "has no extension"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", ".xls spreadsheet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.csv", "old Excel (.xls)"),
        (b"PK\x03\x04garbage-not-a-real-zip", "broken.xlsx", "not an Excel workbook"),
    ],
)
def test_bad_files_are_refused_with_a_reason(content, name, message):
    with pytest.raises(ImportFileError) as exc:
        services.import_create(upload=upload(content, name))
    assert message in str(exc.value)
    assert not Import.objects.exists()


def test_upload_size_limit_is_a_setting_with_a_clear_message(settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 100
    with pytest.raises(ImportFileError) as exc:
        services.import_create(upload=upload(b"phone\n" + b"0701234567\n" * 20))
    assert "the most this workspace accepts is 100 bytes" in str(exc.value)
    assert "IMPORT_MAX_UPLOAD_BYTES" in str(exc.value)


def test_xlsx_renamed_csv_is_read_as_xlsx(django_capture_on_commit_callbacks):
    content = xlsx_bytes({"Sheet": [["phone"], ["0701234567"]]})
    imp = run_import(django_capture_on_commit_callbacks, content, name="export.csv")
    assert imp.file_kind == "xlsx"
    assert imp.created_count == 1


def test_csv_named_xlsx_is_read_as_text(django_capture_on_commit_callbacks):
    imp = run_import(django_capture_on_commit_callbacks, "phone\n0701234567\n", name="export.xlsx")
    assert imp.file_kind == "csv"
    assert imp.created_count == 1


def test_xlsx_header_only_and_empty_workbook():
    with pytest.raises(ImportFileError, match="no rows of data"):
        services.import_create(upload=upload(xlsx_bytes({"A": [["phone", "name"]]}), "a.xlsx"))
    with pytest.raises(ImportFileError, match="no rows of data"):
        services.import_create(upload=upload(xlsx_bytes({"A": [], "B": []}), "b.xlsx"))


def test_xlsx_chooses_the_first_sheet_with_data_and_another_can_be_chosen(django_capture_on_commit_callbacks):
    content = xlsx_bytes({"Empty": [], "One": [["phone"], ["0701111111"]], "Two": [["phone"], ["0702222222"]]})
    imp, info = services.import_create(upload=upload(content, "book.xlsx"))
    assert info.sheet_names == ["Empty", "One", "Two"]
    assert imp.sheet_name == "One"
    info_two = services.import_detect(imp=imp, sheet_name="Two")
    assert info_two.rows == [["0702222222"]]
    with django_capture_on_commit_callbacks(execute=True):
        services.import_configure(
            imp=imp,
            columns=["phone"],
            has_header=True,
            mode=Import.Mode.ADD_UPDATE,
            default_country="SE",
            sheet_name="Two",
        )
        services.import_start(imp=imp)
    imp.refresh_from_db()
    assert list(Contact.objects.values_list("phone", flat=True)) == ["+46702222222"]


def test_file_without_header_row(django_capture_on_commit_callbacks):
    data = "0701234567,Anna\n0707654321,Bo\n"
    imp, info = services.import_create(upload=upload(data))
    assert info.has_header is False
    assert info.header == ["Column A", "Column B"]
    assert imp.mapping["columns"] == ["phone", ""]
    imp = run_import(django_capture_on_commit_callbacks, data, columns=["phone", "first_name"])
    assert imp.created_count == 2
    assert set(reasons(imp)) == set()


def test_no_phone_column_is_a_mapping_error():
    from django.core.exceptions import ValidationError

    imp, _info = services.import_create(upload=upload("name,city\nAnna,Lund\n"))
    assert "phone" not in imp.mapping["columns"]
    with pytest.raises(ValidationError, match="column that holds the phone numbers"):
        services.import_configure(
            imp=imp, columns=["first_name", ""], has_header=True, mode=Import.Mode.ADD_UPDATE, default_country="SE"
        )


def test_unclosed_quote_is_explained(django_capture_on_commit_callbacks):
    lines = ["phone,first_name", '0701234567,"Anna'] + [f"07000000{i:02d},P{i}" for i in range(8)]
    imp = run_import(django_capture_on_commit_callbacks, "\n".join(lines) + "\n")
    assert imp.status == Import.Status.DONE
    assert imp.invalid_count == 1
    assert "quote" in reasons(imp)[2]
    assert_counts_add_up(imp)


# --- mapping guesses and presets --------------------------------------------------------------------------------


def test_mapping_is_guessed_from_headers_fields_and_values():
    ContactFieldFactory(key="city", label="City")
    header = ["Mobile", "Förnamn", "Efternamn", "CITY", "Tags", "whatever"]
    rows = [["0701234567", "Åsa", "Berg", "Lund", "VIP", "x"]]
    assert guess_mapping(header, rows, list(__import__("contacts.models").models.ContactField.objects.all()), "SE") == [
        "phone",
        "first_name",
        "last_name",
        "field:city",
        "group",
        "",
    ]
    assert guess_mapping(["col1", "col2"], [["Anna", "070-123 45 67"], ["Bo", "0707654321"]], [], "SE") == [
        "",
        "phone",
    ]


def test_a_saved_preset_is_offered_for_the_same_header(django_capture_on_commit_callbacks):
    data = "Tel,Given,Family\n0701234567,Anna,Berg\n"
    run_import(
        django_capture_on_commit_callbacks,
        data,
        columns=["phone", "last_name", "first_name"],
        preset_name="CRM export",
    )
    imp, _info = services.import_create(upload=upload("tel , given,FAMILY\n0709999999,X,Y\n"))
    assert imp.mapping["columns"] == ["phone", "last_name", "first_name"]
    assert imp.mapping["preset_name"] == "CRM export"


def test_new_field_from_a_column(django_capture_on_commit_callbacks):
    from contacts.models import ContactField

    imp = run_import(
        django_capture_on_commit_callbacks,
        "phone,Shoe size\n0701234567,42\n",
        columns=["phone", ""],
        new_fields={1: ("Shoe size", "number")},
    )
    field = ContactField.objects.get(key="shoe_size")
    assert field.type == "number"
    assert imp.mapping["columns"] == ["phone", "field:shoe_size"]
    assert Contact.objects.get().attributes == {"shoe_size": 42}


def test_mostly_utf8_with_a_stray_windows_byte_is_read_as_utf8(django_capture_on_commit_callbacks):
    data = "Mobile;Förnamn\n0701234567;Åsa\n".encode() + b"0707654321;Caf\xe9\n"
    assert detect_encoding(data) == "utf-8"
    imp = run_import(django_capture_on_commit_callbacks, data)
    assert imp.mapping["columns"] == ["phone", "first_name"]
    assert sorted(Contact.objects.values_list("first_name", flat=True)) == ["Café", "Åsa"]
