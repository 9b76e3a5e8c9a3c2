"""A contact who replies STOP while a campaign to them is still pending does not receive it: the reply goes
through the real inbound path (``inbound_record``, as a webhook or poll), then the campaign's send lanes run
(``tests/campaigns/conftest.drive``, as the worker would) and re-check eligibility at batch time."""

import pytest
from django.utils import timezone

from campaigns.inbound import inbound_record
from campaigns.models import Campaign, Message
from campaigns.snapshot import campaign_start
from contacts.models import Contact
from providers.adapters.types import InboundSMS
from tests.campaigns import recording_adapter
from tests.campaigns.conftest import drive
from tests.factories import (
    CampaignFactory,
    ContactFactory,
    GroupFactory,
    GroupMembershipFactory,
    ProviderAccountFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider(settings):
    settings.SMSPORTAL_ADAPTERS = [*settings.SMSPORTAL_ADAPTERS, "tests.campaigns.recording_adapter.RecordingAdapter"]
    recording_adapter.PROVIDER = recording_adapter.Provider()
    return recording_adapter.PROVIDER


@pytest.fixture
def campaign(workspace, provider):
    account = ProviderAccountFactory(name="Recording", provider="recording", messages_per_second=10_000)
    group = GroupFactory(name="Customers")
    contacts = [ContactFactory(phone=f"+4670200{n:04d}") for n in range(1, 11)]
    for c in contacts:
        GroupMembershipFactory(group=group, contact=c)
    c = CampaignFactory(account=account, text="Hello {first_name|there}!", status=Campaign.Status.STARTING)
    c.groups.add(group)
    return c, contacts


def reply(account, phone, text, external_id):
    return inbound_record(
        account=account,
        items=[InboundSMS(external_id=external_id, from_phone=phone, text=text, received_at=timezone.now())],
    )


@pytest.mark.parametrize("same_account", [True, False], ids=["same-account", "other-provider"])
def test_stop_while_pending_is_never_sent(campaign, provider, same_account):
    campaign, contacts = campaign
    campaign_start(campaign.pk)  # the audience is snapshotted while everyone may receive it
    assert Message.objects.filter(campaign=campaign, status=Message.Status.PENDING).count() == 10
    stopper, other = contacts[3], contacts[4]

    # STOP arrives (on the campaign's account, or on another provider's: an opt-out holds for every account)
    account = campaign.account if same_account else ProviderAccountFactory(name="Elsewhere", provider="sandbox")
    [stored] = reply(account, stopper.phone, " Stop! ", "in-1")
    assert stored.keyword == "opt_out"
    stopper.refresh_from_db()
    assert stopper.status == Contact.Status.OPTED_OUT
    # a flagged sentence changes nothing: that contact still gets the campaign
    reply(account, other.phone, "stop sending me this rubbish", "in-2")

    drive(campaign)

    received = {provider.to[ref] for ref in provider.received}
    assert stopper.phone not in received
    assert other.phone in received
    assert len(received) == 9
    msg = Message.objects.get(campaign=campaign, contact=stopper)
    assert msg.status == Message.Status.REJECTED
    assert msg.error_code == "opted_out"
    assert msg.external_id == "" and msg.handed_over_at is None
