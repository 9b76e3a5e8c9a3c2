"""The per-number summary rows behind the inbox list: kept right by every change, repaired by the sweeper,
back-filled by the migration, paged across the waiting / not waiting boundary without gaps or repeats."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.utils import timezone

from campaigns import inbox
from campaigns.inbox_selectors import InboxFilters, conversation_page
from campaigns.models import InboundMessage
from smsportal.models import Conversation
from tests.factories import InboundMessageFactory, UserFactory
from tests.inbox.conftest import stored_reply

pytestmark = pytest.mark.django_db


def test_summary_follows_every_change(receive, contact, marketer):
    first = receive("Hello?")
    conv = Conversation.objects.get(phone=contact.phone)
    assert (conv.reply_count, conv.unread_count, conv.open_count) == (1, 1, 1)
    assert conv.waiting_since == first.received_at and conv.last_reply == first
    second = receive("Anyone?")
    conv.refresh_from_db()
    assert (conv.reply_count, conv.unread_count) == (2, 2)
    assert conv.last_reply == second and conv.waiting_since == first.received_at

    inbox.conversation_mark_read(phone=contact.phone, actor=marketer)
    conv.refresh_from_db()
    assert conv.unread_count == 0 and conv.open_count == 2
    inbox.conversation_reply(phone=contact.phone, text="Yes, hello!", actor=marketer)
    conv.refresh_from_db()
    assert conv.waiting_since is None and conv.open_count == 2  # answered, not closed
    teammate = UserFactory(username="lena")
    inbox.conversation_assign(phone=contact.phone, assignee=teammate, actor=marketer)
    conv.refresh_from_db()
    assert conv.assigned_to == teammate
    inbox.conversation_close(phone=contact.phone, actor=marketer)
    conv.refresh_from_db()
    assert conv.open_count == 0 and conv.waiting_since is None
    third = receive("One more question")
    conv.refresh_from_db()
    assert conv.unread_count == 1 and conv.waiting_since == third.received_at and conv.assigned_to == teammate
    inbox.conversation_close(phone=contact.phone, actor=marketer)
    inbox.conversation_reopen(phone=contact.phone, actor=marketer)
    conv.refresh_from_db()
    assert conv.open_count == 1 and conv.waiting_since == third.received_at


def test_sweeper_repairs_a_missing_or_stale_summary(receive, contact):
    receive("Hello")
    Conversation.objects.all().delete()
    other = InboundMessageFactory(from_phone="+46700000077")  # written without its summary
    assert inbox.inbound_process_pending(older_than=timedelta(0)) >= 1
    assert set(Conversation.objects.values_list("phone", flat=True)) == {contact.phone, other.from_phone}
    assert inbox.conversations_repair() == 0  # nothing left to repair


def test_migration_backfills_existing_replies(workspace, sandbox_account):
    now = timezone.now()
    InboundMessageFactory(from_phone="+46700000001", received_at=now - timedelta(hours=2))
    last = InboundMessageFactory(from_phone="+46700000001", received_at=now, status="closed")
    InboundMessageFactory(from_phone="+46700000002", received_at=now, status="open")
    Conversation.objects.all().delete()
    import_module("smsportal.migrations.0004_conversations").backfill(apps, None)
    one = Conversation.objects.get(phone="+46700000001")
    assert (one.reply_count, one.unread_count, one.open_count) == (2, 1, 1)
    assert one.last_reply == last and one.waiting_since == now - timedelta(hours=2)
    assert Conversation.objects.get(phone="+46700000002").open_count == 1


def test_paging_across_waiting_and_the_rest_has_no_gaps_or_repeats(workspace, sandbox_account):
    now = timezone.now()
    for n in range(20):
        stored_reply(account=sandbox_account, from_phone=f"+4670300{n:04d}", received_at=now - timedelta(minutes=n))
    for n in range(20, 35):
        stored_reply(
            account=sandbox_account,
            from_phone=f"+4670300{n:04d}",
            received_at=now - timedelta(minutes=n),
            status=InboundMessage.Status.CLOSED,
        )
    seen = []
    for page in (1, 2, 3):
        result = conversation_page(InboxFilters(), page=page, size=12)
        seen += [c.phone for c in result.conversations]
        assert result.has_next == (page < 3)
    assert len(seen) == 35 == len(set(seen))
    waiting = [f"+4670300{n:04d}" for n in range(19, -1, -1)]  # oldest waiting first
    assert seen[:20] == waiting
    assert seen[20:] == [f"+4670300{n:04d}" for n in range(20, 35)]  # then newest first
