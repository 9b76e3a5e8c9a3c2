"""The global per-account throttle (virtual scheduling): windows never overlap, Retry-After holds everyone."""

from __future__ import annotations

import itertools

import pytest

from campaigns import throttle
from campaigns.snapshot import campaign_start

from .conftest import drive

pytestmark = pytest.mark.django_db


def test_consecutive_reservations_get_consecutive_windows():
    w1 = throttle.reserve("account:1", 100, 50.0, now=1000.0)
    w2 = throttle.reserve("account:1", 50, 50.0, now=1000.5)
    w3 = throttle.reserve("account:2", 10, 50.0, now=1000.5)  # another account is independent
    assert (w1.start, w1.end) == (1000.0, 1002.0)
    assert (w2.start, w2.end) == (1002.0, 1003.0)
    assert w3.start == 1000.5
    assert w1.slot(50) == 1001.0


def test_an_idle_bucket_does_not_bank_a_burst():
    throttle.reserve("account:1", 10, 10.0, now=1000.0)
    w = throttle.reserve("account:1", 10, 10.0, now=5000.0)
    assert w.start == 5000.0


def test_hold_pushes_every_later_window_back():
    throttle.reserve("account:1", 1, 10.0, now=1000.0)
    throttle.hold("account:1", 30.0, now=1000.0)
    assert throttle.reserve("account:1", 1, 10.0, now=1001.0).start == 1030.0
    assert throttle.peek("account:1") == pytest.approx(1030.1)


def test_not_before_chains_the_campaign_speed_onto_the_account():
    w = throttle.reserve("account:1", 5, 100.0, not_before=2000.0, now=1000.0)
    assert w.start == 2000.0


def test_the_pipeline_paces_provider_calls_at_the_account_rate(rec_campaign, provider):
    rec_campaign.account.messages_per_second = 40.0  # 30 messages in batches of 10 → calls 0.25 s apart
    rec_campaign.account.save()
    campaign_start(rec_campaign.pk)
    drive(rec_campaign)
    times = sorted(t for t, _n in provider.calls)
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g >= 0.2 for g in gaps), gaps
