"""Dashboard figures at scale: time the dashboard selectors and the whole page over a scratch database.

    .venv/bin/python benchmarks/dashboard_counts.py                 # 1M contacts, 1M messages in the last 7 days
    .venv/bin/python benchmarks/dashboard_counts.py --contacts 200000 --messages 100000

Builds a scratch SQLite database (or uses DATABASE_URL if it points at PostgreSQL: it must be a scratch
database, its contacts and messages are replaced), fills it with raw SQL, then prints the median time of each
uncached selector and of a full dashboard request (cache off and cache warm).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup(db_path: str | None) -> None:
    os.environ.setdefault("DJANGO_DEBUG", "true")
    if db_path:
        os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    os.environ["DJANGO_SETTINGS_MODULE"] = "smsportal.settings.base"
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no query log
    settings.ALLOWED_HOSTS = ["*"]


def _fill(n_contacts: int, n_messages: int) -> None:
    from django.db import connection, transaction

    from campaigns.models import Message
    from contacts.models import Contact
    from tests.factories import CampaignFactory, ProviderAccountFactory

    statuses = ["active"] * 90 + ["opted_out"] * 7 + ["blocked"] * 3
    msg_status = ["delivered"] * 80 + ["sent"] * 8 + ["failed"] * 5 + ["undelivered"] * 4 + ["pending"] * 3
    now = datetime.now(UTC)
    Message.objects.all().delete()
    Contact.objects.all().delete()
    for start in range(0, n_contacts, 20_000):
        with transaction.atomic():
            Contact.objects.bulk_create(
                Contact(phone=f"+4670{i:07d}", first_name="Anna", status=random.choice(statuses), country="SE")
                for i in range(start, min(start + 20_000, n_contacts))
            )
    campaign = CampaignFactory(account=ProviderAccountFactory(name=f"bench-{random.randint(0, 10**9)}"))
    for start in range(0, n_messages, 20_000):
        with transaction.atomic():
            created = Message.objects.bulk_create(
                Message(campaign=campaign, to=f"+4670{i:07d}", text="Hi", status=random.choice(msg_status))
                for i in range(start, min(start + 20_000, n_messages))
            )
            # auto_now_add ignores a given value: spread created_at over the last 7 days afterwards
            with connection.cursor() as cur:
                cur.executemany(
                    "UPDATE campaigns_message SET created_at = %s WHERE id = %s",
                    [(now - timedelta(seconds=random.randint(0, 7 * 86400)), m.pk) for m in created],
                )
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")


def _set_campaign_counters() -> None:
    """What the campaign services keep up to date: per-campaign status counters and the start time."""
    from django.db.models import Count, Min

    from campaigns.models import Campaign, Message

    field = {
        "pending": "pending_count",
        "queued": "queued_count",
        "sent": "sent_count",
        "delivered": "delivered_count",
        "unknown": "unknown_count",
        "cancelled": "cancelled_count",
    }
    for campaign in Campaign.objects.all():
        rows = Message.objects.filter(campaign=campaign).values_list("status").annotate(n=Count("*")).order_by()
        values = dict.fromkeys([*field.values(), "failed_count"], 0)
        for status, n in rows:
            values[field.get(status, "failed_count")] += n
        first = Message.objects.filter(campaign=campaign).aggregate(first=Min("created_at"))["first"]
        Campaign.objects.filter(pk=campaign.pk).update(
            started_at=first, recipients_total=sum(values.values()), **values
        )


def _median_ms(fn, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--keep", help="path of the SQLite file to (re)use instead of a temporary one")
    args = parser.parse_args()

    tmp = None
    db_path = None
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        if args.keep:
            db_path = args.keep
        else:
            tmp = tempfile.TemporaryDirectory(prefix="smsportal-bench-")
            db_path = str(Path(tmp.name) / "bench.sqlite3")
    _setup(db_path)

    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from smsportal import roles, selectors
    from tests.factories import UserFactory, WorkspaceSettingsFactory

    call_command("migrate", verbosity=0)
    WorkspaceSettingsFactory()
    from contacts.models import Contact

    if Contact.objects.count() != args.contacts:
        started = time.perf_counter()
        _fill(args.contacts, args.messages)
        print(
            f"filled {args.contacts:,} contacts + {args.messages:,} messages in {time.perf_counter() - started:.1f} s"
        )

    from campaigns.models import Campaign

    if not Campaign.objects.filter(started_at__isnull=False).exists():
        _set_campaign_counters()

    from django.conf import settings

    settings.DASHBOARD_CACHE_SECONDS = 0
    tz = timezone.get_fixed_timezone(60)
    with timezone.override(tz):
        print(f"contact_counts (index counts)               {_median_ms(selectors.contact_counts):8.1f} ms")
        print(f"campaign_status_counts                        {_median_ms(selectors.campaign_status_counts):8.1f} ms")
        print(f"messages_by_day (7 days, campaign counters)   {_median_ms(selectors.messages_by_day):8.1f} ms")
        from django.db.models import Count

        from campaigns.models import Message

        since = timezone.now() - timedelta(days=7)

        def group_messages():
            return list(
                Message.objects.filter(created_at__gte=since).values_list("status").annotate(n=Count("*")).order_by()
            )

        print(
            f"  (for comparison: GROUP BY status over the messages of 7 days {_median_ms(group_messages, 3):8.1f} ms)"
        )
        print(f"inbox_unread_count (capped at 100)            {_median_ms(selectors.inbox_unread_count):8.1f} ms")

    user = UserFactory(username=f"bench{random.randint(0, 10**9)}", role=roles.OPERATOR)
    client = Client()
    client.force_login(user)
    print(f"GET / (cache off)                             {_median_ms(lambda: client.get('/'), runs=5):8.1f} ms")
    settings.DASHBOARD_CACHE_SECONDS = 30
    cache.clear()
    client.get("/")
    print(f"GET / (figures cached)                        {_median_ms(lambda: client.get('/'), runs=9):8.1f} ms")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
