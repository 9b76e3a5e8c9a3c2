"""Sync engine against the in-memory provider: push, pull, idempotency (a second run changes nothing and
makes no write call), ours-wins merging, member counts, blocklist removal, batches, failures."""

import pytest

from contacts.models import BlocklistEntry, Contact, ContactField, Group, GroupMembership
from providers import services
from providers.adapters.exceptions import ProviderConnectionError, ProviderResponseError
from providers.models import ExternalMapping, SyncRun
from providers.sync import SyncEngine, contact_fingerprint, normalize_phone
from smsportal.models import AuditLog
from tests.factories import (
    BlocklistEntryFactory,
    ContactFactory,
    ContactListFactory,
    GroupFactory,
    GroupMembershipFactory,
    ListMembershipFactory,
)
from tests.providers.memory_adapter import MemoryAdapter, store_for

pytestmark = pytest.mark.django_db

WRITE_CALLS = ("push_group", "push_contacts", "push_blocklist", "remove_from_blocklist")


def run(account, **kwargs):
    return SyncEngine(account, **kwargs).run()


def writes(store):
    return {k: store.calls[k] for k in WRITE_CALLS}


def changed(summary):
    return {
        step: {k: v for k, v in s.items() if k in ("created", "updated", "linked", "removed") and v}
        for step, s in summary.items()
        if any(s.get(k) for k in ("created", "updated", "linked", "removed"))
    }


@pytest.fixture
def local_data(workspace):
    vip = GroupFactory(name="VIP")
    ContactListFactory(name="Spring import")
    a = ContactFactory(phone="+46701000001", first_name="Anna", last_name="Berg")
    b = ContactFactory(phone="+46701000002", first_name="Bo", last_name="")
    ContactFactory(phone="+46701000003", first_name="Cy", status=Contact.Status.OPTED_OUT)
    for i in range(4, 9):
        ContactFactory(phone=f"+4670100000{i}", first_name=f"P{i}")
    GroupMembershipFactory(group=vip, contact=a)
    GroupMembershipFactory(group=vip, contact=b)
    BlocklistEntryFactory(phone="+46709999999")
    return {"vip": vip, "a": a, "b": b}


def test_push_then_pull_then_nothing_changes(memory_account, local_data):
    store = store_for(memory_account)
    first = run(memory_account)
    assert first["groups.push"]["created"] == 2  # the group and the list
    assert first["contacts.push"]["created"] == 7  # active ones only: the opted-out contact stays here
    assert first["blocklist.push"]["created"] == 1
    assert sorted(store.groups.values()) == ["Spring import", "VIP"]
    vip_ext = next(e for e, n in store.groups.items() if n == "VIP")
    pushed_a = next(c for c in store.contacts.values() if c["phone"] == "+46701000001")
    assert pushed_a["groups"] == [vip_ext]
    assert "+46701000003" not in {c["phone"] for c in store.contacts.values()}
    assert set(store.blocklist) == {"+46709999999"}
    # the pull right after the push saw our own data: nothing to do
    assert changed({k: v for k, v in first.items() if k.endswith(".pull")}) == {}

    before = writes(store)
    contacts_before = list(Contact.objects.order_by("pk").values())
    second = run(memory_account)
    assert changed(second) == {}
    assert writes(store) == before  # no write call at all to the provider
    assert list(Contact.objects.order_by("pk").values()) == contacts_before
    assert second["contacts.push"]["unchanged"] == 7


