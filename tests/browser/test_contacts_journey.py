"""Journey: a Marketer imports a messy CSV (a stray Windows byte, a blocklisted number, a bad phone, a repeat, a
new field made from a column), checks the preview, runs it and reads the summary; then finds contacts by name,
selects every match and adds them to a group, and blocks one from its contact page.

Imports run eagerly in the test settings, so the task has finished when the start request returns; the page still
goes through its progress partial, which answers 286 and stops polling.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from contacts.models import Contact, Group, Import
from smsportal import roles
from tests.factories import BlocklistEntryFactory, GroupFactory

pytestmark = pytest.mark.browser

CSV = (
    "Mobile;Förnamn;Efternamn;Stad\n"
    "070-111 22 33;Åsa;Berg;Lund\n"
    "0046 70 222 33 44;Bo;Berglund;Umeå\n"
    "0700000009;Blocked;Person;Kiruna\n"
    "not a number;Bad;Row;X\n"
    "+46 70 111 22 33;Åsa;Again;Lund\n"
    "0703334455;Cecilia;Öberg;Malmö\n"
).encode() + b"0704445566;Caf\xe9;Owner;Lund\n"


def test_import_search_select_all_and_block(logged_in_page, live_server, screenshot, tmp_path):
    BlocklistEntryFactory(phone="+46700000009")
    GroupFactory(name="Newsletter")
    path = tmp_path / "crm-export.csv"
    path.write_bytes(CSV)
    page = logged_in_page(roles.MARKETER)

    page.goto(live_server.url + "/contacts/imports/")
    expect(page.get_by_text("No imports yet")).to_be_visible()
    page.set_input_files("input[name=file]", str(path))
    page.get_by_role("button", name="Upload and map columns").click()

    expect(page.get_by_role("heading", name="Map the columns of crm-export.csv")).to_be_visible()
    expect(page.get_by_text("semicolon-separated")).to_be_visible()
    page.select_option("select[name=col_3]", "__new__")
    page.fill("input[name=col_3_label]", "City")
    page.fill("input[name=new_group]", "CRM import")
    screenshot(page, "1-mapping")
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_role("heading", name="Preview of crm-export.csv")).to_be_visible()
    for text in ("+46701112233", "new contact", "on the blocklist", "duplicate", "contains letters"):
        expect(page.get_by_text(text).first).to_be_visible()
    screenshot(page, "2-preview")
    page.get_by_role("button", name="now").click()

    expect(page.get_by_text("every row is counted once")).to_be_visible()
    imp = Import.objects.get()
    assert imp.status == Import.Status.DONE
    assert (imp.created_count, imp.blocked_count, imp.invalid_count, imp.duplicate_count) == (4, 1, 1, 1)
    expect(page.get_by_role("link", name="Download all 3 as CSV")).to_be_visible()
    screenshot(page, "3-summary")
    assert Contact.objects.get(phone="+46704445566").first_name == "Café"

    page.goto(live_server.url + "/contacts/")
    page.fill("input[name=q]", "berg")
    expect(page.locator("tbody tr")).to_have_count(3)  # Berg, Berglund, Öberg (accents ignored)
    page.locator("input[data-select-all]").check()
    page.locator("input[data-select-matching]").check()
    page.select_option("#bulk-form select[name=group]", label="Newsletter")
    page.locator("#bulk-form button[value=add_group]").click()
    expect(page.get_by_text("3 contact(s) added to Newsletter.")).to_be_visible()
    screenshot(page, "4-bulk-added")
    newsletter = Group.objects.get(name="Newsletter")
    assert newsletter.member_count == 3

    contact = Contact.objects.get(phone="+46703334455")
    page.goto(live_server.url + contact.get_absolute_url())
    page.fill("input[name=note]", "asked on the phone")
    page.get_by_role("button", name="Block").click()
    page.locator("#confirm-modal [data-confirm-yes]").click()
    expect(page.get_by_text("+46703334455 is blocked: it will not receive messages.")).to_be_visible()
    expect(page.get_by_text("the number is on the blocklist")).to_be_visible()
    screenshot(page, "5-blocked")
    contact.refresh_from_db()
    assert contact.status == Contact.Status.BLOCKED
