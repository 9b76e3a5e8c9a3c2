"""Ogangi adapter against answers from its document (seeds/002_…) and protocol-notes §2 (signature, XML)."""

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from django.utils import timezone

from providers.adapters.base import Feature
from providers.adapters.exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderNotSupported,
    ProviderResponseError,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnparseableResponse,
    ProviderValidationError,
)
from providers.adapters.ogangi import (
    OgangiAdapter,
    find_shallow,
    parse_envelope,
    parse_ogangi_date,
    parse_xml,
    redact_signed_url,
    sign_params,
)
from providers.adapters.registry import adapter_for, get_adapter_class
from providers.adapters.types import AccountConfig, MessageStatus, OutboundSMS
from providers.models import ProviderRequestLog
from tests.factories import ProviderAccountFactory

BASE = "https://customer.ogangi.com/mmc"
API = f"{BASE}/rest/api"
INSTANCE, USER, PUBLIC, PRIVATE = "8", "peter", "PUBLIC-key-4711", "PRIVATE_KEY-s3cr3t"
PAYLOADS = Path(__file__).parent / "payloads" / "ogangi"
CREDENTIALS = {"instance_id": INSTANCE, "user_name": USER, "public_key": PUBLIC, "private_key": PRIVATE}


def xml(name):
    return (PAYLOADS / name).read_bytes()


def config(**kw):
    return AccountConfig(
        id=None,
        uuid="acc-ogangi",
        name="Ogangi",
        base_url=kw.pop("base_url", BASE),
        credentials=kw.pop("credentials", CREDENTIALS),
        options=kw.pop("options", {}),
        **kw,
    )


def adapter(**kw):
    return OgangiAdapter(config(**kw))


def sms(ref="ref-1", to="+584141234567", text="Test message", sender="434", **kw):
    return OutboundSMS(to=to, text=text, sender=sender, client_ref=ref, **kw)


def expected_sig(params: str, key: str = PRIVATE) -> str:
    """Independent of the adapter: hex HMAC-SHA256 of the raw "/"-joined params (protocol-notes §2.1)."""
    return hmac.new(key.encode(), params.encode(), hashlib.sha256).hexdigest()


def on(rsps, method, api_method, body, *, status=200, **kw):
    """Register an answer for ``api_method`` whatever its (signed) parameters."""
    pattern = re.compile(re.escape(f"{API}/{api_method}/") + r".*")
    if isinstance(body, Exception):
        kw["body"] = body
    else:
        kw["body"] = body
        kw.setdefault("content_type", "application/xml")
    return rsps.add(method, pattern, status=status, **kw)


def path_params(call):
    """(method, params, public key, signature) of a recorded call."""
    path = urlsplit(call.request.url).path
    rest = path.split("/rest/api/", 1)[1].split("/")
    return rest[0], [unquote(p) for p in rest[1:-2]], unquote(rest[-2]), rest[-1]