def test_pull_creates_contacts_groups_memberships_and_blocklist(memory_account, local_data):
    ContactField.objects.create(key="city", label="City")
    store = store_for(memory_account)
    store.groups.update({"g-news": "Newsletter", "g-vip": "vip"})
    store.contacts.update(
        {
            "c-new": {
                "phone": "+46702000001",
                "first_name": "Nea",
                "last_name": "New",
                "attributes": {"city": "Lund", "shoe": "42"},
                "groups": ["g-news"],
            },
            "c-bo": {"phone": "46701000002", "first_name": "Robert", "last_name": "Bergman", "groups": ["g-news"]},
            "c-bad": {"phone": "12", "first_name": "Broken"},
        }
    )
    store.blocklist.update({"+46703000003": "STOP reply"})
    blocked_contact = ContactFactory(phone="+46703000003")

    summary = run(memory_account, direction=SyncRun.Direction.PULL)

    assert summary["groups.pull"]["created"] == 1  # Newsletter
    assert summary["groups.pull"]["linked"] == 1  # "vip" matched our "VIP" by name
    news = Group.objects.get(name="Newsletter")
    new = Contact.objects.get(phone="+46702000001")
    assert (new.first_name, new.last_name, new.attributes, new.country) == ("Nea", "New", {"city": "Lund"}, "SE")
    # pulled contacts are found by the contacts search like any other
    assert "nea" in new.search_text.lower() and "lund" in new.search_text.lower()
    assert GroupMembership.objects.filter(group=news, contact=new).exists()
    bo = Contact.objects.get(phone="+46701000002")
    assert bo.first_name == "Bo"  # ours wins
    assert bo.last_name == "Bergman"  # our blank filled
    assert GroupMembership.objects.filter(group=news, contact=bo).exists()
    assert summary["contacts.pull"]["failed"] == 1
    assert "'12' is not a valid phone number" in summary["contacts.pull"]["errors"][0]
    entry = BlocklistEntry.objects.get(phone="+46703000003")
    assert entry.reason == BlocklistEntry.Reason.PROVIDER and entry.note == "STOP reply"
    blocked_contact.refresh_from_db()
    assert blocked_contact.status == Contact.Status.BLOCKED
    # member counts recomputed from the memberships
    news.refresh_from_db()
    assert news.member_count == 2

    again = run(memory_account, direction=SyncRun.Direction.PULL)
    assert changed(again) == {}


def test_member_count_recomputed_exactly(memory_account, workspace):
    store = store_for(memory_account)
    group = GroupFactory(name="Club")
    group.member_count = 99  # drifted
    group.save()
    ExternalMapping.objects.create(
        account=memory_account, object_type="group", local_id=str(group.pk), external_id="g-club", fingerprint=""
    )
    for i in range(5):
        store.contacts[f"c{i}"] = {"phone": f"+4670300000{i}", "groups": ["g-club"]}
    run(memory_account, direction=SyncRun.Direction.PULL, scope=["contacts"])
    group.refresh_from_db()
    assert group.member_count == 5 == GroupMembership.objects.filter(group=group).count()


def test_local_change_is_pushed_once(memory_account, local_data):
    store = store_for(memory_account)
    run(memory_account)
    a = local_data["a"]
    a.last_name = "Bergström"
    a.save()
    pushed_before = store.calls["contacts_pushed"]
    summary = run(memory_account)
    assert summary["contacts.push"]["updated"] == 1
    assert store.calls["contacts_pushed"] == pushed_before + 1
    assert next(c for c in store.contacts.values() if c["phone"] == a.phone)["last_name"] == "Bergström"
    assert changed(run(memory_account)) == {}


def test_blocklist_deletion_here_is_removed_there_and_not_pulled_back(memory_account, local_data):
    store = store_for(memory_account)
    run(memory_account)
    BlocklistEntry.objects.filter(phone="+46709999999").delete()
    summary = run(memory_account)
    assert summary["blocklist.push"]["removed"] == 1
    assert "+46709999999" not in store.blocklist
    assert not BlocklistEntry.objects.filter(phone="+46709999999").exists()


def test_deleted_contact_is_not_resurrected_by_a_pull(memory_account, local_data):
    run(memory_account)
    Contact.objects.filter(phone="+46701000005").delete()
    summary = run(memory_account, direction=SyncRun.Direction.PULL)
    assert summary["contacts.pull"]["skipped"] == 1
    assert not Contact.objects.filter(phone="+46701000005").exists()


def test_same_number_twice_at_the_provider(memory_account, workspace):
    store = store_for(memory_account)
    store.contacts.update(
        {"x1": {"phone": "+46704000001", "first_name": "One"}, "x2": {"phone": "+46704000001", "first_name": "Two"}}
    )
    summary = run(memory_account, direction=SyncRun.Direction.PULL, scope=["contacts"])
    assert Contact.objects.get(phone="+46704000001").first_name == "One"
    assert summary["contacts.pull"]["created"] == 1


