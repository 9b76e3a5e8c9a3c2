"""Handing a campaign's messages over to its provider: lanes, claims, throttle, retries, reconciliation.

A campaign is sent by a few parallel *lanes* (``CampaignLane``). A lane is a chain of short task runs
(``send_batch``); each run holds the lane's lease (a token), and hands the lease to a fresh token for its
successor when it ends, so a duplicated or replayed task finds a different holder and does nothing.

One run loops, for up to ``RUN_SECONDS``, over chunks:

1. re-read the campaign (paused / cancelled / failed → stop within a second; the account disabled → fail);
2. *claim* up to a chunk of pending rows, lowest ids first from the campaign's ``claim_floor``
   (``claim_token`` = this run; ``SKIP LOCKED`` on PostgreSQL, the write lock on SQLite) — a batch run twice
   claims different rows or none, so nothing is sent twice;
3. drop rows whose contact was blocked, opted out or deleted since the snapshot (never sent);
4. reserve a window on the account's global throttle (and the campaign's own speed), then send the provider
   batches (``adapter.plan_batches``: same-text / personal bulk calls, or one message per call) from a thread
   pool, each batch at its slot in the window;
5. store the results in one transaction: provider ids, statuses, codes and texts, the raw answer of every
   refusal or unclear outcome (``MessageEvent``), counters, chart minutes, the redacted request log (which
   holds every raw answer, once per provider call).

Errors (the adapter's ``send()`` contract): an auth error stops the campaign at once (FAILED, with the
provider's message; resumable once the account is fixed); a retryable error (429, 5xx, connection) releases
the rows not handed over and retries the lane with exponential backoff (``Retry-After`` honoured by every
worker through the throttle); an ambiguous timeout gives UNKNOWN rows that are looked up at the provider
(``adapter.reconcile``) after ``RECONCILE_DELAY`` and only resent when the provider certainly lacks them.
A run killed mid-chunk leaves claimed rows: its redelivered task (same token) or, after the lease, the
sweeper turns them into such UNKNOWN rows — reconciled, never blindly resent.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from contacts.models import BlocklistEntry, Contact
from providers.adapters.base import Feature
from providers.adapters.exceptions import ProviderAuthError, ProviderError, ProviderNotSupported
from providers.adapters.types import MessageStatus, OutboundSMS, SendResult

from . import sql, throttle
from .models import Campaign, CampaignLane, Message, MessageEvent
from .reports import (
    FAILURE_STATUSES,
    apply_counter_deltas,
    bump_minutes,
    counter_deltas,
    minute_of,
)

logger = logging.getLogger(__name__)


def _setting(name: str, default):
    return getattr(settings, name, default)


# A lane run renews its lease every chunk; a dead lane (its worker was killed) is restarted after this.
LEASE_SECONDS = max(30, int(getattr(settings, "CAMPAIGN_LANE_LEASE_SECONDS", 120)))
RUN_SECONDS = 8.0  # one task run sends chunks for about this long, then hands over to a successor task
CHUNK_SECONDS = 2.0  # a chunk holds about this much sending at the effective rate
MAX_WAIT = 5.0  # wait for a throttle window in the task at most this long; longer: come back later
STALE_CLAIM_SECONDS = LEASE_SECONDS + 30  # a claim this old belongs to a dead run
MAX_FAILURES = 10  # consecutive retryable errors of a lane before the campaign fails
BACKOFF_BASE = 1.0
BACKOFF_CAP = 120.0
FIRST_POLL_SECONDS = 5.0
FIRST_POLL_WITH_WEBHOOK_SECONDS = 300.0
PERMANENT_CODES = frozenset({"blocked", "opted_out", "contact_deleted", "limit", "unconfirmed"})


def lanes_count() -> int:
    return max(1, int(_setting("CAMPAIGN_SEND_LANES", 2)))


def threads_count() -> int:
    return max(1, int(_setting("CAMPAIGN_SEND_THREADS", 16)))


def reconcile_delay() -> float:
    return float(_setting("CAMPAIGN_RECONCILE_DELAY", 30.0))


@dataclass
class RunOutcome:
    next_token: str | None = None  # the successor's lease token (None: the lane ends)
    next_delay: float = 0.0
    handed_over: int = 0
    reason: str = ""


# ---------------------------------------------------------------------------------------------------- lanes
_eager = threading.local()


def _is_eager() -> bool:
    from celery import current_app

    return bool(current_app.conf.task_always_eager)


def _enqueue(campaign_id: int, lane: int, token: str, delay: float) -> None:
    """Queue a lane run after the current transaction commits.

    With a broker: ``apply_async`` (with a countdown for backoff or throttle waits). In eager mode (tests,
    demos without a worker) runs are executed by one trampoline per thread, in order, sleeping their
    countdown — never recursively, so a long chain cannot overflow the stack.
    """
    from .tasks import send_batch as send_batch_task

    def go():
        if not _is_eager():
            send_batch_task.apply_async((campaign_id, lane, token), countdown=max(0.0, delay) or None)
            return
        queue = getattr(_eager, "queue", None)
        if queue is not None:
            queue.append((campaign_id, lane, token, delay))
            return
        _eager.queue = [(campaign_id, lane, token, delay)]
        try:
            while _eager.queue:
                cid, ln, tok, wait_s = _eager.queue.pop(0)
                if wait_s > 0:
                    time.sleep(min(wait_s, 5.0))
                send_batch_task.apply((cid, ln, tok))
        finally:
            _eager.queue = None

    transaction.on_commit(go)


def lanes_kick(campaign_id: int) -> list[tuple[int, str]]:
    """Start every lane of a sending campaign that has no live holder. Returns the (lane, token) started."""
    now = timezone.now()
    started = []
    existing = set(CampaignLane.objects.filter(campaign_id=campaign_id).values_list("lane", flat=True))
    for lane in range(lanes_count()):
        if lane not in existing:
            CampaignLane.objects.get_or_create(campaign_id=campaign_id, lane=lane)
        token = uuid.uuid4().hex
        with transaction.atomic():
            taken = (
                CampaignLane.objects.filter(campaign_id=campaign_id, lane=lane)
                .filter(Q(holder="") | Q(expires_at__lt=now))
                .update(holder=token, expires_at=now + timedelta(seconds=LEASE_SECONDS), failures=0)
            )
            if taken:
                _enqueue(campaign_id, lane, token, 0)
                started.append((lane, token))
    return started


def _lane_renew(campaign_id: int, lane: int, token: str) -> bool:
    return bool(
        CampaignLane.objects.filter(campaign_id=campaign_id, lane=lane, holder=token).update(
            expires_at=timezone.now() + timedelta(seconds=LEASE_SECONDS)
        )
    )


def _lane_release(campaign_id: int, lane: int, token: str) -> None:
    CampaignLane.objects.filter(campaign_id=campaign_id, lane=lane, holder=token).update(holder="", expires_at=None)


def _handover(campaign_id: int, lane: int, token: str, delay: float, handed: int, reason: str) -> RunOutcome:
    """Pass the lease to a fresh token and queue the successor run (after this transaction commits)."""
    new = uuid.uuid4().hex
    with transaction.atomic():
        moved = CampaignLane.objects.filter(campaign_id=campaign_id, lane=lane, holder=token).update(
            holder=new, expires_at=timezone.now() + timedelta(seconds=LEASE_SECONDS + delay)
        )
        if not moved:
            return RunOutcome(handed_over=handed, reason="lease lost")
        _enqueue(campaign_id, lane, new, delay)
    return RunOutcome(next_token=new, next_delay=delay, handed_over=handed, reason=reason)


def _lane_failure(campaign_id: int, lane: int, token: str) -> int:
    CampaignLane.objects.filter(campaign_id=campaign_id, lane=lane, holder=token).update(failures=F("failures") + 1)
    lane_row = CampaignLane.objects.filter(campaign_id=campaign_id, lane=lane)
    return lane_row.values_list("failures", flat=True).first() or 0


def backoff_delay(failures: int, retry_after: float | None = None) -> float:
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, failures - 1)) * random.uniform(0.8, 1.2)
    if retry_after:
        delay = max(delay, float(retry_after))
    return delay


# ---------------------------------------------------------------------------------------------------- run
def chunk_size(adapter_cls, rate: float) -> int:
    """How many messages one chunk claims: about CHUNK_SECONDS of sending, in whole provider calls."""
    per_call = max(1, adapter_cls.max_batch_size)
    cap = per_call * 4 if per_call > 1 else threads_count() * 16
    want = max(1, int(rate * CHUNK_SECONDS)) if rate and math.isfinite(rate) else cap
    return max(1, min(cap, want))


def effective_rate(campaign: Campaign) -> float:
    account_rate = campaign.account.messages_per_second if campaign.account else 0
    rates = [r for r in (account_rate, campaign.send_rate) if r and r > 0]
    return min(rates) if rates else 1.0


def send_batch(campaign_id: int, lane: int, token: str) -> RunOutcome:
    """One run of a lane (the body of the ``campaigns.tasks.send_batch`` task; call it directly in tests)."""
    started = time.monotonic()
    if not _lane_renew(campaign_id, lane, token):
        return RunOutcome(reason="not the lane holder")
    leftovers = list(Message.objects.exclude(claim_token="").filter(claim_token=token).values_list("id", flat=True))
    if leftovers:  # this very run was killed mid-chunk and redelivered: outcome unknown, reconcile later
        defer_reconcile(leftovers, token=token, reason="The worker stopped while handing this message over")
    handed = 0
    while True:
        campaign = Campaign.objects.select_related("account").filter(pk=campaign_id).first()
        if campaign is None or campaign.status != Campaign.Status.SENDING:
            _lane_release(campaign_id, lane, token)
            return RunOutcome(handed_over=handed, reason=campaign.status if campaign else "deleted")
        account = campaign.account
        if account is None or not account.is_active:
            campaign_fail(campaign_id, f"The provider account {account or ''} is disabled; enable it and resume.")
            _lane_release(campaign_id, lane, token)
            return RunOutcome(handed_over=handed, reason="account disabled")
        now = time.time()
        wait_s = throttle.peek(throttle.account_key(account.pk)) - now
        if campaign.send_rate:
            wait_s = max(wait_s, throttle.peek(throttle.campaign_key(campaign.pk)) - now)
        if wait_s > MAX_WAIT:
            return _handover(campaign_id, lane, token, wait_s - 1.0, handed, "throttled")
        rate = effective_rate(campaign)
        ids = claim(campaign_id, token, chunk_size(account.adapter_class, rate))
        if not ids:
            if not campaign.snapshot_done:
                if _is_eager():  # the snapshot runs in this very thread: its final kick restarts the lanes
                    _lane_release(campaign_id, lane, token)
                    return RunOutcome(handed_over=handed, reason="waiting for the snapshot")
                return _handover(campaign_id, lane, token, 0.5, handed, "waiting for the snapshot")
            _lane_release(campaign_id, lane, token)
            campaign_finish_if_done(campaign_id)
            return RunOutcome(handed_over=handed, reason="nothing pending")
        ids = drop_ineligible(campaign_id, ids, token)
        if ids:
            chunk = send_chunk(campaign, ids, token)
            handed += chunk.handed_over
            if chunk.auth_error is not None:
                exc = chunk.auth_error
                campaign_fail(
                    campaign_id,
                    f"{account.provider_name} refused the account's credentials: {exc}. "
                    "Fix the account and resume the campaign.",
                )
                _lane_release(campaign_id, lane, token)
                return RunOutcome(handed_over=handed, reason="auth error")
            if chunk.retry_error is not None:
                exc = chunk.retry_error
                failures = _lane_failure(campaign_id, lane, token)
                if failures >= MAX_FAILURES:
                    campaign_fail(
                        campaign_id,
                        f"{account.provider_name} kept failing ({failures} attempts in a row): {exc}. "
                        "Resume the campaign to try again.",
                    )
                    _lane_release(campaign_id, lane, token)
                    return RunOutcome(handed_over=handed, reason="gave up")
                if exc.retry_after:
                    throttle.hold(throttle.account_key(account.pk), float(exc.retry_after))
                delay = backoff_delay(failures, exc.retry_after)
                logger.warning("campaign %s lane %s: retry in %.1fs after %s", campaign_id, lane, delay, exc)
                return _handover(campaign_id, lane, token, delay, handed, f"retry: {exc}")
            CampaignLane.objects.filter(campaign_id=campaign_id, lane=lane, holder=token, failures__gt=0).update(
                failures=0
            )
        if time.monotonic() - started > RUN_SECONDS:
            return _handover(campaign_id, lane, token, 0.0, handed, "run time over")
        if not _lane_renew(campaign_id, lane, token):
            return RunOutcome(handed_over=handed, reason="lease lost")


# ---------------------------------------------------------------------------------------------------- claims
def claim(campaign_id: int, token: str, size: int) -> list[int]:
    """Atomically mark up to ``size`` pending, unclaimed rows (lowest ids first) as ours.

    The search starts at the campaign's ``claim_floor`` (no pending row lies below it, bar rows given back,
    which lower it again); when nothing is found there it looks once from the start, so a row is never missed.
    """
    now = timezone.now()
    floor = Campaign.objects.filter(pk=campaign_id).values_list("claim_floor", flat=True).first() or 0
    for start in dict.fromkeys((floor, 0)):
        with transaction.atomic():
            qs = Message.objects.filter(
                campaign_id=campaign_id, status=Message.Status.PENDING, claim_token="", id__gte=start
            ).order_by("id")
            if connection.features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True)
            ids = list(qs.values_list("id", flat=True)[:size])
            if not ids:
                continue
            Message.objects.filter(id__in=ids, status=Message.Status.PENDING, claim_token="").update(
                claim_token=token, claimed_at=now, attempts=F("attempts") + 1
            )
            Campaign.objects.filter(pk=campaign_id, claim_floor__lt=ids[0]).update(claim_floor=ids[0])
        return list(Message.objects.filter(id__in=ids, claim_token=token).order_by("id").values_list("id", flat=True))
    return []


def lower_claim_floor(campaign_id: int, lowest_id: int) -> None:
    """Rows given back to pending below the floor must be found by the next claim."""
    Campaign.objects.filter(pk=campaign_id, claim_floor__gt=lowest_id).update(claim_floor=lowest_id)


def release(ids: list[int], token: str) -> None:
    """Give claimed rows back (not handed over); a cancelled campaign's rows become cancelled instead."""
    if not ids:
        return
    rows = Message.objects.filter(id__in=ids, claim_token=token)
    campaign_ids = set(rows.values_list("campaign_id", flat=True))
    rows.update(claim_token="", claimed_at=None, attempts=F("attempts") - 1)
    for cid in campaign_ids:
        if cid:
            lower_claim_floor(cid, min(ids))
        if Campaign.objects.filter(pk=cid, status=Campaign.Status.CANCELLED).exists():
            cancel_pending(cid)


