"""JookSMS adapter against recorded request/answer pairs from its document (seeds/001_…, protocol-notes §4)."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus

import pytest
import requests
from django.utils import timezone

from providers.adapters import jooksms
from providers.adapters.base import Feature
from providers.adapters.exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderNotSupported,
    ProviderResponseError,
    ProviderThrottled,
    ProviderUnparseableResponse,
)
from providers.adapters.jooksms import JookSMSAdapter, external_id_for, format_scheduled, parse_created
from providers.adapters.registry import adapter_for
from providers.adapters.types import AccountConfig, MessageStatus, OutboundSMS, SyncContact, SyncGroup
from providers.models import ProviderRequestLog
from tests.factories import ProviderAccountFactory

API = "https://sms.jooksms.com/api/v1"
CLIENT_ID = "client-42"
SECRET = "jook-Secret/99+x"  # with characters that change when form-encoded
TOKEN = "tok-9f8e7d6c5b4a"
PAYLOADS = Path(__file__).parent / "payloads" / "jooksms"
FUTURE = datetime(2099, 6, 26, 15, 0, tzinfo=UTC)


def config(uuid="acc-jook", **kw):
    creds = {"client_id": CLIENT_ID, "client_secret": SECRET}
    return AccountConfig(id=None, uuid=uuid, name="JookSMS", base_url="", credentials=creds, **kw)


def adapter(**kw):
    return JookSMSAdapter(config(**kw))


def payload(name):
    return json.loads((PAYLOADS / name).read_text())


def sms(ref="ref-1", to="+50768819519", text="Just a test", sender="50672004393", **kw):
    return OutboundSMS(to=to, text=text, sender=sender, client_ref=ref, **kw)


def ext(ref):
    return external_id_for(ref)


def token(rsps, value=TOKEN, expires_in=3600):
    return rsps.post(
        f"{API}/oauth/access_token",
        json={"access_token": value, "token_type": "Bearer", "expires_in": expires_in},
    )


def body(call):
    assert call.request.headers["Content-Type"] == "application/json"
    return json.loads(call.request.body)


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    jooksms.clear_token_cache()
    yield
    jooksms.clear_token_cache()


@pytest.fixture
def clock(monkeypatch):
    """A frozen clock for token expiry: ``clock.t`` is moved by the test."""

    class Clock:
        t = 1_000_000.0

    monkeypatch.setattr(jooksms, "now", lambda: Clock.t)
    return Clock


# ---------------------------------------------------------------------------------------------- requests
def test_token_request_and_bearer_header(mocked_responses):
    token(mocked_responses)
    mocked_responses.get(f"{API}/sms/113", json=payload("sms_get.json"))
    adapter().fetch_statuses(["113"])
    token_call, call = mocked_responses.calls
    assert token_call.request.method == "POST"
    assert token_call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_call.request.body) == {"client_id": [CLIENT_ID], "client_secret": [SECRET]}
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.request.headers["Accept"] == "application/json"


REQUEST_CASES = [
    pytest.param(
        lambda a: a.send([sms(send_at=FUTURE)]),
        "POST",
        "/sms/",
        "sms_send.json",
        {
            "to": "+50768819519",
            "body": "Just a test",
            "from": "50672004393",
            "scheduled": "2099/06/26 15:00 +0000",
            "external_id": ext("ref-1"),
        },
        id="sms-send",
    ),
    pytest.param(
        lambda a: a.send([sms("a"), sms("b", to="+50767832484")]),
        "POST",
        "/sms/to_many",
        "sms_to_many.json",
        {
            "from": "50672004393",
            "body": "Just a test",
            "list": [
                {"to": "+50768819519", "external_id": ext("a")},
                {"to": "+50767832484", "external_id": ext("b")},
            ],
        },
        id="sms-to_many",
    ),
    pytest.param(
        lambda a: a.send(
            [
                sms("a", text="To test user", send_at=FUTURE),
                sms("b", to="+50767832484", text="to Joe test", send_at=FUTURE),
            ]
        ),
        "POST",
        "/sms/many",
        "sms_many.json",
        {
            "from": "50672004393",
            "scheduled": "2099/06/26 15:00 +0000",
            "list": [
                {"to": "+50768819519", "body": "To test user", "external_id": ext("a")},
                {"to": "+50767832484", "body": "to Joe test", "external_id": ext("b")},
            ],
        },
        id="sms-many-scheduled",
    ),
    pytest.param(lambda a: a.fetch_statuses(["113"]), "GET", "/sms/113", "sms_get.json", None, id="sms-get"),
    pytest.param(
        lambda a: a.reconcile([sms("ref-900")]),
        "GET",
        f"/sms/by_external/{ext('ref-900')}",
        "sms_by_external.json",
        None,
        id="sms-by_external",
    ),
    pytest.param(
        lambda a: a.fetch_replies(datetime(2018, 3, 1, 0, 0, 30, tzinfo=UTC)),
        "POST",
        "/sms/search/messages",
        "sms_search.json",
        {"from_date": "2018/03/01 00:00 +0000"},
        id="sms-search",
    ),
    pytest.param(lambda a: a.check(), "GET", "/contact_group/", "contact_group_list.json", None, id="check"),
    pytest.param(
        lambda a: list(a.pull_groups()), "GET", "/contact_group/", "contact_group_list.json", None, id="groups"
    ),
]


@pytest.mark.parametrize(("action", "method", "path", "answer", "expected_body"), REQUEST_CASES)
def test_exact_request(mocked_responses, action, method, path, answer, expected_body):
    token(mocked_responses)
    mocked_responses.add(method, f"{API}{path}", json=payload(answer))
    action(adapter())
    call = mocked_responses.calls[1]
    assert call.request.method == method
    assert call.request.url == f"{API}{path}"
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    if expected_body is None:
        assert not call.request.body
    else:
        assert body(call) == expected_body


def test_contact_create_request(mocked_responses):
    token(mocked_responses)
    mocked_responses.get(f"{API}/contact/", json={"result": "ok", "meta": {"pagination": {}}, "data": []})
    mocked_responses.post(f"{API}/contact/", json=payload("contact_create.json"))
    ids = adapter().push_contacts(
        [SyncContact(phone="+13014438888", first_name="John", last_name="Doe", local_id="ABC", groups=("6",))]
    )
    assert ids == ["12292"]
    assert body(mocked_responses.calls[2]) == {
        "first_name": "John",
        "last_name": "Doe",
        "main_phone": "+13014438888",
        "reference": "ABC",
        "contact_group_id": 6,
    }


# ---------------------------------------------------------------------------------------------- parsing
def test_single_send_result(mocked_responses):
    token(mocked_responses)
    mocked_responses.post(f"{API}/sms/", json=payload("sms_send.json"))
    [result] = adapter().send([sms()])
    assert (result.status, result.external_id) == (MessageStatus.QUEUED, "106")


@pytest.mark.parametrize(
    ("path", "answer", "ids"),
    [("to_many", "sms_to_many.json", ["110", "111"]), ("many", "sms_many.json", ["112", "113"])],
)
def test_bulk_send_results(mocked_responses, path, answer, ids):
    token(mocked_responses)
    mocked_responses.post(f"{API}/sms/{path}", json=payload(answer))
    text_b = "Just a test" if path == "to_many" else "other"
    results = adapter().send([sms("a"), sms("b", to="+50767832484", text=text_b)])
    assert [r.external_id for r in results] == ids
    assert {r.status for r in results} == {MessageStatus.QUEUED}


def test_minus_one_rejects_only_that_message(mocked_responses):
    token(mocked_responses)
    mocked_responses.post(f"{API}/sms/to_many", json={"result": "ok", "ids": [110, -1]})
    results = adapter().send([sms("a"), sms("b", to="+50767832484")])
    assert results[0].status == MessageStatus.QUEUED
    assert (results[1].status, results[1].error_code) == (MessageStatus.REJECTED, "-1")


@pytest.mark.parametrize("answer", [{"result": "ok", "ids": [110]}, {"result": "ok"}, "<html>"])
def test_bulk_answer_that_does_not_line_up_leaves_messages_unknown(mocked_responses, answer):
    token(mocked_responses)
    kw = {"json": answer} if isinstance(answer, dict) else {"body": answer}
    mocked_responses.post(f"{API}/sms/to_many", **kw)
    results = adapter().send([sms("a"), sms("b", to="+50767832484")])
    assert {r.status for r in results} == {MessageStatus.UNKNOWN}


def test_status_report(mocked_responses):
    token(mocked_responses)
    mocked_responses.get(f"{API}/sms/113", json=payload("sms_get.json"))
    mocked_responses.get(f"{API}/sms/114", status=404, json={"result": "error", "message": "SMS not found"})
    [report] = adapter().fetch_statuses(["113", "114"])
    assert (report.external_id, report.status, report.raw_status) == ("113", MessageStatus.SENT, "sent")
    assert report.to == "+50768819519"


def test_status_map_is_total_over_documented_statuses():
    a = adapter()
    assert a.map_status("queued") == MessageStatus.QUEUED
    assert a.map_status("sent") == MessageStatus.SENT
    assert a.map_status("received") == MessageStatus.DELIVERED
    assert a.map_status("whatever") == MessageStatus.UNKNOWN


def test_parse_created_both_shapes():
    assert parse_created({"date": "2016-06-26 19:59:36.000000", "timezone": "UTC", "timezone_type": 3}) == (
        datetime(2016, 6, 26, 19, 59, 36, tzinfo=UTC)
    )
    assert parse_created({"date": "2016-06-26 12:00:00.000000", "timezone": "America/Panama"}) == (
        datetime(2016, 6, 26, 17, 0, tzinfo=UTC)
    )
    assert parse_created("2017-03-07T15:59:48+00:00") == datetime(2017, 3, 7, 15, 59, 48, tzinfo=UTC)
    assert parse_created(None) is None


def test_replies_are_the_incoming_messages_of_every_page(mocked_responses):
    token(mocked_responses)
    page1 = payload("sms_search.json")
    page1["data"].append(
        {
            "id": 103,
            "external_id": None,
            "direction": "incoming",
            "status": "received",
            "number": "+50650191906",
            "content": "Mi clave",
            "created": "2018-03-01T00:05:00+00:00",
            "updated": "2018-03-01T00:05:00+00:00",
        }
    )
    page1["meta"]["pagination"].update(total_pages=2, total=3)
    page2 = {
        "result": "ok",
        "meta": {"pagination": {"current_page": 2, "total_pages": 2, "links": []}},
        "data": [
            {
                "id": 104,
                "direction": "incoming",
                "status": "received",
                "number": "+50650191907",
                "content": "STOP",
                "created": "2018-03-01T00:06:00+00:00",
            }
        ],
    }
    mocked_responses.post(f"{API}/sms/search/messages", json=page1)
    mocked_responses.post(f"{API}/sms/search/messages?page=2", json=page2)
    replies = adapter().fetch_replies(datetime(2018, 3, 1, tzinfo=UTC))
    assert [(r.external_id, r.from_phone, r.text) for r in replies] == [
        ("103", "+50650191906", "Mi clave"),
        ("104", "+50650191907", "STOP"),
    ]
    assert replies[0].received_at == datetime(2018, 3, 1, 0, 5, tzinfo=UTC)
    assert body(mocked_responses.calls[2]) == {"from_date": "2018/03/01 00:00 +0000"}


def test_pull_contacts_follows_pages_on_our_host(mocked_responses):
    token(mocked_responses)
    mocked_responses.get(f"{API}/contact/", json=payload("contact_list_page1.json"))
    mocked_responses.get(f"{API}/contact/?page=2", json=payload("contact_list_page2.json"))
    contacts = list(adapter().pull_contacts())
    assert len(contacts) == 19
    assert contacts[0] == SyncContact(
        phone="+5321235135", first_name="TestI", last_name="User009", external_id="12278", local_id=""
    )
    assert contacts[9].local_id == "ab0039"
    assert contacts[13].last_name == ""  # null
    assert contacts[15].last_name == ""  # our "-" placeholder


def test_push_contacts_creates_only_missing_ones(mocked_responses):
    token(mocked_responses)
    mocked_responses.get(f"{API}/contact/", json=payload("contact_list_page1.json"))
    mocked_responses.get(f"{API}/contact/?page=2", json=payload("contact_list_page2.json"))
    mocked_responses.post(f"{API}/contact/", json={"result": "ok", "data": {"id": 13000}})
    mocked_responses.post(
        f"{API}/contact/",
        status=422,
        json={
            "result": "error",
            "message": "The given data was invalid.",
            "errors": {"main_phone": ["The main phone format is invalid."]},
        },
    )
    a = adapter()
    contacts = [
        SyncContact(phone="+1999", first_name="Ref", local_id="ab0040"),  # known by reference
        SyncContact(phone="+5321235135", first_name="Known by phone"),
        SyncContact(phone="+46701234567", first_name="Anna Maria Berg", local_id="new-1"),
        SyncContact(phone="+4", first_name="Bad", local_id="new-2"),
    ]
    assert a.push_contacts(contacts) == ["12283", "12278", "13000", ""]
    assert body(mocked_responses.calls[3]) == {
        "first_name": "Anna",
        "last_name": "Maria Berg",
        "main_phone": "+46701234567",
        "reference": "new-1",
    }
    assert "main_phone: The main phone format is invalid." in a.sync_errors[0]
    # the same push again makes no call (the strict mock would fail on one)
    assert a.push_contacts(contacts[:3]) == ["12283", "12278", "13000"]
    assert len(mocked_responses.calls) == 5


def test_missing_last_name_is_sent_as_placeholder(mocked_responses):
    token(mocked_responses)
    mocked_responses.get(f"{API}/contact/", json={"result": "ok", "data": []})
    mocked_responses.post(f"{API}/contact/", json={"result": "ok", "data": {"id": 1}})
    adapter().push_contacts([SyncContact(phone="+46701234567")])
    sent = body(mocked_responses.calls[2])
    assert (sent["first_name"], sent["last_name"]) == ("+46701234567", "-")


def test_push_group_matches_existing_and_cannot_create(mocked_responses):
    token(mocked_responses)
    mocked_responses.get(f"{API}/contact_group/", json=payload("contact_group_list.json"))
    a = adapter()
    assert a.push_group(SyncGroup(name="group vip")) == "4"
    assert a.push_group(SyncGroup(name="Renamed", external_id="5")) == "5"
    with pytest.raises(ProviderNotSupported, match="create “Newsletter” in JookSMS"):
        a.push_group(SyncGroup(name="Newsletter"))
    assert len(mocked_responses.calls) == 2  # the group list is read once


def test_check(mocked_responses):
    token(mocked_responses)
    mocked_responses.get(f"{API}/contact_group/", json=payload("contact_group_list.json"))
    result = adapter().check()
    assert result.ok and "3 contact groups" in result.detail


def test_no_blocklist_no_cancel():
    a = adapter()
    assert not a.supports(Feature.BLOCKLIST_SYNC) and not a.supports(Feature.CANCEL)
    with pytest.raises(ProviderNotSupported):
        a.push_blocklist([])
    with pytest.raises(ProviderNotSupported):
        a.cancel(["1"])


# ---------------------------------------------------------------------------------------------- reconcile
def test_timeout_then_reconcile_by_external_id(mocked_responses):
    token(mocked_responses)
    mocked_responses.post(f"{API}/sms/to_many", body=requests.exceptions.ReadTimeout("slow"))
    batch = [sms("a"), sms("b", to="+50767832484"), sms("c", to="+50700000000")]
    a = adapter()
    results = a.send(batch)
    assert [r.status for r in results] == [MessageStatus.UNKNOWN] * 3
    assert len(mocked_responses.calls) == 2  # token + one send, never repeated
    found = payload("sms_by_external.json")
    mocked_responses.get(f"{API}/sms/by_external/{ext('a')}", json=found)
    mocked_responses.get(
        f"{API}/sms/by_external/{ext('b')}", status=404, json={"result": "error", "message": "SMS not found"}
    )
    mocked_responses.get(f"{API}/sms/by_external/{ext('c')}", json=found)  # another number: a clash
    reconciled = a.reconcile(batch)
    assert (reconciled[0].status, reconciled[0].external_id) == (MessageStatus.SENT, "106")
    assert reconciled[1] is None
    assert (reconciled[2].status, reconciled[2].error_code) == (MessageStatus.UNKNOWN, "reference_clash")


def test_reconcile_raises_other_errors(mocked_responses):
    token(mocked_responses)
    mocked_responses.get(f"{API}/sms/by_external/{ext('a')}", status=500, body="oops")
    with pytest.raises(ProviderConnectionError):
        adapter().reconcile([sms("a")])


def test_external_id_is_a_stable_integer():
    assert external_id_for("3f0c") == external_id_for("3f0c")
    assert 0 < external_id_for("3f0c") < 2**53
    assert 0 < external_id_for("3f0c", 31) < 2**31
    narrow = JookSMSAdapter(config(options={"external_id_bits": "31"}))
    assert narrow.external_id(sms("3f0c")) == external_id_for("3f0c", 31)


# ---------------------------------------------------------------------------------------------- tokens
def test_token_is_cached_and_renewed_at_55_minutes(mocked_responses, clock):
    token(mocked_responses, "tok-first-111")
    mocked_responses.get(f"{API}/sms/113", json=payload("sms_get.json"))
    a = adapter()
    a.fetch_statuses(["113"])
    clock.t += 3299
    a.fetch_statuses(["113"])
    assert [c.request.url for c in mocked_responses.calls].count(f"{API}/oauth/access_token") == 1
    token(mocked_responses, "tok-second-222")
    clock.t += 2
    a.fetch_statuses(["113"])
    assert mocked_responses.calls[-1].request.headers["Authorization"] == "Bearer tok-second-222"


def test_short_lived_token_renews_at_half_life(mocked_responses, clock):
    token(mocked_responses, "tok-short-111", expires_in=120)
    mocked_responses.get(f"{API}/sms/113", json=payload("sms_get.json"))
    a = adapter()
    a.fetch_statuses(["113"])
    clock.t += 61
    token(mocked_responses, "tok-short-222", expires_in=120)
    a.fetch_statuses(["113"])
    assert mocked_responses.calls[-1].request.headers["Authorization"] == "Bearer tok-short-222"


def test_token_is_shared_by_instances_of_one_account_only(mocked_responses):
    token(mocked_responses, "tok-shared-111")
    mocked_responses.get(f"{API}/sms/113", json=payload("sms_get.json"))
    adapter().fetch_statuses(["113"])
    adapter().fetch_statuses(["113"])
    assert len(mocked_responses.calls) == 3
    token(mocked_responses, "tok-other-222")
    adapter(uuid="another-account").fetch_statuses(["113"])
    assert mocked_responses.calls[-1].request.headers["Authorization"] == "Bearer tok-other-222"


def test_401_renews_once_and_retries(mocked_responses):
    token(mocked_responses, "tok-old-111")
    mocked_responses.post(f"{API}/sms/", status=401, json={"result": "error", "message": "Unauthenticated."})
    token(mocked_responses, "tok-new-222")
    mocked_responses.post(f"{API}/sms/", json=payload("sms_send.json"))
    [result] = adapter().send([sms()])
    assert result.external_id == "106"
    assert [c.request.headers.get("Authorization") for c in mocked_responses.calls[1::2]] == [
        "Bearer tok-old-111",
        "Bearer tok-new-222",
    ]


def test_token_problem_in_a_200_body_also_renews(mocked_responses):
    token(mocked_responses, "tok-old-111")
    mocked_responses.get(f"{API}/sms/113", json={"result": "error", "message": "Token has expired"})
    token(mocked_responses, "tok-new-222")
    mocked_responses.get(f"{API}/sms/113", json=payload("sms_get.json"))
    assert adapter().fetch_statuses(["113"])[0].status == MessageStatus.SENT


def test_second_401_is_an_auth_error(mocked_responses):
    token(mocked_responses, "tok-old-111")
    mocked_responses.get(f"{API}/sms/113", status=401, json={"result": "error", "message": "Unauthenticated."})
    token(mocked_responses, "tok-new-222")
    with pytest.raises(ProviderAuthError, match="Unauthenticated"):
        adapter().fetch_statuses(["113"])
    assert len(mocked_responses.calls) == 4


@pytest.mark.parametrize(
    ("status", "answer", "exc_class", "code"),
    [
        (
            401,
            {"error": "invalid_client", "error_description": "Client authentication failed."},
            ProviderAuthError,
            "invalid_client",
        ),
        (
            400,
            {"error": "invalid_request", "error_description": "The request is missing a parameter."},
            ProviderAuthError,
            "invalid_request",
        ),
        (429, {"message": "Too Many Attempts."}, ProviderThrottled, "429"),
        (503, "down", ProviderConnectionError, "503"),
    ],
)
def test_token_errors(mocked_responses, status, answer, exc_class, code):
    kw = {"json": answer} if isinstance(answer, dict) else {"body": answer}
    mocked_responses.post(f"{API}/oauth/access_token", status=status, **kw)
    with pytest.raises(exc_class) as info:
        adapter().check()
    assert info.value.code == code


def test_token_answer_without_token(mocked_responses):
    mocked_responses.post(f"{API}/oauth/access_token", json={"token_type": "Bearer"})
    with pytest.raises(ProviderUnparseableResponse):
        adapter().check()


def test_missing_credentials_fail_without_a_call():
    a = JookSMSAdapter(AccountConfig(id=None, uuid="x", name="x", base_url="", credentials={"client_id": "a"}))
    with pytest.raises(ProviderAuthError, match="not both set"):
        a.check()


# ---------------------------------------------------------------------------------------------- errors
ERROR_CASES = [
    pytest.param(
        422,
        {"result": "error", "message": "The given data was invalid.", "errors": {"to": ["The to field is required."]}},
        {},
        ProviderResponseError,
        "422",
        "The given data was invalid. (to: The to field is required.)",
        id="validation-422",
    ),
    pytest.param(
        200,
        {"result": "error", "message": "Not enough credit", "code": "no_credit"},
        {},
        ProviderResponseError,
        "no_credit",
        "Not enough credit",
        id="error-in-200",
    ),
    pytest.param(
        403, {"result": "error", "message": "Forbidden"}, {}, ProviderAuthError, "403", "Forbidden", id="forbidden"
    ),
    pytest.param(
        429,
        {"message": "Too Many Attempts."},
        {"Retry-After": "12"},
        ProviderThrottled,
        "429",
        "Too Many Attempts.",
        id="throttled",
    ),
    pytest.param(500, "<html>Whoops</html>", {}, ProviderConnectionError, "500", "<html>Whoops</html>", id="http-500"),
    pytest.param(
        400,
        {"error": {"code": "bad_number", "message": "Bad number"}},
        {},
        ProviderResponseError,
        "bad_number",
        "Bad number",
        id="error-object",
    ),
]


@pytest.mark.parametrize(("status", "answer", "headers", "exc_class", "code", "message"), ERROR_CASES)
def test_error_shapes(mocked_responses, status, answer, headers, exc_class, code, message):
    token(mocked_responses)
    kw = {"json": answer} if isinstance(answer, dict) else {"body": answer}
    mocked_responses.get(f"{API}/sms/113", status=status, headers=headers, **kw)
    with pytest.raises(exc_class) as info:
        adapter().fetch_statuses(["113"])
    exc = info.value
    assert type(exc) is exc_class
    assert (exc.code, exc.provider_message, exc.status_code) == (code, message, status)
    assert exc.retryable is (exc_class in (ProviderThrottled, ProviderConnectionError))
    if exc_class is ProviderThrottled:
        assert exc.retry_after == 12


def test_connection_error_is_retryable(mocked_responses):
    token(mocked_responses)
    mocked_responses.get(f"{API}/sms/113", body=requests.ConnectionError("refused"))
    with pytest.raises(ProviderConnectionError) as info:
        adapter().fetch_statuses(["113"])
    assert info.value.retryable


def test_rejected_send_keeps_the_providers_message(mocked_responses):
    token(mocked_responses)
    mocked_responses.post(
        f"{API}/sms/",
        status=422,
        json={"result": "error", "message": "The given data was invalid.", "errors": {"to": ["Invalid number."]}},
    )
    [result] = adapter().send([sms()])
    assert result.status == MessageStatus.REJECTED
    assert (result.error_code, result.error_message) == ("422", "The given data was invalid. (to: Invalid number.)")


@pytest.mark.parametrize(
    ("status", "exc_class"), [(429, ProviderThrottled), (502, ProviderConnectionError), (403, ProviderAuthError)]
)
def test_send_raises_retryable_and_auth_errors(mocked_responses, status, exc_class):
    token(mocked_responses)
    mocked_responses.post(f"{API}/sms/", status=status, json={"result": "error", "message": "no"})
    with pytest.raises(exc_class):
        adapter().send([sms()])


# ---------------------------------------------------------------------------------------------- batching, limits
def test_batches_split_at_100(mocked_responses):
    token(mocked_responses)
    for n in (100, 100, 50):
        mocked_responses.post(f"{API}/sms/to_many", json={"result": "ok", "ids": list(range(1, n + 1))})
    batch = [sms(str(i), to=f"+5067{i:07d}") for i in range(250)]
    results = adapter().send(batch)
    assert [len(body(c)["list"]) for c in mocked_responses.calls[1:]] == [100, 100, 50]
    assert all(r.status == MessageStatus.QUEUED for r in results)


def test_different_send_times_never_share_a_call(mocked_responses):
    token(mocked_responses)
    mocked_responses.post(f"{API}/sms/", json=payload("sms_send.json"))
    mocked_responses.post(f"{API}/sms/", json=payload("sms_send.json"))
    adapter().send([sms("a"), sms("b", send_at=FUTURE)])
    assert "scheduled" not in body(mocked_responses.calls[1])
    assert body(mocked_responses.calls[2])["scheduled"] == "2099/06/26 15:00 +0000"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (sms(sender="Shop"), "is not a phone number"),
        (sms(sender="5067200439312345"), "at most 15"),
        (sms(to="+123"), "with + and the country code"),
        (sms(text=""), "empty"),
    ],
)
def test_limits_are_enforced_before_any_call(message, reason):
    [result] = adapter().send([message])
    assert (result.status, result.error_code) == (MessageStatus.REJECTED, "limit")
    assert reason in result.error_message


def test_scheduled_format_rounds_up_to_the_minute():
    assert format_scheduled(datetime(2099, 6, 26, 15, 0, tzinfo=UTC)) == "2099/06/26 15:00 +0000"
    assert format_scheduled(datetime(2099, 6, 26, 15, 0, 1, tzinfo=UTC)) == "2099/06/26 15:01 +0000"
    assert format_scheduled(datetime(2099, 12, 31, 23, 59, 30, tzinfo=UTC)) == "2100/01/01 00:00 +0000"


def test_past_send_time_is_sent_now(mocked_responses):
    token(mocked_responses)
    mocked_responses.post(f"{API}/sms/", json=payload("sms_send.json"))
    adapter().send([sms(send_at=timezone.now() - timedelta(seconds=5))])
    assert "scheduled" not in body(mocked_responses.calls[1])


# ---------------------------------------------------------------------------------------------- secrets
@pytest.mark.django_db
def test_secrets_never_reach_the_request_log_or_exceptions(mocked_responses):
    account = ProviderAccountFactory(provider="jooksms", credentials={"client_id": CLIENT_ID, "client_secret": SECRET})
    a = adapter_for(account)
    token(mocked_responses)
    mocked_responses.post(f"{API}/sms/", json=payload("sms_send.json"))
    mocked_responses.get(
        f"{API}/sms/113", status=403, json={"result": "error", "message": f"Token {TOKEN} lacks scope"}
    )
    a.send([sms()])
    with pytest.raises(ProviderAuthError) as info:
        a.fetch_statuses(["113"])
    assert TOKEN not in str(info.value) and TOKEN not in info.value.provider_message
    rows = list(ProviderRequestLog.objects.filter(account=account).values())
    assert {r["operation"] for r in rows} == {"access_token", "sms_send", "sms_get"}
    needles = {SECRET, quote(SECRET, safe=""), quote_plus(SECRET), TOKEN}
    for row in rows:
        text = json.dumps(row, default=str)
        assert not any(n in text for n in needles), row
    token_row = next(r for r in rows if r["operation"] == "access_token")
    assert "client_secret=***" in token_row["request_body"].replace("%2A", "*")
    assert '"access_token": "***"' in token_row["response_body"]