# ---------------------------------------------------------------------------------------------- metadata
def test_registered_and_described():
    assert get_adapter_class("ogangi") is OgangiAdapter
    assert {f.name: f.secret for f in OgangiAdapter.credential_fields} == {
        "instance_id": False,
        "user_name": False,
        "public_key": True,
        "private_key": True,
    }
    assert {Feature.PAUSE_RESUME, Feature.CANCEL, Feature.BATCH_SAME_TEXT} <= OgangiAdapter.features
    assert Feature.RECONCILE not in OgangiAdapter.features  # nothing to look a broadcast up by
    assert OgangiAdapter.default_base_url == ""  # per customer, never hard-coded (§2.2)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # message statuses (protocol-notes §2.3 and the document's SENT_TO_CARRIER)
        ("SENT", MessageStatus.SENT),
        ("SENT_TO_CARRIER", MessageStatus.SENT),
        ("DELIVERED_TO_CARRIER", MessageStatus.SENT),
        ("DELIVERED TO CARRIER", MessageStatus.SENT),
        ("EXPIRED", MessageStatus.EXPIRED),
        ("UNREACHABLE", MessageStatus.UNDELIVERED),
        ("NOT_SENT", MessageStatus.FAILED),
        ("BAD_FROM", MessageStatus.REJECTED),
        ("BAD_TO", MessageStatus.REJECTED),
        ("BAD_ENCODING", MessageStatus.REJECTED),
        ("BAD_CARRIER/FROM", MessageStatus.REJECTED),
        ("SENT_TO_DEVICE", MessageStatus.SENT),
        ("DELIVERED_TO_DEVICE", MessageStatus.DELIVERED),
        ("UNDELIVERED", MessageStatus.UNDELIVERED),
        ("NOT_ENOUGH_FUNDS", MessageStatus.REJECTED),
        ("BAD_TIMEZONE", MessageStatus.REJECTED),
        ("SENDING", MessageStatus.QUEUED),
        ("PENDING", MessageStatus.QUEUED),
        ("READ", MessageStatus.DELIVERED),
        ("ACCEPTD", MessageStatus.SENT),
        ("BAD ADDRESS", MessageStatus.REJECTED),
        ("BUFFRED", MessageStatus.SENT),
        ("CARRIER GATEWAY ERROR", MessageStatus.FAILED),
        ("DELETED", MessageStatus.FAILED),
        ("DELIVRD", MessageStatus.DELIVERED),
        ("INTERNAL ERROR", MessageStatus.FAILED),
        ("INVALID ROUTING", MessageStatus.REJECTED),
        ("INVALID TEMPLATE ID/PARAMETERS/TYPE", MessageStatus.REJECTED),
        ("INVALID TEMPLATE PARAMETERS", MessageStatus.REJECTED),
        ("REJECTD", MessageStatus.REJECTED),
        ("TEMPLATE NOT SUPPORTED", MessageStatus.REJECTED),
        ("UNDELIV", MessageStatus.UNDELIVERED),
        ("undeliv", MessageStatus.UNDELIVERED),
        # broadcast statuses
        ("SCHEDULED", MessageStatus.QUEUED),
        ("1", MessageStatus.QUEUED),
        ("2", MessageStatus.SENT),
        ("3", MessageStatus.QUEUED),
        ("4", MessageStatus.CANCELLED),
        ("5", MessageStatus.QUEUED),
        ("STATUS_ABORTED", MessageStatus.CANCELLED),
        # anything else
        ("QUEUE", MessageStatus.UNKNOWN),
    ],
)
def test_status_map(raw, expected):
    assert adapter().map_status(raw) == expected


def test_sync_is_not_offered():
    with pytest.raises(ProviderNotSupported):
        adapter().pull_contacts()
    with pytest.raises(ProviderNotSupported):
        adapter().reconcile([sms()])


# ---------------------------------------------------------------------------------------------- signature
def test_signature_test_vector():
    # protocol-notes §2.1 / courier's messangi handler test
    assert (
        sign_params("my-private-key", "7/2020/2/18765422035/U2ltcGxlIE1lc3NhZ2Ug4pi6")
        == "f69bc6a924480d3ed82970d9679c4be90589bd3064add51c47e8bf50a211d55f"
    )
    assert sign_params("my-private-key", "7/2020/2/18765422035/U2ltcGxlIE1lc3NhZ2Ug4pi6", upper=True) == (
        "F69BC6A924480D3ED82970D9679C4BE90589BD3064ADD51C47E8BF50A211D55F"
    )


def test_create_broadcast_url_signs_the_documented_params(mocked_responses):
    on(mocked_responses, "POST", "createBroadcastFromJson", xml("create_broadcast.xml"))
    adapter().send([sms(extra={"campaign_name": "testJsonBroadcast"})])
    call = mocked_responses.calls[0]
    # protocol-notes §2.1's example params: "8/-1/434/peter/true/testJsonBroadcast/null"
    params = "8/-1/434/peter/true/testJsonBroadcast/null"
    assert call.request.method == "POST"
    assert call.request.url == f"{API}/createBroadcastFromJson/{params}/{PUBLIC}/{expected_sig(params)}"
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(call.request.body) == {"to": ['[{"mobile":"584141234567","text":"Test message"}]']}


