"""Dashboard figures: real counts from the database, per-day buckets in the workspace time zone, links."""

import datetime as dt
import json
import re
import zoneinfo

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from smsportal import selectors
from tests.factories import (
    BlocklistEntryFactory,
    CampaignFactory,
    ContactFactory,
    ImportFactory,
    MessageFactory,
    ProviderAccountFactory,
)

pytestmark = pytest.mark.django_db

STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")


def _stat(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}".*?data-value="(\d+)"', html, re.S)
    assert match, f"no stat {testid}"
    return match.group(1)


def test_contact_counts():
    ContactFactory.create_batch(4)
    ContactFactory.create_batch(2, status="opted_out")
    ContactFactory(status="blocked")
    BlocklistEntryFactory.create_batch(3)
    counts = selectors.contact_counts()
    assert counts == {"active": 4, "opted_out": 2, "blocked": 1, "total": 7, "blocklist": 3}


def test_contact_counts_are_cached(settings, django_assert_num_queries):
    settings.DASHBOARD_CACHE_SECONDS = 30
    ContactFactory()
    assert selectors.contact_counts()["total"] == 1
    ContactFactory()
    with django_assert_num_queries(0):
        assert selectors.contact_counts()["total"] == 1  # cached
    selectors.dashboard_cache_clear()
    assert selectors.contact_counts()["total"] == 2


def test_campaign_status_counts_include_zeros():
    CampaignFactory.create_batch(2, status=Campaign.Status.DRAFT)
    CampaignFactory(status=Campaign.Status.SENDING)
    counts = {c["status"]: c["count"] for c in selectors.campaign_status_counts()}
    assert counts["draft"] == 2 and counts["sending"] == 1 and counts["completed"] == 0
    assert list(counts) == list(Campaign.Status.values)


def test_messages_by_day_buckets_in_workspace_time_zone(django_assert_num_queries):
    now = dt.datetime(2026, 3, 10, 12, 0, tzinfo=STOCKHOLM)
    # 00:30 local on 10 March is 23:30 UTC on 9 March: it belongs to 10 March here
    CampaignFactory(
        started_at=dt.datetime(2026, 3, 10, 0, 30, tzinfo=STOCKHOLM),
        delivered_count=5,
        sent_count=2,
        queued_count=1,
        pending_count=3,
        unknown_count=1,
        failed_count=2,
        cancelled_count=4,
    )
    CampaignFactory(started_at=dt.datetime(2026, 3, 9, 23, 59, tzinfo=STOCKHOLM), delivered_count=7)
    CampaignFactory(started_at=dt.datetime(2026, 3, 4, 0, 0, tzinfo=STOCKHOLM), failed_count=1)
    CampaignFactory(started_at=dt.datetime(2026, 3, 3, 23, 59, tzinfo=STOCKHOLM), delivered_count=100)  # too old
    CampaignFactory(started_at=None, status="draft")
    CampaignFactory(started_at=now + dt.timedelta(hours=1), delivered_count=50)  # clock skew: not yet

    with timezone.override(STOCKHOLM), django_assert_num_queries(1):
        week = selectors.messages_by_day(days=7, now=now)

    assert week["days"][0] == dt.date(2026, 3, 4) and week["days"][-1] == dt.date(2026, 3, 10)
    assert week["series"]["delivered"] == [0, 0, 0, 0, 0, 7, 5]
    assert week["series"]["in_flight"] == [0, 0, 0, 0, 0, 0, 3]
    assert week["series"]["pending"] == [0, 0, 0, 0, 0, 0, 4]
    assert week["series"]["failed"] == [1, 0, 0, 0, 0, 0, 2]
    assert week["series"]["cancelled"] == [0, 0, 0, 0, 0, 0, 4]
    assert week["total"] == 26
    assert week["labels"][-1] == "Tue 10 Mar"


def test_dashboard_page_shows_real_numbers(operator_client, workspace):
    ContactFactory.create_batch(3)
    ContactFactory(status="opted_out")
    ContactFactory(status="blocked")
    BlocklistEntryFactory()
    account = ProviderAccountFactory(
        name="Main gateway", last_check_status="ok", balance="12.5", balance_currency="EUR"
    )
    campaign = CampaignFactory(
        name="Black Friday",
        account=account,
        status="sending",
        recipients_total=4,
        started_at=timezone.now(),
        delivered_count=1,
        failed_count=1,
        sent_count=1,
        pending_count=1,
    )
    for status in ("delivered", "failed", "sent", "pending"):
        MessageFactory(campaign=campaign, status=status)
    ImportFactory(original_name="customers-march.csv", status="done", created_count=120, invalid_count=3)

    resp = operator_client.get("/")
    html = resp.content.decode()
    assert resp.status_code == 200
    assert _stat(html, "stat-contacts") == "9"  # 5 + the 4 message recipients
    assert _stat(html, "stat-opted-out") == "1"
    assert _stat(html, "stat-blocked") == "1"
    assert _stat(html, "stat-messages") == "4"
    assert "50% delivered of those with a final status" in html
    assert 'data-status="sending">1<' in html
    assert "Black Friday" in html and "25% delivered" in html
    assert "Main gateway" in html and "12.50 EUR" in html and "1 sending" in html
    assert "customers-march.csv" in html
    chart = json.loads(re.search(r'id="week-chart-data" type="application/json">(.*?)</script>', html).group(1))
    assert [d["key"] for d in chart["datasets"]] == ["delivered", "in_flight", "pending", "failed", "cancelled"]
    assert sum(sum(d["data"]) for d in chart["datasets"]) == 4
    assert "chart.umd.min.js" in html
    assert "Get your first campaign out" not in html


def test_dashboard_empty_workspace_says_what_to_do(marketer_client, workspace):
    html = marketer_client.get("/").content.decode()
    assert "Get your first campaign out" in html
    assert "No campaigns yet" in html and "No imports yet" in html and "No messages in the last 7 days" in html
    assert "An Operator needs to connect an SMS provider" in html
    assert "chart.umd.min.js" not in html  # no chart library without data


def test_dashboard_links_only_to_existing_pages(operator_client, workspace):
    """Figures link to the filtered list pages once those URL names exist; until then, no broken link."""
    from django.urls import NoReverseMatch, reverse

    html = operator_client.get("/").content.decode()
    try:
        url = reverse("contacts:list")
    except NoReverseMatch:
        assert 'data-testid="stat-opted-out"' in html and '<a class="stat-card" href=""' not in html
    else:
        assert f'href="{url}?status=opted_out"' in html
