"""Mobizon adapter against request/answer pairs built from its document (seeds/003_…) and protocol-notes §3."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests
from django.utils import timezone

from providers.adapters.base import Feature, WebhookKind
from providers.adapters.exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderNotSupported,
    ProviderResponseError,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnparseableResponse,
    WebhookAuthError,
    WebhookError,
)
from providers.adapters.mobizon import MobizonAdapter, normalize_domain, webhook_signature
from providers.adapters.registry import adapter_for, get_adapter_class
from providers.adapters.types import AccountConfig, MessageStatus, OutboundSMS, WebhookRequest
from providers.models import ProviderRequestLog
from tests.factories import ProviderAccountFactory

KEY = "K" * 40  # the document's placeholder key
HOST = "https://api.mobizon.gmbh"
PAYLOADS = Path(__file__).parent / "payloads" / "mobizon"
WEBHOOK_SECRET = "secret123"
TOKEN = "per-account-webhook-token"


def payload(name):
    return json.loads((PAYLOADS / name).read_text())


def config(**kw):
    options = kw.pop("options", {"domain": "api.mobizon.gmbh"})
    credentials = kw.pop("credentials", {"api_key": KEY, "webhook_secret": WEBHOOK_SECRET})
    return AccountConfig(
        id=None,
        uuid="acc-mobizon",
        name="Mobizon",
        base_url=kw.pop("base_url", ""),
        credentials=credentials,
        options=options,
        webhook_token=TOKEN,
        **kw,
    )


def adapter(**kw):
    return MobizonAdapter(config(**kw))


def sms(ref="ref-1", to="+496987005000", text="Test sms message", sender="YourAlpha", **kw):
    return OutboundSMS(to=to, text=text, sender=sender, client_ref=ref, **kw)


def add(rsps, method, body, *, host=HOST, module="message", status=200, **kw):
    if isinstance(body, Exception | str | bytes):
        kw["body"] = body
    else:
        kw["json"] = body
    return rsps.post(f"{host}/service/{module}/{method}", status=status, **kw)


def body_pairs(call):
    """The form body as ordered (key, value) pairs; also checks the transport encoding."""
    assert call.request.method == "POST"
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return parse_qsl(call.request.body or "", keep_blank_values=True)


def query(call):
    return parse_qsl(urlsplit(call.request.url).query)


# ---------------------------------------------------------------------------------------------- metadata
def test_registered_and_described():
    assert get_adapter_class("mobizon") is MobizonAdapter
    secrets = {f.name: f.secret for f in MobizonAdapter.credential_fields}
    assert secrets == {"api_key": True, "webhook_secret": True}
    assert {f.name for f in MobizonAdapter.option_fields} >= {"domain", "validity_minutes", "timezone"}
    assert MobizonAdapter.max_batch_size == 1  # no bulk call in the document
    assert MobizonAdapter.status_batch_size == 100
    assert Feature.RECONCILE in MobizonAdapter.features and Feature.DELIVERY_WEBHOOK in MobizonAdapter.features
    assert Feature.CANCEL not in MobizonAdapter.features  # nothing in the document cancels a message
    assert Feature.CONTACTS_SYNC not in MobizonAdapter.features


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NEW", MessageStatus.QUEUED),
        ("ENQUEUD", MessageStatus.QUEUED),
        ("ACCEPTD", MessageStatus.SENT),
        ("PDLIVRD", MessageStatus.SENT),
        ("DELIVRD", MessageStatus.DELIVERED),
        ("UNDELIV", MessageStatus.UNDELIVERED),
        ("REJECTD", MessageStatus.REJECTED),
        ("EXPIRED", MessageStatus.EXPIRED),
        ("DELETED", MessageStatus.FAILED),
        ("SOMETHING_NEW", MessageStatus.UNKNOWN),
    ],
)
def test_status_map_covers_every_documented_status(raw, expected):
    assert adapter().map_status(raw) == expected


def test_sync_is_not_offered():
    a = adapter()
    with pytest.raises(ProviderNotSupported):
        a.pull_contacts()
    with pytest.raises(ProviderNotSupported):
        a.pull_blocklist()
    with pytest.raises(ProviderNotSupported):
        a.push_group(None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("api.mobizon.kz", "api.mobizon.kz"),
        ("mobizon.kz", "api.mobizon.kz"),
        ("https://api.mobizon.com.br/", "api.mobizon.com.br"),
        ("API.Mobizon.UA", "api.mobizon.ua"),
        ("127.0.0.1:8080", "127.0.0.1:8080"),
    ],
)
def test_domain_normalization(value, expected):
    assert normalize_domain(value) == expected


def test_domain_option_builds_the_base_url():
    assert adapter(options={"domain": "mobizon.kz"}).base_url == "https://api.mobizon.kz"
    assert adapter(base_url="http://127.0.0.1:9999/service/").base_url == "http://127.0.0.1:9999"


def test_no_domain_is_a_configuration_error_without_any_call(mocked_responses):
    a = adapter(options={})
    with pytest.raises(ProviderAuthError, match="no API domain"):
        a.send([sms()])
    assert len(mocked_responses.calls) == 0


# ---------------------------------------------------------------------------------------------- requests
def test_send_request_is_the_documented_one(mocked_responses):
    add(mocked_responses, "sendSmsMessage", payload("send_sms_message.json"))
    adapter().send([sms()])
    call = mocked_responses.calls[0]
    # the document's curl: POST …/service/message/sendSmsMessage?output=json&api=v1&apiKey=…
    assert call.request.url.split("?")[0] == f"{HOST}/service/message/sendSmsMessage"
    assert query(call) == [("output", "json"), ("api", "v1"), ("apiKey", KEY)]
    assert call.request.headers["Cache-Control"] == "no-cache"
    # the document's body, with the mangled "¶ms%5B" read as "&params%5B"
    assert call.request.body == (
        "recipient=496987005000&text=Test+sms+message&from=YourAlpha&params%5Bvalidity%5D=1440"
    )


def test_send_request_with_every_param(mocked_responses, settings):
    add(mocked_responses, "sendSmsMessage", payload("send_sms_message.json"))
    send_at = timezone.now().replace(microsecond=0) + timedelta(hours=3)
    a = adapter(options={"domain": "api.mobizon.gmbh", "timezone": "Asia/Almaty", "validity_minutes": "60"})
    a.send([sms(text="Hej & välkommen +50%?", send_at=send_at, extra={"campaign_name": "Spring", "mclass": 0})])
    fields = body_pairs(mocked_responses.calls[0])
    local = send_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Almaty"))
    assert fields == [
        ("recipient", "496987005000"),
        ("text", "Hej & välkommen +50%?"),
        ("from", "YourAlpha"),
        ("params[name]", "Spring"),
        ("params[deferredToTs]", local.strftime("%Y-%m-%d %H:%M:%S")),
        ("params[mclass]", "0"),
        ("params[validity]", "60"),
    ]
    assert "params%5BdeferredToTs%5D=" in mocked_responses.calls[0].request.body  # PHP array key, encoded


def test_send_without_sender_leaves_from_out(mocked_responses):
    add(mocked_responses, "sendSmsMessage", payload("send_sms_message.json"))
    adapter().send([sms(sender="")])
    assert "from" not in dict(body_pairs(mocked_responses.calls[0]))


def test_status_request_uses_php_array_keys(mocked_responses):
    add(mocked_responses, "getSMSStatus", payload("get_sms_status.json"))
    adapter().fetch_statuses(["123", "556", "988"])
    call = mocked_responses.calls[0]
    assert call.request.url.split("?")[0] == f"{HOST}/service/message/getSMSStatus"
    assert query(call) == [("output", "json"), ("api", "v1"), ("apiKey", KEY)]
    assert call.request.body == "ids%5B0%5D=123&ids%5B1%5D=556&ids%5B2%5D=988"  # the document's curl body


def test_status_batches_split_at_100(mocked_responses):
    for _ in range(3):
        add(mocked_responses, "getSMSStatus", {"code": 0, "data": [], "message": ""})
    ids = [str(1000 + i) for i in range(250)]
    adapter().fetch_statuses(ids)
    bodies = [parse_qs(c.request.body) for c in mocked_responses.calls]
    assert [len(b) for b in bodies] == [100, 100, 50]
    assert bodies[0]["ids[0]"] == ["1000"] and bodies[0]["ids[99]"] == ["1099"]
    assert bodies[1]["ids[0]"] == ["1100"] and bodies[2]["ids[49]"] == ["1249"]


def test_check_calls_get_own_balance(mocked_responses):
    add(mocked_responses, "getOwnBalance", payload("get_own_balance.json"), module="user")
    result = adapter().check()
    assert mocked_responses.calls[0].request.url.split("?")[0] == f"{HOST}/service/user/getOwnBalance"
    assert result.ok and result.balance == Decimal("12.3400") and result.currency == "EUR"
    assert "api.mobizon.gmbh" in result.detail


def test_check_falls_back_to_a_list_when_balance_is_not_open(mocked_responses):
    add(mocked_responses, "getOwnBalance", {"code": 9, "data": [], "message": "No access"}, module="user")
    add(mocked_responses, "list", {"code": 0, "data": {"items": [], "totalItemCount": 0}, "message": ""})
    result = adapter().check()
    assert result.ok and result.balance is None
    assert dict(body_pairs(mocked_responses.calls[1]))["pagination[pageSize]"] == "25"


def test_check_with_a_wrong_key_raises(mocked_responses):
    add(mocked_responses, "getOwnBalance", {"code": 8, "data": [], "message": "Login error"}, module="user")
    with pytest.raises(ProviderAuthError) as exc:
        adapter().check()
    assert exc.value.code == "8" and exc.value.provider_message == "Login error"


# ---------------------------------------------------------------------------------------------- answers
@pytest.mark.parametrize(
    ("name", "external_id", "raw_status"),
    [("send_sms_message.json", "169275418", 2), ("send_sms_message_moderation.json", "169275419", 1)],
)
def test_send_success_answers(mocked_responses, name, external_id, raw_status):
    add(mocked_responses, "sendSmsMessage", payload(name))
    [result] = adapter().send([sms()])
    assert result.status == MessageStatus.QUEUED  # awaiting moderation or sent: both not yet on the network
    assert result.external_id == external_id
    assert result.segments == 1
    assert result.raw["status"] == raw_status


def test_send_accepted_without_an_id_is_unknown(mocked_responses):
    add(mocked_responses, "sendSmsMessage", payload("send_sms_message_no_id.json"))
    [result] = adapter().send([sms()])
    assert result.status == MessageStatus.UNKNOWN and result.external_id == ""
    assert result.error_message == "Message was not accepted"


def test_send_is_one_call_per_message(mocked_responses):
    add(mocked_responses, "sendSmsMessage", payload("send_sms_message.json"))
    add(mocked_responses, "sendSmsMessage", payload("send_sms_message_moderation.json"))
    results = adapter().send([sms("a"), sms("b", to="+496987005001")])
    assert [r.external_id for r in results] == ["169275418", "169275419"]
    assert len(mocked_responses.calls) == 2


def test_status_answer_is_parsed_and_unknown_ids_left_out(mocked_responses):
    add(mocked_responses, "getSMSStatus", payload("get_sms_status.json"))
    reports = adapter().fetch_statuses(["123", "556", "988"])
    assert [(r.external_id, r.status, r.raw_status, r.segments) for r in reports] == [
        ("123", MessageStatus.DELIVERED, "DELIVRD", 2),
        ("556", MessageStatus.QUEUED, "ENQUEUD", 1),
    ]
    assert reports[0].occurred_at == datetime(2024, 3, 1, 10, 0, 9, tzinfo=UTC)
    assert reports[1].occurred_at is None  # NULL before sending


def test_status_answer_as_an_object_is_accepted(mocked_responses):
    data = {"0": {"id": 5, "status": "UNDELIV", "segNum": 1, "startSendTs": None, "statusUpdateTs": None}}
    add(mocked_responses, "getSMSStatus", {"code": 0, "data": data, "message": ""})
    [report] = adapter().fetch_statuses(["5"])
    assert report.status == MessageStatus.UNDELIVERED


def test_reported_times_use_the_account_time_zone(mocked_responses):
    add(mocked_responses, "getSMSStatus", payload("get_sms_status.json"))
    a = adapter(options={"domain": "api.mobizon.gmbh", "timezone": "Europe/Kyiv"})
    report = a.fetch_statuses(["123"])[0]
    assert report.occurred_at.utcoffset() == timedelta(hours=2)  # March: EET


# ---------------------------------------------------------------------------------------------- errors
ERROR_CASES = [
    # (code, exception, retryable)
    (1, ProviderResponseError, False),
    (2, ProviderResponseError, False),
    (3, ProviderResponseError, False),
    (4, ProviderResponseError, False),
    (5, ProviderResponseError, False),
    (6, ProviderResponseError, False),
    (8, ProviderAuthError, False),
    (9, ProviderAuthError, False),
    (10, ProviderResponseError, True),
    (11, ProviderResponseError, False),
    (12, ProviderResponseError, False),
    (14, ProviderAuthError, False),
    (15, ProviderResponseError, False),
    (30, ProviderThrottled, True),
    (98, ProviderResponseError, False),
    (99, ProviderResponseError, False),
    (999, ProviderResponseError, True),
]


@pytest.mark.parametrize(("code", "exc_class", "retryable"), ERROR_CASES)
def test_every_documented_code_maps_to_the_error_tree(mocked_responses, code, exc_class, retryable):
    add(mocked_responses, "getSMSStatus", {"code": code, "data": [], "message": f"Mobizon says {code}"})
    with pytest.raises(exc_class) as exc:
        adapter().fetch_statuses(["1"])
    assert type(exc.value) is exc_class or issubclass(type(exc.value), exc_class)
    assert exc.value.code == str(code)
    assert exc.value.provider_message == f"Mobizon says {code}"
    assert exc.value.retryable is retryable
    assert f"Mobizon says {code}" in str(exc.value)


@pytest.mark.parametrize("http_status", [200, 400])
def test_validation_error_on_send_rejects_with_the_fields(mocked_responses, http_status):
    add(mocked_responses, "sendSmsMessage", payload("send_validation_error.json"), status=http_status)
    [result] = adapter().send([sms()])
    assert result.status == MessageStatus.REJECTED
    assert result.error_code == "1"
    assert "recipient: Wrong recipient number format" in result.error_message
    assert "params[validity]: Validity is out of range" in result.error_message


def test_status_errors_two_and_twelve_as_documented(mocked_responses):
    add(mocked_responses, "getSMSStatus", {"code": 2, "data": [], "message": "No ids"})
    with pytest.raises(ProviderResponseError) as exc:
        adapter().fetch_status_batch(["1"])
    assert exc.value.code == "2"


def test_code_30_honours_retry_after(mocked_responses):
    add(
        mocked_responses,
        "sendSmsMessage",
        {"code": 30, "data": [], "message": "Too many"},
        headers={"Retry-After": "3"},
    )
    with pytest.raises(ProviderThrottled) as exc:
        adapter().send([sms()])  # retryable errors raise for the whole call
    assert exc.value.retryable and exc.value.retry_after == 3.0


def test_http_429_is_throttled_with_retry_after(mocked_responses):
    add(mocked_responses, "sendSmsMessage", "slow down", status=429, headers={"Retry-After": "7"})
    with pytest.raises(ProviderThrottled) as exc:
        adapter().send([sms()])
    assert exc.value.retryable and exc.value.retry_after == 7.0


@pytest.mark.parametrize("http_status", [500, 503])
def test_server_errors_are_retryable(mocked_responses, http_status):
    add(mocked_responses, "sendSmsMessage", "<html>oops</html>", status=http_status)
    with pytest.raises(ProviderConnectionError) as exc:
        adapter().send([sms()])
    assert exc.value.retryable


def test_connection_error_is_retryable(mocked_responses):
    add(mocked_responses, "getSMSStatus", requests.ConnectionError("refused"))
    with pytest.raises(ProviderConnectionError) as exc:
        adapter().fetch_statuses(["1"])
    assert exc.value.retryable


def test_unparseable_answer(mocked_responses):
    add(mocked_responses, "getSMSStatus", "<html>maintenance</html>")
    with pytest.raises(ProviderUnparseableResponse):
        adapter().fetch_statuses(["1"])


def test_http_401_is_an_auth_error(mocked_responses):
    add(mocked_responses, "getSMSStatus", {"code": 8, "data": [], "message": "Login error"}, status=401)
    with pytest.raises(ProviderAuthError):
        adapter().fetch_statuses(["1"])


# ---------------------------------------------------------------------------------------------- timeouts
@pytest.mark.parametrize(
    "failure",
    [requests.exceptions.ReadTimeout("read timed out"), requests.exceptions.ChunkedEncodingError("cut")],
)
def test_read_timeout_after_a_send_is_unknown_and_never_resent(mocked_responses, failure):
    add(mocked_responses, "sendSmsMessage", failure)
    [result] = adapter().send([sms()])
    assert result.status == MessageStatus.UNKNOWN and result.error_code == "timeout"
    assert len(mocked_responses.calls) == 1


def test_gateway_timeout_after_a_send_is_unknown(mocked_responses):
    add(mocked_responses, "sendSmsMessage", "Gateway Time-out", status=504)
    [result] = adapter().send([sms()])
    assert result.status == MessageStatus.UNKNOWN
    assert len(mocked_responses.calls) == 1


def test_timeout_on_a_status_call_is_retryable(mocked_responses):
    add(mocked_responses, "getSMSStatus", requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(ProviderTimeout) as exc:
        adapter().fetch_statuses(["1"])
    assert exc.value.retryable and not exc.value.ambiguous


# ---------------------------------------------------------------------------------------------- scheduling & limits
@pytest.mark.parametrize(
    ("ahead", "ok"),
    [
        (timedelta(minutes=30), False),
        (timedelta(minutes=61), False),  # inside the 5-minute safety margin
        (timedelta(hours=2), True),
        (timedelta(days=13, hours=23), True),
        (timedelta(days=14, minutes=1), False),
        (timedelta(days=-1), False),
    ],
)
def test_scheduling_window_is_enforced_before_any_call(mocked_responses, ahead, ok):
    if ok:
        add(mocked_responses, "sendSmsMessage", payload("send_sms_message.json"))
    [result] = adapter().send([sms(send_at=timezone.now() + ahead)])
    if ok:
        assert result.status == MessageStatus.QUEUED
    else:
        assert result.status == MessageStatus.REJECTED and result.error_code == "limit"
        assert "between 1 hour and 14 days" in result.error_message
        assert len(mocked_responses.calls) == 0


@pytest.mark.parametrize(
    ("message", "field_hint"),
    [
        (sms(sender="AlphaTooLong"), "at most 11"),
        (sms(text="   "), "empty"),
        (sms(extra={"validity": 5000}), "1–4320"),
        (sms(extra={"validity": "soon"}), "whole minutes"),
        (sms(extra={"mclass": 7}), "mclass"),
    ],
)
def test_limits_reject_without_a_call(mocked_responses, message, field_hint):
    [result] = adapter().send([message])
    assert result.status == MessageStatus.REJECTED and result.error_code == "limit"
    assert field_hint in result.error_message
    assert len(mocked_responses.calls) == 0


# ---------------------------------------------------------------------------------------------- regional domain
def test_code_13_is_followed_once_and_remembered(mocked_responses):
    add(mocked_responses, "sendSmsMessage", payload("wrong_domain.json"))
    add(mocked_responses, "sendSmsMessage", payload("send_sms_message.json"), host="https://api.mobizon.kz")
    add(mocked_responses, "getSMSStatus", {"code": 0, "data": [], "message": ""}, host="https://api.mobizon.kz")
    a = adapter()
    [result] = a.send([sms()])
    assert result.external_id == "169275418"
    assert a.redirected_domain == "api.mobizon.kz" and a.base_url == "https://api.mobizon.kz"
    a.fetch_statuses(["169275418"])  # straight to the remembered domain
    hosts = [urlsplit(c.request.url).netloc for c in mocked_responses.calls]
    assert hosts == ["api.mobizon.gmbh", "api.mobizon.kz", "api.mobizon.kz"]
    assert mocked_responses.calls[1].request.body == mocked_responses.calls[0].request.body


@pytest.mark.parametrize("data", ["mobizon.kz", "https://api.mobizon.kz/", {"domain": "api.mobizon.kz"}])
def test_code_13_domain_forms_are_understood(mocked_responses, data):
    add(mocked_responses, "getSMSStatus", {"code": 13, "data": data, "message": "wrong server"})
    add(mocked_responses, "getSMSStatus", {"code": 0, "data": [], "message": ""}, host="https://api.mobizon.kz")
    a = adapter()
    a.fetch_statuses(["1"])
    assert a.redirected_domain == "api.mobizon.kz"


def test_code_13_twice_stops_with_a_clear_error(mocked_responses):
    add(mocked_responses, "getSMSStatus", payload("wrong_domain.json"))
    add(
        mocked_responses,
        "getSMSStatus",
        {"code": 13, "data": "api.mobizon.ua", "message": "again"},
        host="https://api.mobizon.kz",
    )
    with pytest.raises(ProviderAuthError, match="another API server") as exc:
        adapter().fetch_statuses(["1"])
    assert exc.value.code == "13"
    assert len(mocked_responses.calls) == 2


def test_code_13_to_a_foreign_host_is_not_followed(mocked_responses):
    add(mocked_responses, "getSMSStatus", {"code": 13, "data": "api.evil.example", "message": "go there"})
    with pytest.raises(ProviderAuthError):
        adapter().fetch_statuses(["1"])
    assert len(mocked_responses.calls) == 1


def test_code_13_on_send_rejects_nothing_and_stops(mocked_responses):
    add(mocked_responses, "sendSmsMessage", {"code": 13, "data": "", "message": "wrong server"})
    with pytest.raises(ProviderAuthError):
        adapter().send([sms()])


# ---------------------------------------------------------------------------------------------- reconcile
def _list_answer(items, total=None):
    return {
        "code": 0,
        "data": {"items": items, "totalItemCount": len(items) if total is None else total},
        "message": "",
    }


def _recent(minutes=2):
    return (timezone.now() - timedelta(minutes=minutes)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _list_payload():
    data = payload("list.json")
    for item in data["data"]["items"]:
        for key in ("startSendTs", "statusUpdateTs"):
            if item[key] == "__RECENT__":
                item[key] = _recent()
    return data


def test_reconcile_request_and_match(mocked_responses):
    add(mocked_responses, "list", _list_payload())
    [found] = adapter().reconcile([sms(sender="Alpha")])
    fields = body_pairs(mocked_responses.calls[0])
    assert fields == [
        ("criteria[to]", "496987005000"),
        ("criteria[text]", "Test sms message"),
        ("criteria[from]", "Alpha"),
        ("pagination[currentPage]", "0"),
        ("pagination[pageSize]", "50"),
        ("sort[id]", "DESC"),
    ]
    assert found.external_id == "169275420"  # the recent one; the 2020 one is outside the window
    assert found.status == MessageStatus.SENT and found.segments == 1 and found.cost == Decimal("0.045")


def test_reconcile_nothing_found_means_safe_to_send(mocked_responses):
    add(mocked_responses, "list", _list_answer([]))
    assert adapter().reconcile([sms()]) == [None]


def test_reconcile_ignores_old_foreign_and_already_issued_messages(mocked_responses):
    items = [
        {
            "id": 9,
            "to": "496987005000",
            "text": "Test sms message",
            "from": "YourAlpha",
            "status": "NEW",
            "startSendTs": None,
        },  # issued to another message by this adapter: excluded
        {"id": 8, "to": "496987005000", "text": "Test sms message (other)", "from": "YourAlpha", "status": "NEW"},
        {"id": 7, "to": "496987005000", "text": "Test sms message", "from": "OtherName", "status": "NEW"},
        {
            "id": 6,
            "to": "496987005000",
            "text": "Test sms message",
            "from": "YourAlpha",
            "status": "DELIVRD",
            "startSendTs": "2001-01-01 00:00:00",
        },
    ]
    add(mocked_responses, "sendSmsMessage", {"code": 0, "data": {"messageId": 9, "campaignId": 1, "status": 2}})
    add(mocked_responses, "list", _list_answer(items))
    a = adapter()
    a.send([sms("first")])
    assert a.reconcile([sms("second")]) == [None]


def test_reconcile_gives_two_identical_messages_two_distinct_items(mocked_responses):
    items = [
        {"id": 12, "to": "496987005000", "text": "Hi", "from": "YourAlpha", "status": "ENQUEUD", "startSendTs": None},
        {
            "id": 11,
            "to": "496987005000",
            "text": "Hi",
            "from": "YourAlpha",
            "status": "ACCEPTD",
            "startSendTs": _recent(),
        },
    ]
    add(mocked_responses, "list", _list_answer(items))
    add(mocked_responses, "list", _list_answer(items))
    first, second = adapter().reconcile([sms("a", text="Hi"), sms("b", text="Hi")])
    assert (first.external_id, second.external_id) == ("12", "11")
    assert (first.status, second.status) == (MessageStatus.QUEUED, MessageStatus.SENT)


def test_reconcile_reads_further_pages_then_gives_up_as_unknown(mocked_responses):
    others = [{"id": 1000 - i, "to": "496987005000", "text": "Test sms message", "from": "Someone"} for i in range(50)]
    for _ in range(4):
        add(mocked_responses, "list", _list_answer(others, total=500))
    [result] = adapter().reconcile([sms()])
    assert result.status == MessageStatus.UNKNOWN and result.error_code == "reconcile_inconclusive"
    pages = [dict(body_pairs(c))["pagination[currentPage]"] for c in mocked_responses.calls]
    assert pages == ["0", "1", "2", "3"]


def test_timeout_then_reconcile_finds_the_message(mocked_responses):
    add(mocked_responses, "sendSmsMessage", requests.exceptions.ReadTimeout("slow"))
    add(
        mocked_responses,
        "list",
        _list_answer(
            [
                {
                    "id": 77,
                    "to": "496987005000",
                    "text": "Test sms message",
                    "from": "YourAlpha",
                    "status": "ENQUEUD",
                    "segNum": 1,
                    "startSendTs": None,
                },
            ]
        ),
    )
    a = adapter()
    message = sms()
    [result] = a.send([message])
    assert result.status == MessageStatus.UNKNOWN
    [held] = a.reconcile([message])
    assert held.external_id == "77" and held.status == MessageStatus.QUEUED
    assert [urlsplit(c.request.url).path for c in mocked_responses.calls] == [
        "/service/message/sendSmsMessage",
        "/service/message/list",
    ]


# ---------------------------------------------------------------------------------------------- webhooks
def webhook(body, content_type="application/json"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WebhookRequest(
        method="POST", path="/providers/mobizon/x/delivery/", headers={"Content-Type": content_type}, query={}, body=raw
    )


def test_webhook_sign_vector():
    # sha1("26|1|2026-01-15 11:42:28|secret123"), the docs' example event with the docs' PHP secret
    assert webhook_signature(26, 1, "2026-01-15 11:42:28", "secret123") == "5cdebbb611d765bad163d765e8637830b6fd4060"


def test_webhook_good_sign_is_accepted_and_parsed():
    a = adapter()
    request = webhook(payload("webhook_delivery.json"))
    a.verify_webhook(WebhookKind.DELIVERY, request, TOKEN)
    [report] = a.parse_webhook(WebhookKind.DELIVERY, request)
    assert report.external_id == "169275418"
    assert report.status == MessageStatus.DELIVERED and report.raw_status == "DELIVRD"
    assert report.to == "+380737893456"
    assert report.segments == 3  # the provider's segNum wins over our estimate
    assert report.event_id == "26"  # for dedupe: retries repeat it
    assert report.occurred_at == datetime(2026, 1, 15, 11, 42, 8, tzinfo=UTC)
    assert report.raw["webhookId"] == 1


def test_webhook_retry_keeps_the_event_id():
    body = payload("webhook_delivery.json")
    body["attempt"] = 2
    body["sign"] = webhook_signature(26, 2, body["eventCreateTs"], WEBHOOK_SECRET)
    a = adapter()
    request = webhook(body)
    a.verify_webhook(WebhookKind.DELIVERY, request, TOKEN)
    assert a.parse_webhook(WebhookKind.DELIVERY, request)[0].event_id == "26"


@pytest.mark.parametrize(
    ("change", "token"),
    [
        ({"sign": "0" * 40}, TOKEN),  # bad sign
        ({"sign": None}, TOKEN),  # missing sign while a secret is set
        ({"attempt": 3}, TOKEN),  # signed fields changed after signing
        ({}, "wrong-token"),  # good sign, wrong URL token
        ({}, ""),
    ],
)
def test_webhook_bad_or_missing_sign_or_token_is_refused(change, token):
    body = payload("webhook_delivery.json")
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    with pytest.raises(WebhookAuthError):
        adapter().verify_webhook(WebhookKind.DELIVERY, webhook(body), token)


def test_webhook_without_a_configured_secret_relies_on_the_token():
    a = adapter(credentials={"api_key": KEY})
    body = payload("webhook_delivery.json")
    body.pop("sign")
    a.verify_webhook(WebhookKind.DELIVERY, webhook(body), TOKEN)
    with pytest.raises(WebhookAuthError):
        a.verify_webhook(WebhookKind.DELIVERY, webhook(body), "nope")


def test_webhook_form_events_are_ignored():
    a = adapter()
    request = webhook(payload("webhook_form_submission.json"))
    a.verify_webhook(WebhookKind.DELIVERY, request, TOKEN)
    assert a.parse_webhook(WebhookKind.DELIVERY, request) == []


def test_webhook_form_encoded_body_is_understood():
    body = payload("webhook_delivery.json")
    pairs = {k: v for k, v in body.items() if k != "data"}
    pairs.update({f"data[{k}]": v for k, v in body["data"].items()})
    raw = "&".join(f"{k}={requests.utils.quote(str(v))}" for k, v in pairs.items()).encode()
    a = adapter()
    request = webhook(raw, "application/x-www-form-urlencoded")
    a.verify_webhook(WebhookKind.DELIVERY, request, TOKEN)
    [report] = a.parse_webhook(WebhookKind.DELIVERY, request)
    assert report.external_id == "169275418" and report.segments == 3


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"<event/>", "application/xml"),
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b'{"eventType": "sms-delivery-report", "data": {"status": "DELIVRD"}}', "application/json"),
    ],
)
def test_malformed_webhooks_are_refused(raw, content_type):
    with pytest.raises(WebhookError):
        adapter(credentials={"api_key": KEY}).parse_webhook(WebhookKind.DELIVERY, webhook(raw, content_type))


# ---------------------------------------------------------------------------------------------- secrets
@pytest.mark.django_db
def test_secrets_never_reach_the_request_log_nor_exceptions(mocked_responses):
    account = ProviderAccountFactory(
        provider="mobizon",
        credentials={"api_key": KEY, "webhook_secret": WEBHOOK_SECRET},
        options={"domain": "api.mobizon.gmbh"},
    )
    add(mocked_responses, "sendSmsMessage", payload("send_sms_message.json"))
    add(mocked_responses, "getSMSStatus", {"code": 8, "data": [], "message": f"Key {KEY} is not valid"})
    a = adapter_for(account)
    a.send([sms()])
    with pytest.raises(ProviderAuthError) as exc:
        a.fetch_statuses(["169275418"])
    assert KEY not in str(exc.value) and KEY not in exc.value.provider_message
    rows = list(ProviderRequestLog.objects.filter(account=account).order_by("id"))
    assert [r.operation for r in rows] == ["send", "status"]
    for row in rows:
        dumped = json.dumps([row.url, row.request_headers, row.request_body, row.response_body, row.error])
        assert KEY not in dumped and WEBHOOK_SECRET not in dumped
        assert "apiKey=***" in row.url
    assert "recipient=496987005000" in rows[0].request_body


# ---------------------------------------------------------------------------------------------- through the view
@pytest.mark.django_db
def test_delivery_webhook_through_the_view(client):
    from django.urls import reverse

    account = ProviderAccountFactory(
        provider="mobizon", credentials={"api_key": KEY, "webhook_secret": WEBHOOK_SECRET}, options={"domain": "x"}
    )
    url = reverse(
        "providers:webhook",
        kwargs={"code": "mobizon", "account_uuid": account.uuid, "kind": "delivery", "token": account.webhook_token},
    )
    good = payload("webhook_delivery.json")
    assert client.post(url, data=json.dumps(good), content_type="application/json").status_code == 200
    bad = {**good, "sign": "f" * 40}
    assert client.post(url, data=json.dumps(bad), content_type="application/json").status_code == 403
    assert client.get(url).status_code == 200  # a reachability check needs no sign
    wrong_token = url.replace(account.webhook_token, "nope")
    assert client.post(wrong_token, data=json.dumps(good), content_type="application/json").status_code == 403
