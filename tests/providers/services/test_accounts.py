"""Account create/update (secrets kept when blank, audited without values), connection test and balance."""

from decimal import Decimal

import pytest
import responses
from django.core.exceptions import ValidationError

from providers import services
from providers.models import ProviderAccount
from smsportal.models import AuditLog
from tests.providers.memory_adapter import BASE_URL

pytestmark = pytest.mark.django_db

FIELDS = {
    "name": "Memory EU",
    "base_url": "",
    "default_sender": "Shop",
    "allowed_senders": ["Shop", "46700000000"],
    "messages_per_second": 20.0,
    "price_per_segment": Decimal("0.035"),
    "currency": "EUR",
    "is_active": True,
}


def test_create_encrypts_credentials_and_audits_names_only(memory_provider, operator):
    account = services.account_create(
        actor=operator,
        provider="memory",
        fields=FIELDS,
        credentials={"username": "shop", "api_key": "sk-live-SECRET-1", "webhook_secret": ""},
        options={"region": "us"},
    )
    account.refresh_from_db()
    assert account.credentials == {"username": "shop", "api_key": "sk-live-SECRET-1"}
    assert account.options == {"region": "us"}
    assert account.base_url == ""
    assert account.allowed_senders == ["Shop", "46700000000"]
    entry = AuditLog.objects.get(action=AuditLog.Action.CREATE, object_id=str(account.pk))
    assert entry.actor == operator
    assert "sk-live-SECRET-1" not in str(entry.changes)
    assert entry.changes["credentials set"] == ["api_key", "username"]


def test_create_requires_required_credentials(memory_provider, operator):
    with pytest.raises(ValidationError) as exc:
        services.account_create(
            actor=operator, provider="memory", fields=FIELDS, credentials={"username": "x"}, options={}
        )
    assert "cred_api_key" in exc.value.message_dict
    assert not ProviderAccount.objects.exists()


def test_documented_url_is_stored_as_default(memory_provider, operator):
    account = services.account_create(
        actor=operator,
        provider="memory",
        fields={**FIELDS, "base_url": BASE_URL + "/"},
        credentials={"username": "u", "api_key": "k-123456"},
        options={},
    )
    assert account.base_url == ""
    other = services.account_create(
        actor=operator,
        provider="memory",
        fields={**FIELDS, "name": "Local fake", "base_url": "http://127.0.0.1:9999"},
        credentials={"username": "u", "api_key": "k-123456"},
        options={},
    )
    assert other.base_url == "http://127.0.0.1:9999"


def test_update_blank_secret_keeps_it_and_audit_has_no_values(memory_account, operator):
    memory_account.last_check_status = ProviderAccount.CheckStatus.OK
    memory_account.save()
    account = services.account_update(
        actor=operator,
        account=memory_account,
        fields={"name": "Memory", "default_sender": "Shop2", "allowed_senders": []},
        credentials={"username": "shop-2", "api_key": "", "webhook_secret": "whsec-NEW-value"},
        options={"region": "eu"},
    )
    account.refresh_from_db()
    assert account.credentials == {
        "username": "shop-2",
        "api_key": "mem-key-123456",
        "webhook_secret": "whsec-NEW-value",
    }
    assert account.default_sender == "Shop2"
    assert account.last_check_status == ProviderAccount.CheckStatus.NEVER  # credentials changed: test again
    entry = AuditLog.objects.get(action=AuditLog.Action.UPDATE, object_id=str(account.pk))
    assert entry.changes["credentials changed"] == ["username", "webhook_secret"]
    assert entry.changes["default_sender"] == ["Shop", "Shop2"]
    assert "whsec-NEW-value" not in str(entry.changes)
    assert "mem-key-123456" not in str(entry.changes)


def test_update_without_changes_writes_no_audit(memory_account, operator):
    services.account_update(
        actor=operator,
        account=memory_account,
        fields={"name": "Memory"},
        credentials={"username": "shop", "api_key": ""},
        options={"region": "eu"},
    )
    assert not AuditLog.objects.filter(action=AuditLog.Action.UPDATE).exists()


