"""Running imports end to end through the task: counts that add up, modes, groups/lists, errors, cancel, resume."""

import pytest

from contacts import services
from contacts.models import BlocklistEntry, Contact, ContactList, Group, GroupMembership, Import
from smsportal.models import AuditLog
from tests.factories import BlocklistEntryFactory, ContactFactory, ContactFieldFactory, GroupFactory

from .helpers import assert_counts_add_up, reasons, run_import, xlsx_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _workspace(workspace):
    return workspace


def test_a_simple_file_creates_contacts(django_capture_on_commit_callbacks, marketer):
    imp = run_import(
        django_capture_on_commit_callbacks,
        "phone,first_name,last_name\n0701234567,Anna,Svensson\n+46 70 765 43 21,Bo,Ek\n",
        actor=marketer,
    )
    assert imp.status == Import.Status.DONE
    assert imp.created_count == 2
    assert imp.total_rows == 2
    assert_counts_add_up(imp)
    anna = Contact.objects.get(phone="+46701234567")
    assert (anna.first_name, anna.last_name, anna.country, anna.status) == ("Anna", "Svensson", "SE", "active")
    assert "anna svensson" in anna.search_text
    assert anna.import_mark == imp.pk
    assert AuditLog.objects.filter(action=AuditLog.Action.IMPORT, object_id=str(imp.pk)).exists()


def test_every_outcome_is_counted_once(django_capture_on_commit_callbacks):
    ContactFactory(phone="+46700000001", first_name="Old", last_name="Name")  # will be updated
    ContactFactory(phone="+46700000002", first_name="Same", last_name="Person")  # unchanged
    BlocklistEntryFactory(phone="+46700000003", reason=BlocklistEntry.Reason.MANUAL)
    content = "\n".join(
        [
            "phone,first_name,last_name",
            "0700000001,New,Name",  # 2 updated
            "0700000002,Same,Person",  # 3 unchanged
            "0700000003,Blocked,Person",  # 4 blocked
            "0700000004,Fresh,Person",  # 5 created
            "+46 70 000 00 04,Fresh,Again",  # 6 duplicate in the file, other format
            "not a phone,Bad,Row",  # 7 invalid
            ",,",  # 8 empty: ignored
            "0046700000005,Five,Person",  # 9 created
        ]
    )
    imp = run_import(django_capture_on_commit_callbacks, content)
    assert imp.status == Import.Status.DONE
    assert (imp.created_count, imp.updated_count, imp.unchanged_count) == (2, 1, 1)
    assert (imp.duplicate_count, imp.invalid_count, imp.blocked_count) == (1, 1, 1)
    assert imp.empty_count == 1
    assert imp.total_rows == 7
    assert_counts_add_up(imp)
    why = reasons(imp)
    assert "on the blocklist" in why[4]
    assert "Duplicate" in why[6] and "row 5" in why[6]
    assert why[7].startswith("Phone:")
    assert set(why) == {4, 6, 7}
    assert Contact.objects.get(phone="+46700000001").first_name == "New"
    assert not Contact.objects.filter(phone="+46700000003").exists()
    # The blocked row's original values are kept for the error report.
    assert imp.row_errors.get(row_number=4).values == ["0700000003", "Blocked", "Person"]


def test_duplicates_across_batches_are_found_without_memory(settings, django_capture_on_commit_callbacks):
    settings.IMPORT_BATCH_ROWS = 3
    settings.IMPORT_BLOCK_BYTES = 30  # CSV batches are blocks of bytes: two or three rows each
    lines = ["phone"] + [f"07000001{i:02d}" for i in range(10)] + ["0700000100", "+46700000105"]
    imp = run_import(django_capture_on_commit_callbacks, "\n".join(lines))
    assert imp.created_count == 10
    assert imp.duplicate_count == 2
    assert_counts_add_up(imp)
    assert "earlier row" in reasons(imp)[12]


def test_add_only_skips_existing_and_never_changes_them(django_capture_on_commit_callbacks):
    ContactFactory(phone="+46700000001", first_name="Keep")
    imp = run_import(
        django_capture_on_commit_callbacks,
        "phone,first_name\n0700000001,Changed\n0700000002,New\n",
        mode=Import.Mode.ADD_ONLY,
    )
    assert (imp.created_count, imp.skipped_count, imp.updated_count) == (1, 1, 0)
    assert_counts_add_up(imp)
    assert Contact.objects.get(phone="+46700000001").first_name == "Keep"


