"""Sync against each provider's local fake server over real HTTP: the first run pushes and pulls, the second
changes nothing (neither here nor there)."""

import pytest

from contacts.models import BlocklistEntry, Contact, Group, GroupMembership
from providers.adapters.registry import get_adapter_class
from providers.management.commands.fake_provider import fake_account_settings, start_fake
from providers.models import ExternalMapping, SyncRun
from providers.sync import SyncEngine, offered_scopes
from tests.factories import (
    BlocklistEntryFactory,
    ContactFactory,
    GroupFactory,
    GroupMembershipFactory,
    ProviderAccountFactory,
)

pytestmark = pytest.mark.django_db

SYNC_CODES = ["jojka", "jooksms", "apifon"]
CHANGE_KEYS = ("created", "updated", "linked", "removed")


def changes(summary):
    return {
        step: {k: s[k] for k in CHANGE_KEYS if s.get(k)}
        for step, s in summary.items()
        if any(s.get(k) for k in CHANGE_KEYS)
    }


def failures(summary):
    return {step: (s["failed"], s["errors"]) for step, s in summary.items() if s.get("failed")}


@pytest.fixture(params=SYNC_CODES)
def fake_account(request, workspace):
    code = request.param
    fake = start_fake(code)
    settings = fake_account_settings(code, fake)
    account = ProviderAccountFactory(
        name=f"{code} fake",
        provider=code,
        base_url=settings["base_url"],
        credentials=settings["credentials"],
        options=settings["options"],
    )
    yield account, fake
    fake.stop()


def local_audience():
    vip = GroupFactory(name="VIP")
    news = GroupFactory(name="Newsletter")
    people = [
        ContactFactory(phone="+46701000001", first_name="Anna", last_name="Berg"),
        ContactFactory(phone="+46701000002", first_name="Bo", last_name="Ek"),
        ContactFactory(phone="+46701000003", first_name="Cia", last_name="Lund"),
    ]
    GroupMembershipFactory(group=vip, contact=people[0])
    GroupMembershipFactory(group=vip, contact=people[1])
    GroupMembershipFactory(group=news, contact=people[2])
    BlocklistEntryFactory(phone="+46709999991")
    return vip, news, people


def test_sync_twice_changes_nothing_the_second_time(fake_account):
    account, fake = fake_account
    assert offered_scopes(get_adapter_class(account.provider))
    local_audience()

    first = SyncEngine(account).run()
    assert failures(first) == {}, first
    assert first["contacts.push"]["created"] == 3, first
    assert ExternalMapping.objects.filter(account=account, object_type="contact").count() == 3

    snapshot = (
        list(Contact.objects.order_by("pk").values()),
        list(Group.objects.order_by("pk").values()),
        list(GroupMembership.objects.order_by("pk").values_list("group_id", "contact_id")),
        list(BlocklistEntry.objects.order_by("pk").values_list("phone", flat=True)),
    )
    calls_before = len(fake.requests)
    second = SyncEngine(account).run()
    assert failures(second) == {}, second
    assert changes(second) == {}, second
    after = (
        list(Contact.objects.order_by("pk").values()),
        list(Group.objects.order_by("pk").values()),
        list(GroupMembership.objects.order_by("pk").values_list("group_id", "contact_id")),
        list(BlocklistEntry.objects.order_by("pk").values_list("phone", flat=True)),
    )
    assert after == snapshot
    writes = [r for r in fake.requests[calls_before:] if r.method in {"POST", "PUT", "PATCH", "DELETE"}]
    read_only = [r for r in writes if not _is_read(account.provider, r)]
    assert read_only == [], [(r.method, r.path) for r in read_only]


def _is_read(code, req) -> bool:
    """Calls that only read, although sent as POST (Jojka's API is all POST; token requests; Apifon queries)."""
    path = req.path
    if code == "jojka":
        return path.rsplit("/", 1)[-1] in {"export_contacts_list", "check_if_in_blocklist", "get_groups_from_msisdn"}
    if code == "jooksms":
        return path.endswith("/oauth/access_token")
    if code == "apifon":
        return path.endswith(("/query", "/oauth2/token"))
    return False


def test_sync_pulls_what_the_provider_holds(fake_account):
    account, _fake = fake_account
    # in a group: Apifon keeps subscribers only inside lists
    GroupMembershipFactory(group=GroupFactory(name="VIP"), contact=ContactFactory(phone="+46701000009"))
    first = SyncEngine(account, direction=SyncRun.Direction.PUSH).run()
    assert failures(first) == {}, first
    # a second account on the same fake sees what the first pushed, as the provider's own data
    other = ProviderAccountFactory(
        name="other view",
        provider=account.provider,
        base_url=account.base_url,
        credentials=account.credentials,
        options=account.options,
    )
    Contact.objects.all().delete()
    pulled = SyncEngine(other, direction=SyncRun.Direction.PULL).run()
    assert failures(pulled) == {}, pulled
    assert Contact.objects.filter(phone="+46701000009").exists()
    assert changes(SyncEngine(other, direction=SyncRun.Direction.PULL).run()) == {}
