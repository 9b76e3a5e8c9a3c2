"""Reads for provider accounts, their request log and sync runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from .adapters.base import BaseAdapter, Feature, WebhookKind
from .adapters.registry import registry
from .models import ProviderAccount, ProviderRequestLog, SyncRun

FEATURE_LABELS: dict[Feature, str] = {
    Feature.SEND: "Send",
    Feature.BATCH_SAME_TEXT: "Bulk (one text)",
    Feature.BATCH_PERSONAL: "Bulk (a text each)",
    Feature.SCHEDULED: "Provider-side scheduling",
    Feature.CANCEL: "Cancel",
    Feature.PAUSE_RESUME: "Pause / resume",
    Feature.STATUS_POLL: "Status lookup",
    Feature.DELIVERY_WEBHOOK: "Delivery callbacks",
    Feature.INBOUND_WEBHOOK: "Reply callbacks",
    Feature.INBOUND_POLL: "Reply polling",
    Feature.RECONCILE: "Lookup by our reference",
    Feature.BALANCE: "Balance",
    Feature.CONTACTS_SYNC: "Contacts sync",
    Feature.GROUPS_SYNC: "Groups sync",
    Feature.BLOCKLIST_SYNC: "Blocklist sync",
}
WEBHOOK_KIND_LABELS = {WebhookKind.DELIVERY: "Delivery reports", WebhookKind.INBOUND: "Replies (inbound SMS)"}
ACTIVE_SYNC_STATUSES = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)


@dataclass(frozen=True)
class ProviderInfo:
    """What templates may know of an adapter class (never the class itself: templates call callables)."""

    code: str
    name: str
    default_base_url: str
    features: list[str]
    webhook_kinds: list[str]


def provider_info(cls: type[BaseAdapter]) -> ProviderInfo:
    return ProviderInfo(
        code=cls.code,
        name=cls.name,
        default_base_url=cls.default_base_url,
        features=feature_labels(cls),
        webhook_kinds=[str(k) for k in cls.webhook_kinds],
    )


def provider_catalogue() -> list[ProviderInfo]:
    """Every registered adapter with its human feature list, for the "add an account" picker."""
    return [provider_info(cls) for cls in registry().values()]


def feature_labels(adapter_class: type[BaseAdapter]) -> list[str]:
    return [label for feature, label in FEATURE_LABELS.items() if feature in adapter_class.features]


def account_list() -> QuerySet[ProviderAccount]:
    """Accounts with their latest sync run's status and time (one query)."""
    latest = SyncRun.objects.filter(account=OuterRef("pk")).order_by("-created_at", "-id")
    return ProviderAccount.objects.annotate(
        last_sync_status=Subquery(latest.values("status")[:1]),
        last_sync_at=Subquery(latest.values("created_at")[:1]),
    ).order_by("name")


def account_get(pk: int) -> ProviderAccount:
    return ProviderAccount.objects.get(pk=pk)


def account_credential_state(account: ProviderAccount) -> list[dict]:
    """Each credential/option field with its value for non-secrets, or only whether it is set for secrets."""
    cls = account.adapter_class
    rows = []
    for source, fields in (("credentials", cls.credential_fields), ("options", cls.option_fields)):
        values = (account.credentials if source == "credentials" else account.options) or {}
        for f in fields:
            value = values.get(f.name)
            rows.append(
                {
                    "label": f.label,
                    "secret": f.secret,
                    "is_set": value not in (None, ""),
                    "value": "" if f.secret else ("" if value is None else value),
                }
            )
    return rows


def account_webhook_urls(account: ProviderAccount) -> list[dict]:
    from .webhooks import webhook_url

    return [
        {"kind": kind, "label": WEBHOOK_KIND_LABELS.get(kind, str(kind)), "url": webhook_url(account, kind)}
        for kind in account.adapter_class.webhook_kinds
    ]


def sync_latest(account: ProviderAccount) -> SyncRun | None:
    return SyncRun.objects.filter(account=account).order_by("-created_at", "-id").first()


def sync_recent(account: ProviderAccount, limit: int = 5) -> list[SyncRun]:
    return list(SyncRun.objects.filter(account=account).order_by("-created_at", "-id")[:limit])


def sync_next_due(account: ProviderAccount, last: SyncRun | None) -> datetime | None:
    if not account.sync_enabled:
        return None
    if last is None:
        return timezone.now()
    return last.created_at + timedelta(minutes=max(1, account.sync_interval_minutes))


def request_log_for(account: ProviderAccount) -> QuerySet[ProviderRequestLog]:
    """Newest first; the (account, -created_at) index serves the default order and the date filter."""
    return (
        ProviderRequestLog.objects.filter(account=account)
        .defer("request_body", "response_body", "request_headers")
        .order_by("-created_at", "-id")
    )


def request_log_recent(account: ProviderAccount, limit: int = 8) -> list[ProviderRequestLog]:
    return list(request_log_for(account)[:limit])


def request_log_operations(account: ProviderAccount, scan: int = 2000) -> list[str]:
    """Operation names seen in the account's recent calls (for the filter), without scanning the whole log."""
    recent = (
        ProviderRequestLog.objects.filter(account=account)
        .order_by("-created_at", "-id")
        .values_list("operation", flat=True)[:scan]
    )
    return sorted({op for op in recent if op})


def local_day_range(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in the active (workspace) time zone, as aware datetimes."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), tz)
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), tz)