def test_scheduled_date_is_signed_raw_and_encoded_in_the_url(mocked_responses):
    on(mocked_responses, "POST", "createBroadcastFromJson", xml("create_broadcast.xml"))
    send_at = datetime(2099, 3, 4, 9, 5, 30, tzinfo=UTC)  # rounds up to 09:06 so it never starts early
    a = adapter(options={"timezone": "America/Caracas"})
    a.send([sms(send_at=send_at, extra={"campaign_name": "spring sale!"})])
    call = mocked_responses.calls[0]
    method, params, public, signature = path_params(call)
    assert method == "createBroadcastFromJson"
    assert params == ["8", "-1", "434", "peter", "true", "spring-sale", "04-03-2099 05:06"]  # Caracas is UTC-4
    assert "/04-03-2099%2005%3A06/" in call.request.url
    assert public == PUBLIC and signature == expected_sig("/".join(params))


@pytest.mark.parametrize("ahead", [timedelta(minutes=-5), timedelta(seconds=30)])
def test_a_send_time_already_due_starts_now(mocked_responses, ahead):
    on(mocked_responses, "POST", "createBroadcastFromJson", xml("create_broadcast.xml"))
    adapter().send([sms(send_at=timezone.now() + ahead)])
    assert path_params(mocked_responses.calls[0])[1][-1] == "null"


def test_no_sender_uses_the_default_shortcode_or_lets_ogangi_choose(mocked_responses):
    on(mocked_responses, "POST", "createBroadcastFromJson", xml("create_broadcast.xml"))
    on(mocked_responses, "POST", "createBroadcastFromJson", xml("create_broadcast.xml"))
    adapter(options={"default_shortcode": "1111111"}).send([sms(sender="")])
    adapter().send([sms(sender="")])
    assert path_params(mocked_responses.calls[0])[1][2:5] == ["1111111", "peter", "true"]
    assert path_params(mocked_responses.calls[1])[1][2:5] == ["0", "peter", "false"]  # shortcodeIgnore=false


@pytest.mark.parametrize(
    ("api_method", "call", "http_method"),
    [
        ("getBroadcast", lambda a: a.fetch_statuses(["42:584141234567"]), "GET"),
        ("suspendBroadcast", lambda a: a.pause_remote(["42:584141234567"]), "GET"),
        ("resumeBroadcast", lambda a: a.resume_remote(["42:584141234567"]), "GET"),
    ],
)
def test_broadcast_calls_sign_instance_and_broadcast_id(mocked_responses, api_method, call, http_method):
    answers = {"getBroadcast": "get_broadcast.xml", "suspendBroadcast": "suspend.xml", "resumeBroadcast": "resume.xml"}
    on(mocked_responses, http_method, api_method, xml(answers[api_method]))
    call(adapter())
    recorded = mocked_responses.calls[0]
    assert recorded.request.method == http_method
    assert recorded.request.url == f"{API}/{api_method}/8/42/{PUBLIC}/{expected_sig('8/42')}"


def test_get_shortcodes_request_and_answer(mocked_responses):
    on(mocked_responses, "GET", "getShortcodes", xml("get_shortcodes.xml"))
    assert adapter().shortcodes() == ["0000000", "1111111"]
    assert mocked_responses.calls[0].request.url == (f"{API}/getShortcodes/8/peter/{PUBLIC}/{expected_sig('8/peter')}")


