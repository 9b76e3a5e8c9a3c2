"""Accounts UI: Operators only, the per-provider credential form (secrets never rendered back), test
connection over htmx, callback URLs, sync panel."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from providers.models import ProviderAccount, SyncRun
from smsportal.models import AuditLog
from tests.factories import ProviderAccountFactory
from tests.providers.memory_adapter import BASE_URL

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def urls_for(account):
    pk = account.pk
    return [
        ("get", reverse("providers:accounts")),
        ("get", reverse("providers:account_add")),
        ("get", reverse("providers:account", args=[pk])),
        ("get", reverse("providers:account_edit", args=[pk])),
        ("post", reverse("providers:account_check", args=[pk])),
        ("post", reverse("providers:account_rotate_token", args=[pk])),
        ("post", reverse("providers:sync_start", args=[pk])),
        ("get", reverse("providers:sync_status", args=[pk])),
        ("get", reverse("providers:request_log", args=[pk])),
    ]


def test_marketer_and_approver_get_403(marketer_client, sandbox_account, approver):
    for method, url in urls_for(sandbox_account):
        assert getattr(marketer_client, method)(url).status_code == 403, url
    marketer_client.force_login(approver)
    for method, url in urls_for(sandbox_account):
        assert getattr(marketer_client, method)(url).status_code == 403, url
    assert ProviderAccount.objects.get().last_check_status == ProviderAccount.CheckStatus.NEVER


def test_anonymous_is_sent_to_login(client, sandbox_account):
    r = client.get(reverse("providers:account", args=[sandbox_account.pk]))
    assert r.status_code == 302 and "login" in r["Location"]


def test_list_shows_status_balance_and_sync(operator_client, memory_account, sandbox_account):
    memory_account.last_check_status = "failed"
    memory_account.last_check_detail = "Test connection failed: Invalid API key"
    memory_account.balance = Decimal("12.5000")
    memory_account.balance_currency = "EUR"
    from django.utils import timezone

    memory_account.balance_at = memory_account.last_check_at = timezone.now()
    memory_account.save()
    SyncRun.objects.create(account=memory_account, status=SyncRun.Status.DONE)
    r = operator_client.get(reverse("providers:accounts"))
    html = r.content.decode()
    assert r.status_code == 200
    assert "Memory" in html and "Sandbox" in html
    assert "12.5 EUR" in html
    assert "Failed" in html and "tested " in html
    assert "not offered" in html  # the sandbox has no sync API
    assert reverse("providers:account", args=[memory_account.pk]) in html


def test_list_empty_state(operator_client):
    r = operator_client.get(reverse("providers:accounts"))
    assert "No provider accounts yet" in r.content.decode()
    assert reverse("providers:account_add") in r.content.decode()


def test_list_htmx_filter_renders_the_table_only(operator_client, memory_account, sandbox_account):
    r = operator_client.get(reverse("providers:accounts"), {"provider": "memory"}, headers=HTMX)
    html = r.content.decode()
    assert "<html" not in html
    assert "Memory" in html and "Sandbox" not in html


# ---------------------------------------------------------------------------------------------- add
def test_add_picker_lists_every_provider(operator_client, memory_provider):
    html = operator_client.get(reverse("providers:account_add")).content.decode()
    for name in ("Sandbox", "Jojka", "JookSMS", "Mobizon", "Ogangi", "Apifon", "Memory provider"):
        assert name in html
    assert "?provider=memory" in html


def test_add_form_is_built_from_the_adapter(operator_client, memory_provider):
    r = operator_client.get(reverse("providers:account_add"), {"provider": "memory"})
    html = r.content.decode()
    assert r.status_code == 200
    assert "Add a Memory provider account" in html
    assert 'name="cred_username"' in html
    assert re.search(r'<input type="password" name="cred_api_key"', html)
    assert 'name="opt_region"' in html and 'value="eu"' in html
    assert f'value="{BASE_URL}"' in html  # the documented production URL, editable
    assert 'name="sync_enabled"' in html  # this provider has a sync API


def test_add_form_for_apifon_has_the_identity_host(operator_client):
    html = operator_client.get(reverse("providers:account_add"), {"provider": "apifon"}).content.decode()
    assert 'name="opt_identity_url"' in html
    assert "https://ids.apifon.com" in html
    assert 'value="https://ars.apifon.com' in html


def test_add_form_without_a_default_address_says_so(operator_client):
    html = operator_client.get(reverse("providers:account_add"), {"provider": "ogangi"}).content.decode()
    assert "has no single public address" in html


def test_add_creates_the_account(operator_client, memory_provider, operator):
    data = {
        "provider": "memory",
        "name": "Memory EU",
        "base_url": "http://127.0.0.1:8765/api",
        "cred_username": "shop",
        "cred_api_key": "sk-new-1234567",
        "opt_region": "us",
        "default_sender": "Shop",
        "allowed_senders": "Shop, Info\n46700000000",
        "messages_per_second": "25",
        "price_per_segment": "0.04",
        "currency": "eur",
        "is_active": "on",
        "poll_interval_seconds": "60",
        "sync_interval_minutes": "60",
    }
    r = operator_client.post(reverse("providers:account_add") + "?provider=memory", data)
    account = ProviderAccount.objects.get(name="Memory EU")
    assert r.status_code == 302 and r["Location"] == reverse("providers:account", args=[account.pk])
    assert account.credentials == {"username": "shop", "api_key": "sk-new-1234567"}
    assert account.options == {"region": "us"}
    assert account.allowed_senders == ["Shop", "Info", "46700000000"]
    assert account.base_url == "http://127.0.0.1:8765/api"
    assert account.currency == "EUR"
    assert AuditLog.objects.filter(action=AuditLog.Action.CREATE, object_id=str(account.pk), actor=operator).exists()


def test_add_invalid_rerenders_the_form_partial_with_errors(operator_client, memory_provider):
    data = {
        "provider": "memory",
        "name": "",
        "base_url": "ftp://nope",
        "cred_username": "shop",
        "cred_api_key": "",
        "default_sender": "ThisSenderIsTooLong",
        "messages_per_second": "0",
        "price_per_segment": "0.04",
        "currency": "",
        "poll_interval_seconds": "60",
        "sync_interval_minutes": "60",
    }
    r = operator_client.post(reverse("providers:account_add") + "?provider=memory", data, headers=HTMX)
    html = r.content.decode()
    assert r.status_code == 200  # htmx swaps only 2xx answers
    assert "<html" not in html and 'id="account-form"' in html
    assert "This field is required." in html  # name and the API key
    assert "is not an http(s) address" in html
    assert "&#x27;ThisSenderIsTooLong&#x27; has 19 characters" in html
    assert "Give the currency of the price." in html
    assert "is-invalid" in html
    assert not ProviderAccount.objects.exists()


def test_add_success_over_htmx_redirects_the_page(operator_client, memory_provider):
    data = {
        "provider": "memory",
        "name": "M",
        "base_url": "",
        "cred_username": "u",
        "cred_api_key": "k-1234567",
        "messages_per_second": "10",
        "poll_interval_seconds": "60",
        "sync_interval_minutes": "60",
    }
    r = operator_client.post(reverse("providers:account_add") + "?provider=memory", data, headers=HTMX)
    assert r.status_code == 200
    assert r["HX-Redirect"] == reverse("providers:account", args=[ProviderAccount.objects.get().pk])


def test_duplicate_name_is_a_field_error(operator_client, memory_account):
    data = {
        "provider": "memory",
        "name": "memory",
        "cred_username": "u",
        "cred_api_key": "k-1234567",
        "messages_per_second": "10",
        "poll_interval_seconds": "60",
        "sync_interval_minutes": "60",
    }
    r = operator_client.post(reverse("providers:account_add") + "?provider=memory", data)
    assert r.status_code == 400
    assert "An account called &#x27;memory&#x27; exists already." in r.content.decode()


def test_unknown_provider_shows_the_picker(operator_client):
    r = operator_client.get(reverse("providers:account_add"), {"provider": "nosuch"})
    assert r.status_code == 200
    assert "There is no provider called" in r.content.decode()


# ---------------------------------------------------------------------------------------------- edit
def test_edit_never_renders_secrets_and_blank_keeps_them(operator_client, memory_account):
    url = reverse("providers:account_edit", args=[memory_account.pk])
    html = operator_client.get(url).content.decode()
    assert "mem-key-123456" not in html
    assert 'value="shop"' in html  # non-secret credential shown
    assert "set</span>" in html and "Stored — leave blank to keep it." in html
    data = {
        "name": "Memory",
        "base_url": BASE_URL,
        "cred_username": "shop",
        "cred_api_key": "",
        "opt_region": "eu",
        "messages_per_second": "100",
        "poll_interval_seconds": "30",
        "sync_interval_minutes": "60",
        "is_active": "on",
        "sync_enabled": "on",
    }
    r = operator_client.post(url, data)
    assert r.status_code == 302
    memory_account.refresh_from_db()
    assert memory_account.credentials["api_key"] == "mem-key-123456"
    assert memory_account.poll_interval_seconds == 30 and memory_account.sync_enabled
    r = operator_client.post(url, {**data, "cred_api_key": "sk-rotated-999"})
    memory_account.refresh_from_db()
    assert memory_account.credentials["api_key"] == "sk-rotated-999"


# ---------------------------------------------------------------------------------------------- detail
def test_detail_shows_callback_urls_and_sync(operator_client, memory_account, settings):
    settings.PUBLIC_BASE_URL = "https://sms.example.com"
    html = operator_client.get(reverse("providers:account", args=[memory_account.pk])).content.decode()
    hook = f"https://sms.example.com/providers/memory/{memory_account.uuid}/delivery/{memory_account.webhook_token}/"
    assert hook in html
    assert "/inbound/" in html
    assert "Memory provider ·" in html
    assert "Sync now" in html
    assert "mem-key-123456" not in html
    assert "set</span>" in html


def test_detail_for_a_provider_without_sync_api(operator_client, db):
    account = ProviderAccountFactory(
        provider="mobizon", options={"domain": "api.mobizon.kz"}, credentials={"api_key": "c" * 40}
    )
    html = operator_client.get(reverse("providers:account", args=[account.pk])).content.decode()
    assert "API keeps no contacts, groups or blocklist" in html
    assert "Sync now" not in html


def test_rotate_token(operator_client, memory_account):
    old = memory_account.webhook_token
    r = operator_client.post(reverse("providers:account_rotate_token", args=[memory_account.pk]))
    assert r.status_code == 302
    memory_account.refresh_from_db()
    assert memory_account.webhook_token != old


# ---------------------------------------------------------------------------------------------- test connection
def test_check_failure_over_htmx(operator_client, memory_account, mocked_responses):
    mocked_responses.get(BASE_URL + "/balance", status=401, json={"error": "Unknown user shop", "code": "E401"})
    r = operator_client.post(reverse("providers:account_check", args=[memory_account.pk]), headers=HTMX)
    html = r.content.decode()
    assert r.status_code == 200
    assert "<html" not in html and 'id="connection"' in html
    assert "Test connection failed: Unknown user shop (code E401)" in html
    assert "Traceback" not in html
    assert "showMessages" in r["HX-Trigger"]


def test_check_success_shows_balance_with_time(operator_client, memory_account, mocked_responses):
    mocked_responses.get(BASE_URL + "/balance", json={"balance": "3.25", "currency": "EUR"})
    r = operator_client.post(reverse("providers:account_check", args=[memory_account.pk]), headers=HTMX)
    html = r.content.decode()
    assert "Connected" in html and "3.25 EUR" in html and "at " in html
    assert "providerCallsChanged" in r["HX-Trigger"]  # the "Recent calls" card reloads itself
    recent = operator_client.get(
        reverse("providers:account", args=[memory_account.pk]), {"part": "recent"}, headers=HTMX
    )
    assert 'id="recent-calls"' in recent.content.decode() and "<html" not in recent.content.decode()
    assert ">check<" in recent.content.decode()


def test_check_without_javascript_redirects(operator_client, sandbox_account):
    r = operator_client.post(reverse("providers:account_check", args=[sandbox_account.pk]))
    assert r.status_code == 302
    sandbox_account.refresh_from_db()
    assert sandbox_account.last_check_status == ProviderAccount.CheckStatus.OK


def test_base_url_required_where_nothing_else_locates_the_api(operator_client):
    ogangi = operator_client.post(
        reverse("providers:account_add") + "?provider=ogangi", {"provider": "ogangi", "name": "O", "base_url": ""}
    ).content.decode()
    assert 'id="id_base_url"' in ogangi and "This field is required." in ogangi.split('id="id_base_url"')[1][:600]
    mobizon = operator_client.get(reverse("providers:account_add"), {"provider": "mobizon"}).content.decode()
    assert 'name="base_url"' in mobizon and 'name="opt_domain"' in mobizon
    data = {
        "provider": "mobizon",
        "name": "M",
        "base_url": "",
        "cred_api_key": "k" * 40,
        "opt_domain": "api.mobizon.kz",
        "messages_per_second": "10",
        "poll_interval_seconds": "60",
    }
    r = operator_client.post(reverse("providers:account_add") + "?provider=mobizon", data)
    assert r.status_code == 302, r.content.decode()[-2000:]
    assert ProviderAccount.objects.get(name="M").options["domain"] == "api.mobizon.kz"
