"""Campaign pages at 1,000,000 messages, without sending them: p50/p95 of every page a marketer opens.

    .venv/bin/python benchmarks/campaign_pages.py                 # SQLite and PostgreSQL
    .venv/bin/python benchmarks/campaign_pages.py --db sqlite --messages 200000

On a scratch database: N contacts, a campaign started with ``campaign_start`` (the real snapshot), then every
message set to "queued" with a provider id and 5 % to "undelivered" with three reasons (one SQL statement each,
counters set to match), 200 chart minutes; then the Django test client, signed in as an Operator, requests each
page 30 times after two warm-ups. On PostgreSQL the messages table is analysed first, as the snapshot itself
does after a large start (``campaigns.snapshot._fresh_statistics``), since the status updates here bypass it.
Target: the campaign page ≤ 100 ms p95.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.campaign_setup import DEFAULT_PG, drop_pg, machine, migrate, pct, rmtree, run_child, scratch_env


def child(messages: int, requests: int) -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group as AuthGroup
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from benchmarks.campaign_setup import seed_contacts
    from campaigns import sending
    from campaigns.models import Campaign, CampaignMinute
    from campaigns.snapshot import campaign_start
    from providers.models import ProviderAccount

    sending._enqueue = lambda *args, **kwargs: None
    seeded = seed_contacts(messages, opted_out=0, blocked=0, blocklisted=0)
    account = ProviderAccount.objects.create(
        name="Bench", provider="sandbox", credentials={}, allowed_senders=["Shop"], default_sender="Shop"
    )
    campaign = Campaign.objects.create(
        name="Pages at scale",
        account=account,
        sender="Shop",
        text="Spring sale: 20% off everything this weekend.",
        status=Campaign.Status.STARTING,
        started_at=timezone.now(),
    )
    campaign.groups.add(seeded["group_id"])
    campaign_start(campaign.pk)
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE campaigns_message SET status = 'queued', external_id = 'x' || CAST(id AS TEXT), "
            "handed_over_at = %s, next_poll_at = %s WHERE campaign_id = %s",
            [now, now, campaign.pk],
        )
        cur.execute(
            "UPDATE campaigns_message SET status = 'undelivered', error_code = 'E' || CAST(id %% 3 AS TEXT), "
            "error_text = 'Handset unreachable', next_poll_at = NULL WHERE campaign_id = %s AND id %% 20 = 0",
            [campaign.pk],
        )
        failed = cur.rowcount
        if connection.vendor == "postgresql":
            cur.execute("ANALYZE campaigns_message")
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.COMPLETED,
        pending_count=0,
        queued_count=messages - failed,
        failed_count=failed,
        finished_at=now,
    )
    minute = now.replace(second=0, microsecond=0)
    CampaignMinute.objects.bulk_create(
        [
            CampaignMinute(
                campaign=campaign,
                minute=minute - timezone.timedelta(minutes=i),
                handed_over=messages // 200,
                delivered=messages // 250,
                failed=failed // 200,
            )
            for i in range(200)
        ]
    )
    user = get_user_model().objects.create_user("bench-operator", password="x" * 12)
    user.groups.add(AuthGroup.objects.get(name="Operator"))
    client = Client()
    client.force_login(user)
    hx = {"HTTP_HX_REQUEST": "true"}
    messages_url = reverse("campaigns:messages", args=[campaign.pk])
    pages = {
        "campaign page": (reverse("campaigns:detail", args=[campaign.pk]), {}),
        "status partial (polled every 2 s)": (reverse("campaigns:status", args=[campaign.pk]), hx),
        "campaign list": (reverse("campaigns:list"), {}),
        "messages table": (messages_url, {}),
        "messages: queued tile": (messages_url + "?status=queued", hx),
        "messages: failed tile": (messages_url + "?status=failed_any", hx),
        "messages: one failure reason": (messages_url + "?status=failed_any&reason=E1", hx),
        "messages: page 100": (messages_url + "?page=100", hx),
    }
    out = {"messages": messages, "failed": failed, "pages": {}}
    for label, (url, headers) in pages.items():
        timings = []
        for i in range(requests + 2):
            t = time.perf_counter()
            response = client.get(url, **headers)
            elapsed = (time.perf_counter() - t) * 1000
            assert response.status_code in (200, 286), (url, response.status_code)
            if i >= 2:
                timings.append(elapsed)
        out["pages"][label] = {"p50_ms": round(pct(timings, 50), 1), "p95_ms": round(pct(timings, 95), 1)}
    return out


def markdown(results: list[dict]) -> str:
    labels = list(results[0]["pages"])
    head = "| page | " + " | ".join(f"{r['db']} p50 / p95" for r in results) + " |"
    lines = [head, "| --- |" + " --- |" * len(results)]
    for label in labels:
        cells = [f"{r['pages'][label]['p50_ms']} / **{r['pages'][label]['p95_ms']} ms**" for r in results]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.messages, args.requests)))
        return
    results = []
    for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        workdir = Path(tempfile.mkdtemp(prefix="campaign-pages-"))
        name = "smsp_bench_pages"
        try:
            env = scratch_env(kind, workdir, pg_url=args.pg_url, broker="filesystem", name=name)
            migrate(env)
            result = run_child(
                Path(__file__), ["--child", "--messages", str(args.messages), "--requests", str(args.requests)], env
            )
            result["db"] = "SQLite" if kind == "sqlite" else "PostgreSQL"
            results.append(result)
            print(json.dumps(result), flush=True)
        finally:
            rmtree(workdir)
            if kind == "postgres":
                drop_pg(args.pg_url, name)
    print(json.dumps({"machine": machine()}))
    print(markdown(results))


if __name__ == "__main__":
    main()
