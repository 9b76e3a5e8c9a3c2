"""The callback endpoint: 404 for unknown accounts/kinds, 403 for bad tokens/signatures, 400 for malformed
bodies (nothing stored in any of these), normalized events handed to the campaigns services, replays stored once."""

import hashlib
import hmac
import json

import pytest
from django.test import Client

from campaigns.models import InboundMessage, Message, MessageEvent
from providers.webhooks import webhook_path, webhook_url
from tests.factories import CampaignFactory, MessageFactory, ProviderAccountFactory
from tests.providers.memory_adapter import STORES, make_memory_account, register_memory_adapter

pytestmark = pytest.mark.django_db


@pytest.fixture
def memory_account(db, settings):
    register_memory_adapter(settings)
    yield make_memory_account()
    STORES.clear()


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def hook(account, kind, token=None):
    return webhook_path(
        code=account.provider,
        account_uuid=account.uuid,
        kind=kind,
        token=account.webhook_token if token is None else token,
    )


def delivery_body(*events):
    return json.dumps({"events": [{"id": e[0], "message_id": e[1], "status": e[2]} for e in events]})


@pytest.fixture
def sent_message(memory_account):
    campaign = CampaignFactory(account=memory_account, status="sending", queued_count=1)
    return MessageFactory(campaign=campaign, account=memory_account, external_id="ext-1", status=Message.Status.QUEUED)


def test_url_shape_and_absolute_url(memory_account, settings):
    settings.PUBLIC_BASE_URL = "https://sms.example.com/"
    path = hook(memory_account, "delivery")
    assert path == f"/providers/memory/{memory_account.uuid}/delivery/{memory_account.webhook_token}/"
    assert webhook_url(memory_account, "delivery") == "https://sms.example.com" + path


def test_delivery_report_is_applied_and_replay_is_stored_once(csrf_client, memory_account, sent_message):
    body = delivery_body(("ev-1", "ext-1", "DELIVERED"))
    r = csrf_client.post(hook(memory_account, "delivery"), body, content_type="application/json")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/json"
    assert r.json() == {"ok": True}
    sent_message.refresh_from_db()
    assert sent_message.status == Message.Status.DELIVERED
    assert MessageEvent.objects.filter(account=memory_account).count() == 1

    again = csrf_client.post(hook(memory_account, "delivery"), body, content_type="application/json")
    assert again.status_code == 200
    assert MessageEvent.objects.filter(account=memory_account).count() == 1


def test_inbound_is_recorded_once(csrf_client, memory_account):
    body = json.dumps({"messages": [{"id": "in-9", "from": "+46701234567", "text": "STOP"}]})
    for _ in range(2):
        r = csrf_client.post(hook(memory_account, "inbound"), body, content_type="application/json")
        assert r.status_code == 200
    assert InboundMessage.objects.filter(account=memory_account, external_id="in-9").count() == 1


def test_wrong_token_is_403_and_stores_nothing(client, memory_account, sent_message):
    r = client.post(
        hook(memory_account, "delivery", token="guessed-token"),
        delivery_body(("e", "ext-1", "DELIVERED")),
        content_type="application/json",
    )
    assert r.status_code == 403
    assert MessageEvent.objects.count() == 0
    sent_message.refresh_from_db()
    assert sent_message.status == Message.Status.QUEUED


def test_provider_signature_checked_on_top_of_the_token(client, memory_account, sent_message):
    memory_account.credentials = {**memory_account.credentials, "webhook_secret": "whsec-abcdef"}
    memory_account.save()
    body = delivery_body(("ev-2", "ext-1", "DELIVERED"))
    bad = client.post(
        hook(memory_account, "delivery"), body, content_type="application/json", headers={"X-Signature": "0" * 64}
    )
    assert bad.status_code == 403
    assert MessageEvent.objects.count() == 0
    sig = hmac.new(b"whsec-abcdef", body.encode(), hashlib.sha256).hexdigest()
    good = client.post(
        hook(memory_account, "delivery"), body, content_type="application/json", headers={"X-Signature": sig}
    )
    assert good.status_code == 200
    assert MessageEvent.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[1, 2]",  # not an object (WebhookError)
        '{"events": [{"id": "x"}]}',  # missing keys (KeyError)
        "",
    ],
)
def test_malformed_is_400_and_stores_nothing(client, memory_account, sent_message, body):
    r = client.post(hook(memory_account, "delivery"), body, content_type="application/json")
    assert r.status_code == 400
    assert MessageEvent.objects.count() == 0
    assert b"Traceback" not in r.content


def test_unknown_account_kind_or_provider_is_404(client, memory_account):
    import uuid

    assert (
        client.post(
            webhook_path(code="memory", account_uuid=uuid.uuid4(), kind="delivery", token=memory_account.webhook_token)
        ).status_code
        == 404
    )
    assert client.post(hook(memory_account, "bounces")).status_code == 404
    assert (
        client.post(
            webhook_path(
                code="sandbox", account_uuid=memory_account.uuid, kind="delivery", token=memory_account.webhook_token
            )
        ).status_code
        == 404
    )


def test_kind_the_provider_does_not_send_is_404(client, sandbox_account):
    assert client.post(hook(sandbox_account, "delivery"), "{}", content_type="application/json").status_code == 404


def test_inactive_account_is_404(client, memory_account):
    memory_account.is_active = False
    memory_account.save()
    assert client.post(hook(memory_account, "delivery"), "{}", content_type="application/json").status_code == 404


