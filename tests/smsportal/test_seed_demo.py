from io import StringIO

import pytest
from django.core.management import call_command

from campaigns.models import Campaign, InboundMessage
from contacts.models import Contact, Group


@pytest.mark.django_db
def test_demo_data_loads_once():
    out = StringIO()
    call_command("seed_demo", "--contacts", "300", stdout=out)
    assert Contact.objects.count() == 300
    assert Group.objects.filter(name__startswith="Demo:").count() == 3
    assert set(Campaign.objects.values_list("status", flat=True)) == {"completed", "scheduled"}
    g = Group.objects.get(name="Demo: VIP")
    assert g.member_count == g.groupmembership_set.count() > 0
    assert InboundMessage.objects.filter(keyword="opt_out").count() == 1
    call_command("seed_demo", stdout=out)
    assert "already loaded" in out.getvalue()
    assert Contact.objects.count() == 300
