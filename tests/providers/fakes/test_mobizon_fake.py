"""Mobizon adapter end to end against the local fake server, over real HTTP."""

import json
import threading
import time
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from providers.adapters.base import WebhookKind
from providers.adapters.exceptions import ProviderAuthError, ProviderThrottled, WebhookAuthError
from providers.adapters.mobizon import MobizonAdapter
from providers.adapters.registry import adapter_for
from providers.adapters.types import AccountConfig, MessageStatus, OutboundSMS, WebhookRequest
from providers.fakes.mobizon import MobizonFake
from providers.models import ProviderRequestLog
from tests.factories import ProviderAccountFactory

KEY = "0123456789abcdefghij0123456789abcdefghij"
SECRET = "hook-secret-42"
TOKEN = "url-token"


@pytest.fixture
def fake():
    server = MobizonFake(api_key=KEY, step_seconds=1.0, webhook_secret=SECRET, undeliverable_numbers={"46700000404"})
    server.start()
    yield server
    server.stop()


def make(fake, *, base_url=None, key=KEY, timeout=(2.0, 5.0), **options):
    cfg = AccountConfig(
        id=None,
        uuid="acc",
        name="Mobizon fake",
        base_url=base_url or fake.base_url,
        credentials={"api_key": key, "webhook_secret": SECRET},
        options=options,
        webhook_token=TOKEN,
    )
    return MobizonAdapter(cfg, timeout=timeout)


def sms(ref, to="+46701234567", text="Hello from the fake", sender="Shop", **kw):
    return OutboundSMS(to=to, text=text, sender=sender, client_ref=ref, **kw)


def test_send_then_statuses_progress_to_final(fake):
    a = make(fake)
    ok, bad = a.send([sms("a"), sms("b", to="+46700000404")])
    assert ok.status == MessageStatus.QUEUED and ok.external_id
    reports = {r.external_id: r for r in a.fetch_statuses([ok.external_id, bad.external_id])}
    assert reports[ok.external_id].raw_status == "ENQUEUD"
    fake.advance(1.5)
    assert a.fetch_statuses([ok.external_id])[0].raw_status == "ACCEPTD"
    fake.advance(5)
    reports = {r.external_id: r for r in a.fetch_statuses([ok.external_id, bad.external_id])}
    assert reports[ok.external_id].status == MessageStatus.DELIVERED
    assert reports[bad.external_id].status == MessageStatus.UNDELIVERED
    assert reports[ok.external_id].segments == 1 and reports[ok.external_id].occurred_at is not None


def test_check_reports_the_balance_and_sends_cost_money(fake):
    a = make(fake)
    before = a.check().balance
    a.send([sms("a", text="x" * 200)])  # two segments
    after = a.check()
    assert after.ok and after.currency == "EUR"
    assert before - after.balance == Decimal("0.0900")


def test_wrong_key_is_an_auth_error(fake):
    a = make(fake, key="f" * 40)
    with pytest.raises(ProviderAuthError) as exc:
        a.check()
    assert exc.value.code == "8"
    with pytest.raises(ProviderAuthError):
        a.send([sms("a")])  # auth errors stop the whole call


def test_wrong_regional_domain_is_followed(fake):
    host, port = fake.base_url.removeprefix("http://").split(":")
    fake.home_host = f"{host}:{port}"
    a = make(fake, base_url=f"http://localhost:{port}")
    [result] = a.send([sms("a")])
    assert result.status == MessageStatus.QUEUED
    assert a.redirected_domain == f"127.0.0.1:{port}"
    assert [r.header("Host") for r in fake.requests] == [f"localhost:{port}", f"127.0.0.1:{port}"]
    assert a.check().ok  # remembered: no more code 13
    assert len(fake.requests) == 3


def test_status_lookups_are_split_so_the_fake_never_sees_more_than_100(fake):
    a = make(fake)
    sent = [a.send([sms(str(i), to=f"+4670123450{i}")])[0].external_id for i in range(3)]
    ids = [str(900000 + i) for i in range(180)] + sent  # unknown ids are silently left out
    reports = a.fetch_statuses(ids)
    assert sorted(r.external_id for r in reports) == sorted(sent)
    assert len(fake.calls("getSMSStatus")) == 2