@pytest.mark.parametrize("base", [BASE, BASE + "/", BASE + "/rest/api/", BASE + "/rest"])
def test_base_url_forms_are_tolerated(mocked_responses, base):
    on(mocked_responses, "GET", "getShortcodes", xml("get_shortcodes.xml"))
    adapter(base_url=base).shortcodes()
    assert mocked_responses.calls[0].request.url.startswith(f"{API}/getShortcodes/8/peter/")


def test_missing_configuration_fails_before_any_call(mocked_responses):
    with pytest.raises(ProviderAuthError, match="base URL"):
        adapter(base_url="").check()
    with pytest.raises(ProviderAuthError, match="Private key"):
        adapter(credentials={**CREDENTIALS, "private_key": ""}).check()
    assert len(mocked_responses.calls) == 0


# ---------------------------------------------------------------------------------------------- sending
def test_single_send_is_a_broadcast_of_one(mocked_responses):
    on(mocked_responses, "POST", "createBroadcastFromJson", xml("create_broadcast.xml"))
    [result] = adapter().send([sms()])
    assert result.status == MessageStatus.QUEUED  # SCHEDULED
    assert result.external_id == "1:584141234567"
    assert result.segments == 1
    assert result.raw["broadcast"]["statusDescription"] == "SCHEDULED"


def test_same_text_goes_out_as_one_broadcast_and_other_texts_separately(mocked_responses):
    on(mocked_responses, "POST", "createBroadcastFromJson", xml("create_broadcast.xml"))
    on(mocked_responses, "POST", "createBroadcastFromJson", xml("create_broadcast.xml"))
    messages = [sms("a", to="+584140000001"), sms("b", to="+584140000002"), sms("c", text="Other", to="+584140000003")]
    results = adapter().send(messages)
    assert [r.external_id for r in results] == ["1:584140000001", "1:584140000002", "1:584140000003"]
    bodies = [json.loads(parse_qs(c.request.body)["to"][0]) for c in mocked_responses.calls]
    assert bodies == [
        [{"mobile": "584140000001", "text": "Test message"}, {"mobile": "584140000002", "text": "Test message"}],
        [{"mobile": "584140000003", "text": "Other"}],
    ]


def test_batch_size_option_caps_recipients_per_broadcast(mocked_responses):
    for _ in range(3):
        on(mocked_responses, "POST", "createBroadcastFromJson", xml("create_broadcast.xml"))
    a = adapter(options={"batch_size": "2"})
    a.send([sms(str(i), to=f"+58414000000{i}") for i in range(5)])
    sizes = [len(json.loads(parse_qs(c.request.body)["to"][0])) for c in mocked_responses.calls]
    assert sizes == [2, 2, 1]
    assert adapter(options={"batch_size": "5000"}).max_batch_size == 1000


def test_ok_without_a_broadcast_id_is_unknown(mocked_responses):
    body = (
        b"<response><input>createBroadcastFromJson</input><status>OK</status>"
        b"<description>Completed</description></response>"
    )
    on(mocked_responses, "POST", "createBroadcastFromJson", body)
    [result] = adapter().send([sms()])
    assert result.status == MessageStatus.UNKNOWN and result.error_code == "no_broadcast_id"


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        (sms(sender="Shop"), "short or long code"),
        (sms(sender="1234567890123456"), "at most 15"),
        (sms(text=" "), "empty"),
    ],
)
def test_limits_reject_without_a_call(mocked_responses, message, hint):
    [result] = adapter().send([message])
    assert result.status == MessageStatus.REJECTED and result.error_code == "limit"
    assert hint in result.error_message
    assert len(mocked_responses.calls) == 0


