"""Campaign start benchmark: the set-based snapshot of a 1,000,000-recipient audience into Message rows.

    .venv/bin/python benchmarks/campaign_snapshot.py                    # 1M contacts, SQLite and PostgreSQL
    .venv/bin/python benchmarks/campaign_snapshot.py --contacts 100000 --db sqlite

For each database, on a scratch copy (temporary SQLite file / a new PostgreSQL database): seed N contacts in one
group (4 % opted out, 1 % blocked, 1 % on the blocklist, 80 % with a city), then time ``campaign_start`` (the
function the start task runs) for
- a text without placeholders (rendered in SQL: ``INSERT … SELECT`` per contact-id range), and
- a personalised text (``{first_name|there}``, ``{city|your city}``: rendered and segment-counted in Python per
  range, one ``executemany`` per range),
then start the same campaign again with its cursor reset (every row conflicts: nothing new may be created), and
time the composer's audience breakdown at that size. Target: ≤ 60 s for 1M.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.campaign_setup import (
    DEFAULT_PG,
    drop_pg,
    machine,
    migrate,
    rmtree,
    run_child,
    scratch_env,
)

STATIC = "Spring sale: 20% off everything this weekend. Reply STOP to opt out."
PERSONAL = "Hi {first_name|there}! Spring sale in {city|your city}: 20% off everything this weekend."


def child(contacts: int) -> dict:
    import resource

    import django

    django.setup()
    from django.utils import timezone

    from benchmarks.campaign_setup import seed_contacts
    from campaigns import sending
    from campaigns.models import Campaign, Message
    from campaigns.snapshot import campaign_start
    from contacts.selectors import audience_breakdown
    from providers.models import ProviderAccount

    sending._enqueue = lambda *args, **kwargs: None  # no broker: only the snapshot is timed
    t = time.perf_counter()
    seeded = seed_contacts(contacts)
    seed_s = time.perf_counter() - t
    group_id = seeded["group_id"]
    account = ProviderAccount.objects.create(
        name="Bench sandbox",
        provider="sandbox",
        credentials={},
        messages_per_second=1000,
        allowed_senders=["Shop"],
        default_sender="Shop",
    )
    t = time.perf_counter()
    breakdown = audience_breakdown(groups=[group_id])
    breakdown_s = time.perf_counter() - t
    out = {
        "contacts": contacts,
        "seed_s": round(seed_s, 1),
        "breakdown": breakdown,
        "breakdown_s": round(breakdown_s, 2),
        "runs": [],
    }
    for kind, text in (("static", STATIC), ("personal", PERSONAL)):
        campaign = Campaign.objects.create(
            name=f"snapshot {kind}",
            account=account,
            sender="Shop",
            text=text,
            status=Campaign.Status.STARTING,
            started_at=timezone.now(),
        )
        campaign.groups.add(group_id)
        t = time.perf_counter()
        created = campaign_start(campaign.pk)
        elapsed = time.perf_counter() - t
        campaign.refresh_from_db()
        rows = Message.objects.filter(campaign=campaign).count()
        assert created == rows == campaign.recipients_total == breakdown["eligible"], (created, rows, breakdown)
        Campaign.objects.filter(pk=campaign.pk).update(snapshot_done=False, snapshot_cursor=0)
        t = time.perf_counter()
        again = campaign_start(campaign.pk)
        again_s = time.perf_counter() - t
        assert again == 0 and Message.objects.filter(campaign=campaign).count() == rows
        out["runs"].append(
            {
                "text": kind,
                "messages": rows,
                "seconds": round(elapsed, 1),
                "rows_per_s": round(rows / elapsed),
                "segments_total": campaign.segments_total,
                "restart_created": again,
                "restart_s": round(again_s, 1),
            }
        )
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def markdown(results: list[dict]) -> str:
    lines = [
        "| database | text | messages | snapshot | rows/s | start again (all conflicts) | peak RSS |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        for run in r["runs"]:
            lines.append(
                f"| {r['db']} | {run['text']} | {run['messages']:,} | **{run['seconds']} s** | "
                f"{run['rows_per_s']:,} | {run['restart_s']} s, {run['restart_created']} created | "
                f"{r['peak_rss_mb']} MB |"
            )
    lines.append("")
    lines.append("| database | contacts | audience breakdown (5 counts, composer) | seeding |")
    lines.append("| --- | --- | --- | --- |")
    for r in results:
        lines.append(f"| {r['db']} | {r['contacts']:,} | {r['breakdown_s']} s | {r['seed_s']} s |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.contacts)))
        return
    results = []
    for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        workdir = Path(tempfile.mkdtemp(prefix="snapshot-bench-"))
        name = "smsp_bench_snapshot"
        try:
            env = scratch_env(kind, workdir, pg_url=args.pg_url, broker="filesystem", name=name)
            migrate(env)
            result = run_child(Path(__file__), ["--child", "--contacts", str(args.contacts)], env)
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