def test_throttling_is_retryable(fake):
    fake.fail_next.append(fake.envelope(30, message="Too many calls"))
    with pytest.raises(ProviderThrottled):
        make(fake).send([sms("a")])


def test_deferred_message_waits_until_its_time(fake):
    a = make(fake)
    [result] = a.send([sms("a", send_at=timezone.now() + timedelta(hours=2))])
    assert result.status == MessageStatus.QUEUED
    assert a.fetch_statuses([result.external_id])[0].raw_status == "NEW"
    fake.advance(2 * 3600 + 10)
    assert a.fetch_statuses([result.external_id])[0].status == MessageStatus.DELIVERED


def test_timeout_after_send_then_reconcile_finds_it_and_nothing_is_sent_twice(fake):
    slow = make(fake, timeout=(2.0, 0.2))
    fake.latency = 0.6
    message = sms("a", text="Only once")
    [result] = slow.send([message])
    assert result.status == MessageStatus.UNKNOWN
    fake.latency = 0.0
    deadline = time.monotonic() + 5
    while not fake.messages and time.monotonic() < deadline:  # the fake finishes the slow request on its own
        time.sleep(0.05)
    [held] = make(fake).reconcile([message])
    assert held is not None and held.external_id == str(next(iter(fake.messages.values()))["id"])
    assert len(fake.calls("sendSmsMessage")) == 1
    assert make(fake).reconcile([sms("b", text="Never sent")]) == [None]


class _Receiver:
    """A local HTTP endpoint that records what is posted to it (stands in for our webhook view)."""

    def __init__(self, status=200):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/providers/mobizon/acc/delivery/"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_signed_webhooks_reach_us_and_verify(fake):
    a = make(fake)
    [result] = a.send([sms("a")])
    fake.advance(10)
    receiver = _Receiver()
    try:
        assert fake.fire_webhooks(receiver.url) == [(result.external_id, 200)]
        assert fake.fire_webhooks(receiver.url) == []  # acknowledged: not sent again
    finally:
        receiver.stop()
    [(headers, body)] = receiver.received
    request = WebhookRequest(
        method="POST", path="/providers/mobizon/acc/delivery/", headers=headers, query={}, body=body
    )
    a.verify_webhook(WebhookKind.DELIVERY, request, TOKEN)
    [report] = a.parse_webhook(WebhookKind.DELIVERY, request)
    assert report.external_id == result.external_id and report.status == MessageStatus.DELIVERED
    assert report.event_id == str(json.loads(body)["eventId"])

    other = MobizonAdapter(
        AccountConfig(
            id=None,
            uuid="acc",
            name="x",
            base_url=fake.base_url,
            credentials={"api_key": KEY, "webhook_secret": "a-different-secret"},
            webhook_token=TOKEN,
        )
    )
    with pytest.raises(WebhookAuthError):
        other.verify_webhook(WebhookKind.DELIVERY, request, TOKEN)


def test_failed_webhooks_are_retried_with_the_same_event_id(fake):
    a = make(fake)
    a.send([sms("a")])
    fake.advance(10)
    failing = _Receiver(status=500)
    try:
        fake.fire_webhooks(failing.url)
        fake.fire_webhooks(failing.url)
    finally:
        failing.stop()
    first, second = (json.loads(body) for _, body in failing.received)
    assert (first["attempt"], second["attempt"]) == (1, 2)
    assert first["eventId"] == second["eventId"] and first["sign"] != second["sign"]


@pytest.mark.django_db
def test_request_log_over_real_http_holds_no_key(fake):
    account = ProviderAccountFactory(
        provider="mobizon", base_url=fake.base_url, credentials={"api_key": KEY, "webhook_secret": SECRET}, options={}
    )
    a = adapter_for(account)
    [result] = a.send([sms("a")])
    a.fetch_statuses([result.external_id])
    a.check()
    rows = ProviderRequestLog.objects.filter(account=account)
    assert rows.count() == 3
    for row in rows:
        assert KEY not in json.dumps([row.url, row.request_headers, row.request_body, row.response_body, row.error])
        assert row.status_code == 200 and row.duration_ms >= 0
