"""Django admin for provider models: lists, search, filters, write-only credentials, read-only logs."""

import pytest
from django.urls import reverse

from providers.models import ProviderAccount
from tests.factories import (
    ExternalMappingFactory,
    ProviderAccountFactory,
    ProviderRequestLogFactory,
    SyncRunFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_operator_client(operator_client):
    return operator_client  # the Operator fixture is staff with the providers permissions of its role


def form_data(account, **creds):
    return {
        "name": account.name,
        "base_url": account.base_url,
        "options": "{}",
        "default_sender": "",
        "allowed_senders": "[]",
        "messages_per_second": "10",
        "currency": "",
        "is_active": "on",
        "sync_interval_minutes": "60",
        "poll_interval_seconds": "60",
        **{f"credential__{k}": v for k, v in creds.items()},
    }


def test_changelists_search_and_filters(staff_operator_client):
    account = ProviderAccountFactory(name="Jojka main", provider="jojka", credentials={"api_key": "JOJKA-KEY-4242"})
    ProviderRequestLogFactory(account=account, operation="send", status_code=401, error="Invalid key")
    SyncRunFactory(account=account)
    ExternalMappingFactory(account=account, local_id="17", external_id="46701234567")
    for name in ("provideraccount", "providerrequestlog", "syncrun", "externalmapping"):
        r = staff_operator_client.get(reverse(f"admin:providers_{name}_changelist"))
        assert r.status_code == 200, name
        assert "JOJKA-KEY-4242" not in r.content.decode()
    r = staff_operator_client.get(
        reverse("admin:providers_provideraccount_changelist"), {"q": "jojka", "provider": "jojka"}
    )
    assert "Jojka main" in r.content.decode()
    r = staff_operator_client.get(reverse("admin:providers_externalmapping_changelist"), {"q": "46701234567"})
    assert "46701234567" in r.content.decode()


def test_credentials_are_write_only(staff_operator_client):
    account = ProviderAccountFactory(name="Jojka main", provider="jojka", credentials={"api_key": "JOJKA-KEY-4242"})
    url = reverse("admin:providers_provideraccount_change", args=[account.pk])
    html = staff_operator_client.get(url).content.decode()
    assert 'name="credential__api_key"' in html and 'type="password"' in html
    assert "JOJKA-KEY-4242" not in html
    assert "Stored — leave blank to keep it." in html
    r = staff_operator_client.post(url, form_data(account, api_key=""))
    assert r.status_code == 302, r.content.decode()[-1500:]
    account.refresh_from_db()
    assert account.credentials == {"api_key": "JOJKA-KEY-4242"}
    staff_operator_client.post(url, form_data(account, api_key="JOJKA-NEW-1"))
    account.refresh_from_db()
    assert account.credentials == {"api_key": "JOJKA-NEW-1"}


def test_add_then_fill_credentials(staff_operator_client):
    r = staff_operator_client.post(
        reverse("admin:providers_provideraccount_add"),
        {
            **form_data(
                ProviderAccount(name="Ogangi"),
            ),
            "provider": "ogangi",
            "base_url": "https://flow.example.com/mmc",
        },
    )
    assert r.status_code == 302, r.content.decode()[-1500:]
    account = ProviderAccount.objects.get(name="Ogangi")
    assert account.provider == "ogangi" and account.credentials == {}
    html = staff_operator_client.get(
        reverse("admin:providers_provideraccount_change", args=[account.pk])
    ).content.decode()
    for field in ("instance_id", "user_name", "public_key", "private_key"):
        assert f'name="credential__{field}"' in html


def test_unknown_provider_is_refused(staff_operator_client):
    r = staff_operator_client.post(
        reverse("admin:providers_provideraccount_add"), {**form_data(ProviderAccount(name="X")), "provider": "nosuch"}
    )
    assert r.status_code == 200
    assert not ProviderAccount.objects.filter(name="X").exists()


def test_request_log_is_read_only(staff_operator_client):
    row = ProviderRequestLogFactory()
    assert staff_operator_client.get(reverse("admin:providers_providerrequestlog_add")).status_code == 403
    r = staff_operator_client.post(reverse("admin:providers_providerrequestlog_change", args=[row.pk]), {"url": "x"})
    assert r.status_code == 403
    row.refresh_from_db()
    assert row.url != "x"


def test_marketer_has_no_admin(marketer_client):
    r = marketer_client.get(reverse("admin:providers_provideraccount_changelist"))
    assert r.status_code == 302  # not staff: sent to the admin login