# ---------------------------------------------------------------------------------------------- statuses
@pytest.mark.parametrize(
    ("answer", "status", "raw", "detail"),
    [
        ("get_broadcast.xml", MessageStatus.SENT, "2", ""),
        ("get_broadcast_sending.xml", MessageStatus.QUEUED, "1", ""),
        ("get_broadcast_partial.xml", MessageStatus.UNKNOWN, "2", "sent 1 of 2"),
        ("get_broadcast_none_sent.xml", MessageStatus.FAILED, "2", "without sending"),
        ("get_broadcast_aborted.xml", MessageStatus.UNKNOWN, "4", "stopped after sending 1 of 2"),
        ("get_broadcast_aborted_none_sent.xml", MessageStatus.CANCELLED, "4", "before sending anything"),
        ("get_broadcast_suspended.xml", MessageStatus.QUEUED, "3", ""),
        ("get_broadcast_scheduled.xml", MessageStatus.QUEUED, "1", ""),
        ("namespaced.xml", MessageStatus.SENT, "2", ""),
    ],
)
def test_broadcast_status_becomes_message_status(mocked_responses, answer, status, raw, detail):
    on(mocked_responses, "GET", "getBroadcast", xml(answer))
    reports = adapter().fetch_statuses(["2:584140000001", "2:584140000002"])
    assert len(mocked_responses.calls) == 1  # one lookup per broadcast
    assert [r.external_id for r in reports] == ["2:584140000001", "2:584140000002"]
    assert {r.status for r in reports} == {status}
    assert reports[0].raw_status == raw and reports[0].to == "+584140000001"
    assert detail in reports[0].error_message


def test_statuses_of_several_broadcasts(mocked_responses):
    on(mocked_responses, "GET", "getBroadcast", xml("get_broadcast.xml"))
    on(mocked_responses, "GET", "getBroadcast", xml("get_broadcast_sending.xml"))
    reports = adapter().fetch_statuses(["2:1", "3:2", "2:3"])
    assert [path_params(c)[1] for c in mocked_responses.calls] == [["8", "2"], ["8", "3"]]
    assert [r.external_id for r in reports] == ["2:1", "2:3", "3:2"]
    assert reports[0].occurred_at == datetime.fromisoformat("2013-09-05T15:10:14-04:00")  # endDate


def test_a_non_broadcast_id_is_refused():
    with pytest.raises(ProviderValidationError, match="not an Ogangi broadcast id"):
        adapter().fetch_statuses(["abc"])


# ---------------------------------------------------------------------------------------------- XML tolerance
def test_fragment_and_rooted_answers_parse_alike():
    for name in ("get_broadcast.xml", "get_broadcast_sending.xml", "namespaced.xml"):
        status, description, root = parse_envelope(xml(name))
        assert (status, description) == ("OK", "Completed")
        assert find_shallow(root, "broadcast").findtext("id").strip() == "2"


def test_envelope_status_is_not_confused_with_a_message_status():
    status, _, root = parse_envelope(xml("send_sms_by_file.xml"))
    assert status == "OK"
    statuses = [m.findtext("status") for m in root.iter("message")]
    assert statuses == ["SENT_TO_CARRIER", "SENT_TO_CARRIER"]
    assert {adapter().map_status(s) for s in statuses} == {MessageStatus.SENT}


def test_latin1_answer_with_a_declaration():
    body = '<?xml version="1.0" encoding="ISO-8859-1"?><response><status>OK</status><x>Señal</x></response>'
    root = parse_xml(body.encode("latin-1"))
    assert root.find("response").findtext("x") == "Señal"


@pytest.mark.parametrize(
    "body",
    [
        xml("bomb.xml"),
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><status>&x;</status>',
        b"<!doctype html><html><body>Bad gateway</body></html>",
    ],
)
def test_dtds_and_entities_are_refused(body):
    with pytest.raises(ProviderUnparseableResponse, match="DTD"):
        parse_xml(body)


@pytest.mark.parametrize(
    "body", [b"", b"   ", b"<html><body>oops", b"Service Unavailable", b"<response><input/></response>"]
)
def test_unreadable_answers(body):
    with pytest.raises(ProviderUnparseableResponse):
        parse_envelope(body)