def test_batches_cross_boundaries(memory_account, workspace):
    assert MemoryAdapter.sync_batch_size == 3
    for i in range(10):
        ContactFactory(phone=f"+4670500{i:04d}")
    store = store_for(memory_account)
    calls = []
    summary = SyncEngine(memory_account, scope=["contacts"], progress=lambda p, s: calls.append(dict(p))).run()
    assert summary["contacts.push"]["created"] == 10
    assert store.calls["push_contacts"] == 4  # 3 + 3 + 3 + 1
    push_progress = [c for c in calls if c["phase"] == "contacts.push"]
    assert push_progress[-1]["done"] == 10 and push_progress[-1]["total"] == 10


def test_rejected_batch_is_counted_and_the_rest_goes_on(memory_account, workspace, monkeypatch):
    for i in range(6):
        ContactFactory(phone=f"+4670600{i:04d}")
    original = MemoryAdapter.push_contacts
    state = {"n": 0}

    def flaky(self, contacts):
        state["n"] += 1
        if state["n"] == 1:
            raise ProviderResponseError("Invalid contact list", code="E12")
        return original(self, contacts)

    monkeypatch.setattr(MemoryAdapter, "push_contacts", flaky)
    summary = run(memory_account, scope=["contacts"], direction=SyncRun.Direction.PUSH)
    assert summary["contacts.push"]["failed"] == 3
    assert summary["contacts.push"]["created"] == 3
    assert "Invalid contact list" in summary["contacts.push"]["errors"][0]
    # the failed ones are retried by the next run
    assert run(memory_account, scope=["contacts"], direction=SyncRun.Direction.PUSH)["contacts.push"]["created"] == 3


def test_fingerprint_ignores_nothing_that_is_pushed():
    from providers.adapters.types import SyncContact

    base = SyncContact(phone="+46700000001", first_name="A", attributes={"x": 1}, groups=("g1", "g2"))
    assert contact_fingerprint(base) == contact_fingerprint(
        SyncContact(phone="+46700000001", first_name="A", attributes={"x": 1}, groups=("g2", "g1"))
    )
    assert contact_fingerprint(base) != contact_fingerprint(
        SyncContact(phone="+46700000001", first_name="B", attributes={"x": 1}, groups=("g1", "g2"))
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+46701234567", "+46701234567"),
        ("46701234567", "+46701234567"),
        ("0701234567", "+46701234567"),
        ("12", None),
        ("", None),
    ],
)
def test_normalize_phone(raw, expected):
    assert normalize_phone(raw, "SE") == expected


