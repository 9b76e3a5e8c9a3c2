"""Journey: replies arrive from a fake Jojka (polled, as the beat does) and through Apifon's reply callback;
the inbox shows them; the contact who wrote STOPP is opted out (with the auto-confirmation in the thread);
a teammate answers an unknown number; the audit log shows the opt-out by reply."""

import json
import re
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import InboundMessage, Message
from contacts.models import Contact
from providers.fakes.jojka import JojkaFake
from providers.webhooks import webhook_path
from smsportal import roles
from smsportal.models import KeywordRule
from smsportal.templatetags.ui import safe_reverse
from tests.factories import CampaignFactory, ContactFactory, ProviderAccountFactory

pytestmark = pytest.mark.browser

KEY = "journey-jojka-key"


@pytest.fixture
def jojka_fake():
    server = JojkaFake(api_key=KEY, delivered_after=1).start()
    yield server
    server.stop()


def test_reply_inbox_opt_out_and_audit(logged_in_page, live_server, screenshot, jojka_fake):
    from providers.tasks import poll_accounts

    page = logged_in_page(roles.OPERATOR, username="maria", first_name="Maria", last_name="Berg")
    account = ProviderAccountFactory(
        name="Jojka Sweden",
        provider="jojka",
        credentials={"api_key": KEY},
        base_url=jojka_fake.api_url,
        default_sender="Shop",
        options={},
    )
    anna = ContactFactory(phone="+46701234567", first_name="Anna", last_name="Berg")
    ContactFactory(phone="+46705550101", first_name="Erik", last_name="Lund")
    campaign = CampaignFactory(account=account, name="Spring sale", status="completed")
    Message.objects.create(
        campaign=campaign,
        contact=anna,
        account=account,
        to=anna.phone,
        sender="Shop",
        text="Spring sale: 20% off everything this weekend. Reply STOP to opt out.",
        status="delivered",
        handed_over_at=timezone.now() - timedelta(hours=2),
    )
    KeywordRule.objects.create(
        kind="opt_out", language="sv", keywords=["STOPP", "AVSLUTA"], auto_reply="Du får inga fler sms från Shop."
    )
    jojka_fake.seed_reply("46701234567", "STOPP")
    jojka_fake.seed_reply("46709876543", "Hej! Vem är det här?")
    jojka_fake.seed_reply("46705550101", "stop sending me this rubbish")

    # the beat's reply poll, run inline (Celery is eager in tests)
    assert poll_accounts() == 1
    assert InboundMessage.objects.count() == 3

    # 1. the inbox lists the three conversations; the unknown number is visible as such
    page.goto(live_server.url + "/inbox/")
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    conversations = page.locator("#conversation-list [data-conversation]")
    expect(conversations).to_have_count(3)
    expect(page.locator('[data-conversation="+46709876543"]')).to_contain_text("Unknown number")
    expect(page.locator('[data-conversation="+46705550101"]')).to_contain_text("Needs a human")
    expect(page.locator(f'[data-reply-source="{account.pk}"]')).to_contain_text("Last poll")
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name=re.compile("Inbox"))).to_have_attribute("aria-current", "page")
    screenshot(page, "01-inbox")

    # 2. Anna's thread: campaign message, STOPP, the opt-out event, the confirmation; no reply box
    page.locator('[data-conversation="+46701234567"]').click()
    expect(page).to_have_url(re.compile(r"/inbox/c/\+46701234567/$"))
    thread = page.locator("#inbox-thread")
    expect(thread.locator("[data-thread-phone]")).to_have_attribute("data-thread-phone", "+46701234567")
    expect(thread.locator('[data-keyword="opt_out"]')).to_contain_text("STOPP")
    expect(thread.locator('[data-event="opt_out"]')).to_contain_text("reply via Jojka Sweden")
    expect(thread.locator('[data-origin="auto_reply"]')).to_contain_text("Du får inga fler sms från Shop.")
    expect(thread.locator('[data-contact-status="opted_out"]')).to_contain_text("Opted out")
    expect(thread.locator("[data-reply-disabled]")).to_contain_text("opted out")
    expect(page.locator('[data-conversation="+46701234567"]')).not_to_have_class(re.compile("is-unread"))
    screenshot(page, "02-thread-opted-out")
    anna.refresh_from_db()
    assert anna.status == Contact.Status.OPTED_OUT
    contact_url = safe_reverse("contacts:detail", anna.pk)
    if contact_url:  # the contact's own page (contacts app), linked from the thread
        page.get_by_role("link", name="Contact page").click()
        expect(page).to_have_url(live_server.url + contact_url)
        expect(page.locator("main")).to_contain_text("Opted out")
        screenshot(page, "02b-contact-opted-out")
        page.goto(live_server.url + "/inbox/c/+46701234567/")

    # 3. answer the unknown number through the account it wrote to
    page.locator('[data-conversation="+46709876543"]').click()
    expect(thread.locator("[data-unmatched]")).to_be_visible()
    box = thread.get_by_label("Reply to +46709876543")
    box.fill("Hej! Det är Shop – vi skickade vårens erbjudande. Svara STOPP så slutar vi.")
    expect(thread.locator("[data-reply-counter]")).to_contain_text("characters")
    thread.get_by_role("button", name="Send").click()
    expect(thread.locator('[data-origin="reply"]')).to_contain_text("Det är Shop")
    expect(page.get_by_role("status").filter(has_text="Reply sent to +46709876543")).to_be_visible()
    screenshot(page, "03-reply-sent")
    sent = Message.objects.get(origin=Message.Origin.REPLY)
    assert sent.account == account and sent.external_id
    assert jojka_fake.calls("send")  # it really went to the (fake) provider

    # 4. a reply through Apifon's callback shows up too; the keyword filter narrows the list
    apifon = ProviderAccountFactory(
        name="Apifon Greece", provider="apifon", credentials={"api_token": "t", "secret_key": "s"}
    )
    hook = webhook_path(code="apifon", account_uuid=apifon.uuid, kind="inbound", token=apifon.webhook_token)
    body = {"message_id": "gr-1", "from": "306999999999", "to": "306988888888", "text": "ΣΤΟΠ", "type": "SMS"}
    answer = requests.post(live_server.url + hook, data=json.dumps(body), timeout=10)
    assert answer.status_code == 200
    page.goto(live_server.url + "/inbox/")
    expect(conversations).to_have_count(4)
    page.get_by_label("Keyword").select_option("opt_out")
    expect(page).to_have_url(re.compile(r"keyword=opt_out"))
    expect(conversations).to_have_count(2)
    expect(page.locator('[data-conversation="+306999999999"]')).to_be_visible()
    screenshot(page, "04-filter-opt-outs")

    # 5. the audit log shows the opt-outs by reply, who (which account) and when
    page.goto(live_server.url + "/workspace/audit/?action=opt_out")
    table = page.locator("table")
    expect(table).to_contain_text("reply via Jojka Sweden")
    expect(table).to_contain_text("+46701234567")
    expect(table).to_contain_text("reply via Apifon Greece")
    screenshot(page, "05-audit-log")


def test_marketer_cannot_open_the_audit_log_or_edit_keywords(logged_in_page, live_server, screenshot):
    page = logged_in_page(roles.MARKETER)
    page.goto(live_server.url + "/inbox/keywords/")
    expect(page.locator('[data-keyword-list="opt_out-en"]')).to_contain_text("STOP")
    expect(page.get_by_role("link", name="Add a language")).to_have_count(0)
    screenshot(page, "01-keywords-read-only")
    response = page.goto(live_server.url + "/workspace/audit/")
    assert response.status == 403
