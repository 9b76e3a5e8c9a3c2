"""Reads for the workspace pages: dashboard figures, users, audit log.

The dashboard is the landing page, so nothing here may scale with the big tables on every request: contact
figures are index counts cached for ``settings.DASHBOARD_CACHE_SECONDS`` (default 30 s), message figures come
from the campaigns' status counters, never from grouping the message table. benchmarks/dashboard_counts.py
measures them at 1M contacts and 1M messages.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from . import roles
from .models import AuditLog, WorkspaceSettings

CACHE_PREFIX = "smsportal:dashboard:"

# Message statuses grouped the way the dashboard shows them (order = legend and stacking order).
MESSAGE_GROUPS: OrderedDict[str, dict] = OrderedDict(
    [
        ("delivered", {"label": "Delivered", "statuses": ("delivered",), "color": "#10b981"}),
        ("in_flight", {"label": "Sent, awaiting report", "statuses": ("queued", "sent"), "color": "#6366f1"}),
        ("pending", {"label": "Pending", "statuses": ("pending", "unknown"), "color": "#cbd5e1"}),
        (
            "failed",
            {"label": "Failed", "statuses": ("undelivered", "expired", "rejected", "failed"), "color": "#ef4444"},
        ),
        ("cancelled", {"label": "Cancelled", "statuses": ("cancelled",), "color": "#94a3b8"}),
    ]
)


def _cache_seconds() -> int:
    return int(getattr(settings, "DASHBOARD_CACHE_SECONDS", 30))


def _cached(key: str, compute):
    seconds = _cache_seconds()
    if seconds <= 0:
        return compute()
    value = cache.get(CACHE_PREFIX + key)
    if value is None:
        value = compute()
        cache.set(CACHE_PREFIX + key, value, seconds)
    return value


def dashboard_cache_clear() -> None:
    cache.delete(CACHE_PREFIX + "contacts")


def workspace_settings() -> WorkspaceSettings:
    return WorkspaceSettings.load()


# --- contacts -------------------------------------------------------------------------------------------
def contact_counts() -> dict[str, int]:
    """Contacts by status plus total and blocklist size.

    ``COUNT(*)`` for the total plus one index range count per minority status (``contact_status_id``);
    "active" is the difference. At 1M contacts on SQLite: ~29 ms, against ~73 ms for a ``GROUP BY status``
    (benchmarks/dashboard_counts.py), and cached for ``DASHBOARD_CACHE_SECONDS``.
    """

    def compute():
        from contacts.models import BlocklistEntry, Contact

        counts = {"total": Contact.objects.order_by().count()}
        minority = [s for s in Contact.Status.values if s != Contact.Status.ACTIVE]
        for status in minority:
            counts[status] = Contact.objects.order_by().filter(status=status).count()
        counts[Contact.Status.ACTIVE] = max(0, counts["total"] - sum(counts[s] for s in minority))
        counts["blocklist"] = BlocklistEntry.objects.order_by().count()
        return counts

    return _cached("contacts", compute)


# --- campaigns and messages -----------------------------------------------------------------------------
def campaign_status_counts() -> list[dict]:
    """Every campaign status with its count (zeros included), in the lifecycle order."""
    from campaigns.models import Campaign

    counts = dict(Campaign.objects.order_by().values_list("status").annotate(n=Count("*")))
    return [
        {"status": value, "label": label, "count": counts.get(value, 0)} for value, label in Campaign.Status.choices
    ]


def _day_starts(days: int, now: dt.datetime) -> list[dt.datetime]:
    """Midnights (aware, in the active time zone) of the last ``days`` days, oldest first."""
    local_now = timezone.localtime(now)
    today = local_now.date()
    tz = timezone.get_current_timezone()
    return [
        timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=offset), dt.time.min), tz)
        for offset in range(days - 1, -1, -1)
    ]


def messages_by_day(*, days: int = 7, now: dt.datetime | None = None) -> dict:
    """Messages of the campaigns started in the last ``days`` days (workspace time zone), per start day and
    by their current status group.

    A campaign creates all its messages when it starts (one snapshot), so this is exactly "messages created
    per day"; it is read from the campaigns' status counters (kept by the campaign services) instead of
    grouping the message table, which takes ~10 s at 1M messages on SQLite and stays O(campaigns) here.
    Test sends are not campaign messages and are not counted.

    Returns ``{"labels": [...], "days": [date...], "series": {group: [n per day]}, "totals": {group: n},
    "total": n, "groups": MESSAGE_GROUPS}``.
    """
    from campaigns.models import Campaign

    now = now or timezone.now()
    starts = _day_starts(days, now)
    series = {key: [0] * days for key in MESSAGE_GROUPS}
    counters = (
        Campaign.objects.filter(started_at__gte=starts[0], started_at__lte=now)
        .order_by()
        .values_list(
            "started_at",
            "pending_count",
            "queued_count",
            "sent_count",
            "delivered_count",
            "failed_count",
            "unknown_count",
            "cancelled_count",
        )
    )
    for started_at, pending, queued, sent, delivered, failed, unknown, cancelled in counters:
        day = next(i for i in range(days - 1, -1, -1) if started_at >= starts[i])
        series["delivered"][day] += delivered
        series["in_flight"][day] += queued + sent
        series["pending"][day] += pending + unknown
        series["failed"][day] += failed
        series["cancelled"][day] += cancelled
    totals = {key: sum(values) for key, values in series.items()}
    return {
        "days": [s.date() for s in starts],
        "labels": [s.strftime("%a %d %b") for s in starts],
        "series": series,
        "totals": totals,
        "total": sum(totals.values()),
        "groups": MESSAGE_GROUPS,
    }


def recent_campaigns(*, limit: int = 5) -> QuerySet:
    from campaigns.models import Campaign

    return Campaign.objects.select_related("account").order_by("-created_at")[:limit]


def recent_imports(*, limit: int = 5) -> QuerySet:
    from contacts.models import Import

    return Import.objects.select_related("created_by").order_by("-created_at")[:limit]


def provider_accounts_health() -> list:
    """Active provider accounts with their last connection test, balance and campaigns now sending."""
    from campaigns.models import Campaign
    from providers.models import ProviderAccount

    accounts = list(
        ProviderAccount.objects.filter(is_active=True)
        .annotate(sending=Count("campaigns", filter=Q(campaigns__status__in=Campaign.ACTIVE_STATUSES)))
        .order_by("name")
    )
    return accounts


def inbox_unread_count(*, limit: int = 100) -> int:
    """Unread replies, counted at most up to ``limit`` (a capped COUNT over the ``inbound_status`` index)."""
    from campaigns.models import InboundMessage

    return InboundMessage.objects.filter(status=InboundMessage.Status.UNREAD).order_by()[:limit].count()


# --- users ----------------------------------------------------------------------------------------------
def user_list() -> QuerySet:
    User = get_user_model()
    return User.objects.order_by("-is_active", "username").prefetch_related(
        Prefetch("groups", to_attr="prefetched_groups")
    )


def user_role(user) -> str:
    """The role name from prefetched groups when available (no query per row)."""
    if user.is_superuser:
        return roles.OPERATOR
    groups = getattr(user, "prefetched_groups", None)
    names = {g.name for g in groups} if groups is not None else set(user.groups.values_list("name", flat=True))
    for role in reversed(roles.ROLES):
        if role in names:
            return role
    return ""


def active_operator_count(*, exclude_pk=None) -> int:
    User = get_user_model()
    qs = User.objects.filter(is_active=True).filter(Q(is_superuser=True) | Q(groups__name=roles.OPERATOR))
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.distinct().count()


# --- audit log ------------------------------------------------------------------------------------------
def audit_log_list() -> QuerySet[AuditLog]:
    return AuditLog.objects.select_related("actor").order_by("-created_at", "-id")


def audit_object_types() -> list[str]:
    return list(AuditLog.objects.order_by("object_type").values_list("object_type", flat=True).distinct())