# ---------------------------------------------------------------------------------------------- the run service
def test_sync_start_runs_on_commit_and_records_summary(
    memory_account, local_data, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run_ = services.sync_start(account=memory_account, actor=operator)
    run_.refresh_from_db()
    assert run_.status == SyncRun.Status.DONE, run_.error
    assert run_.scope == ["groups", "contacts", "blocklist"]
    assert run_.summary["contacts.push"]["created"] == 7
    assert run_.progress["label"] == "Finished"
    assert run_.started_at and run_.finished_at
    assert AuditLog.objects.filter(action=AuditLog.Action.SYNC, actor=operator).exists()


def test_only_one_run_at_a_time(memory_account, operator):
    services.sync_start(account=memory_account, actor=operator)  # queued (on_commit not executed)
    with pytest.raises(services.SyncNotPossible, match="already queued or running"):
        services.sync_start(account=memory_account, actor=operator)


def test_provider_without_sync_api(sandbox_account):
    with pytest.raises(services.SyncNotPossible, match="keeps no contacts, groups or blocklist"):
        services.sync_start(account=sandbox_account)


def test_connection_failure_fails_the_run_and_keeps_what_was_done(memory_account, local_data, monkeypatch):
    def down(self):
        raise ProviderConnectionError("Could not reach the provider (ConnectionError) key=mem-key-123456")

    monkeypatch.setattr(MemoryAdapter, "pull_contacts", down)
    run_ = SyncRun.objects.create(account=memory_account, scope=["groups", "contacts"])
    services.sync_execute(run_id=run_.pk)
    run_.refresh_from_db()
    assert run_.status == SyncRun.Status.FAILED
    assert run_.error.startswith("Pulling contacts failed: Could not reach the provider")
    assert "mem-key-123456" not in run_.error + str(run_.summary)
    assert run_.summary["contacts.push"]["created"] == 7  # kept
    assert ExternalMapping.objects.filter(account=memory_account, object_type="contact").count() == 7
    # a finished run is not run again by a redelivered task
    services.sync_execute(run_id=run_.pk)
    run_.refresh_from_db()
    assert run_.status == SyncRun.Status.FAILED


def test_scheduled_syncs_are_due_by_interval(memory_account, sandbox_account, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    memory_account.sync_enabled = True
    memory_account.sync_interval_minutes = 30
    memory_account.save()
    sandbox_account.sync_enabled = True  # no sync API: never scheduled
    sandbox_account.save()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.sync_due_accounts()
    assert [r.account_id for r in first] == [memory_account.pk]
    assert services.sync_due_accounts() == []  # the last run is recent
    later = timezone.now() + timedelta(minutes=31)
    with django_capture_on_commit_callbacks(execute=True):
        assert len(services.sync_due_accounts(now=later)) == 1
    assert SyncRun.objects.filter(account=memory_account, status=SyncRun.Status.DONE).count() == 2


def test_lists_are_pushed_as_groups_and_their_members_carry_them(memory_account, workspace):
    spring = ContactListFactory(name="Spring")
    c = ContactFactory(phone="+46707000001")
    ListMembershipFactory(contact_list=spring, contact=c)
    run(memory_account)
    store = store_for(memory_account)
    ext = next(e for e, n in store.groups.items() if n == "Spring")
    assert next(x for x in store.contacts.values() if x["phone"] == c.phone)["groups"] == [ext]
    assert ExternalMapping.objects.get(account=memory_account, object_type="list").local_id == str(spring.pk)


def test_a_group_the_provider_cannot_create_is_skipped_and_the_rest_linked(memory_account, workspace, monkeypatch):
    from providers.adapters.exceptions import ProviderNotSupported

    GroupFactory(name="Exists there")
    GroupFactory(name="Missing there")
    original = MemoryAdapter.push_group

    def picky(self, group):
        if group.name == "Missing there":
            raise ProviderNotSupported("create “Missing there” at the provider, then sync again")
        return original(self, group)

    monkeypatch.setattr(MemoryAdapter, "push_group", picky)
    summary = run(memory_account, scope=["groups"], direction=SyncRun.Direction.PUSH)
    assert summary["groups.push"]["created"] == 1
    assert summary["groups.push"]["skipped"] == 1
    assert "Missing there" in summary["groups.push"]["note"]


def test_a_run_that_stopped_moving_does_not_block_new_syncs(memory_account, operator):
    from datetime import timedelta

    from django.utils import timezone

    stuck = SyncRun.objects.create(account=memory_account, status=SyncRun.Status.RUNNING)
    SyncRun.objects.filter(pk=stuck.pk).update(
        created_at=timezone.now() - timedelta(hours=2), started_at=timezone.now() - timedelta(hours=2)
    )
    fresh = services.sync_start(account=memory_account, actor=operator)
    stuck.refresh_from_db()
    assert stuck.status == SyncRun.Status.FAILED and "no progress for 30 minutes" in stuck.error
    assert fresh.status == SyncRun.Status.QUEUED


def test_a_long_run_that_still_moves_is_not_expired(memory_account):
    from datetime import timedelta

    from django.utils import timezone

    run_ = SyncRun.objects.create(
        account=memory_account, status=SyncRun.Status.RUNNING, progress={"at": timezone.now().isoformat()}
    )
    SyncRun.objects.filter(pk=run_.pk).update(started_at=timezone.now() - timedelta(hours=3))
    assert services.sync_expire_stale(account=memory_account) == 0
    with pytest.raises(services.SyncNotPossible):
        services.sync_start(account=memory_account)
