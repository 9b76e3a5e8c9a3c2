"""Jojka adapter against recorded request/answer pairs from its document (seeds/000_…, protocol-notes §4)."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus

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
    ProviderUnparseableResponse,
)
from providers.adapters.jojka import JojkaAdapter, campaign_ref, parse_campaign_ref
from providers.adapters.registry import adapter_for
from providers.adapters.types import (
    AccountConfig,
    MessageStatus,
    OutboundSMS,
    SyncBlockEntry,
    SyncContact,
    SyncGroup,
)
from providers.models import ProviderRequestLog
from tests.factories import ProviderAccountFactory

API = "https://www.jojka.nu/websms/api"
KEY = "jojka-Secret/Key+42"  # with characters that change when form-encoded
PAYLOADS = Path(__file__).parent / "payloads" / "jojka"
CONFIG = AccountConfig(id=None, uuid="acc-jojka", name="Jojka", base_url="", credentials={"api_key": KEY})
FUTURE = datetime(2099, 5, 31, 12, 18, 52, tzinfo=UTC)


def payload(name):
    return json.loads((PAYLOADS / name).read_text())


def adapter():
    return JojkaAdapter(CONFIG)


def sms(ref="ref-1", to="+46709771337", text="hello world", sender="", **kw):
    return OutboundSMS(to=to, text=text, sender=sender, client_ref=ref, **kw)


def form(call):
    """The form body of a recorded call, one value per field; also checks the encoding."""
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return {k: v[0] for k, v in parse_qs(call.request.body, keep_blank_values=True).items()}


def add(rsps, function, body=None, status=200, **kw):
    if isinstance(body, Exception):
        kw["body"] = body
    elif body is not None and not isinstance(body, (str, bytes)):
        kw["json"] = body
    elif body is not None:
        kw["body"] = body
    return rsps.post(f"{API}/{function}", status=status, **kw)


# ---------------------------------------------------------------------------------------------- requests
REQUEST_CASES = [
    pytest.param(
        lambda a: a.send([sms(sender="Jojka")]),
        "send",
        "send.json",
        {"API_key": KEY, "to": "46709771337", "msg": "hello world", "from": "Jojka"},
        id="send",
    ),
    pytest.param(
        lambda a: a.send([sms("a", send_at=FUTURE), sms("b", to="+46709966666", send_at=FUTURE)]),
        "add_campaign",
        "add_campaign.json",
        {
            "API_key": KEY,
            "to_msisdn": "46709771337;46709966666",
            "msg": "hello world",
            "scheduled": "2099-05-31 12:18:52",
            "name": "smsportal a",
        },
        id="add_campaign-scheduled",
    ),
    pytest.param(
        lambda a: a.fetch_statuses(["116690255"]),
        "get_msg_status",
        "get_msg_status.json",
        {"API_key": KEY, "msg_id": "116690255"},
        id="get_msg_status",
    ),
    pytest.param(
        lambda a: a.fetch_statuses(["c287359:46709771337"]),
        "get_campaign_recipients_status",
        "campaign_recipients.json",
        {"API_key": KEY, "campaign_id": "287359"},
        id="get_campaign_recipients_status",
    ),
    pytest.param(
        lambda a: a.campaign_message_ids("287359"),
        "get_msg_ids_by_campaign_id",
        "get_msg_ids_by_campaign_id.json",
        {"API_key": KEY, "campaign_id": "287359"},
        id="get_msg_ids_by_campaign_id",
    ),
    pytest.param(
        lambda a: a.cancel(["c1:46709771337"]),
        "cancel_campaign",
        "done.json",
        {"API_key": KEY, "campaign_id": "1"},
        id="cancel_campaign",
    ),
    pytest.param(
        lambda a: a.fetch_replies(),
        "fetch_replies",
        "fetch_replies.json",
        {"API_key": KEY},
        id="fetch_replies",
    ),
    pytest.param(
        lambda a: a.check(),
        "export_contacts_list",
        "export_contacts_list.json",
        {"API_key": KEY, "max": "1", "offset": "0"},
        id="check",
    ),
    pytest.param(
        lambda a: list(a.pull_contacts()),
        "export_contacts_list",
        "export_contacts_list.json",
        {"API_key": KEY, "max": "10000", "offset": "0"},
        id="export_contacts_list",
    ),
    pytest.param(
        lambda a: a.push_contacts(
            [
                SyncContact(phone="+46709771337", first_name="Lilleman", groups=("Utvecklare", "Jojka personal")),
                SyncContact(phone="+46709966666", first_name="Rutger", last_name="Lindquist", groups=("VD",)),
            ]
        ),
        "import_contacts_list",
        "done.json",
        {
            "API_key": KEY,
            "contacts_list": "46709771337;Lilleman;Utvecklare;Jojka personal\n46709966666;Rutger Lindquist;VD",
        },
        id="import_contacts_list",
    ),
    pytest.param(
        lambda a: a.is_blocked("+46709771337"),
        "check_if_in_blocklist",
        "check_if_in_blocklist_true.json",
        {"API_key": KEY, "msisdn": "46709771337"},
        id="check_if_in_blocklist",
    ),
]


@pytest.mark.parametrize(("action", "function", "answer", "fields"), REQUEST_CASES)
def test_exact_request(mocked_responses, action, function, answer, fields):
    add(mocked_responses, function, payload(answer))
    action(adapter())
    call = mocked_responses.calls[0]
    assert call.request.method == "POST"
    assert call.request.url == f"{API}/{function}"
    assert call.request.headers["Accept"] == "application/json"
    assert form(call) == fields
    assert call.request.body.startswith("API_key=")  # the key travels in the body, never the URL
    assert "API_key" not in call.request.url


def test_body_is_utf8_form_encoding(mocked_responses):
    add(mocked_responses, "send", payload("send.json"))
    adapter().send([sms(text="Hej då & välkommen; 50% rabatt")])
    body = mocked_responses.calls[0].request.body
    assert body == f"API_key={quote_plus(KEY)}&to=46709771337&msg=" + quote_plus("Hej då & välkommen; 50% rabatt")


# ---------------------------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("answer", "external_id"),
    [("send.json", "116690855"), ("send_opaque_id.json", "6223c1c6079e9c21b5901d63")],
)
def test_send_parses_message_id_as_opaque_string(mocked_responses, answer, external_id):
    add(mocked_responses, "send", payload(answer))
    [result] = adapter().send([sms()])
    assert result.status == MessageStatus.QUEUED
    assert result.external_id == external_id
    assert result.ok


def test_campaign_gives_every_message_a_campaign_ref(mocked_responses):
    add(mocked_responses, "add_campaign", payload("add_campaign.json"))
    results = adapter().send([sms("a"), sms("b", to="+46709966666")])
    assert [r.external_id for r in results] == ["c287359:46709771337", "c287359:46709966666"]
    assert {r.status for r in results} == {MessageStatus.QUEUED}
    assert parse_campaign_ref(results[1].external_id) == ("287359", "46709966666")
    assert parse_campaign_ref("116690855") is None
    assert campaign_ref("9", "+4670") == "c9:4670"


@pytest.mark.parametrize(
    ("body", "raw"),
    [
        (["DELIVERED"], "DELIVERED"),  # SDK fixture
        ('"SENT"', "SENT"),  # a bare JSON string
        ({"status": "ERROR"}, "ERROR"),  # an object
    ],
)
def test_get_msg_status_shapes(mocked_responses, body, raw):
    add(mocked_responses, "get_msg_status", body)
    [report] = adapter().fetch_statuses(["116690255"])
    assert report.external_id == "116690255"
    assert report.raw_status == raw
    assert report.status == JojkaAdapter.status_map[raw]


def test_status_map_is_total_over_documented_statuses():
    a = adapter()
    assert a.map_status("SENT") == MessageStatus.SENT
    assert a.map_status("DELIVERED") == MessageStatus.DELIVERED
    assert a.map_status("ERROR") == MessageStatus.UNDELIVERED
    assert a.map_status("delivered") == MessageStatus.DELIVERED
    assert a.map_status("SOMETHING-NEW") == MessageStatus.UNKNOWN


def test_fetch_statuses_costs_one_call_per_campaign(mocked_responses):
    add(mocked_responses, "get_campaign_recipients_status", payload("campaign_recipients.json"))
    add(mocked_responses, "get_msg_status", ["SENT"])
    ids = ["c287359:46709771337", "c287359:46709966666", "c287359:46701111111", "c287359:46700000000", "42"]
    reports = {r.external_id: r for r in adapter().fetch_statuses(ids)}
    assert len(mocked_responses.calls) == 2
    assert reports["c287359:46709771337"].status == MessageStatus.DELIVERED
    assert reports["c287359:46709966666"].status == MessageStatus.UNDELIVERED
    assert reports["c287359:46709966666"].to == "+46709966666"
    assert reports["c287359:46701111111"].status == MessageStatus.SENT
    assert "c287359:46700000000" not in reports  # not listed (yet): no report rather than a guess
    assert reports["42"].status == MessageStatus.SENT


def test_masked_receivers_in_the_documents_example_match_by_prefix_when_unambiguous(mocked_responses):
    add(mocked_responses, "get_campaign_recipients_status", payload("get_campaign_recipients_status.json"))
    reports = adapter().fetch_statuses(["c5:46735212345", "c5:46709031234"])
    # 467352xxxxx is the only row with that prefix; 4670903xxxxxx matches two rows, so no guess is made.
    assert [(r.external_id, r.status) for r in reports] == [("c5:46735212345", MessageStatus.DELIVERED)]


def test_campaign_message_ids(mocked_responses):
    add(mocked_responses, "get_msg_ids_by_campaign_id", payload("get_msg_ids_by_campaign_id.json"))
    assert adapter().campaign_message_ids("287359") == ["116690255", "116690256"]


def test_fetch_replies_parses_and_derives_stable_ids(mocked_responses):
    body = [*payload("fetch_replies.json"), payload("fetch_replies.json")[0]]  # an identical repeat
    add(mocked_responses, "fetch_replies", body)
    add(mocked_responses, "fetch_replies", body)
    first = adapter().fetch_replies()
    second = adapter().fetch_replies()
    assert [r.text for r in first] == ["Sure", "Bacon", "Sure"]
    assert first[0].from_phone == "+46709771337"
    assert first[0].received_at == datetime(2016, 5, 31, 13, 0, 6, tzinfo=UTC)
    assert len({r.external_id for r in first}) == 3  # the repeat is a message of its own
    assert [r.external_id for r in first] == [r.external_id for r in second]  # stable across fetches


def test_fetch_replies_since_is_sent_in_utc_and_dropped_beyond_96_hours(mocked_responses):
    add(mocked_responses, "fetch_replies", [])
    add(mocked_responses, "fetch_replies", [])
    since = timezone.now() - timedelta(hours=2)
    adapter().fetch_replies(since)
    adapter().fetch_replies(timezone.now() - timedelta(hours=97))
    assert form(mocked_responses.calls[0])["since_time"] == since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert "since_time" not in form(mocked_responses.calls[1])


def test_pull_contacts_and_groups_from_the_export(mocked_responses):
    add(mocked_responses, "export_contacts_list", payload("export_contacts_list.json"))
    add(mocked_responses, "export_contacts_list", payload("export_contacts_list.json"))
    a = adapter()
    contacts = list(a.pull_contacts())
    assert contacts[1] == SyncContact(
        phone="+46709966666", first_name="Rutger", last_name="Lindquist", groups=("VD",), external_id="46709966666"
    )
    groups = {g.name: g.member_count for g in a.pull_groups()}
    assert groups == {"Utvecklare": 1, "Jojka personal": 1, "gruppnamn2": 1, "VD": 1}


def test_pull_contacts_pages_by_10000(mocked_responses):
    page = {"export": [{"msisdn": f"4670{i:07d}", "name": "N", "groups": []} for i in range(10000)]}
    add(mocked_responses, "export_contacts_list", page)
    add(mocked_responses, "export_contacts_list", {"export": [{"msisdn": "46799999999", "name": "Last"}]})
    assert len(list(adapter().pull_contacts())) == 10001
    assert form(mocked_responses.calls[1])["offset"] == "10000"


def test_push_contacts_cleans_separators_and_batches(mocked_responses):
    for _ in range(2):
        add(mocked_responses, "import_contacts_list", payload("done.json"))
    contacts = [SyncContact(phone=f"+4670{i:07d}", first_name="A;B", last_name="C,D") for i in range(1001)]
    ids = adapter().push_contacts(contacts)
    assert ids[0] == "46700000000" and len(ids) == 1001
    lines = form(mocked_responses.calls[0])["contacts_list"].split("\n")
    assert len(lines) == 1000
    assert lines[0] == "46700000000;A B C D"
    assert len(form(mocked_responses.calls[1])["contacts_list"].split("\n")) == 1


def test_push_contacts_rejected_batch_gives_empty_ids(mocked_responses):
    add(mocked_responses, "import_contacts_list", {"error": ["Bad CSV on line 1"]})
    a = adapter()
    assert a.push_contacts([SyncContact(phone="+46709771337")]) == [""]
    assert "Bad CSV on line 1" in a.sync_errors[0]


def test_push_group_needs_no_call_and_cleans_the_name():
    assert adapter().push_group(SyncGroup(name="VIP; Stockholm")) == "VIP Stockholm"


def test_blocklist_push_checks_first_so_a_second_push_adds_nothing(mocked_responses):
    add(mocked_responses, "check_if_in_blocklist", payload("check_if_in_blocklist_false.json"))
    add(mocked_responses, "add_to_blocklist", payload("done.json"))
    add(mocked_responses, "check_if_in_blocklist", payload("check_if_in_blocklist_true.json"))
    a = adapter()
    assert a.push_blocklist([SyncBlockEntry(phone="+46709771337")]) == 1
    assert a.push_blocklist([SyncBlockEntry(phone="+46709771337")]) == 0
    assert form(mocked_responses.calls[1]) == {"API_key": KEY, "msisdn": "46709771337"}


def test_remove_from_blocklist(mocked_responses):
    add(mocked_responses, "check_if_in_blocklist", payload("check_if_in_blocklist_true.json"))
    add(mocked_responses, "rm_from_blocklist", payload("done.json"))
    add(mocked_responses, "check_if_in_blocklist", payload("check_if_in_blocklist_false.json"))
    assert adapter().remove_from_blocklist(["+46709771337", "+46709966666"]) == 1
    assert mocked_responses.calls[1].request.url == f"{API}/rm_from_blocklist"


def test_blocklist_cannot_be_listed():
    with pytest.raises(ProviderNotSupported, match="cannot list"):
        adapter().pull_blocklist()


def test_features_and_registry(settings):
    assert JojkaAdapter.supports(Feature.BATCH_SAME_TEXT)
    assert not JojkaAdapter.supports(Feature.BATCH_PERSONAL)
    assert not JojkaAdapter.supports(Feature.DELIVERY_WEBHOOK)  # protocol-notes §4: no callbacks exist
    assert "providers.adapters.jojka.JojkaAdapter" in settings.SMSPORTAL_ADAPTERS
    assert [f.name for f in JojkaAdapter.credential_fields if f.secret] == ["api_key"]


# ---------------------------------------------------------------------------------------------- cancel
def test_cancel_once_per_campaign_and_not_single_sends(mocked_responses):
    add(mocked_responses, "cancel_campaign", payload("done.json"))
    add(mocked_responses, "cancel_campaign", {"error": ["The campaign has already been sent"]})
    results = adapter().cancel(["c1:46709771337", "c1:46709966666", "c2:46709771337", "116690855"])
    assert [r.cancelled for r in results] == [True, True, False, False]
    assert results[2].detail == "The campaign has already been sent"
    assert "only cancel scheduled campaigns" in results[3].detail
    assert [form(c)["campaign_id"] for c in mocked_responses.calls] == ["1", "2"]


# ---------------------------------------------------------------------------------------------- errors
ERROR_CASES = [
    pytest.param(
        200,
        {"error": ["Parameter msg is missing"]},
        {},
        ProviderResponseError,
        "error",
        "Parameter msg is missing",
        id="error-list",
    ),
    pytest.param(
        200,
        {"error": {"msg": "Parameter msg is missing"}},
        {},
        ProviderResponseError,
        "msg",
        "Parameter msg is missing",
        id="error-object",
    ),
    pytest.param(
        200,
        {"error": "Campaign not found"},
        {},
        ProviderResponseError,
        "error",
        "Campaign not found",
        id="error-string",
    ),
    pytest.param(
        200,
        {"error": {"API_key": "Invalid API key"}},
        {},
        ProviderAuthError,
        "API_key",
        "Invalid API key",
        id="auth-in-body",
    ),
    pytest.param(401, {"error": ["Invalid API key"]}, {}, ProviderAuthError, "error", "Invalid API key", id="auth-401"),
    pytest.param(
        403, "<html>Forbidden</html>", {}, ProviderAuthError, "403", "<html>Forbidden</html>", id="auth-403-html"
    ),
    pytest.param(400, {"message": "bad"}, {}, ProviderResponseError, "400", '{"message": "bad"}', id="http-400"),
    pytest.param(
        429,
        {"error": ["Too many requests"]},
        {"Retry-After": "30"},
        ProviderThrottled,
        "error",
        "Too many requests",
        id="throttled",
    ),
    pytest.param(
        500, "Internal Server Error", {}, ProviderConnectionError, "500", "Internal Server Error", id="http-500"
    ),
    pytest.param(
        503,
        {"error": ["Down for maintenance"]},
        {},
        ProviderConnectionError,
        "error",
        "Down for maintenance",
        id="http-503",
    ),
]


@pytest.mark.parametrize(("status", "body", "headers", "exc_class", "code", "message"), ERROR_CASES)
def test_documented_error_shapes(mocked_responses, status, body, headers, exc_class, code, message):
    add(mocked_responses, "get_msg_status", body, status=status, headers=headers)
    with pytest.raises(exc_class) as info:
        adapter().fetch_statuses(["1"])
    exc = info.value
    assert type(exc) is exc_class
    assert exc.code == code
    assert exc.provider_message == message
    assert exc.status_code == status
    assert exc.retryable is (exc_class in (ProviderThrottled, ProviderConnectionError))
    if exc_class is ProviderThrottled:
        assert exc.retry_after == 30


@pytest.mark.parametrize("falsy", [None, "", False, [], {}])
def test_an_empty_error_key_is_not_an_error(mocked_responses, falsy):
    add(mocked_responses, "send", {"message_id": "1", "error": falsy})
    assert adapter().send([sms()])[0].external_id == "1"


def test_connection_error_is_retryable(mocked_responses):
    add(mocked_responses, "get_msg_status", requests.ConnectionError("refused"))
    with pytest.raises(ProviderConnectionError) as info:
        adapter().fetch_statuses(["1"])
    assert info.value.retryable


def test_unreadable_status_answer(mocked_responses):
    add(mocked_responses, "get_msg_status", "<html>oops</html>")
    with pytest.raises(ProviderUnparseableResponse):
        adapter().fetch_statuses(["1"])


# ---------------------------------------------------------------------------------------------- send() contract
def test_rejected_send_keeps_jojkas_code_and_message(mocked_responses):
    add(mocked_responses, "send", {"error": {"to": "Not a valid MSISDN"}})
    [result] = adapter().send([sms()])
    assert result.status == MessageStatus.REJECTED
    assert (result.error_code, result.error_message) == ("to", "Not a valid MSISDN")


@pytest.mark.parametrize(
    ("status", "body", "exc_class"),
    [
        (401, {"error": ["Invalid API key"]}, ProviderAuthError),
        (429, {}, ProviderThrottled),
        (502, "Bad gateway", ProviderConnectionError),
    ],
)
def test_send_raises_auth_and_retryable_errors(mocked_responses, status, body, exc_class):
    add(mocked_responses, "add_campaign", body, status=status)
    with pytest.raises(exc_class):
        adapter().send([sms("a"), sms("b", to="+46709966666")])


def test_read_timeout_after_send_gives_unknown_and_is_never_resent(mocked_responses):
    add(mocked_responses, "add_campaign", requests.exceptions.ReadTimeout("slow"))
    results = adapter().send([sms("a"), sms("b", to="+46709966666")])
    assert [r.status for r in results] == [MessageStatus.UNKNOWN, MessageStatus.UNKNOWN]
    assert results[0].error_code == "timeout"
    assert len(mocked_responses.calls) == 1


@pytest.mark.parametrize("body", ["<html>busy</html>", {"something": "else"}])
def test_unreadable_send_answer_gives_unknown(mocked_responses, body):
    add(mocked_responses, "send", body)
    [result] = adapter().send([sms()])
    assert result.status == MessageStatus.UNKNOWN
    assert result.error_code == "unparseable"


def test_reconcile_needs_the_campaign_id():
    with pytest.raises(ProviderNotSupported, match="smsportal ref-1"):
        adapter().reconcile([sms()])


def test_reconcile_with_the_campaign_id_from_jojka(mocked_responses):
    add(mocked_responses, "add_campaign", requests.exceptions.ReadTimeout("slow"))
    add(mocked_responses, "get_campaign_recipients_status", payload("campaign_recipients.json"))
    a = adapter()
    batch = [sms("a"), sms("b", to="+46709966666"), sms("c", to="+46702222222")]
    assert {r.status for r in a.send(batch)} == {MessageStatus.UNKNOWN}
    hinted = [OutboundSMS(**{**m.__dict__, "extra": {"jojka_campaign_id": "287359"}}) for m in batch]
    found = a.reconcile(hinted)
    assert found[0].external_id == "c287359:46709771337" and found[0].status == MessageStatus.DELIVERED
    assert found[1].status == MessageStatus.UNDELIVERED
    assert found[2] is None  # that campaign does not hold the number: safe to send
    assert len(mocked_responses.calls) == 2


# ---------------------------------------------------------------------------------------------- batching, limits
def test_campaigns_split_at_1000_numbers(mocked_responses):
    for cid in ("1", "2", "3"):
        add(mocked_responses, "add_campaign", {"campaign_id": cid})
    batch = [sms(str(i), to=f"+4670{i:07d}") for i in range(2500)]
    results = adapter().send(batch)
    sizes = [len(form(c)["to_msisdn"].split(";")) for c in mocked_responses.calls]
    assert sizes == [1000, 1000, 500]
    assert results[0].external_id == "c1:46700000000"
    assert results[2499].external_id == "c3:46700002499"


def test_a_repeated_number_goes_to_another_campaign(mocked_responses):
    add(mocked_responses, "add_campaign", {"campaign_id": "1"})
    add(mocked_responses, "add_campaign", {"campaign_id": "2"})
    batch = [sms("a"), sms("b", to="+46709966666"), sms("c"), sms("d", to="+46709966666")]
    results = adapter().send(batch)
    assert [r.external_id for r in results] == ["c1:46709771337", "c1:46709966666", "c2:46709771337", "c2:46709966666"]


def test_different_texts_or_senders_never_share_a_campaign(mocked_responses):
    add(mocked_responses, "add_campaign", {"campaign_id": "1"})
    add(mocked_responses, "send", {"message_id": "9"})
    adapter().send([sms("a"), sms("b", to="+46709966666"), sms("c", text="other")])
    assert [c.request.url.rsplit("/", 1)[1] for c in mocked_responses.calls] == ["add_campaign", "send"]


def test_past_send_time_is_sent_now_and_future_single_goes_by_campaign(mocked_responses):
    add(mocked_responses, "send", {"message_id": "9"})
    add(mocked_responses, "add_campaign", {"campaign_id": "7"})
    a = adapter()
    a.send([sms(send_at=timezone.now() - timedelta(minutes=1))])
    [result] = a.send([sms(send_at=FUTURE)])
    assert "scheduled" not in form(mocked_responses.calls[0])
    assert form(mocked_responses.calls[1])["scheduled"] == "2099-05-31 12:18:52"
    assert result.external_id == "c7:46709771337"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (sms(sender="TwelveChars1"), "at most 11"),
        (sms(sender="Shop!"), "may only use"),
        (sms(sender="4670977133712345"), "at most 15"),
        (sms(text="   "), "empty"),
        (sms(to="+"), "not a phone number"),
    ],
)
def test_limits_are_enforced_before_any_call(message, reason):
    [result] = adapter().send([message])
    assert result.status == MessageStatus.REJECTED
    assert result.error_code == "limit"
    assert reason in result.error_message


def test_numeric_sender_is_sent_as_msisdn(mocked_responses):
    add(mocked_responses, "send", payload("send.json"))
    adapter().send([sms(sender="+46709771337")])
    assert form(mocked_responses.calls[0])["from"] == "46709771337"


def test_allowed_senders():
    a = adapter()
    for sender in ("Jojka", "Shop-Sale", "My Shop", "46709771337"):
        a.validate_message(sms(sender=sender))


# ---------------------------------------------------------------------------------------------- secrets
@pytest.mark.django_db
def test_secrets_never_reach_the_request_log_or_exceptions(mocked_responses):
    account = ProviderAccountFactory(provider="jojka", credentials={"api_key": KEY})
    a = adapter_for(account)
    add(mocked_responses, "send", payload("send.json"))
    add(mocked_responses, "get_msg_status", {"error": [f"Invalid API key {KEY}"]}, status=401)
    add(mocked_responses, "fetch_replies", requests.exceptions.ReadTimeout(f"timeout with {KEY}"))
    a.send([sms()])
    with pytest.raises(ProviderAuthError) as info:
        a.fetch_statuses(["1"])
    assert KEY not in str(info.value) and KEY not in info.value.provider_message
    with pytest.raises(ProviderConnectionError) as info:
        a.fetch_replies()
    assert KEY not in str(info.value)
    rows = list(ProviderRequestLog.objects.filter(account=account).values())
    assert len(rows) == 3
    forms = {KEY, quote(KEY, safe=""), quote_plus(KEY)}
    for row in rows:
        text = json.dumps(row, default=str)
        assert not any(f in text for f in forms), row
    assert {r["operation"] for r in rows} == {"send", "get_msg_status", "fetch_replies"}
    assert all(r["request_body"].startswith("API_key=***") for r in rows)
