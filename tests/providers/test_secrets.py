"""Secrets never appear anywhere: accounts with distinctive secret values are shown, edited, tested (failing and
succeeding) against every provider's fake server, synced, and browsed in the request log and the Django admin;
then every response body, every request-log row, every log record, the audit log and the stored results are
searched for the secret values."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from campaigns.models import MessageEvent
from providers import services
from providers.adapters.registry import get_adapter_class
from providers.management.commands.fake_provider import fake_account_settings, start_fake
from providers.models import ExternalMapping, ProviderAccount, ProviderRequestLog, SyncRun
from providers.sync import SyncEngine, offered_scopes
from smsportal.models import AuditLog
from tests.factories import ContactFactory, GroupFactory, GroupMembershipFactory, ProviderAccountFactory
from tests.providers.memory_adapter import BASE_URL, STORES, register_memory_adapter

pytestmark = pytest.mark.django_db

REAL_CODES = ["jojka", "jooksms", "mobizon", "ogangi", "apifon"]


def distinctive(code: str, field: str, n: int = 0) -> str:
    return f"ZZ-{code}-{field}-SECRET-{n}-q8w7e6"


class Pages:
    """Collects every page the test opens."""

    def __init__(self, client):
        self.client = client
        self.bodies: list[tuple[str, str]] = []

    def get(self, url, **kw):
        r = self.client.get(url, **kw)
        assert r.status_code in (200, 286), (url, r.status_code)
        self.bodies.append((url, r.content.decode()))
        return r

    def post(self, url, data=None, **kw):
        r = self.client.post(url, data or {}, **kw)
        assert r.status_code < 500, (url, r.status_code)
        self.bodies.append((url, r.content.decode()))
        return r


@pytest.fixture
def admin_client(client, operator):
    operator.is_superuser = True
    operator.save()
    client.force_login(operator)
    return client


def exercise_account(pages: Pages, account: ProviderAccount) -> None:
    pk = account.pk
    hx = {"HX-Request": "true"}
    pages.get(reverse("providers:accounts"))
    pages.get(reverse("providers:account", args=[pk]))
    pages.get(reverse("providers:account_edit", args=[pk]))
    pages.post(reverse("providers:account_check", args=[pk]), headers=hx)
    pages.post(reverse("providers:account_check", args=[pk]))
    pages.get(reverse("providers:account", args=[pk]))
    # an invalid edit re-renders the form with what was typed: secrets must not come back either
    pages.post(reverse("providers:account_edit", args=[pk]), {"name": ""})
    pages.get(reverse("providers:request_log", args=[pk]))
    pages.get(reverse("providers:request_log", args=[pk]), headers=hx, data={"errors_only": "on"})
    for log in ProviderRequestLog.objects.filter(account=account):
        pages.get(reverse("providers:request_log_detail", args=[pk, log.pk]))
    pages.get(reverse("admin:providers_provideraccount_change", args=[pk]))
    pages.get(reverse("admin:providers_provideraccount_changelist"))
    pages.get(reverse("admin:providers_providerrequestlog_changelist"))
    for log in ProviderRequestLog.objects.filter(account=account)[:20]:
        pages.get(reverse("admin:providers_providerrequestlog_change", args=[log.pk]))
    pages.get(reverse("admin:providers_syncrun_changelist"))
    for run in SyncRun.objects.filter(account=account):
        pages.get(reverse("admin:providers_syncrun_change", args=[run.pk]))
    pages.get(reverse("admin:providers_externalmapping_changelist"))


def assert_nowhere(secrets: list[str], pages: Pages, caplog) -> None:
    assert secrets and all(len(s) >= 8 for s in secrets)
    for url, body in pages.bodies:
        for s in secrets:
            assert s not in body, f"secret shown on {url}"
    for row in ProviderRequestLog.objects.all():
        text = " ".join([row.url, str(row.request_headers), row.request_body, row.response_body, row.error])
        for s in secrets:
            assert s not in text, f"secret in request log row {row.pk} ({row.operation})"
    for record in caplog.records:
        message = record.getMessage() + (record.exc_text or "")
        for s in secrets:
            assert s not in message, f"secret in a log record of {record.name}"
    stored = [str(a.changes) for a in AuditLog.objects.all()]
    stored += [a.last_check_detail for a in ProviderAccount.objects.all()]
    stored += [r.error + str(r.summary) for r in SyncRun.objects.all()]
    stored += [str(e.raw) for e in MessageEvent.objects.all()]
    for text in stored:
        for s in secrets:
            assert s not in text


def test_memory_provider_secrets_never_shown(admin_client, settings, mocked_responses, caplog, workspace):
    caplog.set_level(logging.DEBUG)
    register_memory_adapter(settings)
    try:
        key, hook_secret = "MEMKEY-SECRET-7f3a9c", "WHSEC-SECRET-1b2c3d"
        pages = Pages(admin_client)
        # created through the UI form
        pages.post(
            reverse("providers:account_add") + "?provider=memory",
            {
                "provider": "memory",
                "name": "Memory",
                "base_url": "",
                "cred_username": "shop",
                "cred_api_key": key,
                "cred_webhook_secret": hook_secret,
                "messages_per_second": "10",
                "poll_interval_seconds": "60",
                "sync_interval_minutes": "60",
            },
        )
        account = ProviderAccount.objects.get(name="Memory")
        assert account.credentials["api_key"] == key
        # failing test (the provider echoes the key in its error), then a succeeding one
        mocked_responses.get(BASE_URL + "/balance", status=401, json={"error": f"Invalid key {key}", "code": "E1"})
        pages.post(reverse("providers:account_check", args=[account.pk]), headers={"HX-Request": "true"})
        account.refresh_from_db()
        assert account.last_check_detail.startswith("Test connection failed: Invalid key ***")
        # (responses serves the last registered answer to every later call)
        mocked_responses.get(BASE_URL + "/balance", json={"balance": "5", "currency": "EUR", "echo": key})
        GroupMembershipFactory(group=GroupFactory(name="VIP"), contact=ContactFactory(phone="+46701000001"))
        services.sync_execute(run_id=SyncRun.objects.create(account=account).pk)
        exercise_account(pages, account)
        # the admin's change form posts back without revealing or losing the secret
        r = admin_client.post(
            reverse("admin:providers_provideraccount_change", args=[account.pk]),
            {
                "name": "Memory",
                "base_url": "",
                "options": '{"region": "eu"}',
                "default_sender": "",
                "allowed_senders": "[]",
                "messages_per_second": "10",
                "currency": "",
                "is_active": "on",
                "sync_interval_minutes": "60",
                "poll_interval_seconds": "60",
                "credential__username": "shop",
                "credential__api_key": "",
                "credential__webhook_secret": "",
            },
        )
        assert r.status_code == 302, r.content.decode()[-2000:]
        account.refresh_from_db()
        assert account.credentials["api_key"] == key and account.credentials["webhook_secret"] == hook_secret
        assert ProviderRequestLog.objects.filter(account=account).exists()
        assert_nowhere([key, hook_secret], pages, caplog)
    finally:
        STORES.clear()


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_provider_secrets_never_shown(code, admin_client, caplog, workspace):
    caplog.set_level(logging.DEBUG)
    cls = get_adapter_class(code)
    secret_fields = [f.name for f in cls.credential_fields if f.secret]
    good = {name: distinctive(code, name) for name in secret_fields}
    if code == "mobizon":
        good["api_key"] = "zz" + "7" * 38  # Mobizon keys are 40 letters and digits
    fake = start_fake(code, values=good)
    try:
        base = fake_account_settings(code, fake)
        creds = {**base["credentials"], **good}
        ok_account = ProviderAccountFactory(
            name=f"{code} ok", provider=code, base_url=base["base_url"], credentials=creds, options=base["options"]
        )
        wrong = {name: distinctive(code, name, 1) for name in secret_fields}
        if code == "mobizon":
            wrong["api_key"] = "zz" + "8" * 38
        bad_account = ProviderAccountFactory(
            name=f"{code} bad",
            provider=code,
            base_url=base["base_url"],
            credentials={**creds, **wrong},
            options=base["options"],
        )
        pages = Pages(admin_client)
        pages.get(reverse("providers:account_add"), data={"provider": code})
        if offered_scopes(cls):
            GroupMembershipFactory(group=GroupFactory(name="VIP"), contact=ContactFactory(phone="+46701000001"))
            SyncEngine(ok_account).run()
            assert ExternalMapping.objects.filter(account=ok_account).exists()
        for account in (ok_account, bad_account):
            exercise_account(pages, account)
        ok_account.refresh_from_db()
        bad_account.refresh_from_db()
        assert ok_account.last_check_status == ProviderAccount.CheckStatus.OK, ok_account.last_check_detail
        assert bad_account.last_check_status == ProviderAccount.CheckStatus.FAILED
        assert bad_account.last_check_detail.startswith("Test connection failed: ")
        assert "Traceback" not in bad_account.last_check_detail
        assert ProviderRequestLog.objects.filter(account=bad_account).exists()
        secrets = [v for v in (*good.values(), *wrong.values()) if len(v) >= 8]
        assert_nowhere(secrets, pages, caplog)
    finally:
        fake.stop()
