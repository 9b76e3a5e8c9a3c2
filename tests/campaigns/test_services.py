"""Compose → schedule → approve → start, test sends, requeue and follow-up groups (services layer)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, Message
from campaigns.sending import dispatch_due
from contacts.models import Contact, GroupMembership
from smsportal.models import AuditLog, WorkspaceSettings
from tests.factories import (
    BlocklistEntryFactory,
    CampaignFactory,
    ContactFieldFactory,
    GroupFactory,
    ProviderAccountFactory,
    TestNumberFactory,
)

from .conftest import start_and_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(workspace, audience, fast_account, marketer):
    group, _ = audience
    c = CampaignFactory(account=fast_account, text="Hello {first_name|there}!", created_by=marketer)
    c.groups.add(group)
    return c


def problems_of(campaign, **kwargs):
    return services.campaign_problems(campaign, **kwargs)


def test_a_complete_draft_has_no_problems(draft):
    assert problems_of(draft) == {}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"text": "   "}, "text", "Write the message text"),
        ({"text": "Hi {frist_name}"}, "text", "Unknown placeholder {frist_name}"),
        ({"text": "Hi \x1b there"}, "text", "control characters"),
        ({"sender": "NotAllowed"}, "sender", "not an allowed sender"),
        ({"name": ""}, "name", "name"),
        ({"speed_mode": "spread", "speed_value": None}, "speed_value", "hours"),
    ],
)
def test_bad_input_is_reported_at_the_field(draft, change, field, words):
    for k, v in change.items():
        setattr(draft, k, v)
    draft.save()
    problems = problems_of(draft)
    assert field in problems and any(words in p for p in problems[field]), problems


def test_sender_too_long_for_the_provider(draft):
    jojka = ProviderAccountFactory(provider="jojka", credentials={"api_key": "k" * 20}, allowed_senders=[])
    draft.account = jojka
    draft.sender = "TwelveChars1"
    draft.save()
    assert any("at most 11 characters" in p for p in problems_of(draft)["sender"])


def test_no_recipients_and_account_disabled(draft, audience):
    _group, contacts = audience
    Contact.objects.filter(pk__in=[c.pk for c in contacts]).update(status=Contact.Status.OPTED_OUT)
    assert "No eligible recipients" in problems_of(draft)["groups"][0]
    draft.groups.clear()
    assert "at least one group" in problems_of(draft)["groups"][0]
    draft.account.is_active = False
    draft.account.save()
    assert "disabled" in problems_of(draft)["account"][0]


def test_schedule_in_the_past_is_refused_and_the_draft_is_kept(draft, marketer):
    with pytest.raises(services.CampaignError) as err:
        services.campaign_schedule(campaign=draft, user=marketer, send_at=timezone.now() - timedelta(hours=2))
    assert "in the past" in err.value.message_dict["send_at"][0]
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.DRAFT and draft.text == "Hello {first_name|there}!"


def test_schedule_then_the_beat_starts_it_when_due(draft, marketer):
    when = timezone.now() + timedelta(minutes=1)
    services.campaign_schedule(campaign=draft, user=marketer, send_at=when)
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.SCHEDULED and draft.scheduled_at == when
    assert dispatch_due() == []  # not due yet
    assert dispatch_due(now=when + timedelta(seconds=1)) == [draft.pk]
    assert dispatch_due(now=when + timedelta(seconds=2)) == []  # started once
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.STARTING
    campaign = start_and_send(draft)
    assert campaign.status == Campaign.Status.COMPLETED and campaign.queued_count == 30
    actions = set(AuditLog.objects.filter(object_id=str(draft.pk)).values_list("action", flat=True))
    assert {"schedule", "start"} <= actions


def test_unschedule_and_edit_before_start(draft, marketer):
    services.campaign_schedule(campaign=draft, user=marketer, send_at=timezone.now() + timedelta(hours=1))
    with pytest.raises(services.CampaignError):
        services.campaign_save_draft(campaign=draft, user=marketer, data={"text": "changed"})
    services.campaign_unschedule(campaign=draft, user=marketer)
    services.campaign_save_draft(campaign=draft, user=marketer, data={"text": "changed"})
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.DRAFT and draft.text == "changed" and draft.scheduled_at is None


def test_approval_rule_needs_another_approver(draft, marketer, approver):
    ws = WorkspaceSettings.load()
    ws.require_approval = True
    ws.save()
    services.campaign_schedule(campaign=draft, user=marketer)
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.AWAITING_APPROVAL
    assert dispatch_due(now=timezone.now() + timedelta(hours=1)) == []
    with pytest.raises(services.CampaignError, match="Approver role"):
        services.campaign_approve(campaign=draft, user=marketer)
    services.campaign_approve(campaign=draft, user=approver)
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.SCHEDULED and draft.approved_by == approver
    assert dispatch_due() == [draft.pk]
    assert AuditLog.objects.filter(action="approve", object_id=str(draft.pk), actor=approver).exists()


def test_author_cannot_approve_own_campaign(draft, approver):
    ws = WorkspaceSettings.load()
    ws.require_approval = True
    ws.save()
    draft.created_by = approver
    draft.save()
    services.campaign_schedule(campaign=draft, user=approver)
    with pytest.raises(services.CampaignError, match="someone other"):
        services.campaign_approve(campaign=draft, user=approver)


def test_declared_fields_are_known_placeholders(draft):
    ContactFieldFactory(key="city")
    draft.text = "Hi {first_name}, welcome to {city|town}"
    draft.save()
    assert problems_of(draft) == {}


def test_test_send_renders_for_a_sample_contact_and_stays_out_of_the_figures(draft, marketer, audience):
    _group, contacts = audience
    phones = [TestNumberFactory(phone="+46701119901"), TestNumberFactory(phone="+46701119902")]
    results = services.campaign_test_send(campaign=draft, user=marketer, numbers=phones, contact=contacts[0])
    assert [r.ok for r in results] == [True, True]
    tests = Message.objects.filter(campaign=draft, is_test=True)
    assert tests.count() == 2
    assert {m.text for m in tests} == {f"Hello {contacts[0].first_name}!"}
    draft.refresh_from_db()
    assert draft.recipients_total == 0 and draft.queued_count == 0
    assert AuditLog.objects.filter(action="send", object_id=str(draft.pk)).exists()


def test_test_send_refuses_a_blocked_number(draft, marketer):
    blocked = TestNumberFactory(phone="+46701119903")
    BlocklistEntryFactory(phone=blocked.phone)
    results = services.campaign_test_send(campaign=draft, user=marketer, numbers=[blocked])
    assert not results[0].ok and "blocklist" in results[0].detail
    assert not Message.objects.filter(to=blocked.phone).exists()


def test_requeue_temporary_failures_resends_them_under_a_new_reference(campaign, marketer):
    campaign = start_and_send(campaign)
    msgs = list(Message.objects.filter(campaign=campaign)[:3])
    old_uuids = {m.uuid for m in msgs}
    Message.objects.filter(pk=msgs[0].pk).update(status="undelivered", error_code="SBX-UND")
    Message.objects.filter(pk=msgs[1].pk).update(status="expired")
    Message.objects.filter(pk=msgs[2].pk).update(status="rejected", error_code="blocked")  # permanent
    Campaign.objects.filter(pk=campaign.pk).update(queued_count=27, failed_count=3)
    assert services.campaign_requeue_failed(campaign=campaign, user=marketer) == 2
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert (campaign.pending_count, campaign.failed_count) == (2, 1)
    start_and_send(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED and campaign.queued_count == 29
    renewed = Message.objects.filter(pk__in=[msgs[0].pk, msgs[1].pk])
    assert all(m.uuid not in old_uuids and m.status == "queued" for m in renewed)


def test_failed_contacts_become_a_group(campaign, marketer):
    campaign = start_and_send(campaign)
    msgs = list(Message.objects.filter(campaign=campaign)[:2])
    Message.objects.filter(pk__in=[m.pk for m in msgs]).update(status="undelivered")
    group, added = services.campaign_failed_to_group(campaign=campaign, user=marketer, name="Retry later")
    assert added == 2 and group.member_count == 2
    assert set(GroupMembership.objects.filter(group=group).values_list("contact_id", flat=True)) == {
        m.contact_id for m in msgs
    }
    GroupFactory(name="Taken")
    with pytest.raises(services.CampaignError, match="exists already"):
        services.campaign_failed_to_group(campaign=campaign, user=marketer, name="Taken")
