"""What a stored reply does: keyword matching, opt-out / opt-in, flags, assignment, auto-replies, the sweeper."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import inbox
from campaigns.models import InboundMessage, Message
from contacts.models import BlocklistEntry, Contact
from providers.adapters.exceptions import ProviderAuthError, ProviderThrottled
from smsportal.models import AuditLog, AutoReply, KeywordRule
from tests.factories import (
    BlocklistEntryFactory,
    CampaignFactory,
    ContactFactory,
    MessageFactory,
    ProviderAccountFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("text", ["stop", " Stop! ", "STOPP", "Stopp.", "UNSUBSCRIBE", "стоп", "ΣΤΟΠ", "baja"])
def test_opt_out_keywords_opt_the_contact_out(receive, contact, sandbox_account, text):
    reply = receive(text)
    contact.refresh_from_db()
    assert contact.status == Contact.Status.OPTED_OUT
    assert contact.opted_out_at is not None
    entry = BlocklistEntry.objects.get(phone=contact.phone)
    assert entry.reason == BlocklistEntry.Reason.OPTED_OUT
    assert "reply via Sandbox" in entry.source
    assert reply.keyword == InboundMessage.Keyword.OPT_OUT
    assert reply.contact == contact
    assert reply.processed_at is not None
    log = AuditLog.objects.get(action=AuditLog.Action.OPT_OUT)
    assert log.actor is None and log.actor_label.startswith("reply via Sandbox")
    assert log.object_id == contact.phone
    assert log.changes["reply"] == text[:160]
    assert log.changes["reason"] == "opted_out"


def test_opt_out_source_names_provider_account_and_campaign(receive, contact):
    account = ProviderAccountFactory(name="Nordic main", provider="sandbox")
    campaign = CampaignFactory(account=account, name="Spring sale")
    MessageFactory(
        campaign=campaign,
        contact=contact,
        account=account,
        external_id="ext-9",
        status=Message.Status.DELIVERED,
        handed_over_at=timezone.now() - timedelta(hours=1),
    )
    reply = receive("STOP", account=account)
    assert reply.campaign == campaign
    entry = BlocklistEntry.objects.get(phone=contact.phone)
    assert entry.source == f"reply via Nordic main ({account.provider_name}), campaign “Spring sale”"
    log = AuditLog.objects.get(action=AuditLog.Action.OPT_OUT)
    assert log.changes["campaign"] == "Spring sale"
    assert log.changes["account"] == "Nordic main"


def test_a_sentence_mentioning_stop_is_flagged_not_acted_on(receive, contact):
    reply = receive("stop sending me this rubbish")
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE
    assert not BlocklistEntry.objects.exists()
    assert reply.keyword == InboundMessage.Keyword.FLAGGED
    assert reply.matched_keyword == "stop"
    assert reply.status == InboundMessage.Status.UNREAD  # waits for a human
    assert not AuditLog.objects.filter(action=AuditLog.Action.OPT_OUT).exists()


def test_start_after_stop_opts_back_in_and_is_audited(receive, contact):
    receive("STOP")
    reply = receive("start")
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE
    assert contact.opted_out_at is None
    assert not BlocklistEntry.objects.filter(phone=contact.phone).exists()
    assert reply.keyword == InboundMessage.Keyword.OPT_IN
    log = AuditLog.objects.get(action=AuditLog.Action.OPT_IN)
    assert log.actor_label.startswith("reply via Sandbox")
    assert log.object_type == "contacts.contact" and log.object_id == str(contact.pk)
    assert log.changes["reply"] == "start"


def test_start_keeps_a_manual_block(receive, contact):
    receive("STOP")
    BlocklistEntry.objects.filter(phone=contact.phone).update(reason=BlocklistEntry.Reason.MANUAL)
    Contact.objects.filter(pk=contact.pk).update(status=Contact.Status.BLOCKED)
    reply = receive("START")
    contact.refresh_from_db()
    assert contact.status == Contact.Status.BLOCKED
    assert BlocklistEntry.objects.filter(phone=contact.phone, reason="manual").exists()
    assert reply.keyword == InboundMessage.Keyword.NONE  # the number had not opted out: nothing to reverse


def test_yes_from_an_active_contact_is_an_ordinary_reply(receive, contact):
    reply = receive("Yes")
    assert reply.keyword == InboundMessage.Keyword.NONE
    assert reply.matched_keyword == ""
    assert not AuditLog.objects.filter(action=AuditLog.Action.OPT_IN).exists()


def test_help_is_recognised(receive, contact):
    reply = receive(" help? ")
    assert reply.keyword == InboundMessage.Keyword.HELP
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE


def test_unknown_number_is_stored_unmatched_and_its_stop_still_blocklists_the_number(receive):
    reply = receive("STOP", phone="+46709999999")
    assert reply.contact is None
    assert reply.keyword == InboundMessage.Keyword.OPT_OUT
    assert BlocklistEntry.objects.get(phone="+46709999999").reason == BlocklistEntry.Reason.OPTED_OUT
    # later: START from the same unknown number reverses it, audited
    again = receive("START", phone="+46709999999")
    assert again.keyword == InboundMessage.Keyword.OPT_IN
    assert not BlocklistEntry.objects.filter(phone="+46709999999").exists()
    assert AuditLog.objects.filter(action=AuditLog.Action.OPT_IN, object_id="+46709999999").exists()


def test_a_sender_name_cannot_opt_out_so_it_is_flagged(receive):
    reply = receive("STOP", phone="MyBank")
    assert reply.from_phone == "MyBank"
    assert reply.keyword == InboundMessage.Keyword.FLAGGED
    assert not BlocklistEntry.objects.exists()


def test_workspace_lists_replace_the_built_in_ones(receive, contact):
    KeywordRule.objects.create(kind="opt_out", language="en", keywords=["HALT"])
    assert receive("stop").keyword == InboundMessage.Keyword.NONE
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE
    assert receive("Halt!").keyword == InboundMessage.Keyword.OPT_OUT
    contact.refresh_from_db()
    assert contact.status == Contact.Status.OPTED_OUT


def test_a_list_switched_off_is_not_acted_on(receive, contact):
    KeywordRule.objects.create(kind="opt_out", language="sv", keywords=["STOPP"], is_active=False)
    assert receive("STOPP").keyword == InboundMessage.Keyword.NONE
    assert receive("STOP").keyword == InboundMessage.Keyword.OPT_OUT


def test_a_new_reply_keeps_the_conversation_assignee(receive, contact):
    teammate = UserFactory(username="lena")
    first = receive("Hi, when do you open?")
    InboundMessage.objects.filter(pk=first.pk).update(assigned_to=teammate)
    second = receive("Hello?")
    assert second.assigned_to == teammate


# --- auto-replies -------------------------------------------------------------------------------------------
@pytest.fixture
def stop_auto_reply(db):
    return KeywordRule.objects.create(
        kind="opt_out", language="en", keywords=["STOP"], auto_reply="You will get no more messages from Shop."
    )


def test_opt_out_confirmation_is_sent_once_per_day_through_the_same_account(receive, contact, stop_auto_reply):
    other = ProviderAccountFactory(name="Other", provider="sandbox")
    account = ProviderAccountFactory(name="Replies", provider="sandbox", default_sender="4670000")
    receive("STOP", account=account)
    receive("stop", account=account)
    receive("STOP!", account=account)
    autos = AutoReply.objects.all()
    assert autos.count() == 1
    auto = autos.get()
    assert auto.status == AutoReply.Status.SENT
    assert auto.account == account
    msg = Message.objects.get(origin=Message.Origin.AUTO_REPLY)
    assert auto.message == msg
    assert msg.account == account and msg.account != other
    assert msg.to == contact.phone and msg.contact == contact
    assert msg.campaign is None and not msg.is_test
    assert msg.text == "You will get no more messages from Shop."
    assert msg.sender == "4670000"
    assert msg.external_id and msg.handed_over_at is not None
    assert msg.status in {Message.Status.QUEUED, Message.Status.SENT, Message.Status.DELIVERED}


def test_the_next_day_gets_a_new_auto_reply(receive, contact, stop_auto_reply):
    receive("STOP")
    AutoReply.objects.update(day=timezone.localdate() - timedelta(days=1))
    receive("STOP")
    assert AutoReply.objects.filter(status="sent").count() == 2
    assert Message.objects.filter(origin=Message.Origin.AUTO_REPLY).count() == 2


def test_auto_reply_language_follows_the_keyword_with_english_fallback(receive, contact, stop_auto_reply):
    KeywordRule.objects.create(kind="opt_out", language="sv", keywords=["STOPP"], auto_reply="Du är avregistrerad.")
    receive("STOPP")
    assert Message.objects.get(origin="auto_reply").text == "Du är avregistrerad."
    AutoReply.objects.all().delete()
    receive("ΣΤΟΠ")  # Greek list has no text of its own: the English one
    assert Message.objects.filter(origin="auto_reply").latest("id").text == "You will get no more messages from Shop."


def test_help_auto_reply_is_not_sent_to_a_blocked_number(receive, contact):
    KeywordRule.objects.create(kind="help", language="en", keywords=["HELP"], auto_reply="Shop offers. Reply STOP.")
    BlocklistEntryFactory(phone=contact.phone, reason=BlocklistEntry.Reason.MANUAL)
    reply = receive("HELP")
    assert reply.keyword == InboundMessage.Keyword.HELP
    assert not AutoReply.objects.exists()
    assert not Message.objects.exists()


def test_help_auto_reply_is_sent_to_an_active_contact(receive, contact):
    KeywordRule.objects.create(kind="help", language="en", keywords=["HELP"], auto_reply="Shop offers. Reply STOP.")
    receive("help")
    assert Message.objects.get(origin="auto_reply").text == "Shop offers. Reply STOP."


def test_no_auto_reply_without_text_or_for_an_old_reply(receive, contact, stop_auto_reply):
    receive("STOP", received_at=timezone.now() - timedelta(days=2))
    contact.refresh_from_db()
    assert contact.status == Contact.Status.OPTED_OUT  # acted on
    assert not AutoReply.objects.exists()  # but not answered days later
    KeywordRule.objects.create(kind="help", language="en", keywords=["HELP"])
    receive("HELP", phone="+46705555555")
    assert not AutoReply.objects.exists()


def test_auto_reply_skipped_when_the_number_is_blocked_before_sending(workspace, sandbox_account, contact):
    KeywordRule.objects.create(kind="help", language="en", keywords=["HELP"], auto_reply="Info.")
    reply = InboundMessage.objects.create(
        account=sandbox_account, external_id="x1", from_phone=contact.phone, text="HELP", received_at=timezone.now()
    )
    auto = inbox.auto_reply_reserve(reply=reply, kind="help", language="en")
    BlocklistEntryFactory(phone=contact.phone)
    outcome = inbox.auto_reply_send(auto_reply_id=auto.pk)
    assert outcome.auto_reply.status == AutoReply.Status.SKIPPED
    assert "blocklist" in outcome.auto_reply.error
    assert not Message.objects.exists()


def test_auto_reply_retries_retryable_errors_then_sends_once(workspace, sandbox_account, contact, monkeypatch):
    KeywordRule.objects.create(kind="help", language="en", keywords=["HELP"], auto_reply="Info.")
    reply = InboundMessage.objects.create(
        account=sandbox_account, external_id="x2", from_phone=contact.phone, text="HELP", received_at=timezone.now()
    )
    auto = inbox.auto_reply_reserve(reply=reply, kind="help", language="en")
    real = inbox._hand_over
    calls = []

    def flaky(*, message, account):
        calls.append(message.pk)
        if len(calls) == 1:
            raise ProviderThrottled(retry_after=2)
        return real(message=message, account=account)

    monkeypatch.setattr(inbox, "_hand_over", flaky)
    first = inbox.auto_reply_send(auto_reply_id=auto.pk, attempt=1)
    assert first.retry_in == 2
    assert first.auto_reply.status == AutoReply.Status.PENDING
    second = inbox.auto_reply_send(auto_reply_id=auto.pk, attempt=2)
    assert second.retry_in is None and second.auto_reply.status == AutoReply.Status.SENT
    assert len(set(calls)) == 1  # the same message row both times
    assert Message.objects.count() == 1
    # a replayed task does nothing more
    inbox.auto_reply_send(auto_reply_id=auto.pk, attempt=3)
    assert len(calls) == 2


def test_auto_reply_auth_error_fails_it(workspace, sandbox_account, contact, monkeypatch):
    KeywordRule.objects.create(kind="help", language="en", keywords=["HELP"], auto_reply="Info.")
    reply = InboundMessage.objects.create(
        account=sandbox_account, external_id="x3", from_phone=contact.phone, text="HELP", received_at=timezone.now()
    )
    auto = inbox.auto_reply_reserve(reply=reply, kind="help", language="en")

    def refuse(*, message, account):
        raise ProviderAuthError("bad key")

    monkeypatch.setattr(inbox, "_hand_over", refuse)
    outcome = inbox.auto_reply_send(auto_reply_id=auto.pk)
    assert outcome.auto_reply.status == AutoReply.Status.FAILED
    assert Message.objects.get().status == Message.Status.FAILED


# --- robustness ---------------------------------------------------------------------------------------------
def test_a_processing_error_keeps_the_reply_and_the_sweeper_processes_it(receive, contact, monkeypatch):
    from campaigns import inbox_selectors

    real = inbox_selectors.keyword_rules

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(inbox_selectors, "keyword_rules", broken)
    reply = receive("STOP")
    assert reply.pk and reply.processed_at is None
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE

    monkeypatch.setattr(inbox_selectors, "keyword_rules", real)
    assert inbox.inbound_process_pending(older_than=timedelta(0)) == 1
    reply.refresh_from_db()
    contact.refresh_from_db()
    assert reply.keyword == InboundMessage.Keyword.OPT_OUT and reply.processed_at is not None
    assert contact.status == Contact.Status.OPTED_OUT
    assert inbox.inbound_process_pending(older_than=timedelta(0)) == 0


def test_processing_twice_acts_once(receive, contact):
    reply = receive("STOP")
    inbox.inbound_process(reply=InboundMessage.objects.get(pk=reply.pk))
    assert AuditLog.objects.filter(action=AuditLog.Action.OPT_OUT).count() == 1


def test_replayed_reply_is_stored_and_processed_once(receive, contact):
    receive("STOP", external_id="same")
    assert receive("STOP", external_id="same") == []
    assert InboundMessage.objects.count() == 1
    assert AuditLog.objects.filter(action=AuditLog.Action.OPT_OUT).count() == 1


def test_contact_created_later_with_an_opted_out_number_is_not_eligible(receive):
    from contacts.selectors import eligible

    receive("STOP", phone="+46708888888")
    later = ContactFactory(phone="+46708888888")
    assert not eligible(Contact.objects.filter(pk=later.pk)).exists()


def test_a_reply_is_linked_to_the_latest_campaign_message_not_to_our_answers(receive, contact, sandbox_account):
    campaign = CampaignFactory(account=sandbox_account, name="Spring sale")
    sent = MessageFactory(
        campaign=campaign,
        contact=contact,
        account=sandbox_account,
        status=Message.Status.DELIVERED,
        handed_over_at=timezone.now() - timedelta(hours=3),
    )
    Message.objects.create(
        campaign=None,
        contact=contact,
        account=sandbox_account,
        to=contact.phone,
        text="We open at 10.",
        origin=Message.Origin.REPLY,
        status=Message.Status.DELIVERED,
        handed_over_at=timezone.now() - timedelta(hours=1),
    )
    reply = receive("Thanks, see you then")
    assert reply.in_reply_to == sent
    assert reply.campaign == campaign
    other_account = ProviderAccountFactory(name="Other")
    assert receive("And on the other number?", account=other_account).campaign is None


def test_an_older_stop_processed_after_a_newer_start_does_not_win(receive, contact, monkeypatch):
    from campaigns import inbox_selectors

    now = timezone.now()
    receive("STOP", received_at=now - timedelta(minutes=30))
    real = inbox_selectors.keyword_rules
    monkeypatch.setattr(inbox_selectors, "keyword_rules", lambda: 1 / 0)  # the next STOP fails to process
    late_stop = receive("STOP", received_at=now - timedelta(minutes=10))
    assert late_stop.processed_at is None
    monkeypatch.setattr(inbox_selectors, "keyword_rules", real)
    receive("START", received_at=now - timedelta(minutes=5))
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE
    inbox.inbound_process_pending(older_than=timedelta(0))  # the sweeper catches up on the older STOP
    late_stop.refresh_from_db()
    contact.refresh_from_db()
    assert late_stop.keyword == InboundMessage.Keyword.OPT_OUT and late_stop.processed_at is not None
    assert contact.status == Contact.Status.ACTIVE  # the newest wish (START) stands
    assert AuditLog.objects.filter(action=AuditLog.Action.OPT_OUT).count() == 1
