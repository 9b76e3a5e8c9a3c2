"""Journey: an Operator changes workspace settings, manages users, and reads the audit log (htmx table)."""

import re

import pytest
from playwright.sync_api import expect

from smsportal import roles
from smsportal.models import AuditLog, WorkspaceSettings
from tests.factories import AuditLogFactory, UserFactory

pytestmark = pytest.mark.browser


def test_settings_users_and_audit_log(logged_in_page, live_server, screenshot):
    page = logged_in_page(roles.OPERATOR, username="olivia", first_name="Olivia", last_name="Lind")
    UserFactory(username="mark", first_name="Mark", last_name="Svensson", role=roles.MARKETER)

    # --- settings: an error at the field, then a saved change with a toast
    page.goto(live_server.url + "/workspace/settings/")
    expect(page.get_by_role("heading", name="Workspace settings")).to_be_visible()
    page.get_by_label("Default sender").fill("WAY-TOO-LONG-SENDER")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#id_default_sender_errors")).to_contain_text("at most 11 characters")
    screenshot(page, "01-settings-error")
    page.get_by_label("Default sender").fill("ACME")
    page.get_by_label("Time zone").select_option("Europe/Athens")
    page.get_by_label("Campaigns need approval").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".toast").filter(has_text="Workspace settings saved.")).to_be_visible()
    screenshot(page, "02-settings-saved")
    ws = WorkspaceSettings.load()
    assert (ws.default_sender, ws.timezone, ws.require_approval) == ("ACME", "Europe/Athens", True)

    # --- users: change a role in place (htmx), with a toast; deactivate after confirming in the modal
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    page.get_by_label("Role of mark").select_option(roles.APPROVER)
    expect(page.locator(".toast").filter(has_text="mark is now Approver.")).to_be_visible()
    expect(page).to_have_url(live_server.url + "/workspace/users/")  # no page load: the row was swapped
    row = page.locator("tr", has_text="Mark Svensson")
    row.get_by_role("button", name="Deactivate").click()
    modal = page.locator("#confirm-modal")
    expect(modal).to_be_visible()
    expect(modal).to_contain_text("Deactivate mark?")
    screenshot(page, "03-users-confirm", full_page=False)
    modal.get_by_role("button", name="Deactivate").click()
    expect(row.get_by_text("Deactivated")).to_be_visible()
    expect(row.get_by_role("button", name="Reactivate")).to_be_visible()
    expect(page.locator(".toast").filter(has_text="mark is deactivated")).to_be_visible()
    expect(page.locator(".modal-backdrop")).to_have_count(0)
    screenshot(page, "04-users")

    # --- audit log: everything above is there; filtering swaps only the table and updates the URL
    for i in range(60):
        AuditLogFactory(action="import", object_repr=f"contacts-{i}.csv", object_type="contacts.import")
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Audit log").click()
    table = page.locator("#table-auditlog")
    expect(table).to_contain_text("contacts-59.csv")
    expect(table).to_contain_text("Rows 1–50")
    screenshot(page, "05-audit-log")
    page.get_by_label("Action").select_option("settings")
    expect(page).to_have_url(re.compile(r"action=settings"))
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Changed settings")
    expect(table).to_contain_text("Europe/Athens")
    page.get_by_label("Search object").fill("mark")
    expect(page).to_have_url(re.compile(r"q=mark"))
    expect(table).to_contain_text("No rows match these filters")
    page.get_by_label("Search object").fill("")
    page.get_by_label("Action").select_option("update")
    expect(table.locator("tbody tr")).to_have_count(2)  # role change + deactivation
    screenshot(page, "06-audit-log-filtered")
    assert AuditLog.objects.filter(action="update", object_repr="mark").count() == 2

    # the export link follows the filter the table shows
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    content = open(download_info.value.path(), encoding="utf-8-sig").read()  # noqa: SIM115
    assert content.count("\n") == 3 and ",update," in content

    # back button: the previous filter comes back
    page.go_back()
    expect(page).to_have_url(re.compile(r"q=mark"))