def test_head_and_plain_get_answer_without_parsing(client, memory_account):
    assert client.head(hook(memory_account, "delivery")).status_code == 200
    assert client.get(hook(memory_account, "delivery")).status_code == 200
    assert client.get(hook(memory_account, "delivery", token="nope")).status_code == 403
    r = client.put(hook(memory_account, "delivery"), "{}")
    assert r.status_code == 405
    assert "POST" in r["Allow"]


def test_no_login_needed(client, memory_account, sent_message):
    # the anonymous client is not redirected to the login page
    r = client.post(
        hook(memory_account, "delivery"), delivery_body(("ev-3", "ext-1", "SENT")), content_type="application/json"
    )
    assert r.status_code == 200


# ---------------------------------------------------------------------------------------------- real adapters
def mobizon_payload(event_id="evt-100", attempt=1, status="DELIVRD", secret="mbz-secret"):
    created = "2026-01-05 10:00:00"
    payload = {
        "eventId": event_id,
        "eventType": "sms-delivery-report",
        "eventCreateTs": created,
        "webhookId": 7,
        "attempt": attempt,
        "data": {
            "campaignId": 1,
            "messageId": "5501",
            "segNum": 1,
            "statusUpdateTs": created,
            "status": status,
            "to": "77001234567",
        },
    }
    if secret:
        payload["sign"] = hashlib.sha1(f"{event_id}|{attempt}|{created}|{secret}".encode()).hexdigest()
    return payload


@pytest.fixture
def mobizon_account(db):
    return ProviderAccountFactory(
        name="Mobizon KZ",
        provider="mobizon",
        options={"domain": "api.mobizon.kz"},
        credentials={"api_key": "a" * 40, "webhook_secret": "mbz-secret"},
    )


def test_mobizon_signed_delivery_webhook(csrf_client, mobizon_account):
    campaign = CampaignFactory(account=mobizon_account, status="sending", sent_count=1)
    msg = MessageFactory(campaign=campaign, account=mobizon_account, external_id="5501", status=Message.Status.SENT)
    url = hook(mobizon_account, "delivery")
    r = csrf_client.post(url, json.dumps(mobizon_payload()), content_type="application/json")
    assert r.status_code == 200
    msg.refresh_from_db()
    assert msg.status == Message.Status.DELIVERED
    # Mobizon retries with the same eventId (and a higher attempt): stored once
    r = csrf_client.post(url, json.dumps(mobizon_payload(attempt=2)), content_type="application/json")
    assert r.status_code == 200
    assert MessageEvent.objects.filter(account=mobizon_account).count() == 1


def test_mobizon_wrong_sign_is_403(client, mobizon_account):
    r = client.post(
        hook(mobizon_account, "delivery"), json.dumps(mobizon_payload(secret="other")), content_type="application/json"
    )
    assert r.status_code == 403
    assert MessageEvent.objects.count() == 0


APIFON_DELIVERY = {
    "url": "https://yourserver/callback",
    "request_id": "eff655d8-0cb6-47b3-8828-96e1b80b55af",
    "reference_id": "Campaign #215",
    "data": [
        {
            "from": "Apifon",
            "to": "306999999999",
            "message_id": "e2d4424d-7d6a-49c2-b564-99b2b68c74cb",
            "custom_id": "312312412",
            "status": {"code": 7, "text": "delivered"},
            "error_code": "000",
            "timestamp": 1517922078,
            "price": "0.002",
            "vat": "0.00048",
            "mccmnc": "20210",
        }
    ],
    "account_id": 5411,
    "type": "SMS",
}
APIFON_REPLY = {
    "message_id": "d5a53b51-dc57-4c2c-b880-36f788c4d4d4",
    "from": "306999999999",
    "to": "306988888888",
    "text": "This is my reply.",
    "timestamp": 1481126247,
    "type": "SMS",
}


@pytest.fixture
def apifon_account(db):
    return ProviderAccountFactory(
        name="Apifon",
        provider="apifon",
        credentials={"api_token": "tok", "secret_key": "apifon-secret-key"},
        options={"auth_mode": "hmac"},
    )


def test_apifon_delivery_callback_applied_once(csrf_client, apifon_account):
    from providers.adapters.apifon import external_id_for

    ext = external_id_for(APIFON_DELIVERY["request_id"], APIFON_DELIVERY["data"][0]["message_id"])
    campaign = CampaignFactory(account=apifon_account, status="sending", queued_count=1)
    msg = MessageFactory(campaign=campaign, account=apifon_account, external_id=ext, status=Message.Status.QUEUED)
    for _ in range(2):
        r = csrf_client.post(
            hook(apifon_account, "delivery"), json.dumps(APIFON_DELIVERY), content_type="application/json"
        )
        assert r.status_code == 200
    msg.refresh_from_db()
    assert msg.status == Message.Status.DELIVERED
    assert MessageEvent.objects.filter(account=apifon_account).count() == 1


def test_apifon_reply_callback_recorded_once(csrf_client, apifon_account):
    for _ in range(2):
        r = csrf_client.post(
            hook(apifon_account, "inbound"), json.dumps(APIFON_REPLY), content_type="application/json; charset=utf-8"
        )
        assert r.status_code == 200
    replies = InboundMessage.objects.filter(account=apifon_account)
    assert replies.count() == 1
    assert replies.get().from_phone == "+306999999999"


def test_apifon_malformed_and_unauthenticated(client, apifon_account):
    assert (
        client.post(hook(apifon_account, "delivery"), '{"data": []}', content_type="application/json").status_code
        == 400
    )
    assert (
        client.post(
            hook(apifon_account, "delivery", token="x" * 32),
            json.dumps(APIFON_DELIVERY),
            content_type="application/json",
        ).status_code
        == 403
    )
    assert MessageEvent.objects.count() == 0
