"""The inbox pages: three panes, filters, the thread, actions, export, keyword lists, reply collection, roles."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import InboundMessage, Message
from contacts.models import BlocklistEntry, Contact
from smsportal.models import AuditLog, KeywordRule
from tests.factories import (
    BlocklistEntryFactory,
    CampaignFactory,
    ContactFactory,
    ProviderAccountFactory,
    UserFactory,
)
from tests.inbox.conftest import stored_reply

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def hx(target):
    return {**HX, "HTTP_HX_TARGET": target}


def conv_url(phone, name="inbox:conversation"):
    return reverse(name, args=[phone])


# --- roles ----------------------------------------------------------------------------------------------------
def test_anonymous_is_sent_to_sign_in(client):
    r = client.get(reverse("inbox:index"))
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_user_without_role_is_refused(client, db):
    client.force_login(UserFactory(username="norole"))
    assert client.get(reverse("inbox:index")).status_code == 403
    assert client.get(reverse("inbox:export")).status_code == 403


def test_every_role_can_read_and_answer(marketer_client, workspace):
    r = marketer_client.get(reverse("inbox:index"))
    assert r.status_code == 200
    assert "No replies yet" in r.content.decode()


def test_nav_links_to_the_inbox(marketer_client, workspace):
    body = marketer_client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("inbox:index")}"' in body


# --- the list -------------------------------------------------------------------------------------------------
def test_conversations_group_replies_by_number_and_show_unknown_numbers(marketer_client, receive, contact):
    receive("Hi there")
    receive("Are you open on Sunday?")
    receive("who is this?", phone="+46709999999")
    body = marketer_client.get(reverse("inbox:index")).content.decode()
    assert body.count('data-conversation="+46701234567"') == 1
    assert body.count('data-conversation="+46709999999"') == 1
    assert "Anna Berg" in body
    assert "Unknown number" in body
    assert "2 unread" in body


def test_longest_waiting_first_or_newest_first(marketer_client, workspace, sandbox_account):
    now = timezone.now()
    stored_reply(account=sandbox_account, from_phone="+46700000001", received_at=now - timedelta(hours=5))
    stored_reply(account=sandbox_account, from_phone="+46700000001", received_at=now - timedelta(minutes=1))
    stored_reply(account=sandbox_account, from_phone="+46700000002", received_at=now - timedelta(hours=1))
    stored_reply(
        account=sandbox_account, from_phone="+46700000003", received_at=now, status=InboundMessage.Status.CLOSED
    )
    body = marketer_client.get(reverse("inbox:index"), **hx("inbox-list")).content.decode()
    order = [body.index(f'data-conversation="+4670000000{n}"') for n in (1, 2, 3)]
    assert order == sorted(order)  # waiting 5 h, waiting 1 h, closed (not waiting) last
    body = marketer_client.get(reverse("inbox:index") + "?sort=newest", **hx("inbox-list")).content.decode()
    order = [body.index(f'data-conversation="+4670000000{n}"') for n in (3, 1, 2)]
    assert order == sorted(order)


def test_list_partial_for_htmx_and_full_page_otherwise(marketer_client, receive, contact):
    receive("Hello")
    partial = marketer_client.get(reverse("inbox:index"), **hx("inbox-list")).content.decode()
    assert partial.lstrip().startswith('<div id="inbox-list"')
    assert "<html" not in partial
    assert "<html" in marketer_client.get(reverse("inbox:index")).content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=unread", {"+46700000001"}),
        ("status=open", {"+46700000001", "+46700000002"}),
        ("status=closed", {"+46700000003"}),
        ("keyword=opt_out", {"+46700000002"}),
        ("keyword=flagged", {"+46700000003"}),
        ("matched=no", {"+46700000002", "+46700000003"}),
        ("matched=yes", {"+46700000001"}),
        ("assigned=me", {"+46700000003"}),
        ("assigned=none", {"+46700000001", "+46700000002"}),
        ("q=sunday", {"+46700000001"}),
        ("q=0000002", {"+46700000002"}),
    ],
)
def test_filters(marketer_client, marketer, workspace, sandbox_account, query, expected):
    contact = ContactFactory(phone="+46700000001")
    stored_reply(account=sandbox_account, from_phone="+46700000001", contact=contact, text="Open sunday?")
    stored_reply(
        account=sandbox_account,
        from_phone="+46700000002",
        text="STOP",
        keyword="opt_out",
        status=InboundMessage.Status.OPEN,
    )
    stored_reply(
        account=sandbox_account,
        from_phone="+46700000003",
        text="stop this",
        keyword="flagged",
        status=InboundMessage.Status.CLOSED,
        assigned_to=marketer,
    )
    body = marketer_client.get(reverse("inbox:index") + "?" + query, **hx("inbox-list")).content.decode()
    shown = {p for p in ("+46700000001", "+46700000002", "+46700000003") if f'data-conversation="{p}"' in body}
    assert shown == expected


def test_filter_by_campaign_account_and_date(marketer_client, workspace, sandbox_account):
    other = ProviderAccountFactory(name="Other")
    campaign = CampaignFactory(account=sandbox_account, name="Spring")
    old = timezone.now() - timedelta(days=10)
    stored_reply(account=sandbox_account, from_phone="+46700000001", campaign=campaign)
    stored_reply(account=other, from_phone="+46700000002", received_at=old)

    def shown(query):
        body = marketer_client.get(reverse("inbox:index") + "?" + query, **hx("inbox-list")).content.decode()
        return {p for p in ("+46700000001", "+46700000002") if f'data-conversation="{p}"' in body}

    assert shown(f"campaign={campaign.pk}") == {"+46700000001"}
    assert shown(f"account={other.pk}") == {"+46700000002"}
    day = timezone.localdate() - timedelta(days=2)
    assert shown(f"date_from={day.isoformat()}") == {"+46700000001"}
    assert shown(f"date_to={day.isoformat()}") == {"+46700000002"}


def test_bad_filter_values_never_break_the_page(marketer_client, receive, contact):
    receive("Hello")
    for query in ("date_from=yesterday", "campaign=abc", "account=999999", "status=weird", "page=-4", "page=x"):
        r = marketer_client.get(reverse("inbox:index") + "?" + query)
        assert r.status_code == 200, query
        assert 'data-conversation="+46701234567"' in r.content.decode()
    body = marketer_client.get(reverse("inbox:index") + "?date_from=2026-05-02&date_to=2026-05-01").content.decode()
    assert "The end date is before the start date." in body


def test_load_more(marketer_client, workspace, sandbox_account):
    for n in range(35):
        stored_reply(account=sandbox_account, from_phone=f"+4670100{n:04d}")
    first = marketer_client.get(reverse("inbox:index")).content.decode()
    assert first.count("data-conversation=") == 30
    assert 'id="inbox-more"' in first
    more = marketer_client.get(reverse("inbox:index") + "?page=2", **hx("inbox-more")).content.decode()
    assert more.count("data-conversation=") == 5
    assert 'id="inbox-more"' not in more


# --- the thread -----------------------------------------------------------------------------------------------
def test_opening_a_conversation_marks_it_read_and_shows_the_opt_out_inline(marketer_client, receive, contact):
    receive("Who are you?")
    receive("STOP")
    r = marketer_client.get(conv_url(contact.phone))
    body = r.content.decode()
    assert r.status_code == 200
    assert 'data-thread-phone="+46701234567"' in body
    assert 'data-event="opt_out"' in body
    assert "Opted out" in body and "reply via Sandbox" in body
    assert 'data-contact-status="opted_out"' in body
    assert "data-reply-disabled" in body  # no replies to an opted-out number
    assert not InboundMessage.objects.filter(status=InboundMessage.Status.UNREAD).exists()
    # thread order: question, STOP, the opt-out event
    body = body[body.index('id="thread-messages"') :]
    assert body.index("Who are you?") < body.index('data-keyword="opt_out"') < body.index('data-event="opt_out"')


def test_htmx_thread_request_swaps_the_list_out_of_band(marketer_client, receive, contact):
    receive("Hello")
    body = marketer_client.get(conv_url(contact.phone), **hx("inbox-thread")).content.decode()
    assert "<html" not in body
    assert 'data-thread-phone="+46701234567"' in body
    assert 'id="inbox-list"' in body and 'hx-swap-oob="outerHTML"' in body


def test_a_list_refresh_does_not_mark_read(marketer_client, receive, contact):
    receive("Hello")
    marketer_client.get(conv_url(contact.phone), **hx("inbox-list"))
    assert InboundMessage.objects.get().status == InboundMessage.Status.UNREAD


def test_unknown_conversation_is_404(marketer_client, workspace):
    assert marketer_client.get(conv_url("+46700000099")).status_code == 404
    assert marketer_client.post(conv_url("+46700000099", "inbox:close")).status_code == 404


def test_thread_shows_campaign_messages_and_replies(marketer_client, receive, contact, sandbox_account):
    campaign = CampaignFactory(account=sandbox_account, name="Spring sale")
    Message.objects.create(
        campaign=campaign,
        contact=contact,
        account=sandbox_account,
        to=contact.phone,
        text="Spring sale: 20% off",
        status="delivered",
        handed_over_at=timezone.now() - timedelta(hours=2),
    )
    receive("Is it online too?")
    body = marketer_client.get(conv_url(contact.phone)).content.decode()
    body = body[body.index('id="thread-messages"') :]
    assert body.index("Spring sale: 20% off") < body.index("Is it online too?")
    assert 'data-origin="campaign"' in body


# --- actions --------------------------------------------------------------------------------------------------
def test_reply_goes_through_the_account_the_contact_last_used(marketer_client, marketer, receive, contact):
    first = ProviderAccountFactory(name="First")
    last = ProviderAccountFactory(name="Last", default_sender="Shop")
    receive("Hello", account=first)
    receive("Anyone there?", account=last)
    reply_url = conv_url(contact.phone, "inbox:reply")
    r = marketer_client.post(reply_url, {"text": "Yes, we open at 10."}, **hx("inbox-thread"))
    assert r.status_code == 200
    msg = Message.objects.get(origin=Message.Origin.REPLY)
    assert msg.account == last
    assert msg.sent_by == marketer
    assert msg.campaign is None and not msg.is_test
    assert msg.to == contact.phone and msg.contact == contact
    assert msg.external_id and msg.handed_over_at
    body = r.content.decode()
    assert "Yes, we open at 10." in body and 'data-origin="reply"' in body
    assert not InboundMessage.objects.filter(answered_at=None).exists()
    assert not InboundMessage.objects.filter(status=InboundMessage.Status.UNREAD).exists()
    log = AuditLog.objects.get(action=AuditLog.Action.SEND)
    assert log.actor == marketer and log.changes["account"] == "Last"
    assert "Reply sent" in r["HX-Trigger"]


def test_reply_without_htmx_redirects_back_to_the_conversation(marketer_client, receive, contact):
    receive("Hello")
    r = marketer_client.post(conv_url(contact.phone, "inbox:reply") + "?status=open", {"text": "Hi!"})
    assert r.status_code == 302
    assert r["Location"] == conv_url(contact.phone) + "?status=open"


def test_empty_reply_shows_the_error_at_the_field(marketer_client, receive, contact):
    receive("Hello")
    r = marketer_client.post(conv_url(contact.phone, "inbox:reply"), {"text": "  "}, **hx("inbox-thread"))
    assert "Write a reply." in r.content.decode()
    assert not Message.objects.exists()


def test_reply_breaking_the_account_limits_is_refused_before_any_call(marketer_client, workspace, contact):
    account = ProviderAccountFactory(name="Long sender", default_sender="ThisSenderIsFarTooLong")
    stored_reply(account=account, from_phone=contact.phone, contact=contact)
    r = marketer_client.post(conv_url(contact.phone, "inbox:reply"), {"text": "Hi"}, **hx("inbox-thread"))
    assert "at most 11 characters" in r.content.decode()
    assert not Message.objects.exists()


def test_no_reply_to_an_opted_out_number(marketer_client, receive, contact):
    receive("STOP")
    reply_url = conv_url(contact.phone, "inbox:reply")
    r = marketer_client.post(reply_url, {"text": "Sorry to see you go"}, **hx("inbox-thread"))
    assert "opted out" in r.content.decode()
    assert not Message.objects.filter(origin=Message.Origin.REPLY).exists()


def test_reply_form_error_without_htmx_is_a_400_page(marketer_client, receive, contact):
    receive("Hello")
    r = marketer_client.post(conv_url(contact.phone, "inbox:reply"), {"text": ""})
    assert r.status_code == 400
    assert "Write a reply." in r.content.decode()


def test_assign_close_reopen(marketer_client, marketer, receive, contact):
    teammate = UserFactory(username="lena", first_name="Lena", last_name="Ek")
    receive("Hello")
    r = marketer_client.post(conv_url(contact.phone, "inbox:assign"), {"assignee": teammate.pk}, **hx("inbox-thread"))
    assert r.status_code == 200
    assert InboundMessage.objects.get().assigned_to == teammate
    assert "Assigned to Lena Ek" in r["HX-Trigger"]
    marketer_client.post(conv_url(contact.phone, "inbox:close"), **hx("inbox-thread"))
    assert InboundMessage.objects.get().status == InboundMessage.Status.CLOSED
    receive("One more thing")  # a new reply reopens it and keeps the assignee
    assert InboundMessage.objects.filter(status="unread", assigned_to=teammate).count() == 1
    marketer_client.post(conv_url(contact.phone, "inbox:close"))
    marketer_client.post(conv_url(contact.phone, "inbox:reopen"))
    assert InboundMessage.objects.filter(status=InboundMessage.Status.OPEN).count() == 1
    marketer_client.post(conv_url(contact.phone, "inbox:assign"), {"assignee": ""})
    assert not InboundMessage.objects.filter(assigned_to__isnull=False).exists()
    r = marketer_client.post(conv_url(contact.phone, "inbox:assign"), {"assignee": "999999"}, **hx("inbox-thread"))
    assert "Choose a teammate" in r["HX-Trigger"]


def test_block_unblock_unsubscribe_and_opt_back_in(marketer_client, marketer, receive, contact):
    receive("Hello")
    marketer_client.post(conv_url(contact.phone, "inbox:block"), **hx("inbox-thread"))
    contact.refresh_from_db()
    assert contact.status == Contact.Status.BLOCKED
    assert BlocklistEntry.objects.get(phone=contact.phone).reason == "manual"
    assert AuditLog.objects.filter(action="block", actor=marketer).exists()
    marketer_client.post(conv_url(contact.phone, "inbox:unblock"), **hx("inbox-thread"))
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE
    r = marketer_client.post(conv_url(contact.phone, "inbox:opt_out"), **hx("inbox-thread"))
    contact.refresh_from_db()
    assert contact.status == Contact.Status.OPTED_OUT
    assert 'data-event="opt_out"' in r.content.decode()
    # an opt-out is not undone by "unblock"
    r = marketer_client.post(conv_url(contact.phone, "inbox:unblock"), **hx("inbox-thread"))
    assert "opted out" in r["HX-Trigger"]
    assert BlocklistEntry.objects.filter(phone=contact.phone).exists()
    marketer_client.post(conv_url(contact.phone, "inbox:opt_in"), **hx("inbox-thread"))
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE
    assert AuditLog.objects.filter(action="opt_in", actor=marketer).exists()


def test_actions_need_post(marketer_client, receive, contact):
    receive("Hello")
    assert marketer_client.get(conv_url(contact.phone, "inbox:close")).status_code == 405


# --- export ---------------------------------------------------------------------------------------------------
def test_export_csv_is_filtered_formula_safe_and_audited(marketer_client, marketer, workspace, sandbox_account):
    stored_reply(account=sandbox_account, from_phone="+46700000001", text='=HYPERLINK("http://x","y")')
    stored_reply(account=sandbox_account, from_phone="+46700000002", text="STOP", keyword="opt_out")
    r = marketer_client.get(reverse("inbox:export"))
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:4] == ["received_at", "from", "contact", "text"]
    texts = {row[1]: row[3] for row in rows[1:]}
    assert texts["+46700000001"] == '\'=HYPERLINK("http://x","y")'
    assert texts["+46700000002"] == "STOP"
    filtered = marketer_client.get(reverse("inbox:export") + "?keyword=opt_out")
    rows = list(csv.reader(io.StringIO(b"".join(filtered.streaming_content).decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["+46700000002"]
    assert AuditLog.objects.filter(action=AuditLog.Action.EXPORT, actor=marketer).count() == 2


def test_export_with_bad_filters_goes_back_with_a_message(marketer_client, workspace):
    r = marketer_client.get(reverse("inbox:export") + "?date_from=nonsense")
    assert r.status_code == 302


# --- reply collection -----------------------------------------------------------------------------------------
def test_poll_gap_warning_for_jojka(marketer_client, workspace):
    now = timezone.now()
    late = ProviderAccountFactory(name="Jojka late", provider="jojka", credentials={"api_key": "k"})
    late.last_polled_at = now - timedelta(hours=30)
    late.save()
    fresh = ProviderAccountFactory(name="Jojka fresh", provider="jojka", credentials={"api_key": "k"})
    fresh.last_polled_at = now - timedelta(seconds=20)
    fresh.save()
    body = marketer_client.get(reverse("inbox:index")).content.decode()
    assert f'data-collection-warning="{late.pk}"' in body
    assert "No reply poll for 30 h" in body and "keeps replies only 4 days" in body
    assert f'data-collection-warning="{fresh.pk}"' not in body
    assert f'data-reply-source="{fresh.pk}"' in body


def test_never_polled_and_too_long_interval(workspace):
    from campaigns.inbox_selectors import reply_sources

    never = ProviderAccountFactory(name="New Jojka", provider="jojka", credentials={"api_key": "k"})
    slow = ProviderAccountFactory(
        name="Slow Jojka", provider="jojka", credentials={"api_key": "k"}, poll_interval_seconds=60 * 3600
    )
    slow.last_polled_at = timezone.now()
    slow.save()
    sources = {s.account.pk: s for s in reply_sources()}
    assert sources[never.pk].level == "warning" and "not been fetched yet" in sources[never.pk].message
    assert sources[slow.pk].level == "danger" and "too long" in sources[slow.pk].message


def test_webhook_accounts_are_listed_without_polling(workspace):
    from campaigns.inbox_selectors import reply_sources

    apifon = ProviderAccountFactory(name="Apifon", provider="apifon", credentials={"api_token": "t", "secret_key": "s"})
    source = next(s for s in reply_sources() if s.account == apifon)
    assert source.webhook and not source.polls and source.level == "ok"


# --- keyword lists --------------------------------------------------------------------------------------------
def test_keyword_lists_page_shows_built_in_lists(marketer_client, workspace):
    body = marketer_client.get(reverse("inbox:keywords")).content.decode()
    assert 'data-keyword-list="opt_out-sv"' in body and "STOPP" in body
    assert 'data-keyword-list="help-en"' in body
    assert reverse("inbox:keyword_new") not in body  # only Operators edit


def test_marketer_and_approver_cannot_edit_keyword_lists(marketer_client, approver_client, workspace):
    for client in (marketer_client, approver_client):
        assert client.get(reverse("inbox:keyword_edit", args=["opt_out", "en"])).status_code == 403
        r = client.post(reverse("inbox:keyword_new"), {"kind": "opt_out", "language": "en", "keywords": "HALT"})
        assert r.status_code == 403
    assert not KeywordRule.objects.exists()


def test_operator_edits_a_list_with_auto_reply(operator_client, operator, workspace):
    url = reverse("inbox:keyword_edit", args=["opt_out", "en"])
    assert "STOPALL" in operator_client.get(url).content.decode()
    r = operator_client.post(
        url,
        {
            "kind": "opt_out",
            "language": "en",
            "keywords": "STOP, Stop all\nunsubscribe, stop",
            "is_active": "on",
            "auto_reply": "You are unsubscribed.",
        },
    )
    assert r.status_code == 302
    rule = KeywordRule.objects.get(kind="opt_out", language="en")
    assert rule.keywords == ["STOP", "STOP ALL", "UNSUBSCRIBE"]
    assert rule.auto_reply == "You are unsubscribed." and rule.updated_by == operator
    assert AuditLog.objects.filter(action=AuditLog.Action.SETTINGS, object_type="smsportal.keywordrule").exists()
    r = operator_client.post(reverse("inbox:keyword_reset", args=["opt_out", "en"]))
    assert r.status_code == 302 and not KeywordRule.objects.exists()


def test_keyword_clash_and_bad_input_are_shown_at_the_field(operator_client, workspace):
    r = operator_client.post(
        reverse("inbox:keyword_new"), {"kind": "opt_in", "language": "en", "keywords": "START, STOP", "is_active": "on"}
    )
    assert r.status_code == 400
    assert "“STOP” is already in the opt-out list (en)" in r.content.decode()
    r = operator_client.post(
        reverse("inbox:keyword_new"), {"kind": "help", "language": "e1", "keywords": "!!!", "is_active": "on"}
    )
    body = r.content.decode()
    assert r.status_code == 400
    assert "Use a language code" in body and "could never match a reply" in body
    assert not KeywordRule.objects.exists()


def test_operator_adds_a_language(operator_client, workspace, receive, contact):
    r = operator_client.post(
        reverse("inbox:keyword_new"),
        {"kind": "opt_out", "language": "de", "keywords": "ABMELDEN", "is_active": "on"},
    )
    assert r.status_code == 302
    assert receive("Abmelden").keyword == InboundMessage.Keyword.OPT_OUT


def test_blocked_number_thread_offers_unblock(marketer_client, workspace, sandbox_account):
    stored_reply(account=sandbox_account, from_phone="+46700000001")
    BlocklistEntryFactory(phone="+46700000001")
    body = marketer_client.get(conv_url("+46700000001")).content.decode()
    assert 'data-action="unblock"' in body and 'data-action="block"' not in body
    assert "On the blocklist" in body


# --- audit log ------------------------------------------------------------------------------------------------
def test_audit_log_lists_opt_outs_by_reply_for_approvers_not_marketers(
    client, marketer, approver, receive, contact, sandbox_account
):
    receive("STOPP")
    receive("START")
    client.force_login(marketer)
    assert client.get(reverse("smsportal:audit")).status_code == 403
    client.force_login(approver)
    body = client.get(reverse("smsportal:audit") + "?action=opt_out").content.decode()
    assert "reply via Sandbox" in body and contact.phone in body and "STOPP" in body
    body = client.get(reverse("smsportal:audit") + "?action=opt_in").content.decode()
    assert "reply via Sandbox" in body
    export = client.get(reverse("smsportal:audit") + "?action=opt_out&export=csv")
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    assert "reply via Sandbox" in text and "STOPP" in text
