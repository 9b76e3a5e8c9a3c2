"""The recipient selector (blocked / opted-out never selected), saved segments, and contact search."""

import pytest

from contacts import selectors, services
from contacts.models import BlocklistEntry, Contact
from tests.factories import (
    BlocklistEntryFactory,
    ContactFactory,
    ContactListFactory,
    GroupFactory,
    GroupMembershipFactory,
    ListMembershipFactory,
    SavedSegmentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _workspace(workspace):
    return workspace


@pytest.fixture
def audience():
    """A group with one contact of every kind."""
    group = GroupFactory()
    people = {
        "active": ContactFactory(phone="+46700000001"),
        "blocked_status": ContactFactory(phone="+46700000002", status=Contact.Status.BLOCKED),
        "opted_out": ContactFactory(phone="+46700000003", status=Contact.Status.OPTED_OUT),
        "on_blocklist_only": ContactFactory(phone="+46700000004"),  # status still active, number blocklisted
        "opted_out_entry": ContactFactory(phone="+46700000005"),  # active, but a STOP reply blocklisted the number
        "active2": ContactFactory(phone="+46700000006"),
    }
    for contact in people.values():
        GroupMembershipFactory(group=group, contact=contact)
    BlocklistEntryFactory(phone="+46700000004", reason=BlocklistEntry.Reason.MANUAL)
    BlocklistEntryFactory(phone="+46700000005", reason=BlocklistEntry.Reason.OPTED_OUT)
    return group, people


def test_only_active_unblocked_contacts_are_recipients(audience):
    group, people = audience
    recipients = set(selectors.audience_contacts(groups=[group]).values_list("phone", flat=True))
    assert recipients == {people["active"].phone, people["active2"].phone}


def test_breakdown_adds_up(audience):
    group, _people = audience
    counts = selectors.audience_breakdown(groups=[group])
    assert counts["selected"] == 6
    assert counts["eligible"] == 2
    assert counts["eligible"] + counts["blocklisted"] + counts["opted_out"] == counts["selected"]


def test_a_contact_in_several_groups_and_lists_is_selected_once(audience):
    group, people = audience
    other = GroupFactory()
    contact_list = ContactListFactory()
    GroupMembershipFactory(group=other, contact=people["active"])
    ListMembershipFactory(contact_list=contact_list, contact=people["active"])
    qs = selectors.audience_contacts(groups=[group, other], lists=[contact_list])
    assert qs.filter(phone=people["active"].phone).count() == 1
    assert qs.count() == 2
    assert selectors.audience_breakdown(groups=[group, other], lists=[contact_list])["duplicates"] == 2


def test_exclusions(audience):
    group, people = audience
    excluded = GroupFactory()
    GroupMembershipFactory(group=excluded, contact=people["active2"])
    assert list(
        selectors.audience_contacts(groups=[group], exclude_groups=[excluded]).values_list("phone", flat=True)
    ) == [people["active"].phone]


def test_blocking_through_the_service_removes_from_every_audience(audience):
    group, people = audience
    services.blocklist_add(phones=["070-000 00 01"], reason=BlocklistEntry.Reason.HARD_FAILURE, source="provider")
    recipients = set(selectors.audience_contacts(groups=[group]).values_list("phone", flat=True))
    assert recipients == {people["active2"].phone}
    people["active"].refresh_from_db()
    assert people["active"].status == Contact.Status.BLOCKED


def test_an_opt_out_survives_deleting_and_recreating_the_contact(audience):
    group, people = audience
    services.contact_opt_out(phone=people["active"].phone, source="reply STOP")
    services.contact_delete(contact=people["active"])
    again = services.contact_create(phone="0700000001", groups=[group])
    assert again.status == Contact.Status.OPTED_OUT
    assert not selectors.audience_contacts(groups=[group]).filter(pk=again.pk).exists()


def test_segment_audience_follows_the_filter_and_respects_eligibility(audience):
    group, people = audience
    segment = SavedSegmentFactory(query={"group": str(group.pk)})
    assert set(selectors.audience_contacts(segments=[segment]).values_list("phone", flat=True)) == {
        people["active"].phone,
        people["active2"].phone,
    }
    assert selectors.segment_contacts(segment).count() == 6


def test_a_segment_whose_group_was_deleted_selects_nobody(audience):
    group, _people = audience
    segment = SavedSegmentFactory(query={"group": str(group.pk)})
    group.delete()
    assert selectors.segment_contacts(segment).count() == 0
    assert selectors.audience_contacts(segments=[segment]).count() == 0


def test_a_segment_with_a_bad_value_selects_nobody():
    ContactFactory()
    assert selectors.segment_contacts(SavedSegmentFactory(query={"status": "nonsense"})).count() == 0
    assert selectors.segment_contacts(SavedSegmentFactory(query={"created_after": "31/31/2020"})).count() == 0


def test_segment_with_search_and_status():
    a = ContactFactory(first_name="Åsa", phone="+46700000001")
    b = ContactFactory(first_name="Åsa", phone="+46700000002", status=Contact.Status.BLOCKED)
    ContactFactory(first_name="Bo", phone="+46700000003")
    services.contact_search_text_refresh(contact_ids=[a.pk, b.pk])
    segment = SavedSegmentFactory(query={"q": "asa", "status": "active"})
    assert list(selectors.segment_contacts(segment)) == [a]


# --- search -------------------------------------------------------------------------------------------------


@pytest.fixture
def people():
    rows = [
        ("+46701234567", "Åsa", "Öberg", {"city": "Malmö"}),
        ("+46709876543", "Bo", "Ek", {"city": "Lund", "tier": "Gold"}),
        ("+306912345678", "Eleni", "Papadopoulou", {}),
    ]
    out = []
    for phone, first, last, attrs in rows:
        out.append(services.contact_create(phone=phone, first_name=first, last_name=last, attributes=attrs))
    return out


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("asa", ["+46701234567"]),
        ("ÅSA öberg", ["+46701234567"]),
        ("malmo", ["+46701234567"]),  # attribute value, accents folded
        ("city", []),  # attribute keys are not searched
        ("gold lund", ["+46709876543"]),
        ("0701234567", ["+46701234567"]),  # a whole number in national format
        ("+46 70 123 45 67", ["+46701234567"]),
        ("0701", ["+46701234567"]),  # national prefix: a range on the phone index
        ("+4670", ["+46701234567", "+46709876543"]),
        ("0030 691", ["+306912345678"]),
        ("987654", ["+46709876543"]),  # digits anywhere
        ("nobody", []),
    ],
)
def test_contact_search(people, query, expected):
    found = selectors.contacts_matching(Contact.objects.all(), query)
    assert sorted(found.values_list("phone", flat=True)) == sorted(expected)


def test_search_text_refresh_fills_contacts_written_elsewhere():
    contact = Contact.objects.create(phone="+46700000001", first_name="Zoë", attributes={"city": "Umeå"})
    assert contact.search_text == ""
    assert services.contact_search_text_refresh() == 1
    contact.refresh_from_db()
    assert contact.search_text == "zoe 46700000001 umea"
