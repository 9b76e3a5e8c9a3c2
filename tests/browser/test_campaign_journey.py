"""Journey: a Marketer composes a campaign with a placeholder and a UCS-2 character (counter and fix-up), steps
through the preview, sends a test, schedules it a minute ahead, and watches it start and finish on its status page.

The worker and beat are played by this test between browser steps (the due time is made controllable: the test
moves ``scheduled_at`` to now, then runs the beat tick and the send lanes one chunk at a time). While it does,
the page's status polls are held in the browser (``page.route``), so the live server and the test never use the
database at the same moment.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns import sending
from campaigns.models import Campaign, CampaignLane, Message
from campaigns.polling import poll_account
from smsportal import roles
from tests.factories import ContactFactory, GroupFactory, GroupMembershipFactory, ProviderAccountFactory

pytestmark = pytest.mark.browser

NAMES = ["Astrid", "Björn", "Cecilia", "David", "Elin", "Filip", "Greta", "Hugo"]


class HeldPolls:
    """Status polls wait in the browser until ``release`` lets exactly one through and waits for its answer."""

    def __init__(self, page):
        self.page = page
        self.held = []
        page.route(re.compile(r".*/campaigns/\d+/status/.*"), lambda route: self.held.append(route))

    def release(self, *, timeout: float = 10_000) -> None:
        with self.page.expect_response(lambda r: "/status/" in r.url, timeout=timeout):
            deadline = 0
            while not self.held and deadline < timeout:
                self.page.wait_for_timeout(100)
                deadline += 100
            route = self.held.pop(0)
            route.continue_()
        self.page.wait_for_timeout(150)  # let htmx swap the answer in


@pytest.fixture
def audience(workspace_live):
    group = GroupFactory(name="Spring customers")
    for i, name in enumerate(NAMES):
        GroupMembershipFactory(group=group, contact=ContactFactory(phone=f"+4670555{i + 1:04d}", first_name=name))
    return group


def test_compose_test_send_schedule_and_watch_it_finish(logged_in_page, live_server, screenshot, audience, monkeypatch):
    ProviderAccountFactory(
        name="Sandbox",
        provider="sandbox",
        messages_per_second=2,
        default_sender="Shop",
        allowed_senders=["Shop"],
        options={"failure_rate": "0", "sent_after": "0", "delivered_after": "0"},
    )
    monkeypatch.setattr(sending, "_enqueue", lambda *args, **kwargs: None)  # the test plays the worker
    monkeypatch.setattr(sending, "RUN_SECONDS", 0.0)  # one chunk per lane run, so progress is visible
    page = logged_in_page(roles.MARKETER, first_name="Maja")

    # --- new campaign
    page.goto(live_server.url + "/campaigns/")
    page.get_by_test_id("new-campaign").click()
    page.get_by_label("Campaign name").fill("Spring sale")
    page.get_by_test_id("create-campaign").click()
    expect(page.get_by_role("heading", name=re.compile("Spring sale"))).to_be_visible()

    # --- audience, and a text with a placeholder and characters that force UCS-2
    page.locator("#id_groups").select_option(label="Spring customers")
    expect(page.get_by_test_id("bd-eligible")).to_have_text("8")
    page.locator("#id_text").fill("Hi {first_name|there}, it’s our spring sale – 20% off…")
    counter = page.get_by_test_id("counter")
    expect(counter).to_contain_text("UCS-2")
    expect(page.get_by_test_id("ucs2-warning")).to_contain_text("Right Single Quotation Mark")
    expect(page.get_by_test_id("ucs2-warning")).to_contain_text("En Dash")
    expect(page.get_by_test_id("preview-text")).to_have_text("Hi Astrid, it’s our spring sale – 20% off…")
    screenshot(page, "01-compose-ucs2")

    page.get_by_test_id("fixup").click()
    expect(counter).to_contain_text("GSM-7")
    expect(page.locator("#id_text")).to_have_value("Hi {first_name|there}, it's our spring sale - 20% off...")
    expect(page.get_by_test_id("fixup-done")).to_be_visible()
    page.get_by_test_id("preview-next").click()
    expect(page.get_by_test_id("preview-position")).to_have_text("2 / 8")
    expect(page.get_by_test_id("preview-text")).to_have_text("Hi Björn, it's our spring sale - 20% off...")
    expect(page.get_by_test_id("total-messages")).to_have_text("8")
    screenshot(page, "02-compose-fixed")

    # --- test send to a team phone
    page.get_by_label("Phone", exact=True).fill("+46 70 111 22 33")
    page.get_by_label("Whose").fill("Maja's phone")
    page.get_by_test_id("add-test-number").click()
    expect(page.get_by_text("Maja's phone")).to_be_visible()
    page.get_by_test_id("send-test").click()
    expect(page.get_by_test_id("test-results")).to_contain_text("+46701112233: handed over")
    screenshot(page, "03-test-sent")
    assert Message.objects.filter(is_test=True, to="+46701112233").count() == 1

    # --- schedule a minute ahead, in the workspace time zone (Europe/Stockholm), with the UTC equivalent
    stockholm = zoneinfo.ZoneInfo("Europe/Stockholm")
    when = (timezone.now() + timedelta(minutes=1)).astimezone(stockholm).replace(second=0, microsecond=0)
    when += timedelta(minutes=1)  # whole minutes: at least a minute ahead
    page.get_by_label("Schedule for later").check()
    page.get_by_label(re.compile("Date and time")).fill(when.strftime("%Y-%m-%dT%H:%M"))
    utc = when.astimezone(zoneinfo.ZoneInfo("UTC"))
    expect(page.get_by_test_id("schedule-hint")).to_contain_text(f"{utc:%Y-%m-%d %H:%M} UTC")
    page.get_by_test_id("schedule").click()
    expect(page.get_by_test_id("status-badge")).to_contain_text("Scheduled")
    campaign = Campaign.objects.get(name="Spring sale")
    assert campaign.status == Campaign.Status.SCHEDULED and campaign.scheduled_at == when
    assert campaign.messages.filter(is_test=False).count() == 0
    screenshot(page, "04-scheduled")

    # --- the due time comes (moved to now); the beat tick starts it; the page shows it sending
    polls = HeldPolls(page)
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    assert sending.dispatch_due() == [campaign.pk]  # beat: snapshot taken (eagerly), lanes started
    lanes = list(CampaignLane.objects.filter(campaign=campaign).exclude(holder=""))
    out = sending.send_batch(campaign.pk, lanes[0].lane, lanes[0].holder)  # the first chunk: 4 messages
    assert out.handed_over == 4
    polls.release()
    status = page.get_by_test_id("status")
    expect(page.get_by_test_id("status-badge")).to_contain_text("Sending")
    expect(page.get_by_test_id("handed-over")).to_have_text("4")
    expect(page.get_by_test_id("pause")).to_be_visible()  # the header actions follow the status
    expect(page.get_by_test_id("unschedule")).to_have_count(0)
    screenshot(page, "05-sending")

    # --- the rest is handed over, delivery reports come in by polling, the page stops polling
    queue = [(lane.lane, lane.holder) for lane in lanes[1:]] + [(lanes[0].lane, out.next_token)]
    while queue:
        lane, token = queue.pop(0)
        run = sending.send_batch(campaign.pk, lane, token)
        if run.next_token:
            queue.append((lane, run.next_token))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED and campaign.queued_count == 8
    polls.release()
    expect(page.get_by_test_id("status-badge")).to_contain_text("Completed")
    expect(page.get_by_test_id("handed-over")).to_have_text("8")
    expect(status).to_have_attribute("hx-trigger", "every 2s")  # still polling: reports are due
    Message.objects.filter(campaign=campaign).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    assert poll_account(campaign.account_id)[0] == 9  # the 8 messages and the test send
    polls.release()
    tile = page.get_by_test_id("tile-delivered")
    expect(tile).to_contain_text("8")
    expect(page.get_by_test_id("status")).not_to_have_attribute("hx-trigger", "every 2s")  # 286: settled
    expect(page.get_by_test_id("cancel")).to_have_count(0)
    screenshot(page, "06-completed")

    texts = set(Message.objects.filter(campaign=campaign, is_test=False).values_list("text", flat=True))
    assert texts == {f"Hi {n}, it's our spring sale - 20% off..." for n in NAMES}
    tile.click()
    expect(page).to_have_url(re.compile(r"/messages/\?status=delivered"))
    expect(page.locator("table")).to_contain_text("+46705550001")
    screenshot(page, "07-delivered-messages")
