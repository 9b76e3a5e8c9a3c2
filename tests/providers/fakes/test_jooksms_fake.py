"""The JookSMS fake server, and the JookSMS adapter end to end against it over real HTTP."""

import copy
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from providers.adapters import jooksms
from providers.adapters.exceptions import ProviderAuthError, ProviderThrottled
from providers.adapters.jooksms import JookSMSAdapter
from providers.adapters.registry import adapter_for
from providers.adapters.types import AccountConfig, MessageStatus, OutboundSMS, SyncContact, SyncGroup
from providers.fakes.jooksms import JookSMSFake, parse_when
from providers.models import ProviderRequestLog
from tests.factories import ProviderAccountFactory

CLIENT_ID, SECRET = "fake-client", "fake-secret-5521"
PAYLOADS = Path(__file__).parent.parent / "adapters" / "payloads" / "jooksms"


@pytest.fixture(autouse=True)
def _fresh_tokens():
    jooksms.clear_token_cache()
    yield
    jooksms.clear_token_cache()


@pytest.fixture
def fake():
    server = JookSMSFake(client_id=CLIENT_ID, client_secret=SECRET, sent_after=2).start()
    yield server
    server.stop()


def make_adapter(fake, secret=SECRET, uuid="acc", timeout=(2, 5)):
    creds = {"client_id": CLIENT_ID, "client_secret": secret}
    config = AccountConfig(id=None, uuid=uuid, name="JookSMS", base_url=fake.api_url, credentials=creds)
    return JookSMSAdapter(config, timeout=timeout)


def sms(ref, to, text="Sale today", **kw):
    return OutboundSMS(to=to, text=text, sender="50672004393", client_ref=ref, **kw)


def raw_token(fake):
    r = requests.post(
        f"{fake.api_url}/oauth/access_token", data={"client_id": CLIENT_ID, "client_secret": SECRET}, timeout=5
    )
    return r.json()["access_token"]


def keys(value):
    """The key structure of a JSON value (lists reduced to their first item)."""
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys(value[0])] if value else []
    return None


# ---------------------------------------------------------------------------------------------- the fake itself
def test_fake_answers_have_the_documented_shape(fake):
    token = raw_token(fake)
    auth = {"Authorization": f"Bearer {token}"}
    fake.contacts[1] = {
        "display_name": "Nestor Panama", "first_name": "Nestor", "id": 1, "is_public": 0, "last_name": "Panama",
        "main_phone": "+50768819519", "reference": None, "status": 0,
    }  # fmt: skip
    sent = requests.post(
        f"{fake.api_url}/sms/",
        json={"to": "+50768819519", "from": "50672004393", "body": "Just a test", "external_id": 999},
        headers=auth,
        timeout=5,
    ).json()
    assert keys(sent) == keys(json.loads((PAYLOADS / "sms_send.json").read_text()))
    got = requests.get(f"{fake.api_url}/sms/{sent['data']['id']}", headers=auth, timeout=5).json()
    assert keys(got) == keys(json.loads((PAYLOADS / "sms_get.json").read_text()))
    by_ext = requests.get(f"{fake.api_url}/sms/by_external/999", headers=auth, timeout=5).json()
    assert by_ext["data"]["id"] == sent["data"]["id"]
    found = requests.post(f"{fake.api_url}/sms/search/messages", json={"query": "just"}, headers=auth, timeout=5).json()
    assert keys(found) == keys(json.loads((PAYLOADS / "sms_search.json").read_text()))
    fake.add_group("Group VIP")
    groups = requests.get(f"{fake.api_url}/contact_group/", headers=auth, timeout=5).json()
    assert keys(groups) == keys(json.loads((PAYLOADS / "contact_group_list.json").read_text()))
    contacts = requests.get(f"{fake.api_url}/contact/", headers=auth, timeout=5).json()
    documented = json.loads((PAYLOADS / "contact_list_page1.json").read_text())
    assert keys(contacts["data"]) == keys(documented["data"])


