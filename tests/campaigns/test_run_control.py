"""Pause, resume and cancel at any time: no message sent twice, none lost."""

from __future__ import annotations

import pytest

from campaigns import services
from campaigns.models import Campaign, Message
from campaigns.snapshot import campaign_start
from smsportal.models import AuditLog

from .conftest import drive

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_lane(monkeypatch):
    from campaigns import sending

    monkeypatch.setattr(sending, "lanes_count", lambda: 1)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the provider hook writes from a send thread
def test_pause_stops_new_batches_and_resume_continues_with_what_is_pending(
    rec_campaign, provider, marketer, one_lane, no_broker
):
    campaign_start(rec_campaign.pk)

    def pause_after_first_call(number):
        if number == 1:
            services.campaign_pause(campaign=rec_campaign, user=marketer)

    provider.on_call = pause_after_first_call
    provider.script = [None]  # the first call succeeds normally
    # Make the groups wait for their slot so the pause is seen before they start.
    rec_campaign.account.messages_per_second = 15
    rec_campaign.account.save()
    drive(rec_campaign)
    rec_campaign.refresh_from_db()
    assert rec_campaign.status == Campaign.Status.PAUSED
    sent_before = sum(provider.received.values())
    assert 0 < sent_before < 30
    assert Message.objects.filter(campaign=rec_campaign, status="pending", claim_token="").count() == 30 - sent_before

    provider.on_call = None
    services.campaign_resume(campaign=rec_campaign, user=marketer)
    rec_campaign.account.messages_per_second = 10_000
    rec_campaign.account.save()
    drive(rec_campaign)
    rec_campaign.refresh_from_db()
    assert rec_campaign.status == Campaign.Status.COMPLETED
    assert sum(provider.received.values()) == 30 and set(provider.received.values()) == {1}
    actions = list(AuditLog.objects.filter(object_id=str(rec_campaign.pk)).values_list("action", flat=True))
    assert "pause" in actions and "resume" in actions


def test_paused_campaign_sends_nothing(rec_campaign, provider, marketer):
    campaign_start(rec_campaign.pk)
    services.campaign_pause(campaign=rec_campaign, user=marketer)
    drive(rec_campaign)
    assert not provider.calls


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_cancel_marks_pending_cancelled_and_cancels_what_the_provider_holds(
    rec_campaign, provider, marketer, one_lane, no_broker
):
    campaign_start(rec_campaign.pk)

    def cancel_after_first_call(number):
        if number == 1:
            Campaign.objects.filter(pk=rec_campaign.pk).update(status=Campaign.Status.PAUSED)

    provider.on_call = cancel_after_first_call
    rec_campaign.account.messages_per_second = 15
    rec_campaign.account.save()
    drive(rec_campaign)
    held = sum(provider.received.values())
    services.campaign_cancel(campaign=rec_campaign, user=marketer)  # cancel_at_provider runs eagerly on commit
    rec_campaign.refresh_from_db()
    assert rec_campaign.status == Campaign.Status.CANCELLED
    assert rec_campaign.pending_count == 0
    assert Message.objects.filter(campaign=rec_campaign, status="cancelled").count() == 30
    assert len(provider.cancelled) == held  # queued at the provider: cancelled there too
    assert rec_campaign.cancelled_count == 30 and rec_campaign.queued_count == 0
    drive(rec_campaign)
    assert sum(provider.received.values()) == held


def test_cancel_of_a_scheduled_campaign_before_it_starts(rec_campaign, marketer):
    Campaign.objects.filter(pk=rec_campaign.pk).update(status=Campaign.Status.SCHEDULED)
    services.campaign_cancel(campaign=rec_campaign, user=marketer)
    rec_campaign.refresh_from_db()
    assert rec_campaign.status == Campaign.Status.CANCELLED
    assert campaign_start(rec_campaign.pk) == 0
    assert not Message.objects.filter(campaign=rec_campaign).exists()


def test_finished_campaign_cannot_be_paused_or_cancelled(rec_campaign, marketer):
    Campaign.objects.filter(pk=rec_campaign.pk).update(status=Campaign.Status.COMPLETED)
    with pytest.raises(services.CampaignError):
        services.campaign_pause(campaign=rec_campaign, user=marketer)
    with pytest.raises(services.CampaignError):
        services.campaign_cancel(campaign=rec_campaign, user=marketer)
