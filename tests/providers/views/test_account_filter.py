import pytest

from tests.factories import ProviderAccountFactory


@pytest.mark.django_db
def test_active_filter(operator_client):
    ProviderAccountFactory(name="On", is_active=True)
    ProviderAccountFactory(name="Off", is_active=False)
    html = operator_client.get("/providers/?is_active=false").content.decode()
    assert "Off" in html and ">On<" not in html
    html = operator_client.get("/providers/").content.decode()
    assert "Active or not" in html and "Unknown" not in html