def test_dates_are_parsed_tolerantly():
    assert parse_ogangi_date("2014-12-17T00:12:13.571-04:30").utcoffset() == -timedelta(hours=4, minutes=30)
    assert parse_ogangi_date("2016-08-16T17:49:42.346-04:002") == datetime.fromisoformat(
        "2016-08-16T17:49:42.346-04:00"
    )
    assert parse_ogangi_date("yesterday") is None


# ---------------------------------------------------------------------------------------------- errors
def test_bad_signature_is_an_auth_error_that_stops_a_send(mocked_responses):
    on(mocked_responses, "POST", "createBroadcastFromJson", xml("bad_signature.xml"))
    with pytest.raises(ProviderAuthError) as exc:
        adapter().send([sms()])
    assert exc.value.code == "BAD_SIGNATURE"
    assert exc.value.provider_message == "Invalid signature, access denied"


def test_error_status_rejects_the_batch_with_the_description(mocked_responses):
    on(mocked_responses, "POST", "createBroadcastFromJson", xml("error.xml"))
    results = adapter().send([sms("a", to="+584140000001"), sms("b", to="+584140000002")])
    assert {r.status for r in results} == {MessageStatus.REJECTED}
    assert results[0].error_code == "ERROR"
    assert results[0].error_message == "Internal error, please report this to support@messangi.com"
    assert len(mocked_responses.calls) == 1


def test_error_status_on_a_lookup_raises_with_code_and_message(mocked_responses):
    on(mocked_responses, "GET", "getBroadcast", xml("error.xml"))
    with pytest.raises(ProviderResponseError) as exc:
        adapter().fetch_statuses(["2:1"])
    assert exc.value.code == "ERROR" and not exc.value.retryable
    assert "Internal error" in str(exc.value)


def test_404_with_empty_body_means_invalid_parameters(mocked_responses):
    on(mocked_responses, "GET", "getBroadcast", b"", status=404)
    with pytest.raises(ProviderResponseError, match="invalid parameters") as exc:
        adapter().fetch_statuses(["2:1"])
    assert exc.value.code == "404"


def test_429_is_throttled_with_retry_after(mocked_responses):
    on(
        mocked_responses,
        "POST",
        "createBroadcastFromJson",
        b"Too many requests",
        status=429,
        headers={"Retry-After": "9"},
    )
    with pytest.raises(ProviderThrottled) as exc:
        adapter().send([sms()])
    assert exc.value.retryable and exc.value.retry_after == 9.0


@pytest.mark.parametrize("http_status", [500, 503])
def test_server_errors_are_retryable(mocked_responses, http_status):
    on(mocked_responses, "POST", "createBroadcastFromJson", b"<html>down</html>", status=http_status)
    with pytest.raises(ProviderConnectionError) as exc:
        adapter().send([sms()])
    assert exc.value.retryable


def test_connection_error_is_retryable(mocked_responses):
    on(mocked_responses, "GET", "getBroadcast", requests.ConnectionError("refused"))
    with pytest.raises(ProviderConnectionError) as exc:
        adapter().fetch_statuses(["2:1"])
    assert exc.value.retryable


def test_html_with_200_is_unparseable(mocked_responses):
    on(mocked_responses, "GET", "getBroadcast", b"<html><body>Login</body></html>")
    with pytest.raises(ProviderUnparseableResponse):
        adapter().fetch_statuses(["2:1"])


@pytest.mark.parametrize(
    ("failure", "status"),
    [(requests.exceptions.ReadTimeout("slow"), 200), (b"Gateway Time-out", 504), (b"Bad Gateway", 502)],
)
def test_ambiguous_send_failures_are_unknown_and_never_resent(mocked_responses, failure, status):
    on(mocked_responses, "POST", "createBroadcastFromJson", failure, status=status)
    results = adapter().send([sms("a", to="+584140000001"), sms("b", to="+584140000002")])
    assert {r.status for r in results} == {MessageStatus.UNKNOWN}
    assert len(mocked_responses.calls) == 1