def cancel_pending(campaign_id: int) -> int:
    """Pending rows nobody is handing over become cancelled (counted)."""
    now = timezone.now()
    with transaction.atomic():
        n = Message.objects.filter(campaign_id=campaign_id, status=Message.Status.PENDING, claim_token="").update(
            status=Message.Status.CANCELLED, failed_at=now, updated_at=now
        )
        if n:
            Campaign.objects.filter(pk=campaign_id).update(
                pending_count=F("pending_count") - n, cancelled_count=F("cancelled_count") + n
            )
    return n


def drop_ineligible(campaign_id: int, ids: list[int], token: str) -> list[int]:
    """Reject claimed rows whose contact was blocked, opted out, blocklisted or deleted since the snapshot."""
    blocked_number = Exists(BlocklistEntry.objects.filter(phone=OuterRef("to")))
    bad = list(
        Message.objects.filter(id__in=ids, claim_token=token)
        .filter(Q(contact__isnull=True) | ~Q(contact__status=Contact.Status.ACTIVE) | Q(blocked_number))
        .values_list("id", "contact_id", "contact__status")
    )
    if not bad:
        return ids
    now = timezone.now()
    reasons = {
        Contact.Status.OPTED_OUT: ("opted_out", "Not sent: the contact opted out after the campaign was scheduled"),
        Contact.Status.BLOCKED: ("blocked", "Not sent: the contact was blocked after the campaign was scheduled"),
    }
    rows = []
    for mid, contact_id, status in bad:
        if contact_id is None:
            code, text = "contact_deleted", "Not sent: the contact was deleted after the campaign was scheduled"
        else:
            code, text = reasons.get(status, ("blocked", "Not sent: the number is on the blocklist"))
        rows.append(
            (Message.Status.REJECTED, code, text, sql.db_datetime(now), sql.db_datetime(now), "", None, mid, token)
        )
    with transaction.atomic():
        sql.update_by_id(
            ("status", "error_code", "error_text", "failed_at", "updated_at", "claim_token", "claimed_at"),
            rows,
            guard="claim_token",
        )
        transitions = [(campaign_id, "pending", "rejected", now)] * len(rows)
        apply_counter_deltas(counter_deltas(transitions))
        bump_minutes({(campaign_id, minute_of(now)): {"failed": len(rows)}})
    dropped = {r[-2] for r in rows}
    return [i for i in ids if i not in dropped]


