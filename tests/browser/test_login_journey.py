"""Journey: sign in through the form → dashboard → screenshots; then the role-limited navigation."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from smsportal import roles
from tests.factories import CampaignFactory, ContactFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.browser


def test_login_to_dashboard(page, live_server, workspace_live, screenshot):
    UserFactory(username="maria", first_name="Maria", last_name="Berg", role=roles.OPERATOR)
    ContactFactory.create_batch(3)
    ContactFactory(status="opted_out")
    campaign = CampaignFactory(
        name="Spring sale",
        status="completed",
        recipients_total=2,
        delivered_count=1,
        failed_count=1,
        started_at=timezone.now(),
    )
    MessageFactory(campaign=campaign, status="delivered")  # each message brings its own contact
    MessageFactory(campaign=campaign, status="failed")

    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "01-login")

    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    screenshot(page, "02-login-error")

    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_test_id("stat-contacts").locator(".stat-value")).to_have_text("6")
    expect(page.get_by_test_id("stat-opted-out").locator(".stat-value")).to_have_text("1")
    expect(page.get_by_test_id("stat-messages").locator(".stat-value")).to_have_text("2")
    expect(page.locator("#week-chart")).to_be_visible()
    expect(page.get_by_text("Spring sale")).to_be_visible()
    # the Operator sees the administration section
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Users")).to_be_visible()
    expect(nav.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
    screenshot(page, "03-dashboard")

    # user menu: role shown, log out is a POST form
    page.get_by_role("button", name=re.compile("Maria Berg")).click()
    expect(page.get_by_text("Operator", exact=True)).to_be_visible()
    screenshot(page, "04-user-menu", full_page=False)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("status").filter(has_text="You are signed out.")).to_be_visible()
    screenshot(page, "05-signed-out")


def test_marketer_navigation_and_forbidden_page(logged_in_page, live_server, screenshot):
    page = logged_in_page(roles.MARKETER)
    page.goto(live_server.url + "/")
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_text("Dashboard")).to_be_visible()
    expect(nav.get_by_text("Users")).to_have_count(0)
    expect(nav.get_by_text("Settings")).to_have_count(0)
    expect(nav.get_by_text("Audit log")).to_have_count(0)
    screenshot(page, "01-dashboard-empty")

    response = page.goto(live_server.url + "/workspace/settings/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="You don't have access to this page")).to_be_visible()
    screenshot(page, "02-forbidden")


def test_mobile_navigation(logged_in_page, live_server, screenshot):
    page = logged_in_page(roles.OPERATOR)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/")
    sidebar_link = page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Users")
    expect(sidebar_link).not_to_be_visible()
    page.get_by_role("button", name="Open navigation").click()
    expect(sidebar_link).to_be_visible()
    # Bootstrap adds "showing" during the slide-in and "show" at its end
    page.wait_for_function(
        "(el) => el.classList.contains('show') && !el.classList.contains('showing')",
        arg=page.locator("#app-sidebar").element_handle(),
    )
    screenshot(page, "01-mobile-nav", full_page=False)
