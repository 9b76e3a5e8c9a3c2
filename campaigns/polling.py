"""Polling delivery statuses where the provider offers a lookup (``Feature.STATUS_POLL``).

Each handed-over message carries ``next_poll_at``. A poll run for one account takes the due messages in
batches of the adapter's ``status_batch_size`` (claiming them by pushing ``next_poll_at`` ahead, so two runs
never poll the same message), applies the reports monotonically (``reports.apply_delivery_reports``), and
schedules the next look further out as a message ages: 5 s at first, then a quarter of its age (capped at
6 h); after 72 h without a final status it stops. Final statuses stop polling at once. Providers that also
call a delivery webhook are polled much later, as a safety net only.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from providers.adapters.base import Feature
from providers.adapters.exceptions import ProviderError

from . import sql
from .models import Message, MessageEvent
from .reports import apply_delivery_reports

logger = logging.getLogger(__name__)

POLLED_STATUSES = (Message.Status.QUEUED, Message.Status.SENT, Message.Status.UNKNOWN)
STOP_AFTER = timedelta(hours=72)
RUN_SECONDS = 20.0
CLAIM_SECONDS = 120
MAX_PER_CALL = 1000


def next_poll_delay(age_seconds: float, *, webhook: bool = False) -> float | None:
    """Seconds until the next look at a message handed over ``age_seconds`` ago (None: stop polling)."""
    if age_seconds > STOP_AFTER.total_seconds():
        return None
    delay = max(5.0, min(age_seconds / 4.0, 6 * 3600.0))
    if webhook:
        delay = max(delay, 300.0)
    return delay


def due_accounts(now=None) -> list[int]:
    """Active accounts that have messages due for a status look-up."""
    from providers.models import ProviderAccount

    now = now or timezone.now()
    ids = []
    for account in ProviderAccount.objects.filter(is_active=True):
        try:
            cls = account.adapter_class
        except LookupError:
            continue
        if not cls.supports(Feature.STATUS_POLL):
            continue
        if _due(account.pk, now).exists():
            ids.append(account.pk)
    return ids


def _due(account_id: int, now):
    return Message.objects.filter(account_id=account_id, status__in=POLLED_STATUSES, next_poll_at__lte=now).exclude(
        external_id=""
    )


def poll_account(account_id: int, *, budget_seconds: float = RUN_SECONDS) -> tuple[int, bool]:
    """Poll due messages of one account for up to ``budget_seconds``. Returns (messages polled, more due)."""
    from providers.models import ProviderAccount

    account = ProviderAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        return 0, False
    adapter = account.get_adapter()
    if not adapter.supports(Feature.STATUS_POLL):
        return 0, False
    webhook = adapter.supports(Feature.DELIVERY_WEBHOOK)
    per_run = max(1, min(MAX_PER_CALL, adapter.status_batch_size * 10 if adapter.status_batch_size > 1 else 50))
    started = time.monotonic()
    polled = 0
    while time.monotonic() - started < budget_seconds:
        now = timezone.now()
        with transaction.atomic():
            qs = _due(account.pk, now).order_by("next_poll_at")
            if connection.features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True)
            rows = list(qs.values_list("id", "external_id", "handed_over_at")[:per_run])
            if not rows:
                return polled, False
            Message.objects.filter(id__in=[r[0] for r in rows]).update(
                next_poll_at=now + timedelta(seconds=CLAIM_SECONDS)
            )
        try:
            reports = adapter.fetch_statuses([ext for _id, ext, _h in rows])
        except ProviderError as exc:
            logger.warning("status poll of account %s failed: %s", account.pk, exc)
            return polled, False  # the claim lapses in CLAIM_SECONDS; the next tick tries again
        apply_delivery_reports(account=account, reports=reports, kind=MessageEvent.Kind.POLL)
        _reschedule(rows, webhook)
        polled += len(rows)
    return polled, _due(account.pk, timezone.now()).exists()


def _reschedule(rows, webhook: bool) -> None:
    now = timezone.now()
    ids = [r[0] for r in rows]
    still = dict(Message.objects.filter(id__in=ids, status__in=POLLED_STATUSES).values_list("id", "handed_over_at"))
    updates = []
    for mid, handed in still.items():
        age = (now - (handed or now)).total_seconds()
        delay = next_poll_delay(age, webhook=webhook)
        updates.append((sql.db_datetime(now + timedelta(seconds=delay)) if delay is not None else None, mid))
    sql.update_by_id(("next_poll_at",), updates)