def defer_reconcile(ids: list[int], *, token: str, reason: str) -> None:
    """Claimed rows whose hand-over outcome is unknown: UNKNOWN now, looked up at the provider later."""
    now = timezone.now()
    after = now + timedelta(seconds=reconcile_delay())
    with transaction.atomic():
        rows = list(
            Message.objects.select_for_update()
            .filter(id__in=ids, claim_token=token)
            .values_list("id", "campaign_id", "status", "is_test")
        )
        Message.objects.filter(id__in=[r[0] for r in rows], claim_token=token).update(
            status=Message.Status.UNKNOWN,
            reconcile_after=after,
            claim_token="",
            claimed_at=None,
            error_code="interrupted",
            error_text=reason[:500],
            updated_at=now,
        )
        apply_counter_deltas(
            counter_deltas([(cid if not is_test else None, st, "unknown") for _i, cid, st, is_test in rows])
        )


# ---------------------------------------------------------------------------------------------------- sending
@dataclass
class ChunkResult:
    handed_over: int = 0
    auth_error: ProviderError | None = None
    retry_error: ProviderError | None = None
    results: dict[int, SendResult] = field(default_factory=dict)
    unknown: dict[int, str] = field(default_factory=dict)  # id → why (unexpected exception)
    not_sent: list[int] = field(default_factory=list)


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=threads_count(), thread_name_prefix="campaign-send")
        return _executor


