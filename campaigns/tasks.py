"""Celery tasks of the campaigns app: thin wrappers around ``snapshot``, ``sending`` and ``polling``.

Every task takes ids, re-reads the state it needs, is ``acks_late`` (a killed worker's task is redelivered)
and idempotent (see the modules it calls). Successor runs are queued on commit.
"""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def dispatch_due_campaigns() -> int:
    """Beat, every 5 s: start due campaigns (``SKIP LOCKED``), restart stalled work, settle unknown rows."""
    from .sending import dispatch_due

    return len(dispatch_due())


@shared_task(acks_late=True, ignore_result=True)
def start_campaign(campaign_id: int) -> int:
    """Snapshot the audience (resumes where a killed run stopped) and start the send lanes."""
    from .snapshot import campaign_start

    return campaign_start(campaign_id)


@shared_task(acks_late=True, ignore_result=True)
def send_batch(campaign_id: int, lane: int, token: str) -> int:
    """One run of a send lane; it queues its own successor (with backoff after retryable errors)."""
    from .sending import send_batch as run

    outcome = run(campaign_id, lane, token)
    return outcome.handed_over


@shared_task(acks_late=True, ignore_result=True)
def reconcile_due() -> int:
    """Look up UNKNOWN hand-overs at the provider before anything is resent."""
    from .sending import reconcile_due as run

    return run()


@shared_task(acks_late=True, ignore_result=True)
def poll_statuses(account_id: int | None = None) -> int:
    """Beat (no account): fan out one poll per account with due messages. With an account: poll it."""
    from .polling import due_accounts, poll_account

    if account_id is None:
        accounts = due_accounts()
        for pk in accounts:
            poll_statuses.delay(pk)
        return len(accounts)
    polled, more = poll_account(account_id)
    if more:
        poll_statuses.apply_async((account_id,), countdown=1)
    return polled


@shared_task(acks_late=True, ignore_result=True)
def cancel_at_provider(campaign_id: int) -> int:
    """After a cancel: ask the provider to drop what it still holds for the campaign, where its API can."""
    from .services import campaign_cancel_at_provider

    return campaign_cancel_at_provider(campaign_id=campaign_id)