def test_update_keeps_values_the_file_leaves_empty_and_never_reactivates(django_capture_on_commit_callbacks):
    city = ContactFieldFactory(key="city", label="City")
    contact = ContactFactory(
        phone="+46700000001",
        first_name="Anna",
        last_name="Ek",
        attributes={"city": "Lund"},
        status=Contact.Status.OPTED_OUT,
    )
    imp = run_import(
        django_capture_on_commit_callbacks,
        "phone,first_name,last_name,city\n0700000001,,Berg,\n",
        columns=["phone", "first_name", "last_name", f"field:{city.key}"],
    )
    assert imp.updated_count == 1
    contact.refresh_from_db()
    assert (contact.first_name, contact.last_name, contact.attributes) == ("Anna", "Berg", {"city": "Lund"})
    assert contact.status == Contact.Status.OPTED_OUT


def test_custom_fields_are_typed_and_bad_values_name_the_field(django_capture_on_commit_callbacks):
    ContactFieldFactory(key="birthday", label="Birthday", type="date")
    ContactFieldFactory(key="points", label="Points", type="number")
    ContactFieldFactory(key="tier", label="Tier", type="choice", choices=["Gold", "Silver"])
    content = (
        "phone,birthday,points,tier\n"
        '0700000001,31/12/1990,"1 234,5",gold\n'
        "0700000002,1990-02-31,3,Gold\n"
        "0700000003,2001-01-01,many,Gold\n"
        "0700000004,2001-01-01,3,Bronze\n"
    )
    imp = run_import(
        django_capture_on_commit_callbacks,
        content,
        columns=["phone", "field:birthday", "field:points", "field:tier"],
    )
    assert imp.created_count == 1
    assert imp.invalid_count == 3
    assert_counts_add_up(imp)
    assert Contact.objects.get(phone="+46700000001").attributes == {
        "birthday": "1990-12-31",
        "points": 1234.5,
        "tier": "Gold",
    }
    why = reasons(imp)
    assert why[3].startswith("Birthday:") and "exists" in why[3]
    assert why[4].startswith("Points:") and "not a number" in why[4]
    assert why[5].startswith("Tier:") and "Gold, Silver" in why[5]


def test_target_group_and_list_and_group_column(django_capture_on_commit_callbacks):
    vip = GroupFactory(name="VIP")
    existing = ContactFactory(phone="+46700000009")
    content = "phone,groups\n0700000001,Newsletter; VIP\n0700000002,newsletter\n0700000009,\n"
    target_list = ContactList.objects.create(name="Autumn fair")
    imp = run_import(
        django_capture_on_commit_callbacks,
        content,
        columns=["phone", "group"],
        target_group=vip,
        target_list=target_list,
    )
    assert imp.status == Import.Status.DONE
    vip.refresh_from_db()
    newsletter = Group.objects.get(name="Newsletter")
    target_list.refresh_from_db()
    assert vip.member_count == 3 == GroupMembership.objects.filter(group=vip).count()
    assert newsletter.member_count == 2 == newsletter.contacts.count()
    assert target_list.member_count == 3
    assert existing.groups.filter(pk=vip.pk).exists()
    # Importing the same file again adds nobody twice and keeps the counters right.
    imp2 = run_import(
        django_capture_on_commit_callbacks,
        content,
        columns=["phone", "group"],
        target_group=vip,
    )
    assert imp2.unchanged_count == 3
    vip.refresh_from_db()
    assert vip.member_count == 3


def test_blocklist_mode(django_capture_on_commit_callbacks, marketer):
    contact = ContactFactory(phone="+46700000001")
    BlocklistEntryFactory(phone="+46700000002")
    content = "number\n0700000001\n0700000002\n0700000003\n0700000003\nxyz\n"
    imp = run_import(django_capture_on_commit_callbacks, content, mode=Import.Mode.BLOCKLIST, actor=marketer)
    assert (imp.created_count, imp.unchanged_count, imp.duplicate_count, imp.invalid_count) == (2, 1, 1, 1)
    assert_counts_add_up(imp)
    entry = BlocklistEntry.objects.get(phone="+46700000003")
    assert entry.reason == BlocklistEntry.Reason.IMPORTED
    assert entry.source.startswith(f"Import #{imp.pk}")
    assert entry.created_by == marketer
    contact.refresh_from_db()
    assert contact.status == Contact.Status.BLOCKED
    assert AuditLog.objects.filter(action=AuditLog.Action.BLOCK, object_id=str(imp.pk)).exists()