def _close_thread_connections() -> None:
    for conn in connections.all(initialized_only=True):
        conn.close()


def send_chunk(campaign: Campaign, ids: list[int], token: str) -> ChunkResult:
    """Hand the claimed rows ``ids`` over (paced by the throttle) and store what happened."""
    account = campaign.account
    messages = list(
        Message.objects.filter(id__in=ids, claim_token=token)
        .order_by("id")
        .only("id", "uuid", "to", "text", "sender", "segments", "campaign_id")
    )
    log_entries: list = []
    adapter = account.get_adapter(log=log_entries.append)
    by_ref: dict[str, Message] = {}
    outbound: list[OutboundSMS] = []
    extra = {"campaign_name": campaign.name, "campaign_uuid": campaign.uuid.hex}  # named at the provider
    for m in messages:
        ref = m.uuid.hex
        by_ref[ref] = m
        outbound.append(OutboundSMS(to=m.to, text=m.text, sender=m.sender, client_ref=ref, extra=extra))
    groups = adapter.plan_batches(outbound)
    n = len(outbound)
    win_c = throttle.reserve(throttle.campaign_key(campaign.pk), n, campaign.send_rate) if campaign.send_rate else None
    window = throttle.reserve(
        throttle.account_key(account.pk), n, account.messages_per_second, not_before=win_c.start if win_c else None
    )
    stop = threading.Event()
    result = ChunkResult()

    def job(group: list[OutboundSMS], slot: float):
        delay = slot - time.time()
        if delay > 0 and stop.wait(delay):
            return "skipped", group, None
        if stop.is_set():
            return "skipped", group, None
        try:
            return "ok", group, adapter.send(group)
        except ProviderAuthError as exc:
            stop.set()
            return "auth", group, exc
        except ProviderError as exc:
            if exc.retryable:
                stop.set()
                return "retry", group, exc
            return "crash", group, exc  # the adapter contract says this cannot happen: treat as unknown
        except Exception as exc:  # a bug in an adapter after the request may have gone out: unknown
            logger.exception("campaign %s: adapter %s crashed while sending", campaign.pk, account.provider)
            return "crash", group, exc
        finally:
            if threading.current_thread() is not threading.main_thread():
                _close_thread_connections()

    outcomes: list[tuple] = []
    offset = 0
    if len(groups) == 1:
        outcomes.append(job(groups[0], window.slot(0)))
    else:
        pool = _pool()
        futures: list[Future] = []
        for group in groups:
            futures.append(pool.submit(job, group, window.slot(offset)))
            offset += len(group)
        pending = set(futures)
        last_check = time.monotonic()
        while pending:
            _done, pending = wait(pending, timeout=1.0)
            if pending and time.monotonic() - last_check >= 1.0:
                last_check = time.monotonic()
                if _status(campaign.pk) != Campaign.Status.SENDING:
                    stop.set()  # paused / cancelled: batches not started yet are given back
        outcomes = [f.result() for f in futures]

    for kind, group, payload in outcomes:
        refs = [m.client_ref for m in group]
        if kind == "ok":
            for r in payload:
                msg = by_ref.get(r.client_ref)
                if msg is not None:
                    result.results[msg.pk] = r
        elif kind == "crash":
            for ref in refs:
                result.unknown[by_ref[ref].pk] = f"Unexpected error while handing over: {payload}"[:500]
        else:
            result.not_sent.extend(by_ref[ref].pk for ref in refs)
            if kind == "auth":
                result.auth_error = payload
            elif kind == "retry" and result.retry_error is None:
                result.retry_error = payload
    result.handed_over = len(result.results) + len(result.unknown)
    record_results(campaign, account, adapter, messages, result, token, log_entries)
    return result


