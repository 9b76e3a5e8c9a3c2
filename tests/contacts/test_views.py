"""Contacts pages through the test client: roles, htmx partials, forms, bulk actions, exports, the import wizard."""

import csv
import io

import pytest
from django.urls import reverse

from contacts.models import BlocklistEntry, Contact, ContactField, ContactList, Group, Import, SavedSegment
from smsportal.models import AuditLog
from tests.factories import (
    BlocklistEntryFactory,
    ContactFactory,
    ContactFieldFactory,
    ContactListFactory,
    GroupFactory,
    GroupMembershipFactory,
    MessageFactory,
    UserFactory,
)

from .helpers import upload, xlsx_bytes

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _workspace(workspace):
    return workspace


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


PAGES = [
    ("contacts:list", []),
    ("contacts:create", []),
    ("contacts:fields", []),
    ("contacts:groups", []),
    ("contacts:lists", []),
    ("contacts:segments", []),
    ("contacts:blocklist", []),
    ("contacts:imports", []),
]


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_pages_need_a_marketer(client, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302 and "login" in response["Location"]
    client.force_login(UserFactory(username="norole"))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(("name", "args"), PAGES)
def test_pages_render_for_marketer_and_operator(marketer_client, name, args):
    response = marketer_client.get(reverse(name, args=args))
    assert response.status_code == 200


def test_posts_need_a_marketer(client):
    contact = ContactFactory()
    client.force_login(UserFactory(username="norole"))
    for name, args in [
        ("contacts:bulk", []),
        ("contacts:delete", [contact.pk]),
        ("contacts:status", [contact.pk]),
        ("contacts:blocklist_remove", []),
        ("contacts:import_upload", []),
        ("contacts:segment_create", []),
    ]:
        assert client.post(reverse(name, args=args), {"action": "delete"}).status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()


# --- contacts table -----------------------------------------------------------------------------------------


def test_contacts_table_search_filters_and_partial(marketer_client):
    ContactFieldFactory(key="city", label="City")
    anna = ContactFactory(first_name="Åsa", last_name="Berg", phone="+46701234567", attributes={"city": "Malmö"})
    anna.search_text = "asa berg 46701234567 malmo"
    anna.save()
    bo = ContactFactory(first_name="Bo", last_name="Ek", phone="+46707654321", status=Contact.Status.BLOCKED)
    group = GroupFactory()
    GroupMembershipFactory(group=group, contact=bo)
    url = reverse("contacts:list")

    page = marketer_client.get(url)
    assert b"+46701234567" in page.content and b"+46707654321" in page.content
    assert b"<html" in page.content
    assert b'tone-success">Active' in page.content and b'tone-danger">Blocked' in page.content

    partial = marketer_client.get(url, {"q": "malmo"}, **HTMX)
    assert b"<html" not in partial.content
    assert b"+46701234567" in partial.content and b"+46707654321" not in partial.content

    assert b"+46701234567" in marketer_client.get(url, {"q": "070-123 45 67"}, **HTMX).content
    assert b"+46701234567" in marketer_client.get(url, {"q": "1234567"}, **HTMX).content
    by_status = marketer_client.get(url, {"status": "blocked"}, **HTMX).content
    assert b"+46707654321" in by_status and b"+46701234567" not in by_status
    by_group = marketer_client.get(url, {"group": group.pk}, **HTMX).content
    assert b"+46707654321" in by_group and b"+46701234567" not in by_group
    bad = marketer_client.get(url, {"group": "999999"}, **HTMX)
    assert bad.status_code == 200 and b"+4670" not in bad.content


def test_contacts_table_sorts_on_indexed_columns(marketer_client):
    ContactFactory(last_name="Zeta", phone="+46700000001")
    ContactFactory(last_name="Alpha", phone="+46700000002")
    content = marketer_client.get(reverse("contacts:list"), {"sort": "last_name"}).content.decode()
    assert content.index("Alpha") < content.index("Zeta")


def test_contacts_page_is_lazy_paginated_without_count(marketer_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(60):
        ContactFactory(phone=f"+467000001{i:02d}")
    group = GroupFactory()
    GroupMembershipFactory(group=group, contact=Contact.objects.first())
    with CaptureQueriesContext(connection) as ctx:
        response = marketer_client.get(reverse("contacts:list"))
        marketer_client.get(reverse("contacts:group", args=[group.pk]))
    assert response.status_code == 200
    assert b"Next" in response.content
    contact_counts = [q["sql"] for q in ctx.captured_queries if "COUNT" in q["sql"] and "contacts_contact" in q["sql"]]
    assert contact_counts == []
    assert len(ctx.captured_queries) < 30


def test_bulk_add_to_group_selected_and_all_matching(marketer_client, marketer):
    group = GroupFactory()
    a, b, c = (ContactFactory(first_name=n) for n in ("Ann", "Ben", "Cid"))
    for contact in (a, b, c):
        contact.search_text = contact.first_name.lower()
        contact.save()
    url = reverse("contacts:bulk")
    response = marketer_client.post(url, {"action": "add_group", "group": group.pk, "selected": [a.pk, b.pk]}, **HTMX)
    assert response.status_code == 204
    assert "tableRefresh" in response["HX-Trigger"]
    group.refresh_from_db()
    assert group.member_count == 2
    # "all matching the filter": q=cid
    marketer_client.post(
        url, {"action": "add_group", "group": group.pk, "select_all_matching": "1", "filter_query": "q=cid"}, **HTMX
    )
    group.refresh_from_db()
    assert group.member_count == 3 == group.contacts.count()
    # again: nothing new, counter unchanged
    marketer_client.post(url, {"action": "add_group", "group": group.pk, "selected": [a.pk]}, **HTMX)
    group.refresh_from_db()
    assert group.member_count == 3
    marketer_client.post(url, {"action": "remove_group", "group": group.pk, "selected": [a.pk, c.pk]}, **HTMX)
    group.refresh_from_db()
    assert group.member_count == 1 == group.contacts.count()
    assert AuditLog.objects.filter(object_type="contacts.group", object_id=str(group.pk)).count() >= 3


def test_bulk_block_unblock_and_delete(marketer_client):
    a, b = ContactFactory(), ContactFactory()
    lst = ContactListFactory()
    marketer_client.post(reverse("contacts:bulk"), {"action": "add_list", "list": lst.pk, "selected": [a.pk, b.pk]})
    marketer_client.post(reverse("contacts:bulk"), {"action": "block", "selected": [a.pk]})
    a.refresh_from_db()
    assert a.status == Contact.Status.BLOCKED
    assert BlocklistEntry.objects.filter(phone=a.phone).exists()
    marketer_client.post(reverse("contacts:bulk"), {"action": "unblock", "selected": [a.pk]})
    a.refresh_from_db()
    assert a.status == Contact.Status.ACTIVE
    response = marketer_client.post(reverse("contacts:bulk"), {"action": "delete", "selected": [a.pk, b.pk]})
    assert response.status_code == 302
    assert not Contact.objects.exists()
    lst.refresh_from_db()
    assert lst.member_count == 0


def test_bulk_with_a_missing_group_is_a_message_not_a_500(marketer_client):
    contact = ContactFactory()
    response = marketer_client.post(
        reverse("contacts:bulk"), {"action": "add_group", "group": "77", "selected": [contact.pk]}, **HTMX
    )
    assert response.status_code == 204
    assert "no longer exists" in response["HX-Trigger"]


def test_export_streams_filtered_contacts_and_neutralizes_formulas(marketer_client):
    ContactFieldFactory(key="note", label="Note")
    ContactFactory(phone="+46700000001", first_name='=HYPERLINK("x")', last_name="@SUM", attributes={"note": "-2+3"})
    ContactFactory(phone="+46700000002", first_name="Plain", status=Contact.Status.BLOCKED)
    response = marketer_client.get(reverse("contacts:list"), {"status": "active", "export": "csv"})
    assert response.streaming
    rows = _csv(response)
    assert rows[0][:3] == ["phone", "first_name", "last_name"] and rows[0][-1] == "note"
    assert len(rows) == 2
    assert rows[1][0] == "+46700000001"  # a phone number is data, not a formula
    assert rows[1][1].startswith("'=") and rows[1][2] == "'@SUM" and rows[1][-1] == "'-2+3"
    assert AuditLog.objects.filter(action=AuditLog.Action.EXPORT).exists()


# --- contact form and page ------------------------------------------------------------------------------


def test_create_contact_normalizes_and_validates(marketer_client):
    ContactFieldFactory(key="birthday", label="Birthday", type="date")
    group = GroupFactory()
    url = reverse("contacts:create")
    bad = marketer_client.post(url, {"phone": "12", "first_name": "X", "field_birthday": "31/02/2020"}, **HTMX)
    assert bad.status_code == 200
    assert b"Too short" in bad.content  # both problems at once, each at its field
    assert b"Birthday: \xe2\x80\x9c31/02/2020\xe2\x80\x9d is not a date that exists" in bad.content
    assert b"<html" not in bad.content
    ok = marketer_client.post(
        url,
        {
            "phone": "6912345678",
            "country": "GR",
            "first_name": "Eleni",
            "field_birthday": "1990-05-17",
            "groups": [group.pk],
        },
        **HTMX,
    )
    contact = Contact.objects.get()
    assert ok["HX-Redirect"] == contact.get_absolute_url()
    assert (contact.phone, contact.country, contact.attributes) == ("+306912345678", "GR", {"birthday": "1990-05-17"})
    group.refresh_from_db()
    assert group.member_count == 1
    dup = marketer_client.post(url, {"phone": "+30 691 234 5678"})
    assert b"already exists" in dup.content


def test_edit_contact_keeps_undeclared_attributes(marketer_client):
    ContactFieldFactory(key="city", label="City")
    contact = ContactFactory(phone="+46700000001", attributes={"city": "Lund", "legacy": "x"})
    response = marketer_client.post(
        reverse("contacts:edit", args=[contact.pk]), {"phone": "0700000001", "first_name": "New", "field_city": "Umeå"}
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.first_name == "New"
    assert contact.attributes == {"city": "Umeå", "legacy": "x"}
    assert "umea" in contact.search_text


def test_contact_page_shows_groups_messages_and_history(marketer_client):
    contact = ContactFactory(first_name="Anna")
    group = GroupFactory(name="VIP")
    GroupMembershipFactory(group=group, contact=contact)
    MessageFactory(contact=contact, text="Hello Anna")
    marketer_client.post(reverse("contacts:status", args=[contact.pk]), {"action": "opt_out"})
    page = marketer_client.get(reverse("contacts:detail", args=[contact.pk]))
    assert page.status_code == 200
    for text in (b"VIP", b"Hello Anna", b"Opted out", b"opted out"):
        assert text in page.content


def test_contact_page_memberships_partial(marketer_client):
    contact = ContactFactory()
    group = GroupFactory(name="Runners")
    url = reverse("contacts:memberships", args=[contact.pk])
    response = marketer_client.post(url, {"action": "add_group", "group": group.pk}, **HTMX)
    assert response.status_code == 200
    assert b'id="memberships"' in response.content and b"<html" not in response.content
    group.refresh_from_db()
    assert group.member_count == 1


def test_status_actions(marketer_client):
    contact = ContactFactory()
    url = reverse("contacts:status", args=[contact.pk])
    marketer_client.post(url, {"action": "block", "reason": "manual", "note": "asked by phone"})
    contact.refresh_from_db()
    assert contact.status == Contact.Status.BLOCKED
    marketer_client.post(url, {"action": "unblock"})
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE
    marketer_client.post(url, {"action": "opt_out"})
    contact.refresh_from_db()
    assert contact.status == Contact.Status.OPTED_OUT
    marketer_client.post(url, {"action": "opt_in"})
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE
    assert not BlocklistEntry.objects.exists()


def test_delete_contact(marketer_client):
    contact = ContactFactory()
    response = marketer_client.post(reverse("contacts:delete", args=[contact.pk]))
    assert response.status_code == 302
    assert not Contact.objects.exists()


# --- fields, groups, lists, segments ---------------------------------------------------------------------


def test_declare_edit_and_delete_a_field(marketer_client):
    response = marketer_client.post(reverse("contacts:fields"), {"label": "Shoe size", "type": "number"})
    assert response.status_code == 302
    field = ContactField.objects.get(key="shoe_size")
    bad = marketer_client.post(reverse("contacts:fields"), {"label": "Tier", "type": "choice"}, **HTMX)
    assert b"at least one choice" in bad.content
    marketer_client.post(
        reverse("contacts:field_edit", args=[field.pk]), {"label": "Size", "type": "number", "choices": ""}
    )
    field.refresh_from_db()
    assert field.label == "Size"
    contact = ContactFactory(attributes={"shoe_size": 42, "other": 1})
    marketer_client.post(reverse("contacts:field_delete", args=[field.pk]), **HTMX)
    contact.refresh_from_db()
    assert contact.attributes == {"other": 1}


def test_group_and_list_crud_and_member_pages(marketer_client):
    response = marketer_client.post(reverse("contacts:groups"), {"name": "Runners", "description": "Club"})
    group = Group.objects.get(name="Runners")
    assert response["Location"] == group.get_absolute_url()
    taken = marketer_client.post(reverse("contacts:groups"), {"name": "runners"}, **HTMX)
    assert b"already taken" in taken.content
    member = ContactFactory(phone="+46700000001")
    GroupMembershipFactory(group=group, contact=member)
    ContactFactory(phone="+46700000002")
    page = marketer_client.get(group.get_absolute_url())
    assert b"+46700000001" in page.content and b"+46700000002" not in page.content
    export = _csv(marketer_client.get(group.get_absolute_url(), {"export": "csv"}))
    assert [r[0] for r in export[1:]] == ["+46700000001"]
    marketer_client.post(reverse("contacts:group_edit", args=[group.pk]), {"name": "Joggers", "description": ""})
    group.refresh_from_db()
    assert group.name == "Joggers"
    marketer_client.post(reverse("contacts:group_delete", args=[group.pk]))
    assert not Group.objects.exists() and Contact.objects.count() == 2

    marketer_client.post(reverse("contacts:lists"), {"name": "Fair 2026"})
    contact_list = ContactList.objects.get()
    assert marketer_client.get(contact_list.get_absolute_url()).status_code == 200
    marketer_client.post(reverse("contacts:list_delete", args=[contact_list.pk]))
    assert not ContactList.objects.exists()


def test_save_a_segment_from_the_filter(marketer_client):
    group = GroupFactory()
    response = marketer_client.post(
        reverse("contacts:segment_create"),
        {"name": "VIP actives", "filter_query": f"status=active&group={group.pk}&page=3"},
    )
    assert response.status_code == 302
    segment = SavedSegment.objects.get()
    assert segment.query == {"status": "active", "group": str(group.pk)}
    empty = marketer_client.post(reverse("contacts:segment_create"), {"name": "Everyone", "filter_query": ""})
    assert empty.status_code == 302 and SavedSegment.objects.count() == 1
    assert b"VIP actives" in marketer_client.get(reverse("contacts:segments")).content
    marketer_client.post(reverse("contacts:segment_delete", args=[segment.pk]), **HTMX)
    assert not SavedSegment.objects.exists()


# --- blocklist ---------------------------------------------------------------------------------------------


def test_blocklist_paste_remove_and_export(marketer_client):
    contact = ContactFactory(phone="+46701234567")
    response = marketer_client.post(
        reverse("contacts:blocklist"),
        {"phones": "070-123 45 67\n+46 70 765 43 21; nonsense\n0701234567", "reason": "manual", "note": "list"},
        **HTMX,
    )
    assert response.status_code == 200
    assert "tableRefresh" in response["HX-Trigger"]
    assert "nonsense" in response["HX-Trigger"]  # the toast names what was not added
    assert set(BlocklistEntry.objects.values_list("phone", flat=True)) == {"+46701234567", "+46707654321"}
    contact.refresh_from_db()
    assert contact.status == Contact.Status.BLOCKED
    rows = _csv(marketer_client.get(reverse("contacts:blocklist"), {"export": "csv"}))
    assert len(rows) == 3
    entry = BlocklistEntry.objects.get(phone="+46701234567")
    marketer_client.post(reverse("contacts:blocklist_remove"), {"selected": [entry.pk]}, **HTMX)
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE
    assert AuditLog.objects.filter(action=AuditLog.Action.UNBLOCK, object_id="+46701234567").exists()


def test_blocklist_form_errors(marketer_client):
    response = marketer_client.post(reverse("contacts:blocklist"), {"phones": " \n ", "reason": "manual"}, **HTMX)
    assert b"This field is required" in response.content
    response = marketer_client.post(reverse("contacts:blocklist"), {"phones": ";;", "reason": "manual"}, **HTMX)
    assert b"Enter at least one number" in response.content
    assert not BlocklistEntry.objects.exists()


# --- import wizard ------------------------------------------------------------------------------------------


def test_import_wizard_end_to_end(marketer_client, django_capture_on_commit_callbacks):
    BlocklistEntryFactory(phone="+46700000009")
    data = "Mobile,Förnamn,City\n070-000 00 01,Åsa,Lund\n0700000009,Blocked,X\nfoo,Bad,Y\n0700000001,Dup,Z\n"
    response = marketer_client.post(
        reverse("contacts:import_upload"), {"file": upload(data.encode("cp1252")), "mode": "add_update"}
    )
    imp = Import.objects.get()
    assert response["Location"] == reverse("contacts:import", args=[imp.pk])
    mapping = marketer_client.get(response["Location"])
    assert mapping.status_code == 200
    assert b"Windows-1252" in mapping.content and b"Mobile" in mapping.content

    form = {
        "has_header": "on",
        "mode": "add_update",
        "default_country": "SE",
        "col_0": "phone",
        "col_1": "first_name",
        "col_2": "__new__",
        "col_2_label": "City",
        "col_2_type": "text",
        "new_group": "Autumn",
        "preset_name": "CRM",
    }
    response = marketer_client.post(reverse("contacts:import", args=[imp.pk]), form)
    assert response["Location"] == reverse("contacts:import_preview", args=[imp.pk])
    preview = marketer_client.get(response["Location"])
    assert preview.status_code == 200
    for text in ("+46700000001", "Åsa", "new contact", "on the blocklist", "Phone: Not a phone number", "duplicate"):
        assert text.encode() in preview.content

    with django_capture_on_commit_callbacks(execute=True):
        started = marketer_client.post(reverse("contacts:import_start", args=[imp.pk]), **HTMX)
    assert started["HX-Redirect"] == reverse("contacts:import", args=[imp.pk])
    imp.refresh_from_db()
    assert imp.status == Import.Status.DONE
    assert (imp.created_count, imp.blocked_count, imp.invalid_count, imp.duplicate_count) == (1, 1, 1, 1)
    assert Group.objects.get(name="Autumn").member_count == 1
    assert Contact.objects.get().attributes == {"city": "Lund"}

    progress = marketer_client.get(reverse("contacts:import_progress", args=[imp.pk]), **HTMX)
    assert progress.status_code == 286  # stop polling
    assert b"Rows not imported" in progress.content
    detail = marketer_client.get(reverse("contacts:import", args=[imp.pk]))
    assert b"every row is counted once" in detail.content

    report = _csv(marketer_client.get(reverse("contacts:import_errors", args=[imp.pk])))
    assert report[0] == ["row", "reason", "Mobile", "Förnamn", "City"]
    assert [r[0] for r in report[1:]] == ["3", "4", "5"]
    assert report[2][2] == "foo"


def test_progress_partial_keeps_polling_while_running(marketer_client):
    imp = Import.objects.create(
        file=upload(b"phone\n0700000001\n"),
        original_name="x.csv",
        status=Import.Status.RUNNING,
        progress=40,
        processed_rows=400,
    )
    response = marketer_client.get(reverse("contacts:import_progress", args=[imp.pk]), **HTMX)
    assert response.status_code == 200
    assert b'hx-trigger="every 1s"' in response.content and b"40%" in response.content
    cancel = marketer_client.post(reverse("contacts:import_cancel", args=[imp.pk]), **HTMX)
    assert cancel.status_code == 200
    imp.refresh_from_db()
    assert imp.cancel_requested


def test_upload_errors_are_shown_at_the_field(marketer_client, settings):
    response = marketer_client.post(
        reverse("contacts:import_upload"), {"file": upload(b"", "empty.csv"), "mode": "add_update"}, **HTMX
    )
    assert response.status_code == 200
    assert b"is empty" in response.content or b"The submitted file is empty" in response.content
    response = marketer_client.post(
        reverse("contacts:import_upload"), {"file": upload(b"%PDF-1.4", "x.pdf"), "mode": "add_update"}, **HTMX
    )
    assert b"has .pdf" in response.content
    settings.IMPORT_MAX_UPLOAD_BYTES = 10
    response = marketer_client.post(
        reverse("contacts:import_upload"), {"file": upload(b"phone\n0701234567\n"), "mode": "add_update"}, **HTMX
    )
    assert b"IMPORT_MAX_UPLOAD_BYTES" in response.content
    plain = marketer_client.post(reverse("contacts:import_upload"), {"mode": "add_update"})
    assert plain.status_code == 400
    assert not Import.objects.exists()


def test_mapping_without_phone_column_is_an_error(marketer_client):
    marketer_client.post(reverse("contacts:import_upload"), {"file": upload("name\nAnna\n"), "mode": "add_update"})
    imp = Import.objects.get()
    response = marketer_client.post(
        reverse("contacts:import", args=[imp.pk]),
        {"has_header": "on", "mode": "add_update", "default_country": "SE", "col_0": "first_name"},
        **HTMX,
    )
    assert b"Choose the column that holds the phone numbers" in response.content
    imp.refresh_from_db()
    assert imp.status == Import.Status.UPLOADED


def test_xlsx_sheet_choice_in_the_mapping(marketer_client):
    content = xlsx_bytes({"Notes": [["just text"]], "People": [["phone"], ["0701111111"]]})
    marketer_client.post(reverse("contacts:import_upload"), {"file": upload(content, "b.xlsx"), "mode": "add_update"})
    imp = Import.objects.get()
    page = marketer_client.get(reverse("contacts:import", args=[imp.pk]))
    assert b"Sheet" in page.content and b"People" in page.content
    page = marketer_client.get(reverse("contacts:import", args=[imp.pk]), {"sheet": "People"})
    assert b"0701111111" in page.content


def test_discard_an_uploaded_file(marketer_client):
    marketer_client.post(
        reverse("contacts:import_upload"), {"file": upload("phone\n0701234567\n"), "mode": "add_update"}
    )
    imp = Import.objects.get()
    assert b"Discard this file" in marketer_client.get(reverse("contacts:import", args=[imp.pk])).content
    marketer_client.post(reverse("contacts:import_cancel", args=[imp.pk]))
    imp.refresh_from_db()
    assert imp.status == Import.Status.CANCELLED
    assert not Contact.objects.exists()


def test_an_upload_over_the_limit_is_refused_while_it_arrives(marketer_client, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 200_000
    big = b"phone\n" + b"0701234567\n" * 40_000  # 440 KB
    response = marketer_client.post(
        reverse("contacts:import_upload"), {"file": upload(big), "mode": "add_update"}, **HTMX
    )
    assert response.status_code == 200
    assert b"the most this workspace accepts is 195.3 KB" in response.content
    assert not Import.objects.exists()


def test_upload_needs_the_csrf_token(marketer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    response = client.post(reverse("contacts:import_upload"), {"file": upload(b"phone\n0701234567\n")})
    assert response.status_code == 403
