"""Apifon adapter against request/answer pairs from its document (seeds/004_…) and protocol-notes §1."""

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
from django.utils import timezone

from providers.adapters import apifon
from providers.adapters.apifon import (
    IM_STATUSES,
    SMS_STATUSES,
    ApifonAdapter,
    destination_id,
    hmac_signature,
    signed_path,
    split_external_id,
)
from providers.adapters.base import Feature, WebhookKind
from providers.adapters.exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderNotSupported,
    ProviderResponseError,
    ProviderThrottled,
    ProviderTimeout,
    ProviderValidationError,
    WebhookAuthError,
    WebhookError,
)
from providers.adapters.registry import adapter_for
from providers.adapters.types import (
    AccountConfig,
    MessageStatus,
    OutboundSMS,
    SyncBlockEntry,
    SyncContact,
    SyncGroup,
    WebhookRequest,
    replace,
)
from providers.models import ProviderRequestLog
from tests.factories import ProviderAccountFactory

API = "https://ars.apifon.com/services/api/v1"
IDS = "https://ids.apifon.com"
TOKEN = "5b5a6ca0deb4bdba5bab"
SECRET = "s3cr3t-key"
CLIENT_ID = "client-42"
CLIENT_SECRET = "client-Secret/+42"
BEARER = "9c529aed-7d0e-3985-a20f-cd6d454268f8"
DATE = "Thu, 29 Sep 2016 12:18:56 GMT"
HOOK_TOKEN = "hook-token-0123456789"
PAYLOADS = Path(__file__).parent / "payloads" / "apifon"
CONFIG = AccountConfig(
    id=None,
    uuid="6f1c2a7e-0000-4000-8000-00000000a1f0",
    name="Apifon",
    base_url="",
    credentials={"api_token": TOKEN, "secret_key": SECRET, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    options={"callback_base_url": "https://sms.example.com"},
    default_sender="Shop",
    webhook_token=HOOK_TOKEN,
)
REF1, REF2, REF3 = "a" * 32, "b" * 32, "c" * 32
FUTURE = datetime(2099, 5, 31, 12, 18, 52, tzinfo=UTC)


def payload(name):
    return json.loads((PAYLOADS / name).read_text())


def raw(name):
    return (PAYLOADS / name).read_text()


def adapter(**options):
    return ApifonAdapter(replace(CONFIG, options={**CONFIG.options, **options}))


def oauth_adapter(**options):
    return adapter(auth_mode="oauth", **options)


def sms(ref=REF1, to="+306999999999", text="Hello There!", sender="Apifon", **kw):
    return OutboundSMS(to=to, text=text, sender=sender, client_ref=ref, **kw)


def body_of(call):
    return json.loads(call.request.body)


def send_answer(numbers_refs, request_id="eff655d8-0cb6-47b3-8828-96e1b80b55af"):
    return {
        "request_id": request_id,
        "reference": numbers_refs[0][1],
        "results": {
            number: [{"message_id": f"msg-{ref[:4]}", "custom_id": ref, "length": 12}] for number, ref in numbers_refs
        },
        "result_info": {"status_code": 200, "description": "OK"},
    }


def assert_hmac(call, method, path):
    """The exact Apifon HMAC headers of a recorded call (protocol-notes §1.1)."""
    headers = call.request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["X-ApifonWS-Date"] == DATE
    body = call.request.body or b""
    expected = hmac_signature(SECRET, method, path, body, DATE)
    assert headers["Authorization"] == f"ApifonWS {TOKEN}:{expected}"


@pytest.fixture(autouse=True)
def _fixed_date(monkeypatch):
    monkeypatch.setattr(apifon, "formatdate", lambda usegmt: DATE)


@pytest.fixture(autouse=True)
def _fresh_tokens():
    apifon.clear_token_cache()
    yield
    apifon.clear_token_cache()


# ====================================================================== HMAC vectors
class TestHmac:
    # Expected signatures computed independently with openssl:
    #   printf 'POST\n/services/api/v1/sms/send\n<body>\n<date>' \
    #     | openssl dgst -sha256 -hmac s3cr3t-key -binary | base64
    BODY = '{"message":{"text":"Hello There!","sender_id":"Apifon"},"subscribers":[{"number":"306999999999"}]}'

    def test_signature_vector_with_body(self):
        sig = hmac_signature(SECRET, "POST", "/services/api/v1/sms/send", self.BODY.encode(), DATE)
        assert sig == "jFy3Yq8yk9tFKv3MBiFI7C1lyvnYAjA27Zi5qRLJdr8="
        assert len(sig) == 44  # 32 bytes: SHA-256, like the document's example signature

    def test_signature_vector_without_body(self):
        assert hmac_signature(SECRET, "post", "/services/api/v1/balance", b"", DATE) == (
            "tuqfSBgPWBMoMMmEFq7RcEJ0ABC8bCYqnvjZ45O+wY0="
        )

    @pytest.mark.parametrize(
        ("sign_query", "path", "expected"),
        [
            (False, "/services/api/v1/bounce/subscriber", "bQuZQcOXMGq/EMzJk6Ik7SeXSpCy5+ukmaGQw9RXbnk="),
            (
                True,
                "/services/api/v1/bounce/subscriber?type=MOBILE&size=50",
                "UUpGEOWHpTgmrlb4qnoCuVujJKU6Ux6POi7hDU04VlU=",
            ),
        ],
    )
    def test_query_string_is_signed_only_when_switched_on(self, sign_query, path, expected):
        url = "https://ars.apifon.com/services/api/v1/bounce/subscriber?type=MOBILE&size=50"
        assert signed_path(url, sign_query=sign_query) == path
        assert hmac_signature(SECRET, "GET", path, b"", DATE) == expected

    def test_get_request_signs_path_without_query_by_default(self, mocked_responses):
        mocked_responses.get(f"{API}/bounce/subscriber", json=payload("bounce_page_2.json"))
        list(adapter().pull_blocklist())
        call = mocked_responses.calls[0]
        assert call.request.url == f"{API}/bounce/subscriber?type=MOBILE&page=1&size=200"
        assert_hmac(call, "GET", "/services/api/v1/bounce/subscriber")

    def test_sign_query_option(self, mocked_responses):
        mocked_responses.get(f"{API}/bounce/subscriber", json=payload("bounce_page_2.json"))
        list(adapter(sign_query="true").pull_blocklist())
        assert_hmac(mocked_responses.calls[0], "GET", "/services/api/v1/bounce/subscriber?type=MOBILE&page=1&size=200")

    def test_date_header_is_rfc1123_gmt(self, monkeypatch):
        monkeypatch.undo()  # the real formatdate
        headers = adapter()._auth_headers("POST", f"{API}/balance", b"")
        parsed = datetime.strptime(headers["X-ApifonWS-Date"], "%a, %d %b %Y %H:%M:%S GMT")
        assert abs(parsed.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=1)

    def test_missing_hmac_credentials(self):
        bad = ApifonAdapter(replace(CONFIG, credentials={"api_token": TOKEN}))
        with pytest.raises(ProviderAuthError, match="secret key"):
            bad.check()


# ====================================================================== describing the adapter
def test_declared_capabilities():
    a = adapter()
    assert a.code == "apifon" and a.default_base_url == "https://ars.apifon.com"
    for feature in (
        Feature.BATCH_PERSONAL,
        Feature.BATCH_SAME_TEXT,
        Feature.SCHEDULED,
        Feature.CANCEL,
        Feature.DELIVERY_WEBHOOK,
        Feature.INBOUND_WEBHOOK,
        Feature.BALANCE,
        Feature.CONTACTS_SYNC,
        Feature.GROUPS_SYNC,
        Feature.BLOCKLIST_SYNC,
        Feature.RECONCILE,
    ):
        assert a.supports(feature)
    assert not a.supports(Feature.STATUS_POLL)  # Apifon has no status lookup: callbacks only
    secrets = {f.name for f in a.credential_fields if f.secret}
    assert secrets == {"secret_key", "client_secret"}
    options = {f.name: f for f in a.option_fields}
    assert dict(options["auth_mode"].choices).keys() == {"hmac", "oauth"}
    assert options["identity_url"].initial == "https://ids.apifon.com"
    assert options["sign_query"].initial == "false"


def test_registered_in_settings():
    from providers.adapters.registry import get_adapter_class

    assert get_adapter_class("apifon") is ApifonAdapter


# ====================================================================== sending: exact requests
class TestSendRequests:
    def test_same_text_is_one_request_with_many_subscribers(self, mocked_responses):
        a = adapter()
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1), ("306999999998", REF2)]))
        results = a.send([sms(REF1), sms(REF2, to="+306999999998")])
        assert len(mocked_responses.calls) == 1
        call = mocked_responses.calls[0]
        assert call.request.method == "POST" and call.request.url == f"{API}/sms/send"
        expected = {
            "subscribers": [
                {"number": "306999999999", "custom_id": REF1},
                {"number": "306999999998", "custom_id": REF2},
            ],
            "reference_id": REF1,
            "message": {"text": "Hello There!", "dc": 0, "sender_id": "Apifon"},
            "callback_url": a.callback_url(WebhookKind.DELIVERY),
        }
        # Serialized once, compactly, and the very same bytes were signed.
        assert call.request.body == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode()
        assert_hmac(call, "POST", "/services/api/v1/sms/send")
        assert [r.status for r in results] == [MessageStatus.QUEUED, MessageStatus.QUEUED]
        assert results[0].external_id == "eff655d8-0cb6-47b3-8828-96e1b80b55af:msg-aaaa"
        assert results[1].external_id == "eff655d8-0cb6-47b3-8828-96e1b80b55af:msg-bbbb"

    def test_callback_url_carries_account_and_token_and_is_https(self):
        url = adapter().callback_url(WebhookKind.DELIVERY)
        assert url.startswith("https://sms.example.com/")
        assert CONFIG.uuid in url and HOOK_TOKEN in url and "/delivery/" in url

    def test_no_callback_url_without_https(self, mocked_responses, settings):
        settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1)]))
        adapter(callback_base_url="").send([sms()])
        assert "callback_url" not in body_of(mocked_responses.calls[0])

    def test_reply_url_only_when_switched_on(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1)]))
        a = adapter(send_reply_url="true")
        a.send([sms()])
        assert body_of(mocked_responses.calls[0])["reply_url"] == a.callback_url(WebhookKind.INBOUND)

    def test_different_texts_use_per_subscriber_params(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1), ("306999999998", REF2)]))
        results = adapter().send(
            [sms(REF1, text="Hi Anna, 20% off"), sms(REF2, to="+306999999998", text="Hi Björn, 20% off")]
        )
        body = body_of(mocked_responses.calls[0])
        assert body["message"] == {"text": "{sms_text}", "dc": 0, "sender_id": "Apifon"}
        assert body["subscribers"] == [
            {"number": "306999999999", "custom_id": REF1, "params": {"sms_text": "Hi Anna, 20% off"}},
            {"number": "306999999998", "custom_id": REF2, "params": {"sms_text": "Hi Björn, 20% off"}},
        ]
        assert all(r.ok for r in results)

    def test_text_with_braces_is_never_read_as_apifon_placeholders(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1)]))
        adapter().send([sms(text="Use code {WINTER} today")])
        body = body_of(mocked_responses.calls[0])
        assert body["message"]["text"] == "{sms_text}"
        assert body["subscribers"][0]["params"] == {"sms_text": "Use code {WINTER} today"}

    def test_ucs2_and_gsm_texts_go_in_separate_requests_with_their_data_coding(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1)], request_id="r1"))
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999998", REF2)], request_id="r2"))
        results = adapter().send([sms(REF1, text="Hello"), sms(REF2, to="+306999999998", text="Γειά σου κόσμε 😀")])
        first, second = (body_of(c) for c in mocked_responses.calls)
        assert first["message"]["dc"] == 0 and second["message"]["dc"] == 2
        assert second["message"]["text"] == "Γειά σου κόσμε 😀"  # sent as UTF-8, not \u-escaped
        assert "Γειά".encode() in mocked_responses.calls[1].request.body
        assert [r.external_id for r in results] == ["r1:msg-aaaa", "r2:msg-bbbb"]

    def test_scheduled_send_and_validity(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1)]))
        adapter().send([sms(send_at=FUTURE, extra={"tte": "86400"})])
        body = body_of(mocked_responses.calls[0])
        assert body["date"] == "2099-05-31T12:18:52"  # UTC, yyyy-MM-dd'T'HH:mm:ss
        assert body["tte"] == "86400"

    def test_send_at_in_another_timezone_is_sent_in_utc(self, mocked_responses):
        from zoneinfo import ZoneInfo

        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1)]))
        local = datetime(2099, 5, 31, 14, 18, 52, tzinfo=ZoneInfo("Europe/Stockholm"))
        adapter().send([sms(send_at=local)])
        assert body_of(mocked_responses.calls[0])["date"] == "2099-05-31T12:18:52"

    def test_the_same_number_twice_is_split_over_two_requests(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1)], request_id="r1"))
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF2)], request_id="r2"))
        results = adapter().send([sms(REF1), sms(REF2)])
        assert len(mocked_responses.calls) == 2
        assert [r.external_id for r in results] == ["r1:msg-aaaa", "r2:msg-bbbb"]

    def test_batches_are_cut_at_max_batch_size(self, mocked_responses, monkeypatch):
        monkeypatch.setattr(ApifonAdapter, "max_batch_size", 2)
        msgs = [sms(f"{i:032x}", to=f"+3069999999{i:02d}") for i in range(5)]
        for chunk in ([0, 1], [2, 3], [4]):
            mocked_responses.post(
                f"{API}/sms/send", json=send_answer([(f"3069999999{i:02d}", f"{i:032x}") for i in chunk])
            )
        results = adapter().send(msgs)
        assert [len(body_of(c)["subscribers"]) for c in mocked_responses.calls] == [2, 2, 1]
        assert all(r.status == MessageStatus.QUEUED for r in results)

    def test_default_sender_of_the_account(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1)]))
        adapter().send([sms(sender="")])
        assert body_of(mocked_responses.calls[0])["message"]["sender_id"] == "Shop"


