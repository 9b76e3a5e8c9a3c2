"""The Jojka fake server, and the Jojka adapter end to end against it over real HTTP."""

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from providers.adapters.exceptions import ProviderAuthError, ProviderThrottled
from providers.adapters.jojka import JojkaAdapter
from providers.adapters.registry import adapter_for
from providers.adapters.types import (
    AccountConfig,
    MessageStatus,
    OutboundSMS,
    SyncBlockEntry,
    SyncContact,
    SyncGroup,
)
from providers.fakes.jojka import JojkaFake
from providers.models import ProviderRequestLog
from tests.factories import ProviderAccountFactory

KEY = "fake-jojka-key-7731"
PAYLOADS = Path(__file__).parent.parent / "adapters" / "payloads" / "jojka"


@pytest.fixture
def fake():
    server = JojkaFake(api_key=KEY, delivered_after=5, fail_numbers={"46700000013"}).start()
    yield server
    server.stop()


def make_adapter(fake, key=KEY):
    return JojkaAdapter(
        AccountConfig(id=None, uuid="acc", name="Jojka", base_url=fake.api_url, credentials={"api_key": key}),
        timeout=(2, 5),
    )


def sms(ref, to, text="Sale today", **kw):
    return OutboundSMS(to=to, text=text, sender="Shop", client_ref=ref, **kw)


def call(fake, function, **fields):
    return requests.post(f"{fake.api_url}/{function}", data={"API_key": KEY, **fields}, timeout=5)


# ---------------------------------------------------------------------------------------------- the fake itself
@pytest.mark.parametrize(
    ("function", "fields", "documented"),
    [
        ("send", {"to": "46709771337", "msg": "hello world"}, "send.json"),
        ("add_campaign", {"to_msisdn": "46709771337;46709966666", "msg": "hello"}, "add_campaign.json"),
        ("check_if_in_blocklist", {"msisdn": "46709771337"}, "check_if_in_blocklist_false.json"),
        ("add_to_blocklist", {"msisdn": "46709771337"}, "done.json"),
        ("add_contact", {"msisdn": "46709771337", "name": "Lilleman", "group": "Utvecklare"}, "add_contact.json"),
    ],
)
def test_fake_answers_have_the_documented_shape(fake, function, fields, documented):
    answer = call(fake, function, **fields).json()
    expected = json.loads((PAYLOADS / documented).read_text())
    assert set(answer) == set(expected)
    assert {type(v) for v in answer.values()} == {type(v) for v in expected.values()}


def test_fake_export_and_status_shapes(fake):
    call(fake, "import_contacts_list", contacts_list="46709771337;Lilleman;Utvecklare;Jojka personal")
    exported = call(fake, "export_contacts_list").json()
    assert exported == {
        "export": [{"msisdn": "46709771337", "name": "Lilleman", "groups": ["Utvecklare", "Jojka personal"]}]
    }
    mid = call(fake, "send", to="46709771337", msg="hi").json()["message_id"]
    assert call(fake, "get_msg_status", msg_id=mid).json() == ["SENT"]
    cid = call(fake, "add_campaign", to_msisdn="46709771337", msg="hi").json()["campaign_id"]
    [row] = call(fake, "get_campaign_recipients_status", campaign_id=cid).json()
    assert set(row) == {"receiver", "message_id", "status"}
    assert call(fake, "get_msg_ids_by_campaign_id", campaign_id=cid).json() == [row["message_id"]]


def test_fake_checks_the_key_and_the_parameters(fake):
    wrong = requests.post(f"{fake.api_url}/send", data={"API_key": "nope", "to": "1", "msg": "x"}, timeout=5)
    assert wrong.status_code == 401 and "error" in wrong.json()
    assert "error" in call(fake, "send", to="46709771337").json()
    assert requests.get(f"{fake.api_url}/send", timeout=5).status_code == 405


# ---------------------------------------------------------------------------------------------- end to end
def test_wrong_key_is_an_auth_error(fake):
    with pytest.raises(ProviderAuthError):
        make_adapter(fake, key="wrong-key").check()
    assert make_adapter(fake).check().ok


def test_send_status_progress_and_failures(fake):
    a = make_adapter(fake)
    single = a.send([sms("s1", "+46709771337")])
    bulk = a.send([sms("b1", "+46709966666"), sms("b2", "+46700000013"), sms("b3", "+46701111111")])
    assert single[0].external_id.isdigit()
    assert {r.external_id.split(":")[0] for r in bulk} == {"c287359"}
    ids = [r.external_id for r in single + bulk]
    first = {r.external_id: r.status for r in a.fetch_statuses(ids)}
    assert first[ids[0]] == MessageStatus.SENT
    assert first[ids[2]] == MessageStatus.UNDELIVERED  # a failing number
    fake.advance(10)
    later = {r.external_id: r.status for r in a.fetch_statuses(ids)}
    assert [later[i] for i in ids] == [
        MessageStatus.DELIVERED,
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.DELIVERED,
    ]
    assert len(fake.calls("get_campaign_recipients_status")) == 2  # one per poll for the whole campaign