def test_timeout_on_a_lookup_is_retryable(mocked_responses):
    on(mocked_responses, "GET", "getBroadcast", requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(ProviderTimeout) as exc:
        adapter().fetch_statuses(["2:1"])
    assert exc.value.retryable and not exc.value.ambiguous


# ---------------------------------------------------------------------------------------------- cancel, pause, resume
def test_cancel_stops_a_running_broadcast_once_for_all_its_messages(mocked_responses):
    on(mocked_responses, "GET", "getBroadcast", xml("get_broadcast_sending_none_sent.xml"))
    on(mocked_responses, "GET", "stopBroadcast", xml("stop.xml"))
    on(mocked_responses, "GET", "getBroadcast", xml("get_broadcast_aborted_none_sent.xml"))
    results = adapter().cancel(["2:584140000001", "2:584140000002"])
    assert [(r.external_id, r.cancelled) for r in results] == [("2:584140000001", True), ("2:584140000002", True)]
    assert "stopped before sending anything" in results[0].detail
    assert [path_params(c)[0] for c in mocked_responses.calls] == ["getBroadcast", "stopBroadcast", "getBroadcast"]
    assert mocked_responses.calls[1].request.url == f"{API}/stopBroadcast/8/2/{PUBLIC}/{expected_sig('8/2')}"


def test_cancel_of_a_partly_sent_broadcast_stops_it_but_marks_nothing_cancelled(mocked_responses):
    on(mocked_responses, "GET", "getBroadcast", xml("get_broadcast_sending.xml"))
    on(mocked_responses, "GET", "stopBroadcast", xml("stop.xml"))
    on(mocked_responses, "GET", "getBroadcast", xml("get_broadcast_aborted.xml"))
    results = adapter().cancel(["2:584140000001", "2:584140000002"])
    assert [r.cancelled for r in results] == [False, False]
    assert "stopped after 1 of 2 messages had been sent" in results[0].detail


def test_cancel_never_deletes_a_broadcast_that_sent_something(mocked_responses):
    on(mocked_responses, "GET", "getBroadcast", xml("get_broadcast_sending.xml"))
    on(mocked_responses, "GET", "stopBroadcast", xml("error.xml"))
    [result] = adapter().cancel(["2:1"])
    assert not result.cancelled and "Internal error" in result.detail
    assert [c.request.method for c in mocked_responses.calls] == ["GET", "GET"]  # no DELETE


def test_cancel_deletes_a_broadcast_that_has_not_started(mocked_responses):
    on(mocked_responses, "GET", "getBroadcast", xml("get_broadcast_scheduled.xml"))
    on(mocked_responses, "GET", "stopBroadcast", xml("error.xml").replace(b"createBroadcastFromJson", b"stopBroadcast"))
    on(mocked_responses, "DELETE", "broadcast", xml("delete.xml"))
    [result] = adapter().cancel(["3:584140000001"])
    assert result.cancelled and "deleted before it started" in result.detail
    delete = mocked_responses.calls[2]
    assert delete.request.method == "DELETE"
    assert delete.request.url == f"{API}/broadcast/8/3/{PUBLIC}/{expected_sig('8/3')}"


@pytest.mark.parametrize("answer", ["get_broadcast.xml", "get_broadcast_aborted.xml"])
def test_cancel_leaves_finished_broadcasts_alone(mocked_responses, answer):
    on(mocked_responses, "GET", "getBroadcast", xml(answer))
    [result] = adapter().cancel(["2:1"])
    assert not result.cancelled and "already finished" in result.detail
    assert len(mocked_responses.calls) == 1


def test_cancel_reports_a_broadcast_that_cannot_be_found(mocked_responses):
    on(mocked_responses, "GET", "getBroadcast", xml("error.xml"))
    [result] = adapter().cancel(["9:1"])
    assert not result.cancelled and "Internal error" in result.detail


def test_pause_and_resume(mocked_responses):
    on(mocked_responses, "GET", "suspendBroadcast", xml("suspend.xml"))
    on(mocked_responses, "GET", "resumeBroadcast", xml("error.xml"))
    a = adapter()
    assert [r.cancelled for r in a.pause_remote(["2:1", "2:2"])] == [True, True]
    [resumed] = a.resume_remote(["2:1"])
    assert not resumed.cancelled and "Internal error" in resumed.detail
    assert len(mocked_responses.calls) == 2


def test_auth_errors_propagate_from_cancel(mocked_responses):
    on(mocked_responses, "GET", "getBroadcast", xml("bad_signature.xml"))
    with pytest.raises(ProviderAuthError):
        adapter().cancel(["2:1"])


# ---------------------------------------------------------------------------------------------- check
def test_check_lists_shortcodes(mocked_responses):
    on(mocked_responses, "GET", "getShortcodes", xml("get_shortcodes.xml"))
    result = adapter(options={"default_shortcode": "1111111"}).check()
    assert result.ok and "0000000, 1111111" in result.detail


def test_check_flags_a_default_shortcode_the_account_does_not_have(mocked_responses):
    on(mocked_responses, "GET", "getShortcodes", xml("get_shortcodes.xml"))
    result = adapter(options={"default_shortcode": "434"}).check()
    assert not result.ok and "434" in result.detail


# ---------------------------------------------------------------------------------------------- secrets
def test_structural_redaction_of_signed_urls():
    url = f"{API}/getBroadcast/8/2/{PUBLIC}/abcdef0123"
    assert redact_signed_url(url) == f"{API}/getBroadcast/8/2/***/***"
    assert redact_signed_url("https://example.com/other/path") == "https://example.com/other/path"


@pytest.mark.django_db
def test_keys_and_signatures_never_reach_the_request_log_nor_exceptions(mocked_responses):
    account = ProviderAccountFactory(provider="ogangi", base_url=BASE, credentials=CREDENTIALS, options={})
    on(mocked_responses, "POST", "createBroadcastFromJson", xml("create_broadcast.xml"))
    sig = expected_sig("8/1")
    echo = f"<response><status>BAD_SIGNATURE</status><description>bad {sig} for {PUBLIC}</description></response>"
    on(mocked_responses, "GET", "getBroadcast", echo.encode())
    a = adapter_for(account)
    [result] = a.send([sms()])
    with pytest.raises(ProviderAuthError) as exc:
        a.fetch_statuses([result.external_id])
    for text in (str(exc.value), exc.value.provider_message, exc.value.message):
        assert PUBLIC not in text and sig not in text and PRIVATE not in text
    rows = list(ProviderRequestLog.objects.filter(account=account).order_by("id"))
    assert [r.operation for r in rows] == ["send", "status"]
    signatures = [path_params(c)[3] for c in mocked_responses.calls]
    for row in rows:
        dumped = json.dumps([row.url, row.request_headers, row.request_body, row.response_body, row.error])
        assert PUBLIC not in dumped and PRIVATE not in dumped
        assert all(s not in dumped for s in signatures)
        assert row.url.endswith("/***/***")
    assert rows[1].url == f"{API}/getBroadcast/8/1/***/***"
    assert signatures[1] == sig


@pytest.mark.django_db
def test_path_redaction_does_not_depend_on_the_value_scrubber(mocked_responses):
    # values shorter than 4 characters are not scrubbed by value; the signed path is still redacted by position
    short = {**CREDENTIALS, "public_key": "pk"}
    account = ProviderAccountFactory(provider="ogangi", base_url=BASE, credentials=short, options={})
    on(mocked_responses, "GET", "getBroadcast", xml("get_broadcast.xml"))
    adapter_for(account).fetch_statuses(["2:1"])
    row = ProviderRequestLog.objects.get(account=account)
    assert row.url == f"{API}/getBroadcast/8/2/***/***"
