"""Reads for the workspace pages: dashboard figures, users, audit log.

The dashboard is the landing page, so nothing here may scale with the size of the big tables on every
request: contact and message aggregates are computed with one grouped query each (index-only for contacts:
``contact_status_id``; a range on ``message_created`` for messages) and cached for
``settings.DASHBOARD_CACHE_SECONDS`` (default 30 s). Figures measured at 1M rows are in the report of
benchmarks/dashboard_counts.py.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Case, CharField, Count, IntegerField, Prefetch, Q, QuerySet, Value, When
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
    cache.delete_many([CACHE_PREFIX + k for k in ("contacts", "messages_7d")])


def workspace_settings() -> WorkspaceSettings:
    return WorkspaceSettings.load()


# --- contacts -------------------------------------------------------------------------------------------
def contact_counts() -> dict[str, int]:
    """Contacts by status plus total and blocklist size.

    One ``GROUP BY status`` that SQLite and PostgreSQL answer from the ``(status, -id)`` index alone.
    """

    def compute():
        from contacts.models import BlocklistEntry, Contact

        by_status = dict(Contact.objects.order_by().values_list("status").annotate(n=Count("*")))
        counts = {status: by_status.get(status, 0) for status in Contact.Status.values}
        counts["total"] = sum(by_status.values())
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
    """Messages created in the last ``days`` days (workspace time zone), per day and status group.

    Returns ``{"labels": [...], "days": [date...], "series": {group: [n per day]}, "totals": {group: n},
    "total": n, "groups": MESSAGE_GROUPS}``. One query: a range scan on ``message_created`` with the day
    computed by a CASE over precomputed boundaries (no per-row date function).
    """
    now = now or timezone.now()
    starts = _day_starts(days, now)
    tz_name = timezone.get_current_timezone_name()

    def compute():
        from campaigns.models import Message

        day_case = Case(
            *[When(created_at__gte=start, then=Value(index)) for index, start in reversed(list(enumerate(starts)))],
            default=Value(-1),
            output_field=IntegerField(),
        )
        group_case = Case(
            *[When(status__in=spec["statuses"], then=Value(key)) for key, spec in MESSAGE_GROUPS.items()],
            default=Value("pending"),
            output_field=CharField(),
        )
        rows = (
            Message.objects.filter(created_at__gte=starts[0], is_test=False)
            .order_by()
            .annotate(day=day_case, group=group_case)
            .values_list("day", "group")
            .annotate(n=Count("*"))
        )
        series = {key: [0] * days for key in MESSAGE_GROUPS}
        for day, group, n in rows:
            if 0 <= day < days:
                series[group][day] += n
        return series

    series = _cached(f"messages_{days}d:{tz_name}:{starts[-1].date().isoformat()}", compute)
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
