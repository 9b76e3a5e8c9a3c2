"""The whole send path on the sandbox adapter: snapshot, lanes, counters, polling, completion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignMinute, Message, MessageEvent
from campaigns.polling import poll_account
from campaigns.snapshot import campaign_start

from .conftest import start_and_send

pytestmark = pytest.mark.django_db


def test_campaign_runs_to_completion_and_counters_add_up(campaign, audience):
    _group, contacts = audience
    campaign = start_and_send(campaign)
    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign.recipients_total == 30
    msgs = Message.objects.filter(campaign=campaign)
    assert msgs.count() == 30
    assert set(msgs.values_list("status", flat=True)) == {"queued"}
    assert all(m.external_id.startswith("sbx-") for m in msgs)
    assert campaign.pending_count == 0 and campaign.queued_count == 30
    first = {c.pk: c.first_name for c in contacts}
    for m in msgs:
        assert m.text == f"Hello {first[m.contact_id]}!"
        assert m.handed_over_at is not None and m.claim_token == ""
    # A plain acceptance is not repeated per message (the request log keeps the provider's answer per call).
    assert not MessageEvent.objects.filter(kind="send", message__campaign=campaign).exists()
    assert sum(CampaignMinute.objects.filter(campaign=campaign).values_list("handed_over", flat=True)) == 30

    Message.objects.filter(campaign=campaign).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    polled, more = poll_account(campaign.account_id)
    assert polled == 30 and not more
    campaign.refresh_from_db()
    assert campaign.delivered_count == 30 and campaign.queued_count == 0
    assert not Message.objects.filter(campaign=campaign, next_poll_at__isnull=False).exists()


def test_starting_twice_creates_no_second_message(campaign):
    assert campaign_start(campaign.pk) == 30
    Campaign.objects.filter(pk=campaign.pk).update(snapshot_done=False, snapshot_cursor=0)
    assert campaign_start(campaign.pk) == 0
    campaign.refresh_from_db()
    assert Message.objects.filter(campaign=campaign).count() == 30
    assert campaign.recipients_total == 30 and campaign.pending_count == 30
