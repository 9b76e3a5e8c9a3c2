import django_tables2 as tables
import pytest

from providers.models import ProviderAccount
from smsportal.tables import StatusColumn
from tests.factories import ProviderAccountFactory


class AccountTable(tables.Table):
    last_check_status = StatusColumn()

    class Meta:
        model = ProviderAccount
        fields = ("last_check_status",)


@pytest.mark.django_db
def test_status_badge_tone_comes_from_the_stored_value_not_the_label():
    ProviderAccountFactory(last_check_status=ProviderAccount.CheckStatus.FAILED)
    html = AccountTable(ProviderAccount.objects.all()).rows[0].get_cell("last_check_status")
    assert "Failed" in html
    assert "tone-muted" not in html
