"""The Apifon adapter end to end against the local fake server, over real HTTP."""

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from providers.adapters import apifon
from providers.adapters.apifon import ApifonAdapter, destination_id
from providers.adapters.base import WebhookKind
from providers.adapters.exceptions import ProviderAuthError, ProviderResponseError
from providers.adapters.types import (
    AccountConfig,
    MessageStatus,
    OutboundSMS,
    SyncBlockEntry,
    SyncContact,
    SyncGroup,
    WebhookRequest,
)
from providers.fakes.apifon import ApifonFake

TOKEN, SECRET = "5b5a6ca0deb4bdba5bab", "fake-secret-key"
CLIENT_ID, CLIENT_SECRET = "cid", "csecret"
FUTURE = datetime(2099, 5, 31, 12, 0, tzinfo=UTC)
PAYLOADS = Path(__file__).parents[1] / "adapters" / "payloads" / "apifon"


@pytest.fixture(autouse=True)
def _fresh_tokens():
    apifon.clear_token_cache()
    yield
    apifon.clear_token_cache()


@pytest.fixture
def fake():
    server = ApifonFake(credentials={TOKEN: SECRET}, clients={CLIENT_ID: CLIENT_SECRET}).start()
    yield server
    server.stop()


def make_adapter(fake, *, credentials=None, timeout=(2.0, 5.0), **options):
    config = AccountConfig(
        id=None,
        uuid="6f1c2a7e-0000-4000-8000-00000000a1f0",
        name="Apifon (fake)",
        base_url=fake.base_url,
        credentials=credentials
        or {"api_token": TOKEN, "secret_key": SECRET, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        options={
            "identity_url": fake.base_url,
            "list_prefix": "+30",
            "callback_base_url": "https://sms.example.com",
            **options,
        },
        default_sender="Shop",
        webhook_token="hook-token-0123456789",
    )
    return ApifonAdapter(config, timeout=timeout)


def sms(ref, to, text="Hello!", **kw):
    return OutboundSMS(to=to, text=text, sender="Shop", client_ref=ref, **kw)


def hook(payload):
    return WebhookRequest(method="POST", path="/", headers={}, query={}, body=json.dumps(payload).encode())


# ====================================================================== sending
def test_personalized_batch_in_one_request(fake):
    a = make_adapter(fake)
    msgs = [
        sms("a" * 32, "+306900000001", "Hi Anna, use {CODE} today"),
        sms("b" * 32, "+306900000002", "Hi Björn, use {CODE} today"),
        sms("c" * 32, "+306900000003", "Hi Cleo, use {CODE} today"),
    ]
    results = a.send(msgs)
    sends = [r for r in fake.requests if r.path.endswith("/sms/send")]
    assert len(sends) == 1
    assert [r.status for r in results] == [MessageStatus.QUEUED] * 3
    stored = {m["custom_id"]: m for m in fake.messages.values()}
    assert stored["b" * 32]["text"] == "Hi Björn, use {CODE} today"  # substituted once, braces kept
    assert stored["b" * 32]["number"] == "306900000002" and stored["b" * 32]["dc"] == 0
    for result in results:
        request_id, message_id = result.external_id.split(":")
        assert fake.messages[message_id]["request_id"] == request_id
        assert fake.messages[message_id]["reference_id"] == "a" * 32
        assert fake.messages[message_id]["callback_url"].startswith("https://sms.example.com/")


def test_document_complete_request_is_accepted(fake):
    """The document's "Complete SMS Request body" (with a landing page) through the signed call path."""
    a = make_adapter(fake)
    body = json.loads((PAYLOADS / "sms_send_request_complete.json").read_text())
    answer = a._json(a._call("POST", "sms/send", json_body=body, operation="sms.send", send=True))
    [detail] = answer["results"]["306999999999"]
    assert detail["custom_id"] == "222" and detail["landing_pages"]["apifon_lp"]["short_url"].startswith("https://")
    [stored] = fake.messages.values()
    assert stored["text"] == f"Hello John! {detail['short_url']}"
    assert stored["reference_id"] == "Campaign #215" and stored["status"] == 3  # 2018 date: sent at once


def test_bad_signature_gets_the_documented_401(fake):
    a = make_adapter(fake, credentials={"api_token": TOKEN, "secret_key": "wrong"})
    with pytest.raises(ProviderAuthError) as exc:
        a.check()
    assert exc.value.code == "401" and exc.value.provider_message == "Unauthorized"
    with pytest.raises(ProviderAuthError):
        a.send([sms("a" * 32, "+306900000001")])
    assert not fake.messages


def test_unknown_token_is_refused(fake):
    with pytest.raises(ProviderAuthError):
        make_adapter(fake, credentials={"api_token": "other", "secret_key": SECRET}).check()


def test_signed_query_strings_on_both_sides(fake):
    fake.sign_query = True
    fake.bounces["306900000001"] = {
        "destination": "306900000001",
        "type": "MOBILE",
        "reason": "other",
        "user": "API",
        "description": "",
        "date_created": 1,
    }
    with pytest.raises(ProviderAuthError):
        list(make_adapter(fake).pull_blocklist())  # the path-only signature does not match
    assert [e.phone for e in make_adapter(fake, sign_query="true").pull_blocklist()] == ["+306900000001"]


def test_validation_errors_of_the_server_keep_their_details(fake):
    a = make_adapter(fake)
    with pytest.raises(ProviderResponseError) as exc:
        a._call(
            "POST",
            "sms/send",
            operation="sms.send",
            send=True,
            json_body={"message": {"text": "x", "sender_id": "Shop"}, "subscribers": [{"number": "0123"}]},
        )
    assert exc.value.code == "400"
    assert "subscribers[0].number: Not a valid MSISDN" in exc.value.provider_message


def test_balance(fake):
    fake.balance = "12.5"
    check = make_adapter(fake).check()
    assert check.ok and str(check.balance) == "12.5" and check.currency == "EUR"


def test_oauth_token_then_renewal_after_a_401(fake):
    a = make_adapter(fake, auth_mode="oauth")
    assert a.check().ok
    assert fake.token_requests == 1
    make_adapter(fake, auth_mode="oauth").check()
    assert fake.token_requests == 1  # cached for the process
    fake.expire_tokens()  # Apifon revokes / forgets the token
    [result] = a.send([sms("a" * 32, "+306900000001")])
    assert result.status == MessageStatus.QUEUED
    assert fake.token_requests == 2
    assert len(fake.messages) == 1  # the refused attempt did not send anything


def test_oauth_wrong_client(fake):
    with pytest.raises(ProviderAuthError):
        make_adapter(fake, auth_mode="oauth", credentials={"client_id": CLIENT_ID, "client_secret": "no"}).check()


# ====================================================================== scheduling, cancel, timeouts
def test_schedule_then_cancel(fake):
    a = make_adapter(fake)
    results = a.send([sms("a" * 32, "+306900000001", send_at=FUTURE), sms("b" * 32, "+306900000002", send_at=FUTURE)])
    assert len(fake.scheduled()) == 2
    assert all(m["date"] == "2099-05-31T12:00:00" for m in fake.scheduled())
    cancelled = a.cancel([r.external_id for r in results])
    assert all(c.cancelled for c in cancelled)
    assert fake.scheduled() == []
    assert not any(c.cancelled for c in a.cancel([r.external_id for r in results]))  # nothing left


def _wait_for(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_read_timeout_then_reconcile_then_resend(fake):
    slow = make_adapter(fake, timeout=(2.0, 0.2))
    msgs = [sms("a" * 32, "+306900000001", send_at=FUTURE), sms("b" * 32, "+306900000002", send_at=FUTURE)]
    fake.latency = 0.6
    results = slow.send(msgs)
    assert [r.status for r in results] == [MessageStatus.UNKNOWN] * 2
    assert _wait_for(lambda: len(fake.messages) == 2)  # Apifon did get it, after our timeout
    fake.latency = 0.0
    a = make_adapter(fake)
    assert a.reconcile(msgs) == [None, None]  # removed by reference_id: now certainly not held
    assert fake.messages == {}
    assert all(r.status == MessageStatus.QUEUED for r in a.send(msgs))
    assert len(fake.scheduled()) == 2  # exactly one copy each
    assert len([r for r in fake.requests if r.path.endswith("/sms/send")]) == 2  # never resent blindly


# ====================================================================== callbacks
def test_delivery_and_reply_callbacks_built_by_the_fake(fake):
    a = make_adapter(fake)
    results = a.send([sms("a" * 32, "+306900000001"), sms("b" * 32, "+306900000002")])
    request_id = results[0].external_id.split(":")[0]
    reports = a.parse_webhook(WebhookKind.DELIVERY, hook(fake.delivery_callback(request_id, 7)))
    assert {r.external_id for r in reports} == {r.external_id for r in results}
    assert {r.client_ref for r in reports} == {"a" * 32, "b" * 32}
    assert {r.status for r in reports} == {MessageStatus.DELIVERED}
    [failed] = a.parse_webhook(
        WebhookKind.DELIVERY,
        hook(fake.delivery_callback(request_id, 22, message_ids=[results[1].external_id.split(":")[1]])),
    )
    assert failed.status == MessageStatus.UNDELIVERED and failed.error_code == "22"
    [reply] = a.parse_webhook(WebhookKind.INBOUND, hook(fake.reply_callback("+306900000001", "Shop", "STOP")))
    assert reply.from_phone == "+306900000001" and reply.text == "STOP"


def test_post_callback_delivers_json():
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append((self.headers["Content-Type"], json.loads(self.rfile.read(length))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        payload = ApifonFake.reply_callback("306900000001", "Shop", "hi")
        status = ApifonFake.post_callback(f"http://127.0.0.1:{server.server_address[1]}/cb", payload)
    finally:
        server.shutdown()
        server.server_close()
    assert status == 200 and received == [("application/json", payload)]


# ====================================================================== sync
def seed_account(fake):
    newsletter = fake.add_list("Newsletter", fields=[("First name", "TEXT"), ("Birthday", "DATE")])
    fake.add_subscriber(newsletter, "+306900000009", FIRST_NAME="Zoe", date_BIRTHDAY=631152000000)
    fake.add_subscriber(newsletter, "+306900000002", status="UNSUBSCRIBED", FIRST_NAME="Bo")
    fake.bounces["306900000008"] = {
        "destination": "306900000008",
        "type": "MOBILE",
        "reason": "sub_requested",
        "user": "API",
        "description": "STOP",
        "date_created": 1,
    }
    return newsletter


def sync_all(a, *, groups, contacts, blocks):
    """What a sync run does at the adapter level: push groups, contacts and blocklist, then pull everything."""
    ids = {g.name: a.push_group(g) for g in groups}
    contacts = [
        SyncContact(
            phone=c.phone,
            first_name=c.first_name,
            last_name=c.last_name,
            attributes=c.attributes,
            groups=tuple(ids[name] for name in c.groups),
        )
        for c in contacts
    ]
    pushed = a.push_contacts(contacts)
    added = a.push_blocklist(blocks)
    return {
        "ids": ids,
        "pushed": pushed,
        "added": added,
        "groups": sorted((g.name, g.external_id, g.member_count) for g in a.pull_groups()),
        "contacts": sorted(
            (c.phone, c.first_name, c.last_name, json.dumps(c.attributes, sort_keys=True), c.groups, c.external_id)
            for c in a.pull_contacts()
        ),
        "blocklist": sorted((e.phone, e.reason) for e in a.pull_blocklist()),
    }


def test_sync_round_trip_and_a_second_sync_changes_nothing(fake):
    newsletter = seed_account(fake)
    groups = [SyncGroup(name="Newsletter"), SyncGroup(name="VIP")]
    contacts = [
        SyncContact(
            phone="+306900000001",
            first_name="Anna",
            last_name="Berg",
            attributes={"city": "Athens", "birthday": "1990-02-01"},
            groups=("Newsletter", "VIP"),
        ),
        SyncContact(phone="+306900000002", first_name="Bo", groups=("Newsletter",)),  # unsubscribed at Apifon
        SyncContact(phone="+306900000003", first_name="Cleo", attributes={"city": "Patra"}, groups=("VIP",)),
    ]
    blocks = [
        SyncBlockEntry(phone="+306900000007", reason="opted_out"),
        SyncBlockEntry(phone="+306900000008", reason="opted_out"),
    ]

    first = sync_all(make_adapter(fake), groups=groups, contacts=contacts, blocks=blocks)
    assert first["ids"]["Newsletter"] == newsletter  # found by title, not duplicated
    assert len(fake.lists) == 2
    assert first["added"] == 1
    assert first["pushed"] == [destination_id(c.phone) for c in contacts]
    vip = first["ids"]["VIP"]
    pulled = {c[0]: c for c in first["contacts"]}
    assert pulled["+306900000001"][1:3] == ("Anna", "Berg")
    assert json.loads(pulled["+306900000001"][3]) == {"city": "Athens", "birthday": "1990-02-01"}
    assert set(pulled["+306900000001"][4]) == {newsletter, vip}
    assert json.loads(pulled["+306900000009"][3]) == {"birthday": "1990-01-01"}  # Apifon's own, DATE as ISO
    assert fake.subscribers[newsletter][destination_id("+306900000002")]["status"] == "UNSUBSCRIBED"  # kept
    assert first["blocklist"] == [("+306900000007", "opted_out"), ("+306900000008", "opted_out")]

    state, writes, before = fake.snapshot(), fake.writes, len(fake.requests)
    second = sync_all(
        make_adapter(fake),
        groups=[SyncGroup(name="Newsletter", external_id=newsletter), SyncGroup(name="VIP", external_id=vip)],
        contacts=contacts,
        blocks=blocks,
    )
    assert fake.snapshot() == state  # nothing changed at Apifon
    assert fake.writes == writes
    assert second["added"] == 0
    assert {k: v for k, v in second.items() if k != "added"} == {k: v for k, v in first.items() if k != "added"}
    second_run = fake.requests[before:]
    writes_asked = [
        (r.method, r.path)
        for r in second_run
        if r.method in {"PUT", "DELETE"} or (r.method == "POST" and r.path.endswith(("/list", "/field", "/block")))
    ]
    assert writes_asked == []  # only idempotent upserts (subscriber/bulk) are repeated


def test_renamed_group_and_unblocking(fake):
    a = make_adapter(fake)
    list_id = a.push_group(SyncGroup(name="Old name"))
    assert make_adapter(fake).push_group(SyncGroup(name="New name", external_id=list_id)) == list_id
    assert fake.lists[list_id]["title"] == "New name" and fake.lists[list_id]["prefix"] == "+30"
    a.push_blocklist([SyncBlockEntry(phone="+306900000001", reason="manual")])
    assert make_adapter(fake).remove_from_blocklist(["+306900000001", "+306900000002"]) == 1
    assert fake.bounces == {}


def test_pagination_over_many_pages(fake):
    for i in range(450):
        fake.bounces[f"3069{i:08d}"] = {
            "destination": f"3069{i:08d}",
            "type": "MOBILE",
            "reason": "other",
            "user": "API",
            "description": "",
            "date_created": i,
        }
    entries = list(make_adapter(fake).pull_blocklist())
    assert len(entries) == 450 and len({e.phone for e in entries}) == 450
    assert len([r for r in fake.requests if r.path.endswith("/bounce/subscriber")]) == 3


def test_pushing_many_new_groups_reads_the_lists_once(fake):
    a = make_adapter(fake)
    ids = [a.push_group(SyncGroup(name=f"Group {i}")) for i in range(3)]
    assert len(set(ids)) == 3 and len(fake.lists) == 3
    assert a.push_group(SyncGroup(name="Group 1")) == ids[1]  # found again by title, no duplicate
    assert len([r for r in fake.requests if r.method == "GET" and r.path.endswith("/list")]) == 1