def test_scheduled_campaign_can_be_cancelled(fake):
    a = make_adapter(fake)
    when = fake.now() + timedelta(hours=2)
    results = a.send([sms("a", "+46709771337", send_at=when), sms("b", "+46709966666", send_at=when)])
    campaign = fake.campaigns[results[0].external_id[1:].split(":")[0]]
    assert campaign["start"] == when.replace(microsecond=0)
    assert a.fetch_statuses([r.external_id for r in results]) == []  # nothing sent yet
    cancelled = a.cancel([r.external_id for r in results])
    assert all(c.cancelled for c in cancelled)
    fake.advance(3 * 3600)
    assert a.fetch_statuses([r.external_id for r in results]) == []
    assert fake.messages == {}


def test_cancel_after_sending_reports_jojkas_reason(fake):
    a = make_adapter(fake)
    results = a.send([sms("a", "+46709771337"), sms("b", "+46709966666")])
    [outcome, _] = a.cancel([r.external_id for r in results])
    assert not outcome.cancelled and "already been sent" in outcome.detail


def test_replies_are_fetched_once_each(fake):
    a = make_adapter(fake)
    fake.seed_reply("+46709771337", "STOP")
    fake.seed_reply("+46709771337", "Sure", at=fake.now() - timedelta(hours=100))  # beyond 96 h
    first = a.fetch_replies()
    assert [(r.from_phone, r.text) for r in first] == [("+46709771337", "STOP")]
    assert [r.external_id for r in a.fetch_replies()] == [r.external_id for r in first]
    fake.advance(5)
    fake.seed_reply("+46709966666", "Bacon")
    newer = a.fetch_replies(since=first[0].received_at)
    assert [r.text for r in newer] == ["Bacon"]


def test_sync_twice_changes_nothing_the_second_time(fake):
    a = make_adapter(fake)
    group = a.push_group(SyncGroup(name="VIP; Stockholm"))
    contacts = [
        SyncContact(phone="+46709771337", first_name="Lilleman", groups=(group,)),
        SyncContact(phone="+46709966666", first_name="Rutger", last_name="Lindquist", groups=(group, "VD")),
    ]
    assert a.push_contacts(contacts) == ["46709771337", "46709966666"]
    assert a.push_blocklist([SyncBlockEntry(phone="+46701111111")]) == 1
    state = copy.deepcopy((fake.contacts, fake.blocklist))
    pulled = list(a.pull_contacts())

    assert a.push_contacts(contacts) == ["46709771337", "46709966666"]
    assert a.push_blocklist([SyncBlockEntry(phone="+46701111111")]) == 0
    assert (fake.contacts, fake.blocklist) == state
    assert list(a.pull_contacts()) == pulled
    assert pulled[1] == SyncContact(
        phone="+46709966666",
        first_name="Rutger",
        last_name="Lindquist",
        groups=("VIP Stockholm", "VD"),
        external_id="46709966666",
    )
    assert {g.name: g.member_count for g in a.pull_groups()} == {"VIP Stockholm": 2, "VD": 1}
    assert a.remove_from_blocklist(["+46701111111"]) == 1
    assert a.remove_from_blocklist(["+46701111111"]) == 0
    assert fake.blocklist == set()


def test_blocklisted_number_fails(fake):
    a = make_adapter(fake)
    a.push_blocklist([SyncBlockEntry(phone="+46709771337")])
    [result] = a.send([sms("a", "+46709771337")])
    [report] = a.fetch_statuses([result.external_id])
    assert report.status == MessageStatus.UNDELIVERED


def test_throttled_answer_is_retryable(fake):
    fake.fail_next.append((429, {"Retry-After": "3", "Content-Type": "application/json"}, b'{"error": ["slow down"]}'))
    with pytest.raises(ProviderThrottled) as info:
        make_adapter(fake).check()
    assert info.value.retryable and info.value.retry_after == 3


@pytest.mark.django_db
def test_request_log_over_real_http_has_no_key(fake):
    account = ProviderAccountFactory(provider="jojka", base_url=fake.api_url, credentials={"api_key": KEY})
    a = adapter_for(account)
    results = a.send([sms("a", "+46709771337"), sms("b", "+46709966666")])
    a.fetch_statuses([r.external_id for r in results])
    rows = list(ProviderRequestLog.objects.filter(account=account).values())
    assert [r["operation"] for r in sorted(rows, key=lambda r: r["id"])] == [
        "add_campaign",
        "get_campaign_recipients_status",
    ]
    for row in rows:
        assert KEY not in json.dumps(row, default=str)
        assert row["status_code"] == 200


def test_reply_times_are_utc(fake):
    fake.seed_reply("+46709771337", "hej", at=datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    fake.offset = (datetime(2030, 1, 1, 13, 0, tzinfo=UTC) - datetime.now(UTC)).total_seconds()
    [reply] = make_adapter(fake).fetch_replies()
    assert reply.received_at == datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