def _status(campaign_id: int) -> str | None:
    return Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()


def _jsonable(raw):
    if raw is None:
        return {}
    if isinstance(raw, dict | list):
        return raw
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return {"raw": str(raw)[:5000]}


def first_poll_at(adapter_cls, now):
    if not adapter_cls.supports(Feature.STATUS_POLL):
        return None
    webhook = adapter_cls.supports(Feature.DELIVERY_WEBHOOK)
    return now + timedelta(seconds=FIRST_POLL_WITH_WEBHOOK_SECONDS if webhook else FIRST_POLL_SECONDS)


RESULT_COLUMNS = (
    "status",
    "external_id",
    "segments",
    "cost",
    "error_code",
    "error_text",
    "handed_over_at",
    "sent_at",
    "delivered_at",
    "failed_at",
    "next_poll_at",
    "reconcile_after",
    "claim_token",
    "claimed_at",
    "updated_at",
)


def single_send_record(*, message: Message, account, adapter_cls, result: SendResult, now) -> str:
    """Store a provider's answer for one message sent outside a campaign's lanes (test sends, inbox replies,
    auto-replies): status, provider id, cost, first status poll, reconcile time, and the raw answer as a
    MessageEvent. Returns the stored status."""
    status = MessageStatus.QUEUED if result.status == MessageStatus.PENDING else result.status
    final = status in Message.FINAL
    Message.objects.filter(pk=message.pk).update(
        status=status,
        external_id=result.external_id[:128],
        segments=result.segments or message.segments,
        cost=result.cost,
        error_code=str(result.error_code)[:50],
        error_text=str(result.error_message)[:500],
        handed_over_at=now,
        failed_at=now if final and status != MessageStatus.DELIVERED else None,
        next_poll_at=None if final else first_poll_at(adapter_cls, now),
        reconcile_after=now + timedelta(seconds=30) if status == MessageStatus.UNKNOWN else None,
    )
    MessageEvent.objects.create(
        message=message,
        account=account,
        kind=MessageEvent.Kind.SEND,
        external_id=result.external_id[:128],
        raw_status=str(result.status),
        status=status,
        raw=result.raw if isinstance(result.raw, dict | list) else {"raw": str(result.raw or "")},
        occurred_at=now,
    )
    return status