def test_xlsx_with_floats_dates_merged_cells_and_several_sheets(django_capture_on_commit_callbacks):
    import datetime as dt

    ContactFieldFactory(key="joined", label="Joined", type="date")
    ContactFieldFactory(key="score", label="Score", type="number")
    content = xlsx_bytes(
        {
            "Notes": [],
            "People": [
                ["Phone", "First name", "Joined", "Score"],
                [46701234567.0, "Anna", dt.datetime(2024, 5, 17), 12.5],
                [701234568, "Bo", dt.date(2023, 1, 2), 7],
                ["4.67e+10", "Float", None, None],
                [None, "No phone", None, None],
            ],
        },
        merge={"People": ["B2:B3"]},  # "Anna" spans two rows: only the first row holds the value
    )
    imp = run_import(
        django_capture_on_commit_callbacks,
        content,
        name="people.xlsx",
        columns=["phone", "first_name", "field:joined", "field:score"],
    )
    assert imp.file_kind == "xlsx"
    assert imp.sheet_name == "People"
    assert imp.created_count == 2
    assert imp.invalid_count == 2
    assert_counts_add_up(imp)
    anna = Contact.objects.get(phone="+46701234567")
    assert anna.attributes == {"joined": "2024-05-17", "score": 12.5}
    bo = Contact.objects.get(phone="+46701234568")
    assert bo.attributes == {"joined": "2023-01-02", "score": 7}
    assert bo.first_name == ""
    why = reasons(imp)
    assert "scientific notation" in why[4]
    assert why[5] == "Phone: No phone number."


def test_cancel_before_the_worker_starts(django_capture_on_commit_callbacks):
    from .helpers import upload

    imp, _ = services.import_create(upload=upload("phone\n0700000001\n"))
    services.import_configure(
        imp=imp, columns=["phone"], has_header=True, mode=Import.Mode.ADD_UPDATE, default_country="SE"
    )
    services.import_start(imp=imp)  # the task is queued on commit, which never comes here
    services.import_cancel(imp=imp)
    imp.refresh_from_db()
    assert imp.status == Import.Status.CANCELLED
    services.import_execute(import_id=imp.pk)  # the task arrives late: does nothing
    imp.refresh_from_db()
    assert imp.status == Import.Status.CANCELLED
    assert imp.processed_rows == 0
    assert not Contact.objects.exists()


def test_cancel_while_running_keeps_written_batches(settings, django_capture_on_commit_callbacks, monkeypatch):
    from contacts import import_runner

    settings.IMPORT_BATCH_ROWS = 2
    settings.IMPORT_BLOCK_BYTES = 22  # two 11-byte rows per batch
    calls = {"n": 0}
    original = import_runner.ImportRunner._cancel_requested

    def cancel_after_two_batches(self):
        calls["n"] += 1
        if calls["n"] == 3:
            Import.objects.filter(pk=self.imp.pk).update(cancel_requested=True)
        return original(self)

    monkeypatch.setattr(import_runner.ImportRunner, "_cancel_requested", cancel_after_two_batches)
    lines = ["phone"] + [f"07000000{i:02d}" for i in range(10)]
    imp = run_import(django_capture_on_commit_callbacks, "\n".join(lines))
    assert imp.status == Import.Status.CANCELLED
    assert imp.created_count == 4 == Contact.objects.count()
    assert imp.processed_rows == 4
    assert_counts_add_up(imp)


