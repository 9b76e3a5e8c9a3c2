"""Sync panel (start, progress polling that stops when done) and the request log (filters, detail)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from providers.models import ProviderRequestLog, SyncRun
from tests.factories import ContactFactory, ProviderRequestLogFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def test_start_sync_over_htmx_then_poll_until_done(
    operator_client, memory_account, workspace, django_capture_on_commit_callbacks
):
    ContactFactory(phone="+46701000001")
    start = reverse("providers:sync_start", args=[memory_account.pk])
    status = reverse("providers:sync_status", args=[memory_account.pk])
    # queued (the worker has not picked it up): the panel polls
    r = operator_client.post(start, {"direction": "both", "scope": ["contacts", "groups"]}, headers=HTMX)
    html = r.content.decode()
    assert r.status_code == 200 and "<html" not in html
    assert 'hx-trigger="every 1s"' in html and status in html
    run = SyncRun.objects.get()
    assert run.scope == ["groups", "contacts"]
    r = operator_client.get(status, headers=HTMX)
    assert r.status_code == 200 and 'hx-trigger="every 1s"' in r.content.decode()
    # the worker runs it
    from providers.services import sync_execute

    sync_execute(run_id=run.pk)
    r = operator_client.get(status, headers=HTMX)
    html = r.content.decode()
    assert r.status_code == 286  # htmx: stop polling
    assert "every 1s" not in html
    assert "Pushing contacts" in html and "Done" in html
    assert "providerCallsChanged" in r["HX-Trigger"]


def test_second_sync_while_one_runs_is_refused_with_a_message(operator_client, memory_account):
    SyncRun.objects.create(account=memory_account, status=SyncRun.Status.RUNNING)
    r = operator_client.post(reverse("providers:sync_start", args=[memory_account.pk]), {"direction": "both"})
    assert r.status_code == 302
    assert SyncRun.objects.count() == 1
    page = operator_client.get(r["Location"]).content.decode()
    assert "already queued or running" in page


def test_sync_of_a_provider_without_sync_api_is_refused(operator_client, sandbox_account):
    r = operator_client.post(
        reverse("providers:sync_start", args=[sandbox_account.pk]), {"direction": "both"}, headers=HTMX
    )
    assert r.status_code == 200
    assert not SyncRun.objects.exists()
    assert "keeps no contacts, groups or blocklist" in r.content.decode()


def test_failed_run_is_shown_with_its_error(operator_client, memory_account):
    SyncRun.objects.create(
        account=memory_account,
        status=SyncRun.Status.FAILED,
        error="Pulling contacts failed: Could not reach the provider",
        summary={
            "contacts.pull": {
                "created": 0,
                "updated": 0,
                "unchanged": 0,
                "linked": 0,
                "removed": 0,
                "skipped": 0,
                "failed": 0,
                "errors": [],
                "note": "",
            }
        },
    )
    html = operator_client.get(reverse("providers:account", args=[memory_account.pk])).content.decode()
    assert "Pulling contacts failed: Could not reach the provider" in html
    assert "Sync now" in html  # can be started again


# ---------------------------------------------------------------------------------------------- request log
@pytest.fixture
def log_rows(memory_account):
    now = timezone.now()
    rows = [
        ProviderRequestLogFactory(account=memory_account, operation="check", status_code=200, url="https://x/ok"),
        ProviderRequestLogFactory(
            account=memory_account, operation="send", status_code=401, url="https://x/denied", error="Invalid key"
        ),
        ProviderRequestLogFactory(
            account=memory_account, operation="send", status_code=None, url="https://x/timeout", error="read timeout"
        ),
        ProviderRequestLogFactory(account=memory_account, operation="status", status_code=503, url="https://x/down"),
    ]
    old = ProviderRequestLogFactory(account=memory_account, operation="status", status_code=200, url="https://x/old")
    ProviderRequestLog.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
    return rows


def log_urls(client, account, **params):
    r = client.get(reverse("providers:request_log", args=[account.pk]), params, headers=HTMX)
    assert r.status_code == 200
    html = r.content.decode()
    return {u for u in ("ok", "denied", "timeout", "down", "old") if f"https://x/{u}" in html}, html


def test_request_log_filters(operator_client, memory_account, log_rows):
    assert log_urls(operator_client, memory_account)[0] == {"ok", "denied", "timeout", "down", "old"}
    assert log_urls(operator_client, memory_account, operation="send")[0] == {"denied", "timeout"}
    assert log_urls(operator_client, memory_account, status="401")[0] == {"denied"}
    assert log_urls(operator_client, memory_account, status="5xx")[0] == {"down"}
    assert log_urls(operator_client, memory_account, status="none")[0] == {"timeout"}
    assert log_urls(operator_client, memory_account, errors_only="on")[0] == {"denied", "timeout", "down"}
    today = timezone.localdate()
    assert log_urls(operator_client, memory_account, day=today.isoformat())[0] == {"ok", "denied", "timeout", "down"}
    old_day = (timezone.localtime() - timedelta(days=3)).date().isoformat()
    assert log_urls(operator_client, memory_account, day=old_day)[0] == {"old"}


def test_request_log_invalid_filter_says_so(operator_client, memory_account, log_rows):
    urls, html = log_urls(operator_client, memory_account, status="abc")
    assert urls == set()
    assert "Use a code (401), a class (4xx) or none" in html


def test_request_log_is_per_account(operator_client, memory_account, sandbox_account, log_rows):
    ProviderRequestLogFactory(account=sandbox_account, url="https://x/other-account")
    r = operator_client.get(reverse("providers:request_log", args=[memory_account.pk]))
    assert "other-account" not in r.content.decode()
    assert "Request log" in r.content.decode()


def test_request_log_detail(operator_client, memory_account):
    row = ProviderRequestLogFactory(
        account=memory_account,
        operation="send",
        request_headers={"Authorization": "***"},
        request_body='{"to": "46700000001", "text": "Hi"}',
        response_body='{"error": "Invalid key"}',
        status_code=401,
        error="Invalid key",
    )
    r = operator_client.get(reverse("providers:request_log_detail", args=[memory_account.pk, row.pk]))
    html = r.content.decode()
    assert r.status_code == 200
    assert "&quot;to&quot;: &quot;46700000001&quot;" in html  # pretty-printed JSON
    assert "Invalid key" in html and "Authorization" in html
    # another account's row is not reachable through this account
    other = ProviderRequestLogFactory()
    assert (
        operator_client.get(reverse("providers:request_log_detail", args=[memory_account.pk, other.pk])).status_code
        == 404
    )


def test_request_log_empty_state(operator_client, memory_account):
    html = operator_client.get(reverse("providers:request_log", args=[memory_account.pk])).content.decode()
    assert "No calls to this provider yet" in html


def test_request_log_filter_without_match_says_so(operator_client, memory_account, log_rows):
    urls, html = log_urls(operator_client, memory_account, status="418")
    assert urls == set()
    assert "No rows match these filters" in html
