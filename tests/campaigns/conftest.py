"""Fixtures for the campaign tests: an audience, a ready campaign, and an inline driver for the send lanes."""

from __future__ import annotations

import time

import pytest

from campaigns.models import Campaign, CampaignLane
from campaigns.sending import lanes_kick, send_batch
from campaigns.snapshot import campaign_start
from tests.factories import (
    CampaignFactory,
    ContactFactory,
    GroupFactory,
    GroupMembershipFactory,
    ProviderAccountFactory,
)


def drive(campaign: Campaign, *, max_runs: int = 500, sleep: bool = True, max_sleep: float = 3.0) -> list:
    """Run the campaign's send lanes inline, as the worker would, until no lane continues.

    Successor runs are executed in order; their countdown is slept (bounded) so backoff and Retry-After
    behave as in production. Returns every RunOutcome.
    """
    lanes_kick(campaign.pk)
    queue = [(lane.lane, lane.holder) for lane in CampaignLane.objects.filter(campaign=campaign).exclude(holder="")]
    outcomes = []
    while queue and len(outcomes) < max_runs:
        lane, token = queue.pop(0)
        outcome = send_batch(campaign.pk, lane, token)
        outcomes.append(outcome)
        if outcome.next_token:
            if sleep and outcome.next_delay:
                time.sleep(min(outcome.next_delay, max_sleep))
            queue.append((lane, outcome.next_token))
    return outcomes


def start_and_send(campaign: Campaign, **kwargs) -> Campaign:
    """From SCHEDULED/STARTING to the end of hand-over, inline."""
    if campaign.status == Campaign.Status.SCHEDULED:
        from campaigns.sending import dispatch_due

        dispatch_due()
    campaign_start(campaign.pk)
    drive(campaign, **kwargs)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The composer caches audience counts for a minute; ids repeat across tests, so start each one empty."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def no_broker(monkeypatch):
    """Transactional tests commit, so on_commit callbacks fire: keep lane runs for ``drive`` alone."""
    from campaigns import sending

    monkeypatch.setattr(sending, "_enqueue", lambda *args, **kwargs: None)


@pytest.fixture
def audience(db):
    """A group of 30 active contacts."""
    group = GroupFactory(name="Customers")
    contacts = [ContactFactory(phone=f"+4670100{n:04d}") for n in range(1, 31)]
    for c in contacts:
        GroupMembershipFactory(group=group, contact=c)
    return group, contacts


@pytest.fixture
def fast_account(sandbox_account):
    sandbox_account.messages_per_second = 10_000
    sandbox_account.save()
    return sandbox_account


@pytest.fixture
def provider(settings):
    """The recording provider (tests/campaigns/recording_adapter.py), fresh for each test."""
    from . import recording_adapter

    settings.SMSPORTAL_ADAPTERS = [*settings.SMSPORTAL_ADAPTERS, "tests.campaigns.recording_adapter.RecordingAdapter"]
    recording_adapter.PROVIDER = recording_adapter.Provider()
    return recording_adapter.PROVIDER


@pytest.fixture
def recording_account(db, provider):
    return ProviderAccountFactory(name="Recording", provider="recording", messages_per_second=10_000)


@pytest.fixture
def rec_campaign(db, workspace, audience, recording_account):
    group, _contacts = audience
    c = CampaignFactory(account=recording_account, text="Hello {first_name|there}!", status=Campaign.Status.STARTING)
    c.groups.add(group)
    return c


@pytest.fixture
def campaign(db, workspace, audience, fast_account):
    group, _contacts = audience
    c = CampaignFactory(account=fast_account, text="Hello {first_name|there}!", status=Campaign.Status.STARTING)
    c.groups.add(group)
    return c
