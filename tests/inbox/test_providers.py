"""For each provider that offers replies, its documented reply (callback or poll) becomes exactly one
InboundMessage, a replay keeps it at one, and the keyword rules act on it; bad callbacks store nothing.

- Apifon: the reply callback through the real webhook view (``/providers/apifon/<uuid>/inbound/<token>/``).
- Jojka: ``fetch_replies`` polled by ``providers.services.replies_poll`` (``responses`` with the document's
  example, then the fake server end to end).
- JookSMS: incoming messages from the message search, polled the same way (``responses``, then the fake).
"""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from campaigns.models import InboundMessage, Message
from contacts.models import BlocklistEntry, Contact
from providers.adapters import jooksms
from providers.fakes.jojka import JojkaFake
from providers.fakes.jooksms import JookSMSFake
from providers.services import replies_poll
from providers.webhooks import webhook_path
from smsportal.models import AuditLog, AutoReply, KeywordRule
from tests.factories import CampaignFactory, ContactFactory, MessageFactory, ProviderAccountFactory

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).parent.parent / "providers" / "adapters" / "payloads"


def payload(provider, name):
    return json.loads((PAYLOADS / provider / name).read_text())


def poll(account):
    """One reply poll as the beat task runs it (the claim of ``poll_due_accounts`` included)."""
    now = timezone.now()
    previous = account.last_polled_at
    account.last_polled_at = now
    account.save(update_fields=["last_polled_at"])
    return replies_poll(account=account, previous=previous, claimed_at=now)


# --- Apifon: reply callback -----------------------------------------------------------------------------------
@pytest.fixture
def apifon(workspace):
    return ProviderAccountFactory(
        name="Apifon Greece",
        provider="apifon",
        credentials={"api_token": "tok", "secret_key": "apifon-secret-key"},
        options={"auth_mode": "hmac"},
    )


def apifon_hook(account, token=None):
    return webhook_path(
        code="apifon",
        account_uuid=account.uuid,
        kind="inbound",
        token=account.webhook_token if token is None else token,
    )


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize("name", ["reply_sms.json", "reply_im.json"])
def test_apifon_documented_reply_is_stored_once(csrf_client, apifon, name):
    body = json.dumps(payload("apifon", name))
    for _ in range(2):
        r = csrf_client.post(apifon_hook(apifon), body, content_type="application/json")
        assert r.status_code == 200
    reply = InboundMessage.objects.get()
    assert reply.account == apifon
    assert reply.external_id == "d5a53b51-dc57-4c2c-b880-36f788c4d4d4"
    assert reply.from_phone == "+306999999999"
    assert reply.text == "This is my reply."
    assert reply.keyword == InboundMessage.Keyword.NONE and reply.processed_at is not None
    assert reply.contact is None  # an unknown number: kept, unmatched


def test_apifon_stop_reply_opts_the_contact_out_and_links_the_campaign(csrf_client, apifon):
    from providers.adapters.apifon import external_id_for

    contact = ContactFactory(phone="+306999999999", first_name="Eleni")
    campaign = CampaignFactory(account=apifon, name="Athens opening")
    original = payload("apifon", "reply_im.json")["original_im"]
    MessageFactory(
        campaign=campaign,
        contact=contact,
        account=apifon,
        external_id=external_id_for(original["request_id"], original["message_id"]),
        status=Message.Status.DELIVERED,
    )
    body = payload("apifon", "reply_im.json")
    body["reply"]["message"]["text"] = " Stop! "
    for _ in range(2):
        assert (
            csrf_client.post(apifon_hook(apifon), json.dumps(body), content_type="application/json").status_code == 200
        )
    reply = InboundMessage.objects.get()
    assert reply.campaign == campaign and reply.in_reply_to.contact == contact
    contact.refresh_from_db()
    assert contact.status == Contact.Status.OPTED_OUT
    entry = BlocklistEntry.objects.get(phone=contact.phone)
    assert entry.reason == "opted_out" and "Apifon Greece" in entry.source and "Athens opening" in entry.source
    assert AuditLog.objects.filter(action=AuditLog.Action.OPT_OUT).count() == 1


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        "[1, 2, 3]",
        json.dumps({"message_id": "x", "to": "306988888888", "text": "STOP"}),  # no sender
    ],
)
def test_apifon_malformed_reply_is_400_and_nothing_is_stored(client, apifon, body):
    r = client.post(apifon_hook(apifon), body, content_type="application/json")
    assert r.status_code == 400
    assert not InboundMessage.objects.exists()
    assert not BlocklistEntry.objects.exists()


def test_apifon_unauthenticated_reply_is_403_and_nothing_is_stored(client, apifon):
    ContactFactory(phone="+306999999999")
    body = payload("apifon", "reply_sms.json")
    body["text"] = "STOP"
    r = client.post(apifon_hook(apifon, token="x" * 32), json.dumps(body), content_type="application/json")
    assert r.status_code == 403
    assert not InboundMessage.objects.exists()
    assert not BlocklistEntry.objects.exists()
    assert Contact.objects.get().status == Contact.Status.ACTIVE


def test_reply_to_an_inactive_account_is_404(client, apifon):
    apifon.is_active = False
    apifon.save()
    r = client.post(
        apifon_hook(apifon), json.dumps(payload("apifon", "reply_sms.json")), content_type="application/json"
    )
    assert r.status_code == 404
    assert not InboundMessage.objects.exists()


# --- Jojka: fetch_replies -------------------------------------------------------------------------------------
JOJKA_API = "https://www.jojka.nu/websms/api"