def test_fake_needs_a_valid_token(fake):
    assert requests.get(f"{fake.api_url}/sms/1", timeout=5).status_code == 401
    bad = requests.post(f"{fake.api_url}/oauth/access_token", data={"client_id": CLIENT_ID, "client_secret": "x"},
                        timeout=5)  # fmt: skip
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    token = raw_token(fake)
    fake.advance(3601)
    expired = requests.get(f"{fake.api_url}/sms/", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert expired.status_code == 401


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016/06/26 10:00 GMT-5", datetime(2016, 6, 26, 15, 0, tzinfo=UTC)),
        ("2018-03-22 10:20 +0600", datetime(2018, 3, 22, 4, 20, tzinfo=UTC)),
        ("2099/06/26 15:00 +0000", datetime(2099, 6, 26, 15, 0, tzinfo=UTC)),
        ("2099/06/26 15:00", datetime(2099, 6, 26, 15, 0, tzinfo=UTC)),
        ("tomorrow", None),
    ],
)
def test_fake_reads_the_documented_date_formats(text, expected):
    assert parse_when(text) == expected


# ---------------------------------------------------------------------------------------------- end to end
def test_wrong_secret_is_an_auth_error(fake):
    with pytest.raises(ProviderAuthError) as info:
        make_adapter(fake, secret="wrong").check()
    assert info.value.code == "invalid_client"


def test_send_all_three_ways_and_statuses_progress(fake):
    a = make_adapter(fake)
    single = a.send([sms("s", "+50768819519")])
    same = a.send([sms("t1", "+50767832484"), sms("t2", "+50767832485")])
    personal = a.send([sms("p1", "+50767832486", text="Hi Ann"), sms("p2", "+50767832487", text="Hi Bo")])
    bad = a.send([sms("x1", "+50767832488"), OutboundSMS(to="+5067", text="Sale today", sender="", client_ref="x2")])
    assert len(fake.calls("/sms/", "POST")) == 2  # the single one, and x1 (left alone once x2 failed our check)
    assert len(fake.calls("/sms/to_many")) == 1 and len(fake.calls("/sms/many")) == 1
    assert bad[1].status == MessageStatus.REJECTED and bad[1].error_code == "limit"  # our check, no call
    results = single + same + personal + bad[:1]
    assert {r.status for r in results} == {MessageStatus.QUEUED}
    ids = [r.external_id for r in results]
    assert {r.status for r in a.fetch_statuses(ids)} == {MessageStatus.QUEUED}
    fake.advance(5)
    reports = a.fetch_statuses(ids)
    assert [r.external_id for r in reports] == ids
    assert {r.status for r in reports} == {MessageStatus.SENT}
    assert fake.messages[int(ids[3])]["content"] == "Hi Ann"
    assert fake.tokens_issued == 1


def test_minus_one_from_the_fake_is_a_rejection(fake):
    a = make_adapter(fake)
    # the fake refuses a number without a country code inside a list (our own check would stop "+5067")
    a.validate_message = lambda m: None
    results = a.send([sms("a", "+50767832484"), sms("b", "+5067")])
    assert [r.status for r in results] == [MessageStatus.QUEUED, MessageStatus.REJECTED]


def test_scheduled_message_waits(fake):
    a = make_adapter(fake)
    when = datetime.now(UTC) + timedelta(hours=1)
    [result] = a.send([sms("s", "+50768819519", send_at=when)])
    fake.advance(600)
    assert a.fetch_statuses([result.external_id])[0].status == MessageStatus.QUEUED
    fake.advance(3600)
    assert a.fetch_statuses([result.external_id])[0].status == MessageStatus.SENT


def test_read_timeout_then_reconcile_finds_what_the_provider_got(fake):
    a = make_adapter(fake, timeout=(2, 0.3))
    a.check()  # a token first, so only the send is slow
    fake.latency = 0.8
    batch = [sms("a", "+50767832484"), sms("b", "+50767832485")]
    results = a.send(batch)
    assert [r.status for r in results] == [MessageStatus.UNKNOWN] * 2
    deadline = time.monotonic() + 5
    while len(fake.messages) < 2 and time.monotonic() < deadline:  # the server finishes after we gave up
        time.sleep(0.05)
    fake.latency = 0
    assert len(fake.calls("/sms/to_many")) == 1  # never resent
    found = a.reconcile([*batch, sms("never-sent", "+50767832489")])
    assert [f.status for f in found[:2]] == [MessageStatus.QUEUED] * 2
    assert {f.external_id for f in found[:2]} == {str(i) for i in fake.messages}
    assert found[2] is None


def test_expired_token_is_renewed_on_401(fake, monkeypatch):
    a = make_adapter(fake)
    a.check()
    fake.expire_tokens()  # the provider forgot it (or the clocks disagree)
    assert a.check().ok
    assert fake.tokens_issued == 2