def record_results(campaign, account, adapter, messages, chunk: ChunkResult, token: str, log_entries) -> None:
    """Store a chunk's outcome in one transaction (monotonic: a report that beat the answer is kept)."""
    now = timezone.now()
    ts = sql.db_datetime(now)
    poll_at = first_poll_at(type(adapter), now)
    rows: list[tuple] = []
    events: list[MessageEvent] = []
    transitions: list[tuple] = []
    failed_now = 0
    new_external: list[str] = []
    ids = list(chunk.results) + list(chunk.unknown)
    with transaction.atomic():
        current = {
            mid: (status, ext, segs, sent_at, delivered_at)
            for mid, status, ext, segs, sent_at, delivered_at in Message.objects.select_for_update()
            .filter(id__in=ids, claim_token=token)
            .values_list("id", "status", "external_id", "segments", "sent_at", "delivered_at")
        }
        for mid, r in chunk.results.items():
            if mid not in current:
                continue  # the claim was taken from us (sweeper): it will be reconciled
            old, old_ext, old_segs, sent_at, delivered_at = current[mid]
            new = str(r.status)
            if new == MessageStatus.PENDING:
                new = MessageStatus.QUEUED  # accepted and held by the provider
            if Message.RANK.get(old, 0) >= Message.RANK.get(new, 0):
                new = old
            final = new in Message.FINAL
            reconcile_after = None
            if new == MessageStatus.UNKNOWN:
                reconcile_after = sql.db_datetime(now + timedelta(seconds=reconcile_delay()))
            if new == MessageStatus.SENT and sent_at is None:
                sent_at = now
            if new == MessageStatus.DELIVERED and delivered_at is None:
                delivered_at = now
            failed = new in FAILURE_STATUSES or new == MessageStatus.CANCELLED
            failed_now += new in FAILURE_STATUSES
            ext = r.external_id or old_ext
            if r.external_id and r.external_id != old_ext:
                new_external.append(r.external_id)
            rows.append(
                (
                    new,
                    str(ext)[:128],
                    r.segments or old_segs,
                    sql.db_decimal(r.cost),
                    str(r.error_code or "")[:50],
                    str(r.error_message or "")[:500],
                    ts,
                    sql.db_datetime(sent_at),
                    sql.db_datetime(delivered_at),
                    ts if failed else None,
                    None if final or (new == MessageStatus.UNKNOWN and not ext) else sql.db_datetime(poll_at),
                    reconcile_after if not ext else None,
                    "",
                    None,
                    ts,
                    mid,
                    token,
                )
            )
            if new != old:
                transitions.append((campaign.pk, old, new, now))
            if new in FAILURE_STATUSES or new == MessageStatus.UNKNOWN or r.error_code or r.error_message:
                # The provider's own words on a refusal or an unclear answer, per message. A plain acceptance
                # is not repeated here: its raw answer is in the request log, once per call (a bulk answer
                # would otherwise be stored a thousand times).
                events.append(
                    MessageEvent(
                        message_id=mid,
                        account=account,
                        kind=MessageEvent.Kind.SEND,
                        external_id=str(ext)[:128],
                        raw_status=str(r.status)[:50],
                        status=new,
                        raw=_jsonable(r.raw),
                        occurred_at=now,
                    )
                )
        for mid, why in chunk.unknown.items():
            if mid not in current:
                continue
            old = current[mid][0]
            rows.append(
                (
                    MessageStatus.UNKNOWN,
                    current[mid][1],
                    current[mid][2],
                    None,
                    "interrupted",
                    why,
                    ts,
                    None,
                    None,
                    None,
                    None,
                    sql.db_datetime(now + timedelta(seconds=reconcile_delay())),
                    "",
                    None,
                    ts,
                    mid,
                    token,
                )
            )
            if old != MessageStatus.UNKNOWN:
                transitions.append((campaign.pk, old, "unknown", now))
        sql.update_by_id(RESULT_COLUMNS, rows, guard="claim_token")
        if events:
            MessageEvent.objects.bulk_create(events, batch_size=500)
        apply_counter_deltas(counter_deltas(transitions))
        bump_minutes({(campaign.pk, minute_of(now)): {"handed_over": chunk.handed_over, "failed": failed_now}})
        _write_request_log(account.pk, log_entries)
    release(chunk.not_sent, token)
    if new_external:
        attach_orphan_reports(account, new_external)


def _write_request_log(account_id: int, entries) -> None:
    from providers.adapters.http import write_log_entries

    write_log_entries(account_id, entries)


