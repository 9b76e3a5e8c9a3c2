"""The pipeline through real adapters: Jojka at the HTTP layer (``responses``), Mobizon (one message per call)
and JookSMS (personal texts in bulk) against their local fake servers, over real HTTP."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
from django.utils import timezone

from campaigns import sending
from campaigns.models import Campaign, Message
from campaigns.polling import poll_account
from campaigns.snapshot import campaign_start
from providers.fakes.jooksms import JookSMSFake
from providers.fakes.mobizon import MobizonFake
from providers.models import ProviderRequestLog
from tests.factories import CampaignFactory, ProviderAccountFactory

from .conftest import drive

pytestmark = pytest.mark.django_db

JOJKA = "https://www.jojka.nu/websms/api/add_campaign"
JOJKA_KEY = "jojka-api-key-0123456789"


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch):
    monkeypatch.setattr(sending, "BACKOFF_BASE", 0.01)


@pytest.fixture
def jojka_campaign(workspace, audience):
    account = ProviderAccountFactory(
        provider="jojka", credentials={"api_key": JOJKA_KEY}, messages_per_second=1000, allowed_senders=["Shop"]
    )
    c = CampaignFactory(account=account, text="Spring sale: 20% off today!", status=Campaign.Status.STARTING)
    c.groups.add(audience[0])
    return c


def test_jojka_429_and_503_are_retried_and_the_campaign_completes(jojka_campaign, mocked_responses, audience):
    mocked_responses.add(
        responses.POST, JOJKA, status=429, json={"error": "Too many requests"}, headers={"Retry-After": "0"}
    )
    mocked_responses.add(responses.POST, JOJKA, status=503, body="Service Unavailable")
    mocked_responses.add(responses.POST, JOJKA, status=200, json={"campaign_id": "7781"})
    campaign_start(jojka_campaign.pk)
    drive(jojka_campaign)
    jojka_campaign.refresh_from_db()
    assert jojka_campaign.status == Campaign.Status.COMPLETED
    assert len(mocked_responses.calls) == 3  # the same-text bulk call: one campaign of 30 numbers, retried twice
    body = parse_qs(mocked_responses.calls[-1].request.body)
    assert body["API_key"] == [JOJKA_KEY] and body["msg"] == ["Spring sale: 20% off today!"]
    assert sorted(body["to_msisdn"][0].split(";")) == sorted(c.phone.lstrip("+") for c in audience[1])
    ids = set(Message.objects.filter(campaign=jojka_campaign).values_list("external_id", flat=True))
    assert ids == {f"c7781:{c.phone.lstrip('+')}" for c in audience[1]}
    assert jojka_campaign.queued_count == 30
    logged = ProviderRequestLog.objects.filter(account=jojka_campaign.account)
    assert logged.count() == 3 and not logged.filter(request_body__contains=JOJKA_KEY).exists()  # redacted


def test_jojka_auth_error_fails_at_once_with_the_providers_message(jojka_campaign, mocked_responses):
    mocked_responses.add(responses.POST, JOJKA, status=401, json={"error": "Invalid API key"})
    campaign_start(jojka_campaign.pk)
    drive(jojka_campaign)
    jojka_campaign.refresh_from_db()
    assert jojka_campaign.status == Campaign.Status.FAILED
    assert "Invalid API key" in jojka_campaign.error_message
    assert len(mocked_responses.calls) == 1
    assert Message.objects.filter(campaign=jojka_campaign, status="pending", claim_token="").count() == 30


def test_jojka_ambiguous_timeout_stays_unknown_for_a_human(jojka_campaign, mocked_responses, settings):
    import requests

    mocked_responses.add(responses.POST, JOJKA, body=requests.exceptions.ReadTimeout("read timed out"))
    campaign_start(jojka_campaign.pk)
    drive(jojka_campaign)
    assert Message.objects.filter(campaign=jojka_campaign, status="unknown", error_code="timeout").count() == 30
    Message.objects.filter(campaign=jojka_campaign).update(reconcile_after=timezone.now() - timedelta(seconds=1))
    sending.reconcile_due()  # Jojka cannot look a message up by our reference: never resent blindly
    unknown = Message.objects.filter(campaign=jojka_campaign, status="unknown", error_code="unconfirmed")
    assert unknown.count() == 30 and "not resent" in unknown.first().error_text
    drive(jojka_campaign)
    jojka_campaign.refresh_from_db()
    assert jojka_campaign.status == Campaign.Status.COMPLETED and jojka_campaign.unknown_count == 30
    assert len(mocked_responses.calls) == 1


@pytest.fixture
def mobizon():
    fake = MobizonFake(api_key="k" * 40, step_seconds=1.0, undeliverable_numbers={"46701000007"})
    fake.start()
    yield fake
    fake.stop()


def test_one_message_per_call_provider_end_to_end_with_polling(mobizon, workspace, audience):
    account = ProviderAccountFactory(
        provider="mobizon", base_url=mobizon.base_url, credentials={"api_key": "k" * 40}, messages_per_second=1000
    )
    campaign = CampaignFactory(account=account, text="Hi {first_name|there}!", status=Campaign.Status.STARTING)
    campaign.groups.add(audience[0])
    campaign_start(campaign.pk)
    drive(campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED and campaign.queued_count == 30
    sends = mobizon.calls("SendSmsMessage")
    assert len(sends) == 30  # one call per message, each exactly once
    texts = {parse_qs(r.body.decode())["text"][0] for r in sends}
    assert texts == {f"Hi {c.first_name}!" for c in audience[1]}
    mobizon.advance(30)
    Message.objects.filter(campaign=campaign).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    polled, _more = poll_account(account.pk)
    assert polled == 30
    campaign.refresh_from_db()
    assert campaign.delivered_count == 29 and campaign.failed_count == 1
    assert Message.objects.get(campaign=campaign, to="+46701000007").status == "undelivered"


def test_personal_texts_use_the_per_recipient_bulk_call(workspace, audience):
    fake = JookSMSFake(client_id="cid", client_secret="csecret").start()
    try:
        account = ProviderAccountFactory(
            provider="jooksms",
            base_url=fake.api_url,
            credentials={"client_id": "cid", "client_secret": "csecret"},
            messages_per_second=1000,
        )
        campaign = CampaignFactory(
            account=account, text="Hi {first_name|there}!", sender="+46701110000", status=Campaign.Status.STARTING
        )
        campaign.groups.add(audience[0])
        campaign_start(campaign.pk)
        drive(campaign)
        campaign.refresh_from_db()
        assert campaign.status == Campaign.Status.COMPLETED and campaign.queued_count == 30
        many = [r for r in fake.requests if r.path.rstrip("/").endswith("/sms/many")]
        singles = [r for r in fake.requests if r.path.rstrip("/").endswith("/api/v1/sms")]
        assert len(many) == 1 and not singles  # 30 different texts in one per-recipient bulk call
        texts = sorted(m["content"] for m in fake.messages.values())
        assert texts == sorted(f"Hi {c.first_name}!" for c in audience[1])
    finally:
        fake.stop()
