"""Acceptance of the send pipeline against a scripted provider: nothing sent twice, nothing lost, retries,
auth errors, ambiguous timeouts, killed workers, blocked contacts, pause/resume/cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import sending
from campaigns.models import Campaign, CampaignLane, Message, MessageEvent
from campaigns.sending import claim, lanes_kick, reconcile_due, send_batch
from campaigns.snapshot import campaign_start
from contacts.models import Contact
from providers.adapters.exceptions import ProviderAuthError, ProviderConnectionError, ProviderThrottled
from tests.factories import BlocklistEntryFactory

from .conftest import drive

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch):
    monkeypatch.setattr(sending, "BACKOFF_BASE", 0.01)


def refs(campaign) -> set[str]:
    return {u.hex for u in Message.objects.filter(campaign=campaign).values_list("uuid", flat=True)}


def assert_each_received_once(provider, campaign, expected: int):
    assert sum(provider.received.values()) == expected
    assert all(n == 1 for n in provider.received.values()), provider.received.most_common(3)
    assert set(provider.received) <= refs(campaign)


def test_every_message_is_handed_over_exactly_once(rec_campaign, provider):
    campaign_start(rec_campaign.pk)
    drive(rec_campaign)
    rec_campaign.refresh_from_db()
    assert rec_campaign.status == Campaign.Status.COMPLETED
    assert_each_received_once(provider, rec_campaign, 30)
    assert len(provider.calls) == 3  # personal texts, batches of max_batch_size (10) per call
    assert rec_campaign.queued_count == 30 and rec_campaign.pending_count == 0


def test_a_batch_task_run_twice_sends_nothing_twice(rec_campaign, provider):
    campaign_start(rec_campaign.pk)
    lanes_kick(rec_campaign.pk)
    tokens = [(lane.lane, lane.holder) for lane in CampaignLane.objects.filter(campaign=rec_campaign)]
    seen = list(tokens)
    queue = list(tokens)
    while queue:
        lane, token = queue.pop(0)
        out = send_batch(rec_campaign.pk, lane, token)
        # The broker delivers the same task again (e.g. acks_late after a lost connection): a no-op.
        again = send_batch(rec_campaign.pk, lane, token)
        assert again.handed_over == 0 and again.next_token is None
        if out.next_token:
            queue.append((lane, out.next_token))
            seen.append((lane, out.next_token))
    for lane, token in seen:  # every task of the chain replayed after the fact
        assert send_batch(rec_campaign.pk, lane, token).handed_over == 0
    assert_each_received_once(provider, rec_campaign, 30)


def test_concurrent_claims_never_overlap(rec_campaign):
    campaign_start(rec_campaign.pk)
    a = claim(rec_campaign.pk, "a" * 32, 20)
    b = claim(rec_campaign.pk, "b" * 32, 20)
    assert len(a) == 20 and len(b) == 10 and not set(a) & set(b)
    assert claim(rec_campaign.pk, "c" * 32, 20) == []


def test_worker_killed_mid_batch_leaves_no_duplicate_and_no_loss(rec_campaign, provider, settings):
    """The run holding lane 0 claimed 10 rows and handed 5 over when its worker died; the redelivered task
    (same token) reconciles instead of resending; the provider lookup settles each row exactly once."""
    campaign_start(rec_campaign.pk)
    lanes_kick(rec_campaign.pk)
    lane = CampaignLane.objects.get(campaign=rec_campaign, lane=0)
    ids = claim(rec_campaign.pk, lane.holder, 10)
    for m in Message.objects.filter(id__in=ids[:5]):  # these reached the provider before the kill
        provider.received[m.uuid.hex] += 1
    out = send_batch(rec_campaign.pk, 0, lane.holder)  # redelivery: acks_late + reject_on_worker_lost
    assert out.handed_over == 20  # the other rows went; the 10 claimed ones wait for reconciliation
    assert Message.objects.filter(id__in=ids, status="unknown", reconcile_after__isnull=False).count() == 10
    rec_campaign.refresh_from_db()
    assert rec_campaign.status == Campaign.Status.SENDING  # not complete while rows await a lookup
    Message.objects.filter(id__in=ids).update(reconcile_after=timezone.now() - timedelta(seconds=1))
    assert reconcile_due() == 10
    assert Message.objects.filter(id__in=ids[:5], status="queued").count() == 5
    assert Message.objects.filter(id__in=ids[5:], status="pending").count() == 5
    drive(rec_campaign)
    rec_campaign.refresh_from_db()
    assert rec_campaign.status == Campaign.Status.COMPLETED
    assert_each_received_once(provider, rec_campaign, 30)
    assert rec_campaign.queued_count == 30 and rec_campaign.unknown_count == 0 and rec_campaign.pending_count == 0


def test_stale_claims_of_a_dead_run_are_reconciled_by_the_sweeper(rec_campaign, provider):
    campaign_start(rec_campaign.pk)
    ids = claim(rec_campaign.pk, "dead" * 8, 10)
    for m in Message.objects.filter(id__in=ids[:3]):
        provider.received[m.uuid.hex] += 1
    old = timezone.now() - timedelta(seconds=sending.STALE_CLAIM_SECONDS + 5)
    Message.objects.filter(id__in=ids).update(claimed_at=old)
    assert reconcile_due() == 10
    assert Message.objects.filter(id__in=ids[:3], status="queued").count() == 3
    drive(rec_campaign)
    assert_each_received_once(provider, rec_campaign, 30)


def test_throttling_and_unavailability_are_retried_and_the_campaign_completes(rec_campaign, provider):
    provider.script = [
        ProviderThrottled("Too many requests", code=429, status_code=429, retry_after=0.05),
        ProviderConnectionError("HTTP 503", code=503, status_code=503),
    ]
    campaign_start(rec_campaign.pk)
    outcomes = drive(rec_campaign)
    rec_campaign.refresh_from_db()
    assert rec_campaign.status == Campaign.Status.COMPLETED
    assert_each_received_once(provider, rec_campaign, 30)
    assert sum("retry" in o.reason for o in outcomes) == 2


def test_provider_down_for_good_fails_the_campaign_after_the_cap(rec_campaign, provider, monkeypatch):
    monkeypatch.setattr(sending, "MAX_FAILURES", 3)
    provider.script = [ProviderConnectionError("HTTP 503", code=503, status_code=503) for _ in range(20)]
    monkeypatch.setattr(sending, "lanes_count", lambda: 1)
    campaign_start(rec_campaign.pk)
    drive(rec_campaign)
    rec_campaign.refresh_from_db()
    assert rec_campaign.status == Campaign.Status.FAILED
    assert "3 attempts" in rec_campaign.error_message and "503" in rec_campaign.error_message
    assert Message.objects.filter(campaign=rec_campaign, status="pending", claim_token="").count() == 30


def test_auth_error_fails_the_batch_at_once_with_the_providers_message(rec_campaign, provider):
    provider.script = [ProviderAuthError("Invalid API key supplied", code=401, status_code=401)]
    campaign_start(rec_campaign.pk)
    drive(rec_campaign)
    rec_campaign.refresh_from_db()
    assert rec_campaign.status == Campaign.Status.FAILED
    assert "Invalid API key supplied" in rec_campaign.error_message
    assert len(provider.calls) <= 2  # no retry; at most the one other group already in flight
    assert not provider.received or sum(provider.received.values()) <= 10
    pending = Message.objects.filter(campaign=rec_campaign, status="pending", claim_token="").count()
    assert pending + sum(provider.received.values()) == 30  # nothing lost: not-sent rows are pending again


def test_ambiguous_timeout_is_reconciled_before_anything_is_resent(rec_campaign, provider, monkeypatch):
    monkeypatch.setattr(sending, "lanes_count", lambda: 1)
    provider.script = ["timeout_after_accept", "timeout_before_accept"]
    campaign_start(rec_campaign.pk)
    drive(rec_campaign)
    rec_campaign.refresh_from_db()
    assert rec_campaign.unknown_count == 20 and rec_campaign.status == Campaign.Status.SENDING
    unknown = Message.objects.filter(campaign=rec_campaign, status="unknown")
    assert set(unknown.values_list("error_code", flat=True)) == {"timeout"}
    assert MessageEvent.objects.filter(kind="send", message__in=unknown).count() == 20  # the unclear answers kept
    unknown.update(reconcile_after=timezone.now() - timedelta(seconds=1))
    reconcile_due()
    drive(rec_campaign)
    rec_campaign.refresh_from_db()
    assert rec_campaign.status == Campaign.Status.COMPLETED
    assert_each_received_once(provider, rec_campaign, 30)
    assert rec_campaign.queued_count == 30 and rec_campaign.unknown_count == 0


def test_blocked_or_opted_out_after_scheduling_never_receive(rec_campaign, provider, audience):
    _group, contacts = audience
    campaign_start(rec_campaign.pk)  # snapshot taken while everyone was eligible
    Contact.objects.filter(pk=contacts[0].pk).update(status=Contact.Status.BLOCKED)
    Contact.objects.filter(pk=contacts[1].pk).update(status=Contact.Status.OPTED_OUT)
    BlocklistEntryFactory(phone=contacts[2].phone)
    contacts[3].delete()
    drive(rec_campaign)
    rec_campaign.refresh_from_db()
    received_to = {provider.to[r] for r in provider.received}
    assert not received_to & {c.phone for c in contacts[:4]}
    assert sum(provider.received.values()) == 26
    rejected = dict(Message.objects.filter(campaign=rec_campaign, status="rejected").values_list("to", "error_code"))
    assert rejected == {
        contacts[0].phone: "blocked",
        contacts[1].phone: "opted_out",
        contacts[2].phone: "blocked",
        contacts[3].phone: "contact_deleted",
    }
    assert rec_campaign.failed_count == 4 and rec_campaign.queued_count == 26
    assert rec_campaign.status == Campaign.Status.COMPLETED


def test_blocked_before_start_are_not_even_snapshotted(rec_campaign, audience):
    _group, contacts = audience
    Contact.objects.filter(pk=contacts[0].pk).update(status=Contact.Status.OPTED_OUT)
    BlocklistEntryFactory(phone=contacts[1].phone)
    assert campaign_start(rec_campaign.pk) == 28
    assert not Message.objects.filter(campaign=rec_campaign, contact__in=contacts[:2]).exists()


def test_claims_start_at_the_floor_and_never_miss_a_row_given_back(rec_campaign):
    campaign_start(rec_campaign.pk)
    a = claim(rec_campaign.pk, "a" * 32, 10)
    b = claim(rec_campaign.pk, "b" * 32, 10)
    rec_campaign.refresh_from_db()
    assert rec_campaign.claim_floor == b[0] > a[-1]
    sending.release(a[:3], "a" * 32)  # e.g. a 429: given back, the floor comes down
    rec_campaign.refresh_from_db()
    assert rec_campaign.claim_floor == a[0]
    assert claim(rec_campaign.pk, "c" * 32, 3) == a[:3]
    # A pending row below the floor that nobody announced (a claimer that rolled back) is still found.
    Campaign.objects.filter(pk=rec_campaign.pk).update(claim_floor=b[-1] + 10_000)
    Message.objects.filter(id=a[5]).update(claim_token="")
    assert a[5] in claim(rec_campaign.pk, "d" * 32, 50)
