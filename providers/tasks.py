"""Celery tasks of the providers app: thin wrappers around services (ids in, state re-read from the database)."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task

from .adapters.exceptions import ProviderError

logger = logging.getLogger("providers.tasks")


@shared_task(acks_late=True)
def run_sync(sync_run_id: int) -> None:
    """Run one queued SyncRun (progress and summary are saved on the run for the UI)."""
    from .services import sync_execute

    sync_execute(run_id=sync_run_id)


@shared_task(ignore_result=True)
def run_scheduled_syncs() -> int:
    """Beat, every minute: queue a sync for accounts with ``sync_enabled`` whose interval has passed."""
    from .services import sync_due_accounts

    return len(sync_due_accounts())


@shared_task(ignore_result=True)
def poll_accounts() -> int:
    """Beat, every 15 s: claim the accounts whose reply poll is due and poll each in its own task, so one slow
    provider never holds the others up. (Status polling is ``campaigns.tasks.poll_statuses``.)"""
    from .services import poll_due_accounts

    claimed = poll_due_accounts()
    for account_id, previous in claimed:
        poll_account_replies.delay(account_id, previous)
    return len(claimed)


@shared_task(acks_late=True, ignore_result=True)
def poll_account_replies(account_id: int, previous: str | None = None) -> int:
    from .models import ProviderAccount
    from .services import replies_poll

    account = ProviderAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        return 0
    prev = datetime.fromisoformat(previous) if previous else None
    try:
        return replies_poll(account=account, previous=prev, claimed_at=account.last_polled_at)
    except ProviderError:
        return 0  # logged by the service; the claim is undone and the next beat tries the same window again
