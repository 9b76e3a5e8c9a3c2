"""Status polling: batched, backing off as messages age, stopping at final statuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.polling import due_accounts, next_poll_delay, poll_account
from tests.factories import CampaignFactory, MessageFactory

pytestmark = pytest.mark.django_db


def test_poll_interval_grows_with_age_and_stops():
    assert next_poll_delay(0) == 5.0
    assert next_poll_delay(600) == 150.0
    assert next_poll_delay(3 * 24 * 3600) == 6 * 3600.0
    assert next_poll_delay(73 * 3600) is None
    assert next_poll_delay(0, webhook=True) == 300.0


def test_poll_applies_reports_and_reschedules_what_is_not_final(sandbox_account):
    sandbox_account.options = {"failure_rate": "0", "sent_after": "0", "delivered_after": "3600"}
    sandbox_account.save()
    campaign = CampaignFactory(account=sandbox_account, status=Campaign.Status.COMPLETED, queued_count=3)
    now = timezone.now()
    msgs = [
        MessageFactory(
            campaign=campaign,
            account=sandbox_account,
            status="queued",
            external_id=f"sbx-{int(now.timestamp() * 1000)}-{i}",
            handed_over_at=now - timedelta(minutes=10),
            next_poll_at=now - timedelta(seconds=1),
        )
        for i in range(3)
    ]
    not_due = MessageFactory(
        campaign=campaign,
        account=sandbox_account,
        status="queued",
        external_id="sbx-1-x",
        next_poll_at=now + timedelta(hours=1),
    )
    assert due_accounts() == [sandbox_account.pk]
    polled, more = poll_account(sandbox_account.pk)
    assert (polled, more) == (3, False)
    for m in msgs:
        m.refresh_from_db()
        assert m.status == "sent"
        assert m.next_poll_at > now + timedelta(seconds=100)  # a quarter of 10 minutes' age
    not_due.refresh_from_db()
    assert not_due.status == "queued"
    campaign.refresh_from_db()
    assert campaign.sent_count == 3 and campaign.queued_count == 0


def test_final_status_stops_polling(sandbox_account):
    campaign = CampaignFactory(account=sandbox_account, status=Campaign.Status.COMPLETED, queued_count=1)
    m = MessageFactory(
        campaign=campaign,
        account=sandbox_account,
        status="queued",
        external_id="sbx-1000-a",
        handed_over_at=timezone.now(),
        next_poll_at=timezone.now() - timedelta(seconds=1),
    )
    poll_account(sandbox_account.pk)
    m.refresh_from_db()
    assert m.status in Message.FINAL and m.next_poll_at is None
    assert poll_account(sandbox_account.pk) == (0, False)
