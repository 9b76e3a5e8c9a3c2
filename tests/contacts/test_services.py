"""Contacts services: blocklist and opt-out rules, audit entries, member counters, fields, segments."""

import pytest
from django.core.exceptions import ValidationError

from contacts import services
from contacts.models import BlocklistEntry, Contact, ContactField, Group, GroupMembership, SavedSegment
from smsportal.models import AuditLog
from tests.factories import ContactFactory, ContactListFactory, GroupFactory, GroupMembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _workspace(workspace):
    return workspace


def test_blocklist_add_normalizes_reports_invalid_and_audits(marketer):
    contact = ContactFactory(phone="+46701234567")
    result = services.blocklist_add(
        phones=["070-123 45 67", "+46701234567", "garbage", "", "0707654321"],
        reason="manual",
        note="called",
        actor=marketer,
    )
    assert result.added == ["+46701234567", "+46707654321"]
    assert result.invalid == [("garbage", "Not a phone number: “garbage” contains letters.")]
    assert "2 number(s) added" in result.summary
    contact.refresh_from_db()
    assert contact.status == Contact.Status.BLOCKED
    entry = AuditLog.objects.get(object_type="contacts.blocklistentry", object_id="+46701234567")
    assert entry.action == AuditLog.Action.BLOCK and entry.actor == marketer
    assert entry.changes["note"] == "called"
    again = services.blocklist_add(phones=["0701234567"], actor=marketer)
    assert again.added == [] and again.already == ["+46701234567"]


def test_large_bulk_add_is_one_audit_entry():
    phones = [f"+4670{i:07d}" for i in range(150)]
    services.blocklist_add(phones=phones, reason="imported", source="paste", normalized=True)
    entries = AuditLog.objects.filter(object_type="contacts.blocklistentry")
    assert entries.count() == 1
    assert entries.get().changes["count"] == 150


def test_unblock_restores_active_but_not_opted_out():
    blocked = ContactFactory(phone="+46700000001")
    opted = ContactFactory(phone="+46700000002", status=Contact.Status.OPTED_OUT)
    services.blocklist_add(phones=[blocked.phone, opted.phone], normalized=True)
    assert services.blocklist_remove(phones=[blocked.phone, opted.phone, "+46700000099"]) == 2
    blocked.refresh_from_db()
    opted.refresh_from_db()
    assert blocked.status == Contact.Status.ACTIVE
    assert opted.status == Contact.Status.OPTED_OUT
    assert AuditLog.objects.filter(action=AuditLog.Action.UNBLOCK).count() == 2


def test_opt_out_and_opt_in():
    contact = ContactFactory(phone="+46700000001")
    services.contact_opt_out(phone="0700000001", source="reply STOP")
    contact.refresh_from_db()
    assert contact.status == Contact.Status.OPTED_OUT and contact.opted_out_at is not None
    assert BlocklistEntry.objects.get(phone=contact.phone).reason == BlocklistEntry.Reason.OPTED_OUT
    services.contact_opt_in(contact=contact, source="reply START")
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE and contact.opted_out_at is None
    assert not BlocklistEntry.objects.exists()
    actions = list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    assert actions == [AuditLog.Action.OPT_OUT, AuditLog.Action.OPT_IN]


def test_opt_in_keeps_a_manual_block():
    contact = ContactFactory(phone="+46700000001")
    services.blocklist_add(phones=[contact.phone], reason="manual", normalized=True)
    services.contact_opt_out(phone=contact.phone, source="STOP")  # the entry becomes an opt-out
    assert BlocklistEntry.objects.get().reason == BlocklistEntry.Reason.OPTED_OUT
    services.contact_opt_in(contact=contact)
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE


def test_opt_out_of_a_number_without_contact_still_blocks_it():
    assert services.contact_opt_out(phone="+46700000009", source="STOP") is None
    assert BlocklistEntry.objects.filter(phone="+46700000009", reason="opted_out").exists()


def test_contact_created_on_a_blocked_number_is_blocked():
    services.blocklist_add(phones=["+46700000001"], normalized=True)
    contact = services.contact_create(phone="0700000001")
    assert contact.status == Contact.Status.BLOCKED