def test_a_crash_keeps_earlier_batches_and_retry_resumes(settings, django_capture_on_commit_callbacks, monkeypatch):
    from contacts import import_runner

    settings.IMPORT_BATCH_ROWS = 2
    settings.IMPORT_BLOCK_BYTES = 22  # two 11-byte rows per batch
    original = import_runner.ImportRunner._apply_contacts
    state = {"batches": 0}

    def flaky(self, *args, **kwargs):
        state["batches"] += 1
        if state["batches"] == 3:
            raise RuntimeError("disk on fire")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(import_runner.ImportRunner, "_apply_contacts", flaky)
    lines = ["phone"] + [f"07000000{i:02d}" for i in range(7)]
    imp = run_import(django_capture_on_commit_callbacks, "\n".join(lines))
    assert imp.status == Import.Status.FAILED
    assert "after row 5" in imp.error_message and "disk on fire" in imp.error_message
    assert imp.created_count == 4 == Contact.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        services.import_retry(imp=imp)
    imp.refresh_from_db()
    assert imp.status == Import.Status.DONE
    assert imp.created_count == 7 == Contact.objects.count()
    assert imp.duplicate_count == 0
    assert_counts_add_up(imp)


def test_worker_processes_give_the_same_result(settings, django_capture_on_commit_callbacks):
    """The multiprocessing path (used for big files) against the in-process path."""
    settings.IMPORT_PARALLEL_MIN_BYTES = 0
    settings.IMPORT_WORKERS = 2
    settings.IMPORT_BATCH_ROWS = 50
    settings.IMPORT_BLOCK_BYTES = 700
    lines = ["phone,first_name"] + [f"07{i:08d},P{i}" for i in range(400)] + ["bad,X", "0700000001,Dup"]
    imp = run_import(django_capture_on_commit_callbacks, "\n".join(lines))
    assert imp.status == Import.Status.DONE
    assert (imp.created_count, imp.invalid_count, imp.duplicate_count) == (400, 1, 1)
    assert_counts_add_up(imp)
    assert Contact.objects.get(phone="+46700000399").first_name == "P399"
    assert set(reasons(imp)) == {402, 403}


def test_concurrent_creation_is_classified_as_existing(django_capture_on_commit_callbacks, monkeypatch):
    """A number created by someone else between the lookup and the insert is an update, not a lost row."""
    from contacts import bulk

    original = bulk.insert_contacts

    def racing_insert(rows, *, mark):
        Contact.objects.create(phone="+46700000001", first_name="Racer")
        return original(rows, mark=mark)

    monkeypatch.setattr(bulk, "insert_contacts", racing_insert)
    imp = run_import(django_capture_on_commit_callbacks, "phone,first_name\n0700000001,Anna\n0700000002,Bo\n")
    assert imp.created_count == 1
    assert imp.updated_count == 1
    assert_counts_add_up(imp)
    assert Contact.objects.get(phone="+46700000001").first_name == "Anna"


def test_two_imports_run_side_by_side(django_capture_on_commit_callbacks):
    a = run_import(django_capture_on_commit_callbacks, "phone\n0700000001\n0700000002\n")
    b = run_import(django_capture_on_commit_callbacks, "phone\n0700000002\n0700000003\n0700000002\n")
    assert (a.created_count, b.created_count, b.unchanged_count, b.duplicate_count) == (2, 1, 1, 1)


def test_a_deleted_field_fails_the_run_with_a_message(django_capture_on_commit_callbacks):
    from .helpers import upload

    field = ContactFieldFactory(key="city", label="City")
    imp, _ = services.import_create(upload=upload("phone,city\n0700000001,Lund\n"))
    services.import_configure(
        imp=imp, columns=["phone", "field:city"], has_header=True, mode=Import.Mode.ADD_UPDATE, default_country="SE"
    )
    field.delete()
    with django_capture_on_commit_callbacks(execute=True):
        services.import_start(imp=imp)
    imp.refresh_from_db()
    assert imp.status == Import.Status.FAILED
    assert "city" in imp.error_message
    assert not Contact.objects.exists()


def test_an_existing_unchanged_number_twice_in_the_file_is_one_unchanged_and_one_duplicate(
    settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_BLOCK_BYTES = 12  # one row per batch: the repeat is found across batches
    ContactFactory(phone="+46700000001", first_name="", last_name="")
    imp = run_import(django_capture_on_commit_callbacks, "phone\n0700000001\n0700000002\n+46700000001\n")
    assert (imp.unchanged_count, imp.created_count, imp.duplicate_count) == (1, 1, 1)
    assert "earlier row" in reasons(imp)[4]
    assert_counts_add_up(imp)
