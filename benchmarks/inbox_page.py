"""Inbox at scale: time the conversation list (grouped by number), one thread, and the whole inbox page.

    .venv/bin/python benchmarks/inbox_page.py                      # 300k replies from 100k numbers
    .venv/bin/python benchmarks/inbox_page.py --replies 1000000 --numbers 300000

Builds a scratch SQLite database (or uses DATABASE_URL if it points at PostgreSQL: it must be a scratch
database, its replies are replaced), fills it with bulk inserts (10 % unread, 30 % open, the rest closed; a few
keywords), then prints the median time of each selector and request.
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

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]


def _fill(n_replies: int, n_numbers: int) -> None:
    from django.db import connection, transaction

    from campaigns.models import InboundMessage
    from tests.factories import ProviderAccountFactory

    InboundMessage.objects.all().delete()
    account = ProviderAccountFactory(name=f"bench-{random.randint(0, 10**9)}")
    now = datetime.now(UTC)
    statuses = ["unread"] * 10 + ["open"] * 30 + ["closed"] * 60
    keywords = ["none"] * 90 + ["opt_out"] * 6 + ["flagged"] * 2 + ["help"] * 2
    for start in range(0, n_replies, 20_000):
        with transaction.atomic():
            InboundMessage.objects.bulk_create(
                InboundMessage(
                    account=account,
                    external_id=f"b-{i}",
                    from_phone=f"+4671{random.randrange(n_numbers):07d}",
                    text="Thanks, see you on Saturday!",
                    received_at=now - timedelta(seconds=random.randint(0, 90 * 86400)),
                    status=random.choice(statuses),
                    keyword=random.choice(keywords),
                    processed_at=now,
                )
                for i in range(start, min(start + 20_000, n_replies))
            )
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")


def _median_ms(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=300_000)
    parser.add_argument("--numbers", type=int, default=100_000)
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

    from django.core.management import call_command
    from django.test import Client

    from campaigns import inbox_selectors as selectors
    from campaigns.models import InboundMessage
    from smsportal import roles
    from tests.factories import UserFactory, WorkspaceSettingsFactory

    call_command("migrate", verbosity=0)
    WorkspaceSettingsFactory()
    if InboundMessage.objects.count() != args.replies:
        started = time.perf_counter()
        _fill(args.replies, args.numbers)
        print(f"filled {args.replies:,} replies from {args.numbers:,} numbers in {time.perf_counter() - started:.1f} s")

    user = UserFactory(username=f"bench{random.randint(0, 10**9)}", role=roles.MARKETER)
    phone = InboundMessage.objects.values_list("from_phone", flat=True).first()
    F = selectors.InboxFilters
    cases = [
        ("list: all, longest waiting first", F()),
        ("list: all, newest first", F(sort="newest")),
        ("list: unread", F(status="unread")),
        ("list: keyword opt-out", F(keyword="opt_out")),
        ("list: assigned to me", F(assigned="me")),
        ("list: search 'saturday'", F(q="saturday")),
    ]
    for label, filters in cases:
        ms = _median_ms(lambda f=filters: selectors.conversation_page(f, user=user))
        print(f"{label:<40} {ms:8.1f} ms")
    print(f"{'thread of one number':<40} {_median_ms(lambda: selectors.conversation_thread(phone)):8.1f} ms")
    print(f"{'reply sources':<40} {_median_ms(selectors.reply_sources):8.1f} ms")
    client = Client()
    client.force_login(user)
    hx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "inbox-list"}
    print(f"{'GET /inbox/':<40} {_median_ms(lambda: client.get('/inbox/')):8.1f} ms")
    print(f"{'GET /inbox/ (list refresh, htmx)':<40} {_median_ms(lambda: client.get('/inbox/', **hx)):8.1f} ms")
    print(f"{'GET /inbox/c/<number>/':<40} {_median_ms(lambda: client.get(f'/inbox/c/{phone}/')):8.1f} ms")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
