"""Journey: an Operator adds a Jojka account pointing at the local fake server (a real HTTP hop), tests the
connection in place (htmx), syncs contacts, and reads the request log."""

import re

import pytest
from playwright.sync_api import expect

from providers.management.commands.fake_provider import fake_account_settings, start_fake
from providers.models import ProviderAccount, ProviderRequestLog
from smsportal import roles
from tests.factories import ContactFactory, GroupFactory, GroupMembershipFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def jojka_fake():
    fake = start_fake("jojka", values={"api_key": "browser-jojka-key-31337"})
    yield fake
    fake.stop()


def test_add_test_sync_and_log(logged_in_page, live_server, screenshot, jojka_fake):
    page = logged_in_page(roles.OPERATOR, username="olivia")
    fake = fake_account_settings("jojka", jojka_fake)
    GroupMembershipFactory(group=GroupFactory(name="VIP"), contact=ContactFactory(phone="+46701000001"))
    ContactFactory(phone="+46701000002")

    page.goto(live_server.url + "/providers/")
    expect(page.get_by_text("No provider accounts yet")).to_be_visible()
    screenshot(page, "01-empty")
    page.get_by_role("link", name="Add an account").first.click()
    page.get_by_role("link", name="Use Jojka").click()
    expect(page.get_by_role("heading", name="Add a Jojka account")).to_be_visible()
    expect(page.get_by_label("Base URL")).to_have_value("https://www.jojka.nu/websms/api")

    # an error at the field first (htmx re-renders only the form), then the real values
    page.get_by_label("Name").fill("Jojka (local fake)")
    page.get_by_label("Base URL").fill("not a url")
    page.get_by_role("button", name="Add account").click()
    expect(page.locator("#account-form")).to_contain_text("is not an http(s) address")
    screenshot(page, "02-form-error")
    page.get_by_label("Base URL").fill(fake["base_url"])
    page.get_by_label("API key").fill("browser-jojka-key-31337")
    page.get_by_label("Default sender").fill("Shop")
    page.get_by_role("button", name="Add account").click()
    expect(page.get_by_role("heading", name="Jojka (local fake)")).to_be_visible()
    account = ProviderAccount.objects.get(name="Jojka (local fake)")
    assert account.credentials == {"api_key": "browser-jojka-key-31337"}

    # test connection: swapped in place, with the time
    page.get_by_role("button", name="Test connection").click()
    connection = page.locator("#connection")
    expect(connection).to_contain_text("Connected")
    expect(connection).to_contain_text("tested")
    screenshot(page, "03-connected")
    assert "browser-jojka-key-31337" not in page.content()

    # sync (the worker runs eagerly in tests): the summary replaces the form
    page.get_by_role("button", name="Sync now").click()
    sync = page.locator("#sync-card")
    expect(sync).to_contain_text("Pushing contacts")
    expect(sync).to_contain_text("Done")
    expect(page.locator("#recent-calls")).to_contain_text("export_contacts_list")  # reloaded after the sync
    screenshot(page, "04-synced")
    assert {"46701000001", "46701000002"} <= set(jojka_fake.contacts)

    # the request log, redacted
    page.get_by_role("link", name="Request log").first.click()
    expect(page.get_by_role("heading", name="Request log")).to_be_visible()
    assert ProviderRequestLog.objects.filter(account=account).count() >= 2
    page.get_by_label("Status code").fill("2xx")
    expect(page).to_have_url(re.compile(r"status=2xx"))
    screenshot(page, "05-log")
    page.locator("#table-requestlog tbody a").first.click()
    expect(page.get_by_text("Response")).to_be_visible()
    assert "browser-jojka-key-31337" not in page.content()
    screenshot(page, "06-log-detail")

    # the edit form shows the key as set, never its value
    page.goto(live_server.url + f"/providers/{account.pk}/edit/")
    expect(page.locator("label[for=id_cred_api_key]")).to_contain_text("set")
    expect(page.get_by_label("API key")).to_have_value("")
