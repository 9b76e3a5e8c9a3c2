"""Reads of the campaigns app: what the composer, the status page and the lists show.

Nothing here counts a million rows on a hot page: status figures come from the counters kept on ``Campaign``,
the chart from ``CampaignMinute``; the composer's audience counts go through ``contacts.selectors``.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from contacts.models import Contact
from contacts.selectors import audience_breakdown, audience_contacts, audience_selected, blocked_phone_exists

from .models import Campaign, CampaignMinute, Message
from .rendering import Template, contact_values
from .segments import GSM_REPLACEMENTS, SegmentInfo, count_segments, segments_of
from .snapshot import campaign_audience, speed_rate

FAILED_STATUSES = ("undelivered", "expired", "rejected", "failed")
PREVIEW_RECIPIENTS = 20
SEGMENT_SAMPLE = 500


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("account", "created_by")


def campaign_for_page(pk: int) -> Campaign | None:
    return Campaign.objects.select_related("account", "created_by", "approved_by").filter(pk=pk).first()


# ---------------------------------------------------------------------------------------------------- composer
@dataclass
class Counter:
    info: SegmentInfo
    fixable: list[str]  # characters forcing UCS-2 that have a GSM look-alike
    unfixable: list[str]  # characters forcing UCS-2 without one (e.g. emoji, Cyrillic)
    rendered_for: str = ""  # "template" or a recipient's name

    @property
    def is_gsm(self) -> bool:
        return self.info.encoding == "GSM-7"


def text_counter(text: str) -> Counter:
    """Characters, encoding, segments of ``text``; which characters force UCS-2 and which can be replaced."""
    info = count_segments(text)
    fixable = [c for c in info.non_gsm if c in GSM_REPLACEMENTS]
    unfixable = [c for c in info.non_gsm if c not in GSM_REPLACEMENTS]
    return Counter(info=info, fixable=fixable, unfixable=unfixable)


def describe_char(c: str) -> str:
    import unicodedata

    name = unicodedata.name(c, "")
    shown = {"\u00a0": "⍽", "\u2007": "⍽", "\u2009": "⍽", "\u202f": "⍽", "\u200b": "∅", "\t": "⇥"}.get(c, c)
    return f"{shown} ({name.title() if name else f'U+{ord(c):04X}'})"


COMPOSER_CACHE_SECONDS = 60


def _audience_key(campaign: Campaign, *extra) -> str:
    aud = campaign_audience(campaign)
    parts = [
        campaign.pk,
        *(sorted(aud[k]) for k in ("groups", "lists", "exclude_groups", "exclude_lists")),
        sorted(s.pk for s in aud["segments"]),
        *extra,
    ]
    return "campaigns:composer:" + hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def breakdown(campaign: Campaign, *, fresh: bool = False) -> dict[str, int]:
    """Selected / blocklisted / opted out / duplicates / eligible for the campaign's audience.

    Counted over the whole contacts table, so at a million contacts it takes a second or two: the composer
    keeps it for a minute per audience (typing the text does not count everyone again; changing the
    audience does).
    """
    aud = campaign_audience(campaign)
    if not (aud["groups"] or aud["lists"] or aud["segments"]):
        return {"selected": 0, "blocklisted": 0, "opted_out": 0, "duplicates": 0, "eligible": 0}
    key = _audience_key(campaign, "breakdown")
    if not fresh:
        hit = cache.get(key)
        if hit is not None:
            return hit
    value = audience_breakdown(**aud)
    cache.set(key, value, COMPOSER_CACHE_SECONDS)
    return value


BREAKDOWN_KINDS = {
    "selected": "Selected",
    "blocklisted": "Blocklisted",
    "opted_out": "Opted out",
    "duplicates": "In more than one group or list (counted once)",
    "eligible": "Eligible recipients",
}


def breakdown_contacts(campaign: Campaign, kind: str) -> QuerySet[Contact]:
    """The contacts behind one number of the breakdown."""
    aud = campaign_audience(campaign)
    selected = audience_selected(**aud)
    if kind == "eligible":
        return audience_contacts(**aud)
    if kind == "blocklisted":
        return selected.filter(Q(status=Contact.Status.BLOCKED) | Q(blocked_phone_exists()))
    if kind == "opted_out":
        return selected.filter(status=Contact.Status.OPTED_OUT).exclude(blocked_phone_exists())
    if kind == "duplicates":
        from contacts.models import GroupMembership, ListMembership

        g = GroupMembership.objects.filter(group_id__in=aud["groups"]).values("contact_id")
        lst = ListMembership.objects.filter(contact_list_id__in=aud["lists"]).values("contact_id")
        multi_g = g.annotate(n=Count("id")).filter(n__gt=1).values("contact_id")
        multi_l = lst.annotate(n=Count("id")).filter(n__gt=1).values("contact_id")
        return selected.filter(Q(pk__in=multi_g) | Q(pk__in=multi_l) | (Q(pk__in=g) & Q(pk__in=lst)))
    return selected


@dataclass
class Preview:
    index: int
    count: int  # recipients available to step through (≤ PREVIEW_RECIPIENTS)
    contact: Contact | None
    text: str
    counter: Counter
    missing: list[str]

    @property
    def has_prev(self) -> bool:
        return self.index > 0

    @property
    def has_next(self) -> bool:
        return self.index + 1 < self.count


def preview_recipients(campaign: Campaign) -> list[Contact]:
    """The first recipients (by id) the composer steps through and the test send can borrow values from."""
    if not _has_audience(campaign):
        return []
    return list(audience_contacts(**campaign_audience(campaign)).order_by("pk")[:PREVIEW_RECIPIENTS])


def preview(campaign: Campaign, index: int = 0) -> Preview:
    """The text rendered for real recipient number ``index`` (the first ``PREVIEW_RECIPIENTS``, by id)."""
    template = Template(campaign.text)
    contacts = preview_recipients(campaign)
    if not contacts:
        text = template.render({}) if not template.syntax_problems else campaign.text
        return Preview(0, 0, None, text, text_counter(text), [])
    index = max(0, min(index, len(contacts) - 1))
    contact = contacts[index]
    values = contact_values(contact)
    text = template.render(values)
    counter = text_counter(text)
    counter.rendered_for = contact.full_name or contact.phone
    return Preview(index, len(contacts), contact, text, counter, template.missing(values))


def _has_audience(campaign: Campaign) -> bool:
    if not campaign.pk:
        return False
    return campaign.groups.exists() or campaign.lists.exists() or campaign.segments.exists()


@dataclass
class MissingValues:
    key: str
    count: int
    examples: list[Contact] = field(default_factory=list)


def missing_values(campaign: Campaign, *, examples: int = 5) -> list[MissingValues]:
    """Recipients who would get an empty placeholder (no value and no fallback), per key, counted in SQL."""
    if not _has_audience(campaign):
        return []
    template = Template(campaign.text)
    keys = template.keys_without_fallback
    if not keys:
        return []
    cache_key = _audience_key(campaign, "missing", tuple(keys), examples)
    hit = cache.get(cache_key)
    if hit is not None:
        return hit
    audience = audience_contacts(**campaign_audience(campaign))
    out = []
    for key in keys:
        if key in ("first_name", "last_name"):
            cond = Q(**{key: ""})
        else:
            cond = Q(**{f"attributes__{key}__isnull": True}) | Q(**{f"attributes__{key}": ""})
        qs = audience.filter(cond)
        count = qs.count()
        if count:
            out.append(MissingValues(key, count, list(qs.order_by("pk")[:examples])))
    cache.set(cache_key, out, COMPOSER_CACHE_SECONDS)
    return out


@dataclass
class Totals:
    messages: int
    segments: int
    exact: bool  # False: segments estimated from a sample of rendered texts
    cost: Decimal | None
    currency: str
    rate: float  # messages/second the campaign will be sent at
    duration: timedelta | None
    start: datetime | None
    finish: datetime | None


def totals(campaign: Campaign, eligible: int, *, start: datetime | None = None) -> Totals:
    """Messages, segments, cost and the computed finish time for the whole audience, before sending."""
    template = Template(campaign.text)
    if template.is_static or eligible == 0:
        per = segments_of(template.static_text if template.is_static else template.render({}))
        segments, exact = per * eligible, True
    else:
        sample = list(
            audience_contacts(**campaign_audience(campaign))
            .order_by("pk")
            .only("first_name", "last_name", "attributes")[:SEGMENT_SAMPLE]
        )
        counts = [segments_of(template.render(contact_values(c))) for c in sample] or [1]
        exact = len(sample) >= eligible
        segments = sum(counts) if exact else round(sum(counts) / len(counts) * eligible)
    account = campaign.account
    price = account.price_per_segment if account else None
    cost = (price * segments).quantize(Decimal("0.01")) if price is not None else None
    rate = send_rate_for(campaign, eligible)
    duration = timedelta(seconds=math.ceil(eligible / rate)) if rate > 0 and eligible else None
    start = start or campaign.scheduled_at or timezone.now()
    return Totals(
        messages=eligible,
        segments=segments,
        exact=exact,
        cost=cost,
        currency=(account.currency if account else "") or "",
        rate=rate,
        duration=duration,
        start=start,
        finish=start + duration if duration else None,
    )


def send_rate_for(campaign: Campaign, recipients: int) -> float:
    account_rate = campaign.account.messages_per_second if campaign.account else 0.0
    own = speed_rate(campaign, recipients)
    rates = [r for r in (account_rate, own) if r and r > 0]
    return min(rates) if rates else 0.0


# ---------------------------------------------------------------------------------------------------- status page
@dataclass
class Status:
    campaign: Campaign
    total: int
    handed_over: int
    progress: int  # percent handed over
    delivered_pct: int
    tiles: list[dict]
    failure_reasons: list[dict]
    achieved_rate: float | None  # messages/s over the last minutes
    configured_rate: float
    eta: datetime | None
    settled: bool  # finished and nothing awaits a report: polling can stop


def status(campaign: Campaign, *, now: datetime | None = None) -> Status:
    now = now or timezone.now()
    c = campaign
    total = c.recipients_total or c.audience_estimate
    pending = c.pending_count + max(0, (c.audience_estimate - c.recipients_total) if not c.snapshot_done else 0)
    handed = max(0, c.recipients_total - c.pending_count - c.cancelled_count)
    tiles = [
        _tile("pending", "hourglass-split", "Pending", c.pending_count, "muted", "Not yet handed to the provider"),
        _tile("queued", "inbox", "Queued", c.queued_count, "info", "Accepted by the provider"),
        _tile("sent", "send", "Sent", c.sent_count, "info", "On the network, no report yet"),
        _tile("delivered", "check2-circle", "Delivered", c.delivered_count, "success", "Confirmed by the handset"),
        _tile(
            "failed_any", "x-octagon", "Failed", c.failed_count, "danger", "Undelivered, expired, rejected or failed"
        ),
        _tile(
            "unknown",
            "question-circle",
            "Unknown",
            c.unknown_count,
            "warning",
            "Hand-over unclear; being checked with the provider",
        ),
    ]
    if c.cancelled_count:
        tiles.append(
            _tile(
                "cancelled",
                "slash-circle",
                "Cancelled",
                c.cancelled_count,
                "muted",
                "Never sent: the campaign was cancelled",
            )
        )
    reasons = failure_reasons(c) if c.failed_count else []
    achieved = achieved_rate(c, now=now)
    configured = c.send_rate or (c.account.messages_per_second if c.account else 0.0)
    if c.send_rate and c.account:
        configured = min(c.send_rate, c.account.messages_per_second)
    eta = None
    if c.status in (Campaign.Status.SENDING, Campaign.Status.STARTING) and pending:
        rate = achieved or configured
        if rate:
            eta = now + timedelta(seconds=pending / rate)
    awaiting = c.queued_count + c.sent_count + c.unknown_count
    settled = c.is_finished and (awaiting == 0 or (c.finished_at and now - c.finished_at > timedelta(minutes=30)))
    return Status(
        campaign=c,
        total=total,
        handed_over=handed,
        progress=min(100, round(100 * handed / total)) if total else (100 if c.is_finished else 0),
        delivered_pct=round(100 * c.delivered_count / total) if total else 0,
        tiles=tiles,
        failure_reasons=reasons,
        achieved_rate=achieved,
        configured_rate=configured,
        eta=eta,
        settled=bool(settled),
    )


def _tile(key: str, icon: str, label: str, value: int, tone: str, help_text: str) -> dict:
    return {"key": key, "icon": icon, "label": label, "value": value, "tone": tone, "help": help_text}


FAILURE_REASONS_SECONDS = 30


def failure_reasons(campaign: Campaign, limit: int = 8) -> list[dict]:
    """Failures grouped by the provider's code, most frequent first.

    A GROUP BY over the failed rows (50,000 of a million-message campaign: ~0.14 s on SQLite), so the polled
    status page reuses the last answer until the failed count changes, and then at most every 30 s.
    """
    key = f"campaigns:failure-reasons:{campaign.pk}"
    hit = cache.get(key)
    now = time.monotonic()
    if hit is not None and (hit["failed"] == campaign.failed_count or now - hit["at"] < FAILURE_REASONS_SECONDS):
        return hit["reasons"]
    reasons = _failure_reasons(campaign, limit)
    cache.set(key, {"failed": campaign.failed_count, "at": now, "reasons": reasons}, 3600)
    return reasons


def _failure_reasons(campaign: Campaign, limit: int) -> list[dict]:
    rows = (
        Message.objects.filter(campaign=campaign, is_test=False, status__in=FAILED_STATUSES)
        .values("error_code", "error_text")
        .annotate(n=Count("id"))
        .order_by("-n")[: limit * 3]
    )
    merged: dict[str, dict] = {}
    for r in rows:
        key = r["error_code"] or ""
        entry = merged.setdefault(key, {"code": key, "text": r["error_text"] or "No reason given", "count": 0})
        entry["count"] += r["n"]
    return sorted(merged.values(), key=lambda e: -e["count"])[:limit]


def achieved_rate(campaign: Campaign, *, now: datetime | None = None) -> float | None:
    """Messages handed over per second over the last two minutes (None before anything was handed over)."""
    now = now or timezone.now()
    since = (now - timedelta(minutes=2)).replace(second=0, microsecond=0)
    minutes = list(
        CampaignMinute.objects.filter(campaign=campaign, minute__gte=since).values_list("minute", "handed_over")
    )
    if not minutes or not sum(n for _m, n in minutes):
        return None
    start = max(min(m for m, _n in minutes), campaign.started_at or since)
    seconds = max(1.0, (now - start).total_seconds())
    return sum(n for _m, n in minutes) / seconds


def chart(campaign: Campaign, *, max_points: int = 240) -> dict:
    """Per-minute hand-overs, deliveries and failures (merged into wider buckets on long campaigns)."""
    rows = list(
        CampaignMinute.objects.filter(campaign=campaign)
        .order_by("minute")
        .values_list("minute", "handed_over", "delivered", "failed")
    )
    if not rows and 0 < campaign.recipients_total <= CHART_FALLBACK_LIMIT:
        rows = _minutes_from_messages(campaign)
    if not rows:
        return {"labels": [], "handed_over": [], "delivered": [], "failed": []}
    first, last = rows[0][0], rows[-1][0]
    span = int((last - first).total_seconds() // 60) + 1
    width = max(1, math.ceil(span / max_points))
    buckets: dict[int, list[int]] = {}
    for minute, h, d, f in rows:
        b = int((minute - first).total_seconds() // 60) // width
        acc = buckets.setdefault(b, [0, 0, 0])
        acc[0] += h
        acc[1] += d
        acc[2] += f
    labels, handed, delivered, failed = [], [], [], []
    for b in range(max(buckets) + 1):
        t = timezone.localtime(first + timedelta(minutes=b * width))
        labels.append(t.strftime("%H:%M") if span <= 24 * 60 else t.strftime("%d %b %H:%M"))
        h, d, f = buckets.get(b, [0, 0, 0])
        handed.append(h)
        delivered.append(d)
        failed.append(f)
    return {
        "labels": labels,
        "handed_over": handed,
        "delivered": delivered,
        "failed": failed,
        "per": f"{width} min" if width > 1 else "minute",
    }


CHART_FALLBACK_LIMIT = 50_000


def _minutes_from_messages(campaign: Campaign) -> list[tuple]:
    """Chart rows for campaigns whose messages were not written by the send pipeline (imported, demo data)."""
    from django.db.models.functions import TruncMinute

    base = Message.objects.filter(campaign=campaign, is_test=False)
    acc: dict = {}
    for column, slot, statuses in (
        ("handed_over_at", 0, None),
        ("delivered_at", 1, ("delivered",)),
        ("failed_at", 2, FAILED_STATUSES),
    ):
        qs = base.exclude(**{f"{column}__isnull": True})
        if statuses:
            qs = qs.filter(status__in=statuses)
        for minute, n in qs.annotate(m=TruncMinute(column)).values_list("m").annotate(n=Count("id")):
            acc.setdefault(minute, [0, 0, 0])[slot] += n
    return [(m, *v) for m, v in sorted(acc.items())]


def campaign_messages(campaign: Campaign) -> QuerySet[Message]:
    return Message.objects.filter(campaign=campaign).select_related("contact")
