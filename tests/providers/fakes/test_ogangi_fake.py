"""Ogangi adapter end to end against the local fake server, over real HTTP (signed URLs, XML answers)."""

import json
import time
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from providers.adapters.exceptions import ProviderAuthError, ProviderResponseError
from providers.adapters.ogangi import OgangiAdapter, find_shallow, parse_envelope
from providers.adapters.registry import adapter_for
from providers.adapters.types import AccountConfig, MessageStatus, OutboundSMS
from providers.fakes.ogangi import OgangiFake
from providers.models import ProviderRequestLog
from tests.factories import ProviderAccountFactory

CREDENTIALS = {"instance_id": "7", "user_name": "peter", "public_key": "pub-7f3a9", "private_key": "priv-c0ffee"}


@pytest.fixture
def fake():
    server = OgangiFake(
        instance_id="7",
        user_name="peter",
        public_key="pub-7f3a9",
        private_key="priv-c0ffee",
        shortcodes=("434", "0000000"),
        fail_numbers={"584140000404"},
    ).start()
    yield server
    server.stop()


def make(fake, *, credentials=None, timeout=(2.0, 5.0), **options):
    cfg = AccountConfig(
        id=None,
        uuid="acc",
        name="Ogangi fake",
        base_url=fake.api_base,
        credentials=credentials or CREDENTIALS,
        options=options,
    )
    return OgangiAdapter(cfg, timeout=timeout)


def sms(ref, to="+584141234567", text="Hola desde el fake", sender="434", **kw):
    return OutboundSMS(to=to, text=text, sender=sender, client_ref=ref, **kw)


def test_check_lists_the_instance_shortcodes(fake):
    result = make(fake, default_shortcode="434").check()
    assert result.ok and "434, 0000000" in result.detail


def test_wrong_keys_are_refused_with_bad_signature(fake):
    a = make(fake, credentials={**CREDENTIALS, "private_key": "not-the-key"})
    with pytest.raises(ProviderAuthError) as exc:
        a.check()
    assert exc.value.code == "BAD_SIGNATURE"
    with pytest.raises(ProviderAuthError):
        a.send([sms("a")])
    with pytest.raises(ProviderAuthError):
        make(fake, credentials={**CREDENTIALS, "public_key": "other"}).check()


def test_bulk_send_progresses_to_sent(fake):
    a = make(fake)
    results = a.send([sms(str(i), to=f"+58414000000{i}") for i in range(3)])
    assert {r.status for r in results} == {MessageStatus.QUEUED}
    assert len({r.external_id.split(":")[0] for r in results}) == 1  # one broadcast
    assert len(fake.calls("createBroadcastFromJson")) == 1
    fake.advance(10)
    reports = a.fetch_statuses([r.external_id for r in results])
    assert {r.status for r in reports} == {MessageStatus.SENT}
    assert len(fake.calls("getBroadcast")) == 1


def test_one_recipient_broadcasts_give_exact_results(fake):
    a = make(fake, batch_size="1")
    ok, bad = a.send([sms("a", to="+584140000001"), sms("b", to="+584140000404")])
    assert ok.external_id.split(":")[0] != bad.external_id.split(":")[0]
    fake.advance(10)
    reports = {r.external_id: r.status for r in a.fetch_statuses([ok.external_id, bad.external_id])}
    assert reports == {ok.external_id: MessageStatus.SENT, bad.external_id: MessageStatus.FAILED}


def test_a_partly_sent_broadcast_is_unknown_per_message(fake):
    a = make(fake)
    results = a.send([sms("a", to="+584140000001"), sms("b", to="+584140000404")])
    fake.advance(10)
    reports = a.fetch_statuses([r.external_id for r in results])
    assert {r.status for r in reports} == {MessageStatus.UNKNOWN}
    assert "sent 1 of 2" in reports[0].error_message


def test_scheduled_broadcast_waits_then_sends(fake):
    a = make(fake)
    [result] = a.send([sms("a", send_at=timezone.now() + timedelta(hours=1))])
    assert result.raw["broadcast"]["statusDescription"] == "SCHEDULED"
    fake.advance(60)
    assert a.fetch_statuses([result.external_id])[0].status == MessageStatus.QUEUED
    fake.advance(3700)
    assert a.fetch_statuses([result.external_id])[0].status == MessageStatus.SENT


def test_pause_holds_the_broadcast_and_resume_finishes_it(fake):
    a = make(fake)
    fake.messages_per_second = 1.0
    results = a.send([sms(str(i), to=f"+58414000000{i}") for i in range(5)])
    ids = [r.external_id for r in results]
    fake.advance(1.5)
    assert all(r.cancelled for r in a.pause_remote(ids[:1]))
    fake.advance(60)
    [report, *_] = a.fetch_statuses(ids)
    assert report.raw_status == "3" and report.status == MessageStatus.QUEUED
    assert int(report.raw["sentMessages"]) < 5
    [again] = a.pause_remote(ids[:1])  # not in progress any more: the provider says so
    assert not again.cancelled
    assert all(r.cancelled for r in a.resume_remote(ids[:1]))
    fake.advance(60)
    assert {r.status for r in a.fetch_statuses(ids)} == {MessageStatus.SENT}


