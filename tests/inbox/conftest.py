"""Fixtures for the inbox tests: receiving a reply the way every provider path does (``inbound_record``)."""

from __future__ import annotations

import itertools

import pytest
from django.utils import timezone

from campaigns.inbound import inbound_record
from providers.adapters.types import InboundSMS
from tests.factories import ContactFactory

_ids = itertools.count(1)


@pytest.fixture
def receive(workspace, sandbox_account, django_capture_on_commit_callbacks):
    """``receive(text, phone=..., account=..., external_id=..., received_at=...)`` stores a reply through
    ``campaigns.inbound.inbound_record`` (as webhooks and polls do) with on-commit work (auto-replies) run."""

    def _receive(text, *, phone="+46701234567", account=None, external_id=None, received_at=None, **extra):
        item = InboundSMS(
            external_id=external_id if external_id is not None else f"r-{next(_ids)}",
            from_phone=phone,
            text=text,
            received_at=received_at or timezone.now(),
            **extra,
        )
        with django_capture_on_commit_callbacks(execute=True):
            created = inbound_record(account=account or sandbox_account, items=[item])
        for reply in created:
            reply.refresh_from_db()
        return created[0] if len(created) == 1 else created

    return _receive


@pytest.fixture
def contact(db):
    return ContactFactory(phone="+46701234567", first_name="Anna", last_name="Berg")


def stored_reply(**fields):
    """An InboundMessage written directly (as a factory row), with its conversation summary brought up to date
    the way every service that changes replies does."""
    from campaigns.inbox import conversation_refresh
    from tests.factories import InboundMessageFactory

    reply = InboundMessageFactory(**fields)
    conversation_refresh(phone=reply.from_phone)
    return reply