def test_token_renewed_at_55_minutes_without_a_401(fake, monkeypatch):
    base = time.time()
    monkeypatch.setattr(jooksms, "now", lambda: base + fake.offset)
    a = make_adapter(fake)
    a.check()
    fake.advance(54 * 60)
    a.check()
    assert fake.tokens_issued == 1
    fake.advance(2 * 60)
    a.check()
    assert fake.tokens_issued == 2
    assert not any(r.path != "/api/v1/oauth/access_token" and r.header("Authorization") == "" for r in fake.requests)


def test_threads_share_one_token(fake):
    errors = []

    def work():
        try:
            make_adapter(fake).check()
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert fake.tokens_issued == 1
    make_adapter(fake, uuid="other-account").check()
    assert fake.tokens_issued == 2


def test_replies_from_the_search(fake):
    a = make_adapter(fake)
    start = fake.now()
    a.send([sms("a", "+50768819519")])
    fake.advance(60)
    fake.seed_reply("+50768819519", "STOP")
    for i in range(20):  # more than one page of outgoing messages in between
        fake.seed_reply(f"+5067000{i:04d}", f"reply {i}")
    replies = a.fetch_replies(since=start)
    assert len(replies) == 21
    assert replies[-1].text == "STOP" and replies[-1].from_phone == "+50768819519"
    assert len(fake.calls("/sms/search/messages")) == 2  # 22 matches, 15 per page
    again = a.fetch_replies(since=start)
    assert [r.external_id for r in again] == [r.external_id for r in replies]


def test_sync_twice_changes_nothing_the_second_time(fake):
    vip = fake.add_group("Group VIP")
    for i in range(3):
        fake.contacts[20000 + i] = {
            "display_name": f"Old {i}", "first_name": "Old", "id": 20000 + i, "is_public": 0,
            "last_name": str(i), "main_phone": f"+5068000000{i}", "reference": None, "status": 0,
        }  # fmt: skip
    a = make_adapter(fake)
    group_id = a.push_group(SyncGroup(name="group vip"))
    assert group_id == str(vip)
    with pytest.raises(Exception, match="create “Newsletter”"):
        a.push_group(SyncGroup(name="Newsletter"))
    ours = [
        SyncContact(phone=f"+5067100{i:04d}", first_name=f"Ann{i}", local_id=f"c{i}", groups=(group_id,))
        for i in range(20)
    ] + [SyncContact(phone="+50680000001", first_name="Old", last_name="1", local_id="c-old")]
    first = a.push_contacts(ours)
    assert all(first) and first[-1] == "20001"  # already there by number
    assert fake.contact_groups[int(first[0])] == vip
    state = copy.deepcopy(fake.contacts)
    pulled = list(make_adapter(fake).pull_contacts())  # a fresh adapter: over two pages
    assert len(pulled) == 23

    second = make_adapter(fake).push_contacts(ours)
    assert second == first
    assert fake.contacts == state
    assert list(make_adapter(fake).pull_contacts()) == pulled
    assert {c.local_id for c in pulled} >= {f"c{i}" for i in range(20)}
    assert next(c for c in pulled if c.local_id == "c3").last_name == ""  # the "-" placeholder reads back empty


def test_throttled_answer_is_retryable(fake):
    a = make_adapter(fake)
    a.check()
    fake.fail_next.append((429, {"Retry-After": "7"}, {"message": "Too Many Attempts."}))
    with pytest.raises(ProviderThrottled) as info:
        a.check()
    assert info.value.retryable and info.value.retry_after == 7


@pytest.mark.django_db
def test_request_log_over_real_http_has_no_secret_or_token(fake):
    account = ProviderAccountFactory(
        provider="jooksms", base_url=fake.api_url, credentials={"client_id": CLIENT_ID, "client_secret": SECRET}
    )
    a = adapter_for(account)
    results = a.send([sms("a", "+50767832484"), sms("b", "+50767832485")])
    a.fetch_statuses([r.external_id for r in results])
    tokens = list(fake.tokens)
    assert len(tokens) == 1
    rows = list(ProviderRequestLog.objects.filter(account=account).order_by("id").values())
    assert [r["operation"] for r in rows] == ["access_token", "sms_to_many", "sms_get", "sms_get"]
    for row in rows:
        text = json.dumps(row, default=str)
        assert SECRET not in text and tokens[0] not in text
    assert rows[1]["request_headers"]["Authorization"] == "***"