def test_cancel_running_scheduled_and_finished_broadcasts(fake):
    a = make(fake)
    fake.messages_per_second = 1.0
    running = a.send([sms(str(i), to=f"+58414000000{i}") for i in range(5)])
    scheduled = a.send([sms("s", text="Later", send_at=timezone.now() + timedelta(days=1))])
    finished = a.send([sms("f", text="Quick")])
    fake.advance(2.5)  # the running broadcast has sent 2 of 5; the one-message broadcast is done
    results = a.cancel([running[0].external_id, running[1].external_id])
    # stopped, but 2 of 5 had gone out and Ogangi does not say which: nothing is claimed cancelled
    assert not any(r.cancelled for r in results) and "stopped after 2 of 5" in results[0].detail
    fake.advance(30)
    [report] = a.fetch_statuses([running[0].external_id])
    assert report.raw_status == "4" and report.raw["sentMessages"] == "2"  # it did stop
    assert report.status == MessageStatus.UNKNOWN
    [s_result] = a.cancel([scheduled[0].external_id])
    assert s_result.cancelled and "deleted" in s_result.detail
    with pytest.raises(ProviderResponseError):
        a.fetch_statuses([scheduled[0].external_id])  # gone
    [f_result] = a.cancel([finished[0].external_id])
    assert not f_result.cancelled and "already finished" in f_result.detail


def test_an_unknown_shortcode_is_rejected_by_the_provider(fake):
    [result] = make(fake).send([sms("a", sender="999")])
    assert result.status == MessageStatus.REJECTED and result.error_code == "ERROR"
    assert "Invalid shortcode" in result.error_message


def test_cancel_before_anything_was_sent_is_exact(fake):
    a = make(fake)
    fake.messages_per_second = 0.0001
    results = a.send([sms(str(i), to=f"+58414000000{i}") for i in range(3)])
    assert all(r.cancelled for r in a.cancel([r.external_id for r in results]))
    assert {r.status for r in a.fetch_statuses([r.external_id for r in results])} == {MessageStatus.CANCELLED}


def test_bare_fragments_are_understood_too():
    server = OgangiFake(public_key="pub-7f3a9", private_key="priv-c0ffee", wrap_root=False).start()
    try:
        a = make(server)
        [result] = a.send([sms("a")])
        server.advance(5)
        assert a.fetch_statuses([result.external_id])[0].status == MessageStatus.SENT
    finally:
        server.stop()


def test_timeout_after_send_is_unknown_and_not_resent(fake):
    fake.latency = 0.6
    results = make(fake, timeout=(2.0, 0.2)).send([sms("a"), sms("b", to="+584140000002")])
    assert {r.status for r in results} == {MessageStatus.UNKNOWN}
    deadline = time.monotonic() + 5
    while not fake.broadcasts and time.monotonic() < deadline:  # the fake finishes the slow request on its own
        time.sleep(0.05)
    assert len(fake.broadcasts) == 1  # Ogangi did create it: resending would have sent twice
    assert len(fake.calls("createBroadcastFromJson")) == 1


def test_fake_serves_the_documented_send_by_file(fake):
    a = make(fake)
    url, _signature = a.signed_url("tools/sendSMSByFile", ["7"])
    csv_file = "18133210984,19893653744,carrierName,OGANGI TEST MESSAGE\n584140000404,434,c,Hola\n"
    response = requests.post(url, files={"file": ("list.csv", csv_file)}, timeout=5)
    status, _, root = parse_envelope(response.content)
    assert status == "OK" and find_shallow(root, "input").text == "sendSMS"
    statuses = [m.findtext("status") for m in root.iter("message")]
    assert statuses == ["SENT_TO_CARRIER", "BAD_TO"]
    assert [a.map_status(s) for s in statuses] == [MessageStatus.SENT, MessageStatus.REJECTED]


def test_unknown_method_is_an_empty_404(fake):
    response = requests.get(f"{fake.api_base}/rest/api/noSuchMethod/7/x/y", timeout=5)
    assert response.status_code == 404 and response.content == b""


@pytest.mark.django_db
def test_request_log_over_real_http_holds_no_key_or_signature(fake):
    account = ProviderAccountFactory(provider="ogangi", base_url=fake.api_base, credentials=CREDENTIALS, options={})
    a = adapter_for(account)
    [result] = a.send([sms("a")])
    a.fetch_statuses([result.external_id])
    a.check()
    signatures = [r.path.rsplit("/", 1)[1] for r in fake.requests]
    rows = ProviderRequestLog.objects.filter(account=account)
    assert rows.count() == 3
    for row in rows:
        dumped = json.dumps([row.url, row.request_headers, row.request_body, row.response_body, row.error])
        assert "pub-7f3a9" not in dumped and "priv-c0ffee" not in dumped
        assert all(sig not in dumped for sig in signatures)
        assert row.url.endswith("/***/***") and row.status_code == 200