def attach_orphan_reports(account, external_ids: list[str]) -> int:
    """Delivery reports that arrived before we stored the provider's id: attach and apply them now."""
    from providers.adapters.types import DeliveryReport

    from .reports import apply_delivery_reports

    orphans = list(MessageEvent.objects.filter(account=account, message__isnull=True, external_id__in=external_ids))
    if not orphans:
        return 0
    reports = [
        DeliveryReport(
            external_id=e.external_id,
            status=MessageStatus(e.status) if e.status in MessageStatus else MessageStatus.UNKNOWN,
            raw_status=e.raw_status,
            occurred_at=e.occurred_at,
            raw=e.raw,
        )
        for e in orphans
    ]
    with transaction.atomic():
        MessageEvent.objects.filter(pk__in=[e.pk for e in orphans]).delete()
        apply_delivery_reports(account=account, reports=reports, kind=MessageEvent.Kind.STATUS)
    return len(orphans)


# ---------------------------------------------------------------------------------------------------- reconcile
def reconcile_due(limit: int = 500) -> int:
    """Look up at the provider what became UNKNOWN (timeouts, killed workers, stale claims); resend only what
    the provider certainly does not have. Returns the number of messages looked at."""
    from providers.models import ProviderAccount

    now = timezone.now()
    token = uuid.uuid4().hex
    stale = now - timedelta(seconds=STALE_CLAIM_SECONDS)
    with transaction.atomic():
        claimed = Message.objects.exclude(claim_token="").filter(claimed_at__lt=stale)
        stale_rows = list(claimed.values_list("id", "claim_token")[:limit])
        for mid, old_token in stale_rows:
            Message.objects.filter(id=mid, claim_token=old_token).update(claim_token=token, claimed_at=now)
        due = list(
            Message.objects.filter(reconcile_after__lte=now, claim_token="").values_list("id", flat=True)[:limit]
        )
        if due:
            Message.objects.filter(id__in=due, claim_token="").update(claim_token=token, claimed_at=now)
    rows = list(Message.objects.exclude(claim_token="").filter(claim_token=token).select_related("account"))
    by_account: dict[int | None, list[Message]] = {}
    for m in rows:
        by_account.setdefault(m.account_id, []).append(m)
    for account_id, msgs in by_account.items():
        account = ProviderAccount.objects.filter(pk=account_id).first() if account_id else None
        messages_reconcile(account, msgs, token)
    return len(rows)


def messages_reconcile(account, messages: list[Message], token: str) -> None:
    """Ask the provider about claimed rows whose hand-over is unknown, and settle each one."""
    now = timezone.now()
    if account is None:
        _settle_unconfirmed(messages, token, "The provider account was deleted; the message was not resent.")
        return
    adapter = account.get_adapter()
    outbound = [OutboundSMS(to=m.to, text=m.text, sender=m.sender, client_ref=m.uuid.hex) for m in messages]
    try:
        found = adapter.reconcile(outbound)
    except ProviderNotSupported:
        _settle_unconfirmed(
            messages,
            token,
            f"{account.provider_name} cannot tell whether it received this message, so it was not resent. "
            "Check the provider's records before sending it again.",
        )
        return
    except Exception as exc:  # provider down or a bug: keep them unknown and look again later
        logger.warning("reconcile for account %s failed: %s", account.pk, exc)
        later = now + timedelta(seconds=max(60.0, reconcile_delay() * 2))
        with transaction.atomic():
            for m in messages:
                old = m.status
                Message.objects.filter(id=m.pk, claim_token=token).update(
                    status=Message.Status.UNKNOWN,
                    reconcile_after=later,
                    claim_token="",
                    claimed_at=None,
                    updated_at=now,
                )
                if old != Message.Status.UNKNOWN:
                    apply_counter_deltas(counter_deltas([(m.campaign_id if not m.is_test else None, old, "unknown")]))
        return
    reopened: set[int] = set()
    with transaction.atomic():
        transitions = []
        for m, r in zip(messages, found, strict=False):
            old = m.status
            if r is None:  # the provider certainly lacks it: back to pending, sent by the lanes
                Message.objects.filter(id=m.pk, claim_token=token).update(
                    status=Message.Status.PENDING,
                    reconcile_after=None,
                    claim_token="",
                    claimed_at=None,
                    error_code="",
                    error_text="",
                    updated_at=now,
                )
                new = "pending"
                if m.campaign_id and not m.is_test:
                    reopened.add(m.campaign_id)
            else:
                new = str(r.status)
                if new == MessageStatus.PENDING:
                    new = MessageStatus.QUEUED
                if Message.RANK.get(old, 0) > Message.RANK.get(new, 0):
                    new = old
                updates = {
                    "status": new,
                    "claim_token": "",
                    "claimed_at": None,
                    "updated_at": now,
                    "reconcile_after": None if (r.external_id or new != "unknown") else now + timedelta(minutes=5),
                    "error_code": str(r.error_code or "")[:50],
                    "error_text": str(r.error_message or "")[:500],
                }
                if r.external_id:
                    updates["external_id"] = str(r.external_id)[:128]
                    updates["next_poll_at"] = None if new in Message.FINAL else first_poll_at(type(adapter), now)
                if r.segments:
                    updates["segments"] = r.segments
                if m.handed_over_at is None:
                    updates["handed_over_at"] = now
                Message.objects.filter(id=m.pk, claim_token=token).update(**updates)
                MessageEvent.objects.create(
                    message_id=m.pk,
                    account=account,
                    kind=MessageEvent.Kind.POLL,
                    external_id=r.external_id or "",
                    raw_status=str(r.status)[:50],
                    status=new,
                    raw=_jsonable(r.raw),
                    occurred_at=now,
                )
            if new != old:
                transitions.append((m.campaign_id if not m.is_test else None, old, new, now))
        apply_counter_deltas(counter_deltas(transitions))
    for cid in reopened:
        lower_claim_floor(cid, min(m.pk for m in messages if m.campaign_id == cid))
        if Campaign.objects.filter(pk=cid, status=Campaign.Status.CANCELLED).exists():
            cancel_pending(cid)
            continue
        Campaign.objects.filter(pk=cid, status=Campaign.Status.COMPLETED).update(
            status=Campaign.Status.SENDING, finished_at=None
        )
        if _status(cid) == Campaign.Status.SENDING:
            lanes_kick(cid)