def test_update_keeps_option_keys_the_form_does_not_know(memory_account, operator):
    memory_account.options = {"region": "eu", "domain": "learnt.example"}
    memory_account.save()
    services.account_update(actor=operator, account=memory_account, fields={}, credentials={}, options={"region": "us"})
    memory_account.refresh_from_db()
    assert memory_account.options == {"region": "us", "domain": "learnt.example"}


def test_rotate_webhook_token(memory_account, operator):
    old = memory_account.webhook_token
    services.account_rotate_webhook_token(actor=operator, account=memory_account)
    memory_account.refresh_from_db()
    assert memory_account.webhook_token != old
    assert old not in str(AuditLog.objects.get(action=AuditLog.Action.UPDATE).changes)


# ---------------------------------------------------------------------------------------------- connection test
def test_check_success_stores_balance_with_time(memory_account, mocked_responses):
    mocked_responses.get(BASE_URL + "/balance", json={"balance": "12.50", "currency": "EUR"})
    account = services.account_check(account=memory_account)
    account.refresh_from_db()
    assert account.last_check_status == ProviderAccount.CheckStatus.OK
    assert account.last_check_detail == "Connected as shop"
    assert account.balance == Decimal("12.5")
    assert account.balance_currency == "EUR"
    assert account.balance_at is not None and account.balance_at == account.last_check_at
    log = account.request_logs.get()
    assert log.operation == "check"
    assert "mem-key-123456" not in log.url + str(log.request_headers)


def test_check_failure_keeps_the_providers_message_without_secrets(memory_account, mocked_responses):
    mocked_responses.get(
        BASE_URL + "/balance", status=401, json={"error": "Invalid API key mem-key-123456", "code": "E401"}
    )
    account = services.account_check(account=memory_account)
    account.refresh_from_db()
    assert account.last_check_status == ProviderAccount.CheckStatus.FAILED
    assert account.last_check_detail == "Test connection failed: Invalid API key *** (code E401)"
    assert account.balance is None


def test_check_connection_error(memory_account, mocked_responses):
    mocked_responses.get(BASE_URL + "/balance", body=responses.ConnectionError("refused"))
    account = services.account_check(account=memory_account)
    assert account.last_check_status == ProviderAccount.CheckStatus.FAILED
    assert account.last_check_detail.startswith("Test connection failed: Could not reach the provider")


def test_check_adapter_crash_is_a_message_not_a_traceback(memory_account, monkeypatch, caplog):
    from tests.providers.memory_adapter import MemoryAdapter

    def boom(self):
        raise KeyError("balance")

    monkeypatch.setattr(MemoryAdapter, "check", boom)
    account = services.account_check(account=memory_account)
    assert account.last_check_status == ProviderAccount.CheckStatus.FAILED
    assert "Traceback" not in account.last_check_detail
    assert "unexpected error" in account.last_check_detail


def test_check_sandbox(sandbox_account):
    account = services.account_check(account=sandbox_account)
    assert account.last_check_status == ProviderAccount.CheckStatus.OK
    assert account.balance is None


def test_provider_moving_the_account_is_remembered(db, mocked_responses):
    """Mobizon code 13: the account lives on another server; the connection test stores the new domain."""
    from tests.factories import ProviderAccountFactory

    account = ProviderAccountFactory(
        provider="mobizon", options={"domain": "api.mobizon.kz"}, credentials={"api_key": "b" * 40}
    )
    mocked_responses.post(
        "https://api.mobizon.kz/service/user/getOwnBalance",
        json={"code": 13, "data": "api.mobizon.gmbh", "message": "wrong server"},
    )
    mocked_responses.post(
        "https://api.mobizon.gmbh/service/user/getOwnBalance",
        json={"code": 0, "data": {"balance": "10.0", "currency": "EUR"}, "message": ""},
    )
    account = services.account_check(account=account)
    account.refresh_from_db()
    assert account.last_check_status == ProviderAccount.CheckStatus.OK, account.last_check_detail
    assert account.options["domain"] == "api.mobizon.gmbh"
    assert account.balance == Decimal("10")
