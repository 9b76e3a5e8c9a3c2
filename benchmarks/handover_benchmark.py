"""Hand-over benchmark: how fast campaign messages reach a provider, next to the raw HTTP limit of the same fake.

    .venv/bin/python benchmarks/handover_benchmark.py                              # the default matrix
    .venv/bin/python benchmarks/handover_benchmark.py --backend sqlite --provider mobizon --messages 100000
    .venv/bin/python benchmarks/handover_benchmark.py --backend postgres --provider jojka --messages 1000000 --pages
    .venv/bin/python benchmarks/handover_benchmark.py --backend sqlite --provider mobizon --messages 100000 --rate 300

Each scenario runs on scratch resources: a fresh database (temporary SQLite file, or a new PostgreSQL database)
and a broker (a private filesystem-broker folder with SQLite — the embedded default —, or a private
redis-server with PostgreSQL), a real ``celery worker -c 2`` (prefork: two processes), and a provider fake
(``benchmarks/handover_fake.py``) answering every request after 50 ms, in its own process.

1. Raw limit: a plain ``requests`` thread pool (one session per thread, no database work) sends the same
   request the adapter sends, with as many connections as the pipeline will open (lanes × threads for one
   message per call; lanes × the calls of one chunk for bulk), for 15 s.
2. The campaign: N contacts in a group, a campaign scheduled 3 s ahead; this script plays Celery beat (it
   queues ``dispatch_due_campaigns`` every 5 s, the only periodic task a hand-over needs; status polling is left
   out so it measures hand-over alone). Measured from the database afterwards: first and last ``handed_over_at``,
   throughput, and — with ``--rate R`` (the account's messages per second) — each message's slot
   (``scheduled_at + i / R``, i = its rank) and how late it was handed over: the share within 10 s.
3. Exactly once: the fake's count of accepted messages and of distinct numbers (a duplicate is the difference).
4. Worker RSS: peak of the worker's processes (sampled twice a second).
5. ``--pages``: after the run, the campaign pages' response times (p50/p95 of 30 requests each, Django test
   client, signed in) at that campaign size.

Targets: one message per call ≥ 80 % of the raw limit; bulk ≥ 5,000 messages/s; 1M on PostgreSQL + Redis with
2 workers ≤ 10 min; ≥ 95 % handed over within 10 s of their slot; worker RSS ≤ 300 MB; campaign page p95 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.campaign_setup import (
    DEFAULT_PG,
    PY,
    ROOT,
    RssSampler,
    drop_pg,
    machine,
    migrate,
    pct,
    rmtree,
    run_child,
    scratch_env,
    start_redis,
    start_worker,
    stop,
)

LATENCY = 0.05
TEXT = "Spring sale: 20% off everything this weekend. Reply STOP to opt out."
SENDER = "Shop"


# ---------------------------------------------------------------------------------------------------- fake + raw
def start_fake(provider: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    log = (workdir / f"fake-{provider}.log").open("w")
    proc = subprocess.Popen(
        [PY, str(ROOT / "benchmarks" / "handover_fake.py"), "--provider", provider, "--latency", str(LATENCY)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        raise SystemExit(f"fake {provider} did not start: {line!r}")
    return proc, line.split()[1]


def fake_stats(url: str) -> dict:
    import requests

    return requests.get(url + "/__stats", timeout=60).json()


def raw_limit(provider: str, url: str, connections: int, seconds: float = 15.0) -> dict:
    """Requests (and messages) per second a plain thread pool gets from the fake, no database work."""
    import requests

    from benchmarks.handover_fake import JOJKA_KEY, MOBIZON_KEY

    stop_at = time.monotonic() + seconds
    counts = [0] * connections
    errors = [0] * connections
    per_call = 1000 if provider == "jojka" else 1

    def worker(i: int) -> None:
        session = requests.Session()
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            if provider == "mobizon":
                r = session.post(
                    f"{url}/service/message/sendSmsMessage",
                    params={"output": "json", "api": "v1", "apiKey": MOBIZON_KEY},
                    data=[
                        ("recipient", f"4679{i:03d}{n:05d}"),
                        ("text", TEXT),
                        ("from", SENDER),
                        ("params[validity]", "1440"),
                    ],
                    timeout=(5, 30),
                )
            else:
                numbers = ";".join(f"4678{i:02d}{n:03d}{k:03d}" for k in range(per_call))
                r = session.post(
                    f"{url}/websms/api/add_campaign",
                    data={"API_key": JOJKA_KEY, "to_msisdn": numbers, "msg": TEXT, "from": SENDER, "name": "raw"},
                    timeout=(5, 30),
                )
            if r.status_code == 200:
                counts[i] += 1
            else:
                errors[i] += 1

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    calls = sum(counts)
    return {
        "connections": connections,
        "calls_per_s": round(calls / elapsed, 1),
        "messages_per_s": round(calls * per_call / elapsed, 1),
        "errors": sum(errors),
    }


# ---------------------------------------------------------------------------------------------------- child
def child(args) -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group as AuthGroup
    from django.utils import timezone

    from benchmarks.campaign_setup import seed_contacts
    from benchmarks.handover_fake import JOJKA_KEY, MOBIZON_KEY
    from campaigns.models import Campaign, Message
    from campaigns.tasks import dispatch_due_campaigns
    from contacts.models import Group
    from providers.models import ProviderAccount

    workdir = Path(args.workdir)
    lanes = int(os.environ.get("CAMPAIGN_SEND_LANES", "2"))
    threads = int(os.environ.get("CAMPAIGN_SEND_THREADS", "16"))
    out: dict = {
        "provider": args.provider,
        "messages": args.messages,
        "lanes": lanes,
        "threads": threads,
        "rate": args.rate,
    }

    group = (
        Group.objects.filter(name=f"Benchmark audience {args.messages:,}").first()
        or Group.objects.filter(name=f"Benchmark first {args.messages:,}").first()
    )
    if group is None:
        t = time.perf_counter()
        seeded = seed_contacts(
            args.seed_contacts or args.messages, opted_out=0, blocked=0, blocklisted=0, subsets=(args.messages,)
        )
        out["seed_s"] = round(time.perf_counter() - t, 1)
        group = Group.objects.get(pk=seeded["groups"][args.messages])

    fake, url = start_fake(args.provider, workdir)
    worker = None
    try:
        connections = lanes * threads if args.provider == "mobizon" else lanes * 4
        out["raw"] = raw_limit(args.provider, url, connections)
        print("raw", out["raw"], file=sys.stderr, flush=True)
        before = fake_stats(url)

        if args.provider == "mobizon":
            account = ProviderAccount.objects.create(
                name=f"Bench mobizon {time.time()}",
                provider="mobizon",
                base_url=url,
                credentials={"api_key": MOBIZON_KEY},
                messages_per_second=args.rate or 100_000,
                allowed_senders=[SENDER],
                default_sender=SENDER,
            )
        else:
            account = ProviderAccount.objects.create(
                name=f"Bench jojka {time.time()}",
                provider="jojka",
                base_url=url + "/websms/api",
                credentials={"api_key": JOJKA_KEY},
                messages_per_second=args.rate or 100_000,
                allowed_senders=[SENDER],
                default_sender=SENDER,
            )
        log = workdir / f"worker-{args.provider}-{args.messages}.log"
        worker = start_worker(dict(os.environ), log, concurrency=2)
        sampler = RssSampler(worker.pid)
        sampler.start()
        time.sleep(6)  # worker boot
        t0 = timezone.now() + timezone.timedelta(seconds=3)
        campaign = Campaign.objects.create(
            name=f"handover {args.provider} {args.messages}",
            account=account,
            sender=SENDER,
            text=TEXT,
            status=Campaign.Status.SCHEDULED,
            scheduled_at=t0,
        )
        campaign.groups.add(group)
        deadline = time.monotonic() + args.timeout
        next_tick = 0.0
        progress = []
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_tick:
                dispatch_due_campaigns.delay()  # we are Celery beat (every 5 s)
                next_tick = now + 5
            c = Campaign.objects.get(pk=campaign.pk)
            progress.append((round(time.time(), 1), c.status, c.recipients_total - c.pending_count))
            if c.snapshot_done and c.pending_count == 0 and c.recipients_total:
                break
            if c.status in (Campaign.Status.FAILED, Campaign.Status.CANCELLED):
                break
            time.sleep(1)
        out.update(sampler.stop())
        c = Campaign.objects.get(pk=campaign.pk)
        out["status"] = c.status
        out["error"] = c.error_message
        out["recipients"] = c.recipients_total
        handed = list(Message.objects.filter(campaign=c).order_by("id").values_list("handed_over_at", flat=True))
        times = [h.timestamp() for h in handed if h]
        start = t0.timestamp()
        out["handed_over"] = len(times)
        if times:
            first, last = min(times), max(times)
            out["first_handed_after_slot_s"] = round(first - start, 2)
            out["wall_s"] = round(last - start, 1)
            out["throughput_per_s"] = round(len(times) / max(0.001, last - first), 1)
            out["end_to_end_per_s"] = round(len(times) / max(0.001, last - start), 1)
            raw_mps = out["raw"]["messages_per_s"]
            out["share_of_raw"] = round(out["throughput_per_s"] / raw_mps, 3) if raw_mps else None
            if args.rate:
                late = [h.timestamp() - (start + i / args.rate) for i, h in enumerate(handed) if h]
                out["within_10s_of_slot"] = round(sum(1 for x in late if x <= 10) / len(handed), 4)
                out["lateness_p50_s"] = round(pct(late, 50), 2)
                out["lateness_p95_s"] = round(pct(late, 95), 2)
                out["lateness_max_s"] = round(max(late), 2)
        after = fake_stats(url)
        out["fake_accepted"] = after["messages"] - before["messages"]
        out["fake_duplicates"] = after["duplicates"] - before["duplicates"]
        out["progress_tail"] = progress[-3:]
    finally:
        stop(worker)
        stop(fake)
    if args.pages:
        user_model = get_user_model()
        user = user_model.objects.create_user("bench-operator", password="x" * 12)
        user.groups.add(AuthGroup.objects.get(name="Operator"))
        out["pages"] = page_times(campaign.pk, user)
    return out


def page_times(campaign_id: int, user, n: int = 30) -> dict:
    """Response times of the campaign pages; first 5 % of the messages are made failures with three reasons,
    so the failure breakdown and the failed tile have real rows to read."""
    from django.db import connection
    from django.db.models import F
    from django.test import Client
    from django.urls import reverse

    from campaigns.models import Campaign

    with connection.cursor() as cur:
        cur.execute(
            "UPDATE campaigns_message SET status = 'undelivered', error_code = 'E' || CAST(id %% 3 AS TEXT), "
            "error_text = 'Handset unreachable' WHERE campaign_id = %s AND id %% 20 = 0 AND status = 'queued'",
            [campaign_id],
        )
        failed = cur.rowcount
    Campaign.objects.filter(pk=campaign_id).update(
        failed_count=F("failed_count") + failed, queued_count=F("queued_count") - failed
    )

    client = Client()
    client.force_login(user)
    hx = {"HTTP_HX_REQUEST": "true"}
    pages = {
        "campaign page": (reverse("campaigns:detail", args=[campaign_id]), {}),
        "status partial (polled)": (reverse("campaigns:status", args=[campaign_id]), hx),
        "messages table": (reverse("campaigns:messages", args=[campaign_id]), {}),
        "messages: delivered tile": (reverse("campaigns:messages", args=[campaign_id]) + "?status=queued", hx),
        "messages: failed tile": (reverse("campaigns:messages", args=[campaign_id]) + "?status=failed_any", hx),
        "campaign list": (reverse("campaigns:list"), {}),
    }
    out = {}
    for label, (url, headers) in pages.items():
        timings = []
        for i in range(n + 2):
            t = time.perf_counter()
            response = client.get(url, **headers)
            elapsed = (time.perf_counter() - t) * 1000
            assert response.status_code in (200, 286), (url, response.status_code)
            if i >= 2:  # two warm-up requests
                timings.append(elapsed)
        out[label] = {"p50_ms": round(pct(timings, 50), 1), "p95_ms": round(pct(timings, 95), 1)}
    return out


# ---------------------------------------------------------------------------------------------------- parent
def markdown(results: list[dict]) -> str:
    lines = [
        "| backend | provider | messages | connections | raw limit (same fake, same run) | pipeline | share of raw "
        "| wall (slot → last) | fake: accepted / duplicates | worker process peak RSS (of which anonymous) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['backend']} | {r['provider']} | {r['messages']:,} | {r['raw']['connections']} "
            f"| {r['raw']['messages_per_s']:,.0f} msg/s | **{r.get('throughput_per_s', 0):,.0f} msg/s** "
            f"| {r.get('share_of_raw') or 0:.0%} | {r.get('wall_s', '—')} s "
            f"| {r.get('fake_accepted', 0):,} / {r.get('fake_duplicates', 0)} "
            f"| {r.get('worker_process_peak_mb')} MB ({r.get('worker_process_anon_peak_mb', '?')} MB) |"
        )
    slot = [r for r in results if r.get("rate")]
    if slot:
        lines += [
            "",
            "| backend | provider | messages | account rate | within 10 s of slot | lateness p50 / p95 / max |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in slot:
            lines.append(
                f"| {r['backend']} | {r['provider']} | {r['messages']:,} | {r['rate']}/s "
                f"| **{r.get('within_10s_of_slot', 0):.1%}** | {r.get('lateness_p50_s')} / "
                f"{r.get('lateness_p95_s')} / {r.get('lateness_max_s')} s |"
            )
    pages = [r for r in results if r.get("pages")]
    for r in pages:
        lines += [
            "",
            f"Pages at {r['messages']:,} messages ({r['backend']}):",
            "",
            "| page | p50 | p95 |",
            "| --- | --- | --- |",
        ]
        for label, t in r["pages"].items():
            lines.append(f"| {label} | {t['p50_ms']} ms | {t['p95_ms']} ms |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--provider", choices=["mobizon", "jojka", "both"], default="both")
    parser.add_argument("--messages", type=int, nargs="+", default=[100_000])
    parser.add_argument("--rate", type=float, default=0, help="account messages/s (slot accuracy run)")
    parser.add_argument("--pages", action="store_true", help="time the campaign pages after the run")
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default="", help=argparse.SUPPRESS)
    parser.add_argument("--seed-contacts", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.messages = args.messages[0]
        print(json.dumps(child(args), default=str))
        return
    results = []
    for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
        workdir = Path(tempfile.mkdtemp(prefix="handover-bench-"))
        name = "smsp_bench_handover"
        redis = None
        try:
            if backend == "sqlite":
                env = scratch_env("sqlite", workdir, pg_url=args.pg_url, broker="filesystem", name=name)
            else:
                redis, broker = start_redis(workdir)
                env = scratch_env("postgres", workdir, pg_url=args.pg_url, broker=broker, name=name)
            env["CAMPAIGN_SEND_LANES"] = str(args.lanes)
            env["CAMPAIGN_SEND_THREADS"] = str(args.threads)
            migrate(env)
            biggest = max(args.messages)
            for provider in ["mobizon", "jojka"] if args.provider == "both" else [args.provider]:
                for n in sorted(args.messages):
                    child_args = [
                        "--child",
                        "--provider",
                        provider,
                        "--messages",
                        str(n),
                        "--workdir",
                        str(workdir),
                        "--timeout",
                        str(args.timeout),
                        "--seed-contacts",
                        str(biggest),
                    ]
                    if args.rate:
                        child_args += ["--rate", str(args.rate)]
                    if args.pages and n == biggest:
                        child_args.append("--pages")
                    result = run_child(Path(__file__), child_args, env)
                    result["backend"] = "SQLite + filesystem broker" if backend == "sqlite" else "PostgreSQL + Redis"
                    results.append(result)
                    print(json.dumps(result, default=str), flush=True)
        finally:
            stop(redis)
            rmtree(workdir)
            if backend == "postgres":
                drop_pg(args.pg_url, name)
    print(json.dumps({"machine": machine()}))
    print(markdown(results))


if __name__ == "__main__":
    main()