@pytest.fixture
def jojka(workspace):
    return ProviderAccountFactory(name="Jojka", provider="jojka", credentials={"api_key": "jojka-key"}, options={})


def test_jojka_documented_replies_are_stored_once(mocked_responses, jojka):
    documented = payload("jojka", "fetch_replies.json")
    mocked_responses.post(f"{JOJKA_API}/fetch_replies", json=documented)
    mocked_responses.post(f"{JOJKA_API}/fetch_replies", json=documented)  # the next poll sees them again
    assert poll(jojka) == 2
    assert poll(jojka) == 0
    replies = InboundMessage.objects.order_by("received_at")
    assert [(r.from_phone, r.text) for r in replies] == [("+46709771337", "Sure"), ("+46709771337", "Bacon")]
    assert all(r.account == jojka and r.external_id.startswith("jr-") for r in replies)
    assert InboundMessage.objects.count() == 2


def test_jojka_stopp_via_fake_server_opts_out_and_confirms_through_jojka(workspace, django_capture_on_commit_callbacks):
    fake = JojkaFake(api_key="k", delivered_after=1).start()
    try:
        account = ProviderAccountFactory(
            name="Jojka SE", provider="jojka", credentials={"api_key": "k"}, base_url=fake.api_url, options={}
        )
        contact = ContactFactory(phone="+46701234567")
        KeywordRule.objects.create(kind="opt_out", language="sv", keywords=["STOPP"], auto_reply="Avregistrerad.")
        fake.seed_reply("46701234567", "STOPP")
        fake.seed_reply("46701234567", "stop sending me this rubbish")
        with django_capture_on_commit_callbacks(execute=True):  # the auto-reply is queued on commit
            assert poll(account) == 2
            assert poll(account) == 0  # replayed by the next poll: still two
        contact.refresh_from_db()
        assert contact.status == Contact.Status.OPTED_OUT
        kinds = sorted(InboundMessage.objects.values_list("keyword", flat=True))
        assert kinds == ["flagged", "opt_out"]
        auto = AutoReply.objects.get()
        assert auto.status == AutoReply.Status.SENT and auto.account == account
        sends = fake.calls("send")
        assert len(sends) == 1
        assert sends[0].form1()["to"] == "46701234567" and sends[0].form1()["msg"] == "Avregistrerad."
    finally:
        fake.stop()


# --- JookSMS: incoming messages from the search ---------------------------------------------------------------
JOOK_API = "https://sms.jooksms.com/api/v1"


@pytest.fixture
def jook(workspace):
    jooksms.clear_token_cache()
    yield ProviderAccountFactory(
        name="JookSMS", provider="jooksms", credentials={"client_id": "cid", "client_secret": "sec"}, options={}
    )
    jooksms.clear_token_cache()


def incoming(documented, **fields):
    """The document's search answer (sms_search.json) turned into an incoming message."""
    body = json.loads(json.dumps(documented))
    body["data"][0].update({"direction": "incoming", "status": "received", **fields})
    return body


def test_jooksms_documented_incoming_message_is_stored_once(mocked_responses, jook):
    now = timezone.now().replace(microsecond=0)
    body = incoming(payload("jooksms", "sms_search.json"), content="STOP", created=now.isoformat())
    mocked_responses.post(
        f"{JOOK_API}/oauth/access_token", json={"access_token": "t0k", "token_type": "Bearer", "expires_in": 3600}
    )
    mocked_responses.post(f"{JOOK_API}/sms/search/messages", json=body)
    mocked_responses.post(f"{JOOK_API}/sms/search/messages", json=body)
    assert poll(jook) == 1
    assert poll(jook) == 0
    reply = InboundMessage.objects.get()
    assert reply.external_id == "210337"
    assert reply.from_phone == "+135225566"
    assert reply.keyword == InboundMessage.Keyword.OPT_OUT
    assert BlocklistEntry.objects.filter(phone="+135225566", reason="opted_out").exists()


def test_jooksms_outgoing_messages_in_the_search_are_not_replies(mocked_responses, jook):
    mocked_responses.post(
        f"{JOOK_API}/oauth/access_token", json={"access_token": "t0k", "token_type": "Bearer", "expires_in": 3600}
    )
    mocked_responses.post(f"{JOOK_API}/sms/search/messages", json=payload("jooksms", "sms_search.json"))
    assert poll(jook) == 0
    assert not InboundMessage.objects.exists()


def test_jooksms_fake_server_reply_end_to_end(workspace):
    jooksms.clear_token_cache()
    fake = JookSMSFake(client_id="cid", client_secret="sec").start()
    try:
        account = ProviderAccountFactory(
            name="JookSMS CR",
            provider="jooksms",
            credentials={"client_id": "cid", "client_secret": "sec"},
            base_url=fake.api_url,
            options={},
        )
        contact = ContactFactory(phone="+50650191906")
        fake.seed_reply("+50650191906", "¡Baja!")
        fake.seed_reply("+50650191907", "¿Quién es?")
        assert poll(account) == 2
        account.refresh_from_db()
        account.last_polled_at = timezone.now() - timedelta(minutes=2)
        account.save()
        assert poll(account) == 0
        assert InboundMessage.objects.count() == 2
        contact.refresh_from_db()
        assert contact.status == Contact.Status.OPTED_OUT
        unknown = InboundMessage.objects.get(from_phone="+50650191907")
        assert unknown.contact is None and unknown.keyword == InboundMessage.Keyword.NONE
    finally:
        fake.stop()
        jooksms.clear_token_cache()