def test_contact_update_audits_changes(marketer):
    contact = services.contact_create(phone="0700000001", first_name="Anna", actor=marketer)
    services.contact_update(contact=contact, first_name="Anne", actor=marketer)
    entry = AuditLog.objects.filter(action=AuditLog.Action.UPDATE).get()
    assert entry.changes == {"first_name": ["Anna", "Anne"]}
    other = services.contact_create(phone="0700000002")
    with pytest.raises(ValidationError, match="Another contact"):
        services.contact_update(contact=other, phone="+46700000001")


def test_member_counters_follow_every_change():
    group = GroupFactory()
    contacts = [ContactFactory() for _ in range(5)]
    assert services.group_add_contacts(group=group, contacts=Contact.objects.all()) == 5
    assert services.group_add_contacts(group=group, contacts=Contact.objects.filter(pk=contacts[0].pk)) == 0
    assert services.group_remove_contacts(group=group, contacts=Contact.objects.filter(pk=contacts[1].pk)) == 1
    services.contacts_delete(contacts=Contact.objects.filter(pk__in=[contacts[2].pk, contacts[3].pk]))
    group.refresh_from_db()
    assert group.member_count == 2 == GroupMembership.objects.filter(group=group).count()


def test_counters_never_go_negative_and_recount_repairs_drift():
    group = GroupFactory()
    contact = ContactFactory()
    GroupMembershipFactory(group=group, contact=contact)  # written without the service: counter not moved
    services.contacts_delete(contacts=Contact.objects.all())
    group.refresh_from_db()
    assert group.member_count == 0
    other = GroupFactory()
    for _ in range(3):
        GroupMembershipFactory(group=other)
    contact_list = ContactListFactory(member_count=7)
    assert services.member_counts_recount() == {"Group": 1, "ContactList": 1}
    other.refresh_from_db()
    contact_list.refresh_from_db()
    assert (other.member_count, contact_list.member_count) == (3, 0)


def test_group_names_are_unique_case_insensitively():
    services.group_create(name="VIP")
    with pytest.raises(ValidationError, match="already taken"):
        services.group_create(name="vip")
    with pytest.raises(ValidationError):
        services.group_create(name="  ")


def test_group_delete_keeps_contacts():
    group = services.group_create(name="G")
    ContactFactory()
    services.group_add_contacts(group=group, contacts=Contact.objects.all())
    services.group_delete(group=group)
    assert not Group.objects.exists() and Contact.objects.count() == 1


def test_fields_keys_types_and_delete():
    field = services.field_create(label="Shoe size", type="number")
    assert field.key == "shoe_size"
    with pytest.raises(ValidationError, match="built-in"):
        services.field_create(label="Phone")
    with pytest.raises(ValidationError, match="already exists"):
        services.field_create(label="Shoe-size")
    tier = services.field_create(label="Tier", type="choice", choices="Gold, Silver\nGold")
    assert tier.choices == ["Gold", "Silver"]
    contact = ContactFactory(attributes={"shoe_size": 44, "tier": "Gold"})
    services.field_delete(field_obj=field)
    contact.refresh_from_db()
    assert contact.attributes == {"tier": "Gold"}
    assert not ContactField.objects.filter(key="shoe_size").exists()


def test_clean_attributes_types():
    services.field_create(label="Points", type="number")
    services.field_create(label="Born", type="date")
    assert services.clean_attributes({"points": "1 200", "born": "17.05.1990", "unknown": "x"}) == {
        "points": 1200,
        "born": "1990-05-17",
    }
    with pytest.raises(ValidationError) as exc:
        services.clean_attributes({"points": "lots", "born": "yesterday"})
    assert set(exc.value.error_dict) == {"points", "born"}


def test_segments_need_a_filter_and_a_valid_one():
    with pytest.raises(ValidationError, match="at least one filter"):
        services.segment_create(name="All", query={})
    with pytest.raises(ValidationError, match="not valid"):
        services.segment_create(name="Bad", query={"group": "424242"})
    segment = services.segment_create(name="Active", query={"status": "active", "page": "3", "sort": "phone"})
    assert segment.query == {"status": "active"}
    assert SavedSegment.objects.count() == 1
