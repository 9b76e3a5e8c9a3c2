"""Reply polling: due accounts are claimed once, replies fetched since the last poll minus an overlap and stored
once; a failed poll gives its window back."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import InboundMessage
from providers import services, tasks
from providers.adapters.exceptions import ProviderConnectionError
from providers.adapters.types import InboundSMS
from tests.providers.memory_adapter import MemoryAdapter, store_for

pytestmark = pytest.mark.django_db


def reply(ext, minutes_ago=1, text="Yes please"):
    return InboundSMS(
        external_id=ext,
        from_phone="+46701234567",
        text=text,
        received_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_due_accounts_are_claimed_once(memory_account, sandbox_account):
    claimed = services.poll_due_accounts()
    assert claimed == [(memory_account.pk, None)]  # the sandbox cannot poll replies
    assert services.poll_due_accounts() == []  # just claimed: not due
    memory_account.refresh_from_db()
    later = memory_account.last_polled_at + timedelta(seconds=memory_account.poll_interval_seconds)
    assert services.poll_due_accounts(now=later) == [(memory_account.pk, memory_account.last_polled_at.isoformat())]


def test_poll_task_fetches_since_last_poll_minus_overlap_and_stores_once(memory_account):
    store = store_for(memory_account)
    store.replies = [reply("r1"), reply("r2")]
    assert tasks.poll_accounts() == 1  # eager: poll_account_replies runs inline
    assert store.since_seen == [None]
    assert InboundMessage.objects.filter(account=memory_account).count() == 2

    memory_account.refresh_from_db()
    previous = memory_account.last_polled_at
    store.replies.append(reply("r3", minutes_ago=0))
    ProviderAccountModel = type(memory_account)
    ProviderAccountModel.objects.filter(pk=memory_account.pk).update(last_polled_at=previous - timedelta(minutes=2))
    assert tasks.poll_accounts() == 1
    assert store.since_seen[-1] == previous - timedelta(minutes=2) - services.REPLY_POLL_OVERLAP
    assert InboundMessage.objects.filter(account=memory_account).count() == 3  # r1, r2 not stored twice


def test_failed_poll_gives_the_window_back(memory_account, monkeypatch):
    def down(self, since=None):
        raise ProviderConnectionError("Could not reach the provider")

    monkeypatch.setattr(MemoryAdapter, "fetch_replies", down)
    before = timezone.now() - timedelta(hours=1)
    type(memory_account).objects.filter(pk=memory_account.pk).update(last_polled_at=before)
    assert tasks.poll_accounts() == 1
    memory_account.refresh_from_db()
    assert memory_account.last_polled_at == before


def test_inactive_accounts_are_not_polled(memory_account):
    memory_account.is_active = False
    memory_account.save()
    assert services.poll_due_accounts() == []
