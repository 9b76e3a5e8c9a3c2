"""Delivery reports: monotonic, every raw event kept, counters and chart minutes move with them."""

from __future__ import annotations

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignMinute, Message, MessageEvent
from campaigns.reports import apply_delivery_reports
from campaigns.sending import ChunkResult, attach_orphan_reports, record_results
from providers.adapters.types import DeliveryReport, MessageStatus, SendResult
from tests.factories import CampaignFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_message(sandbox_account):
    campaign = CampaignFactory(account=sandbox_account, status=Campaign.Status.SENDING, sent_count=1)
    return MessageFactory(campaign=campaign, account=sandbox_account, status="sent", external_id="ext-1")


def report(status, raw, event_id=""):
    return DeliveryReport(
        external_id="ext-1",
        status=status,
        raw_status=raw,
        event_id=event_id,
        occurred_at=timezone.now(),
        raw={"s": raw},
    )


def test_a_late_sent_never_overwrites_delivered(sent_message, sandbox_account):
    r1 = apply_delivery_reports(account=sandbox_account, reports=[report(MessageStatus.DELIVERED, "DELIVRD")])
    r2 = apply_delivery_reports(account=sandbox_account, reports=[report(MessageStatus.SENT, "SENT")])
    sent_message.refresh_from_db()
    assert (r1.updated, r2.updated, r2.ignored) == (1, 0, 1)
    assert sent_message.status == "delivered" and sent_message.delivered_at is not None
    assert MessageEvent.objects.filter(message=sent_message).count() == 2  # both kept raw
    c = sent_message.campaign
    c.refresh_from_db()
    assert (c.sent_count, c.delivered_count) == (0, 1)
    assert CampaignMinute.objects.get(campaign=c).delivered == 1


def test_a_webhook_retry_is_applied_once(sent_message, sandbox_account):
    rep = report(MessageStatus.UNDELIVERED, "UNDELIV", event_id="evt-9")
    apply_delivery_reports(account=sandbox_account, reports=[rep])
    again = apply_delivery_reports(account=sandbox_account, reports=[rep])
    assert again.duplicates == 1
    c = Campaign.objects.get(pk=sent_message.campaign_id)
    assert c.failed_count == 1 and c.sent_count == 0


def test_a_report_that_beats_the_send_answer_is_kept(sandbox_account):
    """The provider's callback arrives while the send answer is still being stored: the answer must not
    move the status back, and a report matched only later (by external id) is applied then."""
    campaign = CampaignFactory(account=sandbox_account, status=Campaign.Status.SENDING, pending_count=2)
    m1 = MessageFactory(campaign=campaign, account=sandbox_account, status="pending", claim_token="t" * 32)
    m2 = MessageFactory(campaign=campaign, account=sandbox_account, status="pending", claim_token="t" * 32)
    # m1: callback carries our reference → applied at once (delivered before we stored "queued")
    apply_delivery_reports(
        account=sandbox_account,
        reports=[
            DeliveryReport(
                external_id="x1", client_ref=m1.uuid.hex, status=MessageStatus.DELIVERED, raw_status="DELIVERED"
            )
        ],
    )
    # m2: callback carries only the provider's id → kept as an orphan event for now
    orphan = apply_delivery_reports(
        account=sandbox_account,
        reports=[DeliveryReport(external_id="x2", status=MessageStatus.DELIVERED, raw_status="DELIVERED")],
    )
    assert orphan.unmatched == 1
    chunk = ChunkResult(
        results={
            m1.pk: SendResult(m1.uuid.hex, MessageStatus.QUEUED, external_id="x1"),
            m2.pk: SendResult(m2.uuid.hex, MessageStatus.QUEUED, external_id="x2"),
        },
        handed_over=2,
    )
    record_results(campaign, sandbox_account, sandbox_account.get_adapter(), [m1, m2], chunk, "t" * 32, [])
    m1.refresh_from_db()
    m2.refresh_from_db()
    assert m1.status == "delivered" and m1.external_id == "x1"
    assert m2.status == "delivered"
    campaign.refresh_from_db()
    assert (campaign.pending_count, campaign.queued_count, campaign.delivered_count) == (0, 0, 2)
    assert attach_orphan_reports(sandbox_account, ["x2"]) == 0  # nothing left over


def test_reports_of_test_messages_do_not_touch_campaign_figures(sandbox_account):
    campaign = CampaignFactory(account=sandbox_account)
    MessageFactory(
        campaign=campaign,
        account=sandbox_account,
        contact=None,
        to="+46701234567",
        is_test=True,
        status="queued",
        external_id="ext-1",
    )
    apply_delivery_reports(account=sandbox_account, reports=[report(MessageStatus.DELIVERED, "DELIVRD")])
    campaign.refresh_from_db()
    assert campaign.delivered_count == 0 and campaign.queued_count == 0
    assert Message.objects.get(external_id="ext-1").status == "delivered"
