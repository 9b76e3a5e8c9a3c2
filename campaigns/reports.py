"""Applying provider delivery reports (webhooks and polls) to messages: monotonic, deduplicated, counted.

Every report is kept raw as a ``MessageEvent``; a message's status only moves up ``Message.RANK`` (a late
"sent" never overwrites "delivered"); campaign counters move with it in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from providers.adapters.types import DeliveryReport

from .models import Campaign, CampaignMinute, Message, MessageEvent


def db_datetime(value):
    return connection.ops.adapt_datetimefield_value(value)


COUNTER_FIELD = {
    "pending": "pending_count",
    "queued": "queued_count",
    "sent": "sent_count",
    "delivered": "delivered_count",
    "undelivered": "failed_count",
    "expired": "failed_count",
    "rejected": "failed_count",
    "failed": "failed_count",
    "unknown": "unknown_count",
    "cancelled": "cancelled_count",
}


@dataclass
class ApplyResult:
    updated: int = 0
    ignored: int = 0  # stale or equal status (monotonic rule)
    unmatched: int = 0  # no message with that id (kept as a raw event)
    duplicates: int = 0  # event id seen before


def counter_deltas(transitions: Sequence[tuple]) -> dict[int, dict[str, int]]:
    """(campaign_id, old_status, new_status[, when]) → per-campaign counter field deltas."""
    deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for campaign_id, old, new, *_rest in transitions:
        if campaign_id is None:
            continue
        old_f, new_f = COUNTER_FIELD[old], COUNTER_FIELD[new]
        if old_f != new_f:
            deltas[campaign_id][old_f] -= 1
            deltas[campaign_id][new_f] += 1
    return deltas


def apply_counter_deltas(deltas: dict[int, dict[str, int]]) -> None:
    for campaign_id, fields in deltas.items():
        changes = {f: F(f) + d for f, d in fields.items() if d}
        if changes:
            Campaign.objects.filter(pk=campaign_id).update(**changes)


FAILURE_STATUSES = frozenset({"undelivered", "expired", "rejected", "failed"})


def minute_of(when) -> datetime:
    when = when or timezone.now()
    return when.astimezone(UTC).replace(second=0, microsecond=0)


def bump_minutes(deltas: dict[tuple[int, datetime], dict[str, int]]) -> None:
    """Add to the per-minute chart counts of campaigns (an upsert that adds, same SQL on SQLite and Postgres)."""
    rows = [
        (cid, db_datetime(minute), d.get("handed_over", 0), d.get("delivered", 0), d.get("failed", 0))
        for (cid, minute), d in deltas.items()
        if any(d.values())
    ]
    if not rows:
        return
    t = connection.ops.quote_name(CampaignMinute._meta.db_table)
    sql = (
        f"INSERT INTO {t} (campaign_id, minute, handed_over, delivered, failed) VALUES (%s, %s, %s, %s, %s) "  # noqa: S608
        f"ON CONFLICT (campaign_id, minute) DO UPDATE SET handed_over = {t}.handed_over + excluded.handed_over, "
        f"delivered = {t}.delivered + excluded.delivered, failed = {t}.failed + excluded.failed"
    )
    with connection.cursor() as cur:
        cur.executemany(sql, rows)


def transition_minutes(transitions: Sequence[tuple[int | None, str, str, datetime | None]]):
    """(campaign_id, old, new, when) → per-minute delivered/failed deltas for the chart."""
    deltas: dict[tuple[int, datetime], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for campaign_id, _old, new, when in transitions:
        if campaign_id is None:
            continue
        if new == "delivered":
            deltas[(campaign_id, minute_of(when))]["delivered"] += 1
        elif new in FAILURE_STATUSES:
            deltas[(campaign_id, minute_of(when))]["failed"] += 1
    return deltas


def status_fields(message: Message, new_status: str, when) -> list[str]:
    """Set the status and its timestamp on ``message``; return the changed field names."""
    message.status = new_status
    changed = ["status", "updated_at"]
    if new_status == Message.Status.SENT and message.sent_at is None:
        message.sent_at = when
        changed.append("sent_at")
    elif new_status == Message.Status.DELIVERED:
        message.delivered_at = when
        changed.append("delivered_at")
        if message.sent_at is None:
            message.sent_at = when
            changed.append("sent_at")
    elif new_status in Message.FINAL:
        message.failed_at = when
        changed.append("failed_at")
    if new_status in Message.FINAL:
        message.next_poll_at = None
        changed.append("next_poll_at")
    return changed


def apply_delivery_reports(
    *, account, reports: Sequence[DeliveryReport], kind: str = MessageEvent.Kind.STATUS
) -> ApplyResult:
    """Apply reports of one account. Safe to call twice with the same reports (webhook retries)."""
    result = ApplyResult()
    if not reports:
        return result
    with transaction.atomic():
        event_ids = [r.event_id for r in reports if r.event_id]
        seen = (
            set(MessageEvent.objects.filter(account=account, event_id__in=event_ids).values_list("event_id", flat=True))
            if event_ids
            else set()
        )
        ext_ids = {r.external_id for r in reports if r.external_id}
        refs = {r.client_ref for r in reports if r.client_ref}
        by_ext: dict[str, Message] = {}
        by_ref: dict[str, Message] = {}
        if ext_ids:
            rows = Message.objects.select_for_update().filter(account=account, external_id__in=ext_ids)
            for m in rows.exclude(external_id=""):  # the condition of the partial index message_external
                by_ext[m.external_id] = m
        if refs:
            valid_refs = [r for r in refs if _is_uuid(r)]
            for m in Message.objects.select_for_update().filter(uuid__in=valid_refs):
                by_ref[m.uuid.hex] = m
                by_ref[str(m.uuid)] = m
        events: list[MessageEvent] = []
        changed: dict[int, tuple[Message, set[str]]] = {}
        transitions: list[tuple[int | None, str, str, datetime | None]] = []
        batch_event_ids: set[str] = set()
        for r in reports:
            if r.event_id and (r.event_id in seen or r.event_id in batch_event_ids):
                result.duplicates += 1
                continue
            if r.event_id:
                batch_event_ids.add(r.event_id)
            msg = by_ext.get(r.external_id) or by_ref.get(r.client_ref)
            events.append(
                MessageEvent(
                    message=msg,
                    account=account,
                    kind=kind,
                    event_id=r.event_id,
                    external_id=r.external_id,
                    raw_status=str(r.raw_status)[:50],
                    status=str(r.status),
                    raw=r.raw if isinstance(r.raw, (dict, list)) else {"raw": str(r.raw)},
                    occurred_at=r.occurred_at,
                )
            )
            if msg is None:
                result.unmatched += 1
                continue
            old = msg.status
            new = str(r.status)
            fields: set[str] = set()
            if r.segments and r.segments != msg.segments:
                msg.segments = r.segments
                fields.add("segments")
            if r.cost is not None:
                msg.cost = r.cost
                fields.add("cost")
            if not msg.external_id and r.external_id:
                msg.external_id = r.external_id
                fields.add("external_id")
            if Message.RANK.get(new, 0) > Message.RANK.get(old, 0):
                fields.update(status_fields(msg, new, r.occurred_at or timezone.now()))
                if r.error_code or r.error_message:
                    msg.error_code = str(r.error_code)[:50]
                    msg.error_text = str(r.error_message)[:500]
                    fields.update({"error_code", "error_text"})
                transitions.append((msg.campaign_id if not msg.is_test else None, old, new, r.occurred_at))
                result.updated += 1
            else:
                result.ignored += 1
            if fields:
                prev = changed.get(msg.pk)
                changed[msg.pk] = (msg, (prev[1] if prev else set()) | fields | {"updated_at"})
        if events:
            try:
                with transaction.atomic():
                    MessageEvent.objects.bulk_create(events)
            except IntegrityError:
                # A concurrent delivery of the same webhook won the race: keep events one by one.
                for e in events:
                    try:
                        with transaction.atomic():
                            e.save()
                    except IntegrityError:
                        result.duplicates += 1
        for msg, fields in changed.values():
            msg.updated_at = timezone.now()
            Message.objects.filter(pk=msg.pk).update(**{f: getattr(msg, f) for f in fields})
        apply_counter_deltas(counter_deltas(transitions))
        bump_minutes(transition_minutes(transitions))
    return result


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