def _settle_unconfirmed(messages: list[Message], token: str, text: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        transitions = []
        for m in messages:
            Message.objects.filter(id=m.pk, claim_token=token).update(
                status=Message.Status.UNKNOWN,
                reconcile_after=None,
                claim_token="",
                claimed_at=None,
                error_code="unconfirmed",
                error_text=text[:500],
                next_poll_at=None,
                updated_at=now,
            )
            if m.status != Message.Status.UNKNOWN:
                transitions.append((m.campaign_id if not m.is_test else None, m.status, "unknown"))
        apply_counter_deltas(counter_deltas(transitions))


# ---------------------------------------------------------------------------------------------------- lifecycle
def campaign_finish_if_done(campaign_id: int) -> bool:
    """SENDING → COMPLETED once the snapshot is done and nothing is pending or awaiting a lookup."""
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING, snapshot_done=True).exists():
            return False
        busy = Message.objects.filter(campaign_id=campaign_id, is_test=False).filter(
            Q(status=Message.Status.PENDING) | Q(reconcile_after__isnull=False)
        )
        if busy.exists():
            return False
        return bool(
            Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING).update(
                status=Campaign.Status.COMPLETED, finished_at=timezone.now()
            )
        )


def campaign_fail(campaign_id: int, message: str) -> None:
    """Stop sending: a human must act (credentials, account disabled, provider down for long)."""
    Campaign.objects.filter(pk=campaign_id).exclude(status__in=Campaign.FINISHED_STATUSES).update(
        status=Campaign.Status.FAILED, error_message=message[:2000], finished_at=timezone.now()
    )
    logger.warning("campaign %s failed: %s", campaign_id, message)


def dispatch_due(now=None) -> list[int]:
    """The beat tick: start due campaigns, restart stalled snapshots and dead lanes, settle unknown rows."""
    from smsportal.audit import audit
    from smsportal.models import AuditLog

    from .tasks import reconcile_due as reconcile_task
    from .tasks import start_campaign

    now = now or timezone.now()
    started: list[int] = []
    with transaction.atomic():
        qs = Campaign.objects.filter(status=Campaign.Status.SCHEDULED, scheduled_at__lte=now).order_by("scheduled_at")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        for campaign in qs[:50]:
            moved = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SCHEDULED).update(
                status=Campaign.Status.STARTING, started_at=now, updated_at=now
            )
            if moved:
                audit(
                    action=AuditLog.Action.START,
                    obj=campaign,
                    source="scheduler",
                    changes={"scheduled_at": campaign.scheduled_at.isoformat() if campaign.scheduled_at else None},
                )
                start_campaign.delay_on_commit(campaign.pk)
                started.append(campaign.pk)
    stalled = now - timedelta(seconds=120)
    for cid in Campaign.objects.filter(
        status__in=(Campaign.Status.STARTING, Campaign.Status.SENDING, Campaign.Status.PAUSED),
        snapshot_done=False,
        updated_at__lt=stalled,
    ).values_list("pk", flat=True):
        Campaign.objects.filter(pk=cid).update(updated_at=now)
        start_campaign.delay_on_commit(cid)
    for cid in Campaign.objects.filter(status=Campaign.Status.SENDING).values_list("pk", flat=True):
        lanes_kick(cid)
    needs_reconcile = (
        Message.objects.exclude(claim_token="")
        .filter(claimed_at__lt=now - timedelta(seconds=STALE_CLAIM_SECONDS))
        .exists()
        or Message.objects.filter(reconcile_after__lte=now).exists()
    )
    if needs_reconcile:
        reconcile_task.delay_on_commit()
    return started