class TestSendAnswers:
    def test_document_example_answer(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", json=payload("sms_send_response.json"))
        [result] = adapter().send([sms(ref="222", text="Hello John!")])
        assert result.status == MessageStatus.QUEUED
        assert result.external_id == "eff655d8-0cb6-47b3-8828-96e1b80b55af:e2d4424d-7d6a-49c2-b564-99b2b68c74cb"
        assert split_external_id(result.external_id) == (
            "eff655d8-0cb6-47b3-8828-96e1b80b55af",
            "e2d4424d-7d6a-49c2-b564-99b2b68c74cb",
        )
        assert result.segments == 1
        assert result.raw["request_id"] == "eff655d8-0cb6-47b3-8828-96e1b80b55af"
        assert result.raw["details"][0]["landing_pages"]["apifon_lp"]["short_url"] == "https://apfn.eu/123456"

    def test_matching_by_number_when_custom_id_is_not_echoed(self, mocked_responses):
        answer = send_answer([("306999999999", REF1)])
        del answer["results"]["306999999999"][0]["custom_id"]
        mocked_responses.post(f"{API}/sms/send", json=answer)
        [result] = adapter().send([sms()])
        assert result.external_id.endswith(":msg-aaaa")

    def test_several_detail_objects_are_the_parts(self, mocked_responses):
        answer = send_answer([("306999999999", REF1)])
        answer["results"]["306999999999"].append({"message_id": "msg-part2", "custom_id": REF1, "length": 70})
        mocked_responses.post(f"{API}/sms/send", json=answer)
        [result] = adapter().send([sms()])
        assert result.segments == 2 and result.external_id.endswith(":msg-aaaa")

    def test_number_missing_from_the_answer_is_unknown(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1)]))
        results = adapter().send([sms(REF1), sms(REF2, to="+306999999998")])
        assert results[0].status == MessageStatus.QUEUED
        assert results[1].status == MessageStatus.UNKNOWN and results[1].error_code == "no_result"

    def test_unreadable_success_answer_is_unknown_not_rejected(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", body="<html>OK</html>", status=200)
        [result] = adapter().send([sms()])
        assert result.status == MessageStatus.UNKNOWN and result.error_code == "unparseable"


class TestSendLimits:
    @pytest.mark.parametrize(
        ("message", "field"),
        [
            (sms(to="+12345"), "to"),  # fewer than 7 digits
            (sms(to="+1234567890123456"), "to"),  # more than 15 digits
            (sms(sender="TooLongSenderName"), "sender"),  # alphanumeric > 11
            (sms(sender="12345678901234567"), "sender"),  # numeric > 16
            (sms(sender="Åhléns"), "sender"),  # not Latin
            (sms(text="   "), "text"),
            (sms(extra={"tte": "tomorrow"}), "extra.tte"),
        ],
    )
    def test_rejected_before_any_call(self, mocked_responses, message, field):
        [result] = adapter().send([message])
        assert result.status == MessageStatus.REJECTED and result.error_code == "limit"
        assert not mocked_responses.calls
        with pytest.raises(ProviderValidationError) as exc:
            adapter().validate_message(message)
        assert exc.value.field == field

    def test_no_sender_anywhere(self, mocked_responses):
        a = ApifonAdapter(replace(CONFIG, default_sender=""))
        [result] = a.send([sms(sender="")])
        assert result.status == MessageStatus.REJECTED and "sender" in result.error_message

    def test_valid_limits_pass(self):
        a = adapter()
        a.validate_message(sms(sender="Apifon Shop"))  # 11 characters with a space
        a.validate_message(sms(sender="+306999999999"))  # numeric
        a.validate_message(sms(to="+1234567"))
        a.validate_message(sms(extra={"tte": "2099-01-01T00:00:00"}))


# ====================================================================== errors: every documented status code
ERROR_CASES = [
    # (HTTP status, exception, retryable)
    (400, ProviderResponseError, False),
    (401, ProviderAuthError, False),
    (403, ProviderResponseError, False),  # "invalid or illegal values": not an auth problem at Apifon
    (404, ProviderResponseError, False),
    (405, ProviderResponseError, False),
    (408, ProviderConnectionError, True),
    (409, ProviderResponseError, False),
    (415, ProviderResponseError, False),
    (429, ProviderThrottled, True),
    (500, ProviderConnectionError, True),
    (502, ProviderConnectionError, True),
]


class TestErrors:
    @pytest.mark.parametrize(("status", "exc_class", "retryable"), ERROR_CASES)
    def test_status_codes_table(self, mocked_responses, status, exc_class, retryable):
        body = {
            "status": str(status),
            "title": f"Title {status}",
            "error_details": {"field": "why"},
            "error_report_code": "rep-1",
        }
        mocked_responses.post(f"{API}/balance", json=body, status=status)
        with pytest.raises(exc_class) as exc:
            adapter().check()
        err = exc.value
        assert type(err) is exc_class
        assert err.retryable is retryable
        assert err.code == str(status) and err.status_code == status
        assert err.provider_message == f"Title {status} — field: why"
        assert "rep-1" in err.message

    def test_error_without_body_uses_the_documented_meaning(self, mocked_responses):
        mocked_responses.post(f"{API}/balance", body="", status=415)
        with pytest.raises(ProviderResponseError) as exc:
            adapter().check()
        assert "Unsupported Media Type" in exc.value.message

    def test_document_401_example_as_printed(self, mocked_responses):
        mocked_responses.post(f"{API}/balance", body=raw("error_401.txt"), status=401)
        with pytest.raises(ProviderAuthError) as exc:
            adapter().check()
        assert exc.value.provider_message == "Unauthorized"
        assert "31b405aa-c843-562a-b5ca-96e1d4bb81ac" in exc.value.message

    def test_document_400_example_as_printed(self, mocked_responses):
        mocked_responses.get(f"{API}/list", json={"meta": {}, "results": []})
        mocked_responses.post(f"{API}/list", body=raw("error_400.txt"), status=400)
        with pytest.raises(ProviderResponseError) as exc:
            adapter(list_prefix="+30").push_group(SyncGroup(name="New"))
        assert "Request validation Error(s)" in exc.value.provider_message
        assert "campaign_defaults.from: Not a valid email address" in exc.value.provider_message
        assert "280ac334-c207-4196-972f-3bfd1083dd9d" in exc.value.message

    def test_429_keeps_retry_after(self, mocked_responses):
        mocked_responses.post(
            f"{API}/sms/send",
            json={"status": "429", "title": "Too many requests"},
            status=429,
            headers={"Retry-After": "7"},
        )
        with pytest.raises(ProviderThrottled) as exc:
            adapter().send([sms()])
        assert exc.value.retryable and exc.value.retry_after == 7.0

    @pytest.mark.parametrize(
        ("status", "expected"),
        [(400, "400"), (403, "403"), (404, "404"), (409, "409"), (415, "415")],
    )
    def test_rejected_send_keeps_code_and_message(self, mocked_responses, status, expected):
        mocked_responses.post(
            f"{API}/sms/send",
            json={
                "status": str(status),
                "title": "Request validation Error(s)",
                "error_details": {"subscribers[0].number": "Not a valid MSISDN"},
            },
            status=status,
        )
        results = adapter().send([sms(REF1), sms(REF2, to="+306999999998")])
        assert [r.status for r in results] == [MessageStatus.REJECTED] * 2
        assert results[0].error_code == expected
        assert "subscribers[0].number: Not a valid MSISDN" in results[0].error_message

    def test_error_inside_result_info_of_a_200(self, mocked_responses):
        mocked_responses.post(
            f"{API}/sms/send",
            json={
                "request_id": "r",
                "results": {},
                "result_info": {"status_code": "403", "description": "Invalid sender"},
            },
        )
        [result] = adapter().send([sms()])
        assert result.status == MessageStatus.REJECTED
        assert result.error_code == "403" and result.error_message == "Invalid sender"

    def test_auth_error_on_send_raises_for_the_whole_call(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", body=raw("error_401.txt"), status=401)
        with pytest.raises(ProviderAuthError):
            adapter().send([sms()])

    @pytest.mark.parametrize("status", [500, 503])
    def test_5xx_on_send_is_retryable(self, mocked_responses, status):
        mocked_responses.post(
            f"{API}/sms/send", json={"status": str(status), "title": "Internal Server Error"}, status=status
        )
        with pytest.raises(ProviderConnectionError) as exc:
            adapter().send([sms()])
        assert exc.value.retryable

    def test_connection_error_is_retryable(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", body=requests.exceptions.ConnectionError("refused"))
        with pytest.raises(ProviderConnectionError) as exc:
            adapter().send([sms()])
        assert exc.value.retryable and not isinstance(exc.value, ProviderTimeout)

    def test_408_on_send_is_ambiguous(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", json={"status": "408", "title": "Request timed out"}, status=408)
        [result] = adapter().send([sms()])
        assert result.status == MessageStatus.UNKNOWN and result.error_code == "timeout"
        assert len(mocked_responses.calls) == 1

    def test_secrets_never_in_exception_messages(self, mocked_responses):
        echo = {
            "status": "400",
            "title": f"Bad header ApifonWS {TOKEN}:sig with key {SECRET}",
            "error_details": {"client_secret": CLIENT_SECRET},
        }
        mocked_responses.post(f"{API}/balance", json=echo, status=400)
        with pytest.raises(ProviderResponseError) as exc:
            adapter().check()
        text = f"{exc.value} {exc.value.message} {exc.value.provider_message}"
        assert SECRET not in text and CLIENT_SECRET not in text


# ====================================================================== ambiguous timeouts and reconcile
class TestTimeoutAndReconcile:
    def test_read_timeout_after_send_is_unknown_and_never_resent(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", body=requests.exceptions.ReadTimeout("slow"))
        results = adapter().send([sms(REF1), sms(REF2, to="+306999999998")])
        assert [r.status for r in results] == [MessageStatus.UNKNOWN] * 2
        assert results[0].error_code == "timeout"
        assert len(mocked_responses.calls) == 1

    def test_connect_timeout_is_a_plain_retryable_error(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", body=requests.exceptions.ConnectTimeout("no route"))
        with pytest.raises(ProviderTimeout) as exc:
            adapter().send([sms()])
        assert exc.value.retryable and not exc.value.ambiguous

    def test_reconcile_immediate_sends_is_not_possible(self, mocked_responses):
        with pytest.raises(ProviderNotSupported, match="callbacks"):
            adapter().reconcile([sms(REF1), sms(REF2, to="+306999999998")])
        assert not mocked_responses.calls

    def test_reconcile_scheduled_batch_removes_it_by_reference(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/remove", body="2")
        msgs = [sms(REF1, send_at=FUTURE), sms(REF2, to="+306999999998", send_at=FUTURE)]
        assert adapter().reconcile(msgs) == [None, None]
        [call] = mocked_responses.calls
        assert body_of(call) == {"id": REF1, "field": "REFERENCE_ID"}  # the batch anchor = reference_id
        assert_hmac(call, "POST", "/services/api/v1/sms/remove")

    def test_reconcile_when_apifon_never_got_it(self, mocked_responses):
        for _ in range(2):
            mocked_responses.post(f"{API}/sms/remove", body="0")
        msgs = [sms(REF1, send_at=FUTURE), sms(REF2, to="+306999999998", send_at=FUTURE)]
        assert adapter().reconcile(msgs) == [None, None]
        assert [body_of(c)["id"] for c in mocked_responses.calls] == [REF1, REF2]  # every possible anchor tried

    def test_reconcile_refuses_a_scheduled_time_too_close(self, mocked_responses):
        soon = timezone.now() + timedelta(seconds=30)
        with pytest.raises(ProviderNotSupported):
            adapter().reconcile([sms(send_at=soon)])

    def test_reference_id_of_a_send_is_what_reconcile_removes(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", body=requests.exceptions.ReadTimeout("slow"))
        mocked_responses.post(f"{API}/sms/remove", body="2")
        a = adapter()
        msgs = [sms(REF1, send_at=FUTURE), sms(REF2, to="+306999999998", send_at=FUTURE)]
        assert {r.status for r in a.send(msgs)} == {MessageStatus.UNKNOWN}
        assert a.reconcile(msgs) == [None, None]
        send_call, remove_call = mocked_responses.calls
        assert body_of(send_call)["reference_id"] == body_of(remove_call)["id"]
        assert [s["custom_id"] for s in body_of(send_call)["subscribers"]] == [REF1, REF2]


# ====================================================================== cancel and balance
class TestCancelAndBalance:
    def test_cancel_removes_by_request_id(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/remove", body="4")
        request_id = "adbfbe48-82e7-49d5-af1a-e5b284cf5bf3"
        results = adapter().cancel([f"{request_id}:m1", f"{request_id}:m2"])
        [call] = mocked_responses.calls
        assert body_of(call) == {"id": "adbfbe48-82e7-49d5-af1a-e5b284cf5bf3", "field": "REQUEST_ID"}
        assert all(r.cancelled for r in results)
        assert "4" in results[0].detail

    def test_cancel_after_sending(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/remove", body="0")
        [result] = adapter().cancel(["req:m1"])
        assert not result.cancelled and "already sent" in result.detail

    def test_cancel_without_request_id(self, mocked_responses):
        [result] = adapter().cancel(["m1"])
        assert not result.cancelled and not mocked_responses.calls

    def test_balance(self, mocked_responses):
        mocked_responses.post(f"{API}/balance", json=payload("balance.json"))
        check = adapter().check()
        [call] = mocked_responses.calls
        assert call.request.body is None  # "No request body is supplied for the balance service."
        assert_hmac(call, "POST", "/services/api/v1/balance")
        assert check.ok and check.balance == Decimal("9864.0") and check.currency == "EUR"
        assert "subscription Apifon: 300.0 of 300.0" in check.detail

    def test_balance_currency_option_and_callback_warning(self, mocked_responses, settings):
        settings.PUBLIC_BASE_URL = "http://localhost:8000"
        mocked_responses.post(f"{API}/balance", json=payload("balance.json"))
        check = adapter(balance_currency="USD", callback_base_url="").check()
        assert check.currency == "USD" and "no https callback URL" in check.detail


# ====================================================================== callbacks
def hook(body, kind=WebhookKind.DELIVERY):
    data = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    headers = {"Content-Type": "application/json"}
    return WebhookRequest(method="POST", path=f"/providers/apifon/x/{kind}/", headers=headers, query={}, body=data)


class TestCallbacks:
    def test_document_sms_delivery_callback(self):
        [report] = adapter().parse_webhook(WebhookKind.DELIVERY, hook(payload("callback_sms.json")))
        assert report.external_id == "eff655d8-0cb6-47b3-8828-96e1b80b55af:e2d4424d-7d6a-49c2-b564-99b2b68c74cb"
        assert report.status == MessageStatus.DELIVERED and report.raw_status == "delivered"
        assert report.client_ref == "312312412" and report.to == "+306999999999"
        assert report.occurred_at == datetime.fromtimestamp(1517922078, tz=UTC)
        assert report.cost == Decimal("0.002")
        assert report.error_code == "" and report.error_message == ""
        assert report.event_id == "eff655d8-0cb6-47b3-8828-96e1b80b55af:e2d4424d-7d6a-49c2-b564-99b2b68c74cb:7"
        assert report.raw["data"]["mccmnc"] == "20210" and report.raw["account_id"] == 5411

    def test_callback_matches_the_send_answer(self, mocked_responses):
        mocked_responses.post(f"{API}/sms/send", json=payload("sms_send_response.json"))
        [result] = adapter().send([sms(ref="222")])
        cb = payload("callback_sms.json")
        [report] = adapter().parse_webhook(WebhookKind.DELIVERY, hook(cb))
        assert report.external_id == result.external_id

    def test_otp_callback_without_custom_id(self):
        [report] = adapter().parse_webhook(WebhookKind.DELIVERY, hook(payload("callback_otp.json")))
        assert report.client_ref == "" and report.status == MessageStatus.DELIVERED

    def test_open_event_with_metadata(self):
        [report] = adapter().parse_webhook(WebhookKind.DELIVERY, hook(payload("callback_metadata.json")))
        assert report.status == MessageStatus.DELIVERED and report.raw_status == "open"
        assert report.raw["data"]["metadata"]["short_code"] == "10oalo"
        assert report.event_id.endswith(":11")

    def test_viber_callback_as_printed_uses_the_im_table(self):
        [report] = adapter().parse_webhook(WebhookKind.DELIVERY, hook(raw("callback_viber_raw.txt")))
        assert report.status == MessageStatus.DELIVERED
        assert report.external_id == "ccb9111f-9ea0-4e01-882f-f72ee502e779:6f3f5441-391f-473d-b822-cfb129f21238"

    @pytest.mark.parametrize(("code", "entry"), sorted(SMS_STATUSES.items()))
    def test_every_sms_status_of_the_table(self, code, entry):
        text, expected, _ = entry
        body = payload("callback_sms.json")
        body["data"][0]["status"] = {"code": code, "text": text}
        body["data"][0]["error_code"] = "001" if expected not in {MessageStatus.DELIVERED} else "000"
        [report] = adapter().parse_webhook(WebhookKind.DELIVERY, hook(body))
        assert report.status == expected
        assert adapter().map_status(code) == expected and adapter().map_status(text) == expected
        if expected in {MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED}:
            assert report.error_code == ""
        else:
            assert report.error_code == str(code)
            assert report.error_message.startswith(f"{text}: ") and "(DLR error 001)" in report.error_message

    def test_status_map_is_total_over_the_documents_table(self):
        documented = {
            1: "absent",
            3: "accepted",
            4: "accepted_smsc",
            5: "call_barred",
            7: "delivered",
            8: "expired",
            11: "open",
            18: "rejected_smsc",
            19: "teleservice_not_provisioned",
            21: "unexpected_value",
            22: "unknown_sub",
            23: "smpp_refused",
            24: "smsc_refused",
            101: "no_sender",
            103: "invalid_sender",
            105: "lookup_invalid_msisdn",
            106: "unknown_sender_type",
            107: "account_not_allowed",
            109: "no_coverage",
            110: "no_price",
            111: "spam_control",
            112: "no_route_plan",
            113: "invalid_account",
            115: "account_insufficient_credits",
        }
        assert {code: e[0] for code, e in SMS_STATUSES.items()} == documented
        im = {3, 7, 8, 10, 11, 22, 101, 105, 109, 110, 111, 115, 119, 120, 121, 130}
        assert set(IM_STATUSES) == im
        for code, text in documented.items():
            assert ApifonAdapter.status_map[str(code)] == ApifonAdapter.status_map[text]
            assert ApifonAdapter.status_map[str(code)] != MessageStatus.UNKNOWN

    def test_unlisted_status_is_unknown_and_kept_raw(self):
        body = payload("callback_sms.json")
        body["data"][0]["status"] = {"code": 999, "text": "mystery"}
        [report] = adapter().parse_webhook(WebhookKind.DELIVERY, hook(body))
        assert report.status == MessageStatus.UNKNOWN and report.raw_status == "mystery"

    def test_batch_callback_gives_one_report_per_item(self):
        body = payload("callback_sms.json")
        second = dict(body["data"][0], message_id="m2", to="306999999998", status={"code": 22, "text": "unknown_sub"})
        body["data"].append(second)
        reports = adapter().parse_webhook(WebhookKind.DELIVERY, hook(body))
        assert [r.status for r in reports] == [MessageStatus.DELIVERED, MessageStatus.UNDELIVERED]
        assert len({r.event_id for r in reports}) == 2

    @pytest.mark.parametrize("body", [b"not json", b"[]", b'{"request_id": "r"}', b'{"data": [{"status": {}}]}'])
    def test_malformed_callbacks(self, body):
        with pytest.raises(WebhookError):
            adapter().parse_webhook(WebhookKind.DELIVERY, hook(body))

    def test_document_sms_reply(self):
        [reply] = adapter().parse_webhook(WebhookKind.INBOUND, hook(payload("reply_sms.json"), WebhookKind.INBOUND))
        assert reply.external_id == "d5a53b51-dc57-4c2c-b880-36f788c4d4d4"
        assert reply.from_phone == "+306999999999" and reply.to == "306988888888"
        assert reply.text == "This is my reply."
        assert reply.received_at == datetime.fromtimestamp(1481126247, tz=UTC)
        assert reply.in_reply_to_external_id == ""

    def test_document_im_reply(self):
        [reply] = adapter().parse_webhook(WebhookKind.INBOUND, hook(payload("reply_im.json"), WebhookKind.INBOUND))
        assert reply.from_phone == "+306999999999" and reply.text == "This is my reply."
        assert reply.in_reply_to_external_id == (
            "ccb9111f-9ea0-4e01-882f-f72ee502e779:6f3f5441-391f-473d-b822-cfb129f21238"
        )

    def test_verify_webhook_token(self):
        a = adapter()
        a.verify_webhook(WebhookKind.DELIVERY, hook({}), HOOK_TOKEN)
        for wrong in ("", "nope", HOOK_TOKEN + "x"):
            with pytest.raises(WebhookAuthError):
                a.verify_webhook(WebhookKind.DELIVERY, hook({}), wrong)


# ====================================================================== OAuth2
def token_answer(token=BEARER, expires_in=3600):
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}


class TestOAuth:
    def test_token_request_and_bearer_header(self, mocked_responses):
        mocked_responses.post(f"{IDS}/oauth2/token", json=payload("token.json"))
        mocked_responses.post(f"{API}/balance", json=payload("balance.json"))
        oauth_adapter().check()
        token_call, call = mocked_responses.calls
        assert token_call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        form = {k: v[0] for k, v in parse_qs(token_call.request.body).items()}
        assert form == {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": "smsGateway accountInfo readList writeList readSubscriber writeSubscriber",
        }
        assert call.request.headers["Authorization"] == f"Bearer {BEARER}"
        assert call.request.headers["X-ApifonWS-Date"] == DATE
        assert call.request.headers["Content-Type"] == "application/json"

    def test_identity_host_option(self, mocked_responses):
        mocked_responses.post("https://ids-staging.apifon.com/oauth2/token", json=token_answer())
        mocked_responses.post(f"{API}/balance", json=payload("balance.json"))
        oauth_adapter(identity_url="https://ids-staging.apifon.com/").check()

    def test_token_is_cached_process_wide(self, mocked_responses):
        mocked_responses.post(f"{IDS}/oauth2/token", json=token_answer())
        mocked_responses.post(f"{API}/balance", json=payload("balance.json"))
        oauth_adapter().check()
        oauth_adapter().check()  # a new adapter instance (another task) reuses the token
        assert [c.request.url for c in mocked_responses.calls].count(f"{IDS}/oauth2/token") == 1

    def test_accounts_do_not_share_tokens(self, mocked_responses):
        mocked_responses.post(f"{IDS}/oauth2/token", json=token_answer("t1"))
        mocked_responses.post(f"{IDS}/oauth2/token", json=token_answer("t2"))
        mocked_responses.post(f"{API}/balance", json=payload("balance.json"))
        oauth_adapter().check()
        other = ApifonAdapter(
            replace(CONFIG, credentials={"client_id": "other", "client_secret": "x"}, options={"auth_mode": "oauth"})
        )
        other.check()
        auths = [c.request.headers.get("Authorization") for c in mocked_responses.calls if "balance" in c.request.url]
        assert auths == ["Bearer t1", "Bearer t2"]

    def test_token_renewed_before_expiry(self, mocked_responses, monkeypatch):
        now = [1000.0]
        monkeypatch.setattr(apifon, "_clock", lambda: now[0])
        mocked_responses.post(f"{IDS}/oauth2/token", json=token_answer("t1", 3600))
        mocked_responses.post(f"{IDS}/oauth2/token", json=token_answer("t2", 3600))
        mocked_responses.post(f"{API}/balance", json=payload("balance.json"))
        a = oauth_adapter()
        a.check()
        now[0] += 3600 - 301  # still outside the renewal margin (min(300 s, 10 %))
        a.check()
        now[0] += 2  # inside it: renew before Apifon would refuse the token
        a.check()
        auths = [c.request.headers.get("Authorization") for c in mocked_responses.calls if "balance" in c.request.url]
        assert auths == ["Bearer t1", "Bearer t1", "Bearer t2"]

    def test_token_without_expires_in_lives_an_hour(self, mocked_responses, monkeypatch):
        now = [0.0]
        monkeypatch.setattr(apifon, "_clock", lambda: now[0])
        mocked_responses.post(f"{IDS}/oauth2/token", json={"access_token": "t1"})
        mocked_responses.post(f"{IDS}/oauth2/token", json={"access_token": "t2"})
        mocked_responses.post(f"{API}/balance", json=payload("balance.json"))
        a = oauth_adapter()
        a.check()
        now[0] = 3000
        a.check()
        now[0] = 3301
        a.check()
        assert [
            c.request.headers.get("Authorization") for c in mocked_responses.calls if "balance" in c.request.url
        ] == ["Bearer t1", "Bearer t1", "Bearer t2"]

    def test_401_renews_once_and_retries_once(self, mocked_responses):
        mocked_responses.post(f"{IDS}/oauth2/token", json=token_answer("old"))
        mocked_responses.post(f"{IDS}/oauth2/token", json=token_answer("new"))
        mocked_responses.post(f"{API}/sms/send", body=raw("error_401.txt"), status=401)
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1)]))
        [result] = oauth_adapter().send([sms()])
        assert result.status == MessageStatus.QUEUED
        sends = [c for c in mocked_responses.calls if c.request.url.endswith("/sms/send")]
        assert [c.request.headers["Authorization"] for c in sends] == ["Bearer old", "Bearer new"]
        assert sends[0].request.body == sends[1].request.body

    def test_second_401_gives_up(self, mocked_responses):
        mocked_responses.post(f"{IDS}/oauth2/token", json=token_answer("old"))
        mocked_responses.post(f"{IDS}/oauth2/token", json=token_answer("new"))
        mocked_responses.post(f"{API}/balance", body=raw("error_401.txt"), status=401)
        with pytest.raises(ProviderAuthError):
            oauth_adapter().check()
        assert len([c for c in mocked_responses.calls if c.request.url.endswith("/balance")]) == 2

    @pytest.mark.parametrize(
        ("status", "body", "exc_class"),
        [
            (401, {"error": "invalid_client", "error_description": "Client authentication failed"}, ProviderAuthError),
            (400, {"error": "invalid_scope", "error_description": "Unknown scope"}, ProviderAuthError),
            (400, {"error": "unsupported_grant_type", "error_description": "grant"}, ProviderResponseError),
            (429, {"error": "slow_down"}, ProviderThrottled),
            (503, "Service Unavailable", ProviderConnectionError),
        ],
    )
    def test_token_errors(self, mocked_responses, status, body, exc_class):
        kw = {"json": body} if isinstance(body, dict) else {"body": body}
        mocked_responses.post(f"{IDS}/oauth2/token", status=status, **kw)
        with pytest.raises(exc_class) as exc:
            oauth_adapter().check()
        assert CLIENT_SECRET not in str(exc.value)

    def test_missing_oauth_credentials(self):
        a = ApifonAdapter(replace(CONFIG, credentials={"client_id": "x"}, options={"auth_mode": "oauth"}))
        with pytest.raises(ProviderAuthError, match="client secret"):
            a.check()

    def test_concurrent_callers_fetch_one_token(self, mocked_responses):
        mocked_responses.post(f"{IDS}/oauth2/token", json=token_answer())
        mocked_responses.post(f"{API}/balance", json=payload("balance.json"))
        errors = []

        def work():
            try:
                oauth_adapter().check()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert [c.request.url for c in mocked_responses.calls].count(f"{IDS}/oauth2/token") == 1


# ====================================================================== the request log
@pytest.mark.django_db
class TestRequestLog:
    def test_no_secret_in_the_log(self, mocked_responses):
        account = ProviderAccountFactory(
            provider="apifon",
            credentials=dict(CONFIG.credentials),
            options={"callback_base_url": "https://sms.example.com"},
        )
        a = adapter_for(account)
        mocked_responses.post(f"{API}/sms/send", json=send_answer([("306999999999", REF1)]))
        mocked_responses.post(f"{API}/balance", json={"status": "400", "title": f"echo {SECRET}"}, status=400)
        a.send([sms()])
        with pytest.raises(ProviderResponseError):
            a.check()
        signature = mocked_responses.calls[0].request.headers["Authorization"].split(":", 1)[1]
        rows = list(ProviderRequestLog.objects.filter(account=account))
        assert [r.operation for r in rows] == ["balance", "sms.send"]
        dump = json.dumps([[r.url, r.request_headers, r.request_body, r.response_body, r.error] for r in rows])
        for secret in (SECRET, signature, account.webhook_token, CLIENT_SECRET):
            assert secret not in dump
        assert rows[1].request_headers["Authorization"] == "***"
        assert "306999999999" in rows[1].request_body  # the useful part is still there

    def test_no_token_or_client_secret_in_the_log(self, mocked_responses):
        account = ProviderAccountFactory(
            provider="apifon", credentials=dict(CONFIG.credentials), options={"auth_mode": "oauth"}
        )
        mocked_responses.post(f"{IDS}/oauth2/token", json=token_answer())
        mocked_responses.post(f"{API}/balance", json=payload("balance.json"))
        adapter_for(account).check()
        rows = list(ProviderRequestLog.objects.filter(account=account))
        assert {r.operation for r in rows} == {"oauth.token", "balance"}
        dump = json.dumps([[r.url, r.request_headers, r.request_body, r.response_body, r.error] for r in rows])
        assert BEARER not in dump and CLIENT_SECRET not in dump


# ====================================================================== sync
LIST_ID = "5ce4fcef7ed5cc3898208e67"


class TestSyncGroups:
    def test_pull_groups_from_the_document_example(self, mocked_responses):
        mocked_responses.get(f"{API}/list", json=payload("lists_page.json"))
        groups = list(adapter().pull_groups())
        assert groups == [SyncGroup(name="Apifon List API", external_id=LIST_ID, member_count=200)]
        call = mocked_responses.calls[0]
        assert call.request.url == f"{API}/list?page=1&size=50"
        assert_hmac(call, "GET", "/services/api/v1/list")

    def test_push_new_group_creates_a_list(self, mocked_responses):
        mocked_responses.get(f"{API}/list", json={"meta": {}, "links": {"next": ""}, "results": []})
        mocked_responses.post(f"{API}/list", status=201, headers={"Location": f"{API}/list/newlist123"})
        assert adapter(list_prefix="30").push_group(SyncGroup(name="VIP customers")) == "newlist123"
        create = mocked_responses.calls[1]
        assert body_of(create) == {"title": "VIP customers", "type": "ADVANCED", "prefix": "+30"}
        assert_hmac(create, "POST", "/services/api/v1/list")

    @pytest.mark.django_db
    def test_list_prefix_from_the_workspace_country(self, mocked_responses, workspace):
        mocked_responses.get(f"{API}/list", json={"meta": {}, "results": []})
        mocked_responses.post(f"{API}/list", status=201, headers={"Location": f"{API}/list/x1"})
        adapter().push_group(SyncGroup(name="Sweden"))
        assert body_of(mocked_responses.calls[1])["prefix"] == "+46"

    def test_push_group_finds_an_existing_list_by_title(self, mocked_responses):
        mocked_responses.get(f"{API}/list", json=payload("lists_page.json"))
        assert adapter().push_group(SyncGroup(name="Apifon List API")) == LIST_ID
        assert len(mocked_responses.calls) == 1  # nothing written

    def test_push_unchanged_group_writes_nothing(self, mocked_responses):
        mocked_responses.get(f"{API}/list/{LIST_ID}", json=payload("list_get.json"))
        assert adapter().push_group(SyncGroup(name="Apifon List API", external_id=LIST_ID)) == LIST_ID
        assert len(mocked_responses.calls) == 1

    def test_push_renamed_group_keeps_the_lists_other_settings(self, mocked_responses):
        mocked_responses.get(f"{API}/list/{LIST_ID}", json=payload("list_get.json"))
        mocked_responses.put(f"{API}/list/{LIST_ID}", status=204)
        adapter().push_group(SyncGroup(name="Renamed", external_id=LIST_ID))
        put = mocked_responses.calls[1]
        doc = payload("list_get.json")
        assert body_of(put) == {
            "title": "Renamed",
            "prefix": "+30",
            "description": doc["description"],
            "campaign_defaults": doc["campaign_defaults"],
            "gdpr_properties": doc["gdpr_properties"],
            "double_optin": doc["double_optin"],
        }
        assert_hmac(put, "PUT", f"/services/api/v1/list/{LIST_ID}")

    def test_304_not_modified_is_success(self, mocked_responses):
        mocked_responses.get(f"{API}/list/{LIST_ID}", json=payload("list_get.json"))
        mocked_responses.put(f"{API}/list/{LIST_ID}", status=304)
        assert adapter().push_group(SyncGroup(name="Renamed", external_id=LIST_ID)) == LIST_ID

    def test_deleted_list_is_recreated(self, mocked_responses):
        mocked_responses.get(f"{API}/list/gone", json={"status": "404", "title": "Not Found"}, status=404)
        mocked_responses.get(f"{API}/list", json={"meta": {}, "results": []})
        mocked_responses.post(f"{API}/list", status=201, headers={"Location": f"{API}/list/again"})
        assert adapter(list_prefix="+30").push_group(SyncGroup(name="X", external_id="gone")) == "again"


class TestSyncContacts:
    def test_pull_contacts(self, mocked_responses):
        mocked_responses.get(f"{API}/list", json=payload("lists_page.json"))
        mocked_responses.get(f"{API}/list/{LIST_ID}/subscriber", json=payload("subscribers_page.json"))
        contacts = list(adapter().pull_contacts())
        assert mocked_responses.calls[1].request.url == f"{API}/list/{LIST_ID}/subscriber?page=1&size=200"
        assert contacts == [
            SyncContact(
                phone="+306999999999",
                attributes={"birthday": "2019-05-22"},
                groups=(LIST_ID,),
                external_id="7c845e6ece4f466f62f01767d0fd9cc4",
            ),
            SyncContact(
                phone="+306999999998",
                attributes={"name": "Maria"},
                groups=(LIST_ID,),
                external_id="7b12a9860b3be7e786beba2351826616",
            ),
        ]  # the archived subscriber is left out

    def test_destination_id_is_md5_of_the_digits(self):
        assert destination_id("+306999999999") == "7c845e6ece4f466f62f01767d0fd9cc4"  # the document's pair

    def test_push_contacts_requests(self, mocked_responses):
        mocked_responses.get(f"{API}/list/{LIST_ID}", json=payload("list_get.json"))
        mocked_responses.post(
            f"{API}/list/{LIST_ID}/field", status=201, headers={"Location": f"{API}/list/{LIST_ID}/field/FIRST_NAME"}
        )
        mocked_responses.post(
            f"{API}/list/{LIST_ID}/field", status=201, headers={"Location": f"{API}/list/{LIST_ID}/field/CITY"}
        )
        mocked_responses.get(
            f"{API}/list/{LIST_ID}/subscriber",
            json={
                "meta": {},
                "links": {"next": ""},
                "results": [{"destination": "306999999998", "status": "UNSUBSCRIBED"}],
            },
        )
        mocked_responses.get(
            f"{API}/list/{LIST_ID}/subscriber",
            json={
                "meta": {},
                "links": {"next": ""},
                "results": [{"destination": "306999999997", "status": "UNCONFIRMED"}],
            },
        )
        mocked_responses.post(f"{API}/list/{LIST_ID}/subscriber/bulk", status=200)
        contacts = [
            SyncContact(
                phone="+306999999999",
                first_name="John",
                attributes={"city": "Athens", "birthday": "1990-02-01"},
                groups=(LIST_ID,),
            ),
            SyncContact(phone="+306999999998", first_name="Maria", groups=(LIST_ID,)),
            SyncContact(phone="+306999999997", first_name="Eleni", groups=(LIST_ID,)),
        ]
        ids = adapter().push_contacts(contacts)
        assert ids == [destination_id(c.phone) for c in contacts]
        urls = [(c.request.method, c.request.url) for c in mocked_responses.calls]
        assert urls == [
            ("GET", f"{API}/list/{LIST_ID}"),
            ("POST", f"{API}/list/{LIST_ID}/field"),
            ("POST", f"{API}/list/{LIST_ID}/field"),
            ("GET", f"{API}/list/{LIST_ID}/subscriber?status=UNSUBSCRIBED&fields=destination%2Cstatus&page=1&size=200"),
            ("GET", f"{API}/list/{LIST_ID}/subscriber?status=UNCONFIRMED&fields=destination%2Cstatus&page=1&size=200"),
            ("POST", f"{API}/list/{LIST_ID}/subscriber/bulk"),
        ]
        assert body_of(mocked_responses.calls[1]) == {
            "name": "FIRST_NAME",
            "type": "TEXT",
            "length": 256,
            "internal": False,
        }
        assert body_of(mocked_responses.calls[2])["name"] == "CITY"  # "birthday" exists: date_BIRTHDAY
        assert body_of(mocked_responses.calls[5]) == {
            "update_on_duplicate": True,
            "subscribers": [
                {
                    "destination": "+306999999999",
                    "status": "SUBSCRIBED",
                    "subscriber_fields": {"FIRST_NAME": "John", "CITY": "Athens", "date_BIRTHDAY": 633830400000},
                },
                {
                    "destination": "+306999999998",
                    "status": "UNSUBSCRIBED",  # never resubscribed by us
                    "subscriber_fields": {"FIRST_NAME": "Maria"},
                },
                # +306999999997 is UNCONFIRMED (double opt-in pending): left alone
            ],
        }
        assert_hmac(mocked_responses.calls[5], "POST", f"/services/api/v1/list/{LIST_ID}/subscriber/bulk")

    def test_contacts_without_groups_need_a_default_list(self, mocked_responses, caplog):
        assert adapter().push_contacts([SyncContact(phone="+306999999999")]) == [""]  # not accepted
        assert not mocked_responses.calls
        assert "default_list_id" in caplog.text

    @pytest.mark.parametrize(
        ("ours", "theirs"),
        [
            ("opted_out", "sub_requested"),
            ("Opted out by reply", "sub_requested"),
            ("hard_failure", "not_delivering"),
            ("Hard delivery failure", "not_delivering"),
            ("manual", "other"),
            ("Added manually", "other"),
            ("sub_invalid", "sub_invalid"),
            ("", "other"),
        ],
    )
    def test_block_reasons(self, ours, theirs):
        assert apifon.block_reason(ours) == theirs

    def test_default_list_and_bulk_chunks(self, mocked_responses, monkeypatch):
        monkeypatch.setattr(apifon, "CONTACTS_BULK_SIZE", 2)
        mocked_responses.get(
            f"{API}/list/dflt",
            json={"id": "dflt", "subscriber_fields": [{"field": "FIRST_NAME", "name": "First name", "type": "TEXT"}]},
        )
        mocked_responses.get(f"{API}/list/dflt/subscriber", json={"meta": {}, "results": []})
        mocked_responses.post(f"{API}/list/dflt/subscriber/bulk")
        contacts = [SyncContact(phone=f"+30699999999{i}", first_name="A") for i in range(5)]
        adapter(default_list_id="dflt").push_contacts(contacts)
        bulks = [body_of(c) for c in mocked_responses.calls if c.request.url.endswith("/bulk")]
        assert [len(b["subscribers"]) for b in bulks] == [2, 2, 1]


class TestSyncBlocklist:
    def test_pull_follows_the_pages(self, mocked_responses):
        mocked_responses.get(f"{API}/bounce/subscriber", json=payload("bounce_page_1.json"))
        mocked_responses.get(f"{API}/bounce/subscriber", json=payload("bounce_page_2.json"))
        entries = list(adapter().pull_blocklist())
        assert entries == [
            SyncBlockEntry(phone="+306999999999", reason="provider", external_id="306999999999"),
            SyncBlockEntry(phone="+306999999998", reason="opted_out", external_id="306999999998"),
        ]
        assert [c.request.url for c in mocked_responses.calls] == [
            f"{API}/bounce/subscriber?type=MOBILE&page=1&size=200",
            f"{API}/bounce/subscriber?type=MOBILE&page=2&size=200",
        ]

    def test_push_blocks_only_what_is_missing(self, mocked_responses):
        mocked_responses.get(f"{API}/bounce/subscriber", json=payload("bounce_page_2.json"))
        mocked_responses.post(f"{API}/bounce/subscriber/block", status=200)
        mocked_responses.post(f"{API}/bounce/subscriber/block", json={"status": "409", "title": "Conflict"}, status=409)
        added = adapter().push_blocklist(
            [
                SyncBlockEntry(phone="+306999999998", reason="opted_out"),  # already there
                SyncBlockEntry(phone="+306999999999", reason="opted_out"),
                SyncBlockEntry(phone="+306999999990", reason="manual"),  # blocked meanwhile: 409
            ]
        )
        assert added == 1
        blocks = [body_of(c) for c in mocked_responses.calls if c.request.url.endswith("/block")]
        assert blocks == [
            {"destination": "306999999999", "reason": "sub_requested", "description": "smsportal: opted_out"},
            {"destination": "306999999990", "reason": "other", "description": "smsportal: manual"},
        ]
        assert_hmac(mocked_responses.calls[1], "POST", "/services/api/v1/bounce/subscriber/block")

    def test_remove(self, mocked_responses):
        mocked_responses.delete(f"{API}/bounce/subscriber/unblock/306999999999", status=204)
        mocked_responses.delete(
            f"{API}/bounce/subscriber/unblock/306999999998", json={"status": "404", "title": "Not Found"}, status=404
        )
        assert adapter().remove_from_blocklist(["+306999999999", "+306999999998"]) == 1
        call = mocked_responses.calls[0]
        assert call.request.method == "DELETE"
        assert_hmac(call, "DELETE", "/services/api/v1/bounce/subscriber/unblock/306999999999")

    def test_other_errors_are_not_swallowed(self, mocked_responses):
        mocked_responses.delete(
            f"{API}/bounce/subscriber/unblock/306999999999",
            json={"status": "500", "title": "Internal Server Error"},
            status=500,
        )
        with pytest.raises(ProviderConnectionError):
            adapter().remove_from_blocklist(["+306999999999"])
