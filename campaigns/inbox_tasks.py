"""Celery tasks of the inbox: thin wrappers around ``campaigns.inbox``.

Registered at start-up by ``campaigns.apps.CampaignsConfig.ready`` (Celery's autodiscovery only imports
``<app>.tasks``).
"""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def send_auto_reply(auto_reply_id: int, attempt: int = 1) -> str:
    """Send one reserved auto-reply. Acknowledged on receipt (not ``acks_late``): a worker killed mid-send
    loses the answer rather than sending it twice; retryable provider errors come back with backoff."""
    from .inbox import auto_reply_send

    outcome = auto_reply_send(auto_reply_id=auto_reply_id, attempt=attempt)
    if outcome.retry_in is not None:
        send_auto_reply.apply_async((auto_reply_id, attempt + 1), countdown=outcome.retry_in)
        return "retry"
    return outcome.auto_reply.status if outcome.auto_reply else "gone"


@shared_task(acks_late=True, ignore_result=True)
def process_pending_replies() -> int:
    """Beat, every minute: act on replies that were stored but not processed (a failed or killed run)."""
    from .inbox import inbound_process_pending

    return inbound_process_pending()
