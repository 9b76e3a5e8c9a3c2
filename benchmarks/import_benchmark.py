"""Import benchmark: a generated 1,000,000-row contacts CSV imported through the UI's code path (upload →
mapping → ``import_start`` → the Celery task on a real worker), on SQLite and on PostgreSQL; then the contacts
pages at that size.

    .venv/bin/python benchmarks/import_benchmark.py                       # 1M rows, SQLite and PostgreSQL
    .venv/bin/python benchmarks/import_benchmark.py --rows 100000 --db sqlite
    .venv/bin/python benchmarks/import_benchmark.py --pages-only --db sqlite --keep   # reuse a kept database

The file: mixed national (07…) and international (+46, 0046, +30, +44, digits without "+") numbers with spaces,
dashes and brackets, 5 % invalid values, 3 % repeats of an earlier number in another format, first and last
names, and two custom fields (city: text, points: number).

Everything runs on scratch resources: a temporary folder (SQLite file, media, CSV), a scratch PostgreSQL database
(``DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db>`` by default; ``--pg-url`` to change) and a private
redis-server on a free port as the broker (``--broker`` to use another). The worker is ``celery worker -c 1``
(prefork); its peak RSS is read from /proc: the task process (VmHWM) and the row-normalizing processes it starts.

Prints rows/s (task time and queue-to-done wall time), peak RSS, and page times (p50/p95 over N requests with
the Django test client) as JSON and as a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SETTINGS = "benchmarks.contacts_bench_settings"

FIRST = ["Anna", "Bo", "Carl", "Dana", "Erik", "Fatima", "Göran", "Hanna", "Ivan", "Johanna", "Åsa", "Zoë", "Ömer"]
LAST = ["Andersson", "Berg", "Carlsson", "Dahl", "Ek", "Fors", "Gustafsson", "Holm", "Ivarsson", "Öberg"]
CITIES = ["Stockholm", "Göteborg", "Malmö", "Uppsala", "Lund", "Athens", "London", "Umeå"]


# --- the file ------------------------------------------------------------------------------------------------


def _formats(kind: str, digits: str) -> str:
    """One valid number written one of the ways people write it."""
    if kind == "se":  # digits = 9-digit national significant number, e.g. 701234567
        r = random.random()
        if r < 0.3:
            return "0" + digits
        if r < 0.45:
            return f"0{digits[:2]}-{digits[2:5]} {digits[5:7]} {digits[7:]}"
        if r < 0.6:
            return f"+46 {digits[:2]} {digits[2:5]} {digits[5:7]} {digits[7:]}"
        if r < 0.7:
            return "0046" + digits
        if r < 0.8:
            return "46" + digits  # "+" lost by a spreadsheet
        if r < 0.9:
            return digits  # leading zero lost by a spreadsheet
        return f"(0{digits[:2]}) {digits[2:]}"
    if kind == "gr":  # 10-digit national, 69…
        return f"+30 {digits}" if random.random() < 0.5 else f"0030{digits}"
    return f"+44 {digits[:4]} {digits[4:]}" if random.random() < 0.5 else f"+44{digits}"  # uk, 7…


def generate(path: Path, rows: int, seed: int = 20261126) -> dict:
    """Write the benchmark CSV; return what it contains."""
    random.seed(seed)
    # Unique numbers: a permutation of a counter (multiplying by a number coprime with the range).
    se_prefixes, gr_prefixes, uk_prefixes = ["70", "72", "73", "76", "79"], ["690", "693", "694", "697"], ["7400"]
    made: list[tuple[str, str]] = []  # (kind, digits) of earlier rows, for repeats (bounded sample)
    stats = {"rows": rows, "invalid": 0, "repeats": 0, "unique_valid": 0}
    counter = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("phone,first_name,last_name,city,points\n")
        for _ in range(rows):
            r = random.random()
            first, last = random.choice(FIRST), random.choice(LAST)
            city = random.choice(CITIES)
            points = str(random.randint(0, 5000))
            if r < 0.05:
                stats["invalid"] += 1
                phone = random.choice(["12345", "n/a", "+999 123 456", "070-12", "4.67E+10", "", "call me", "0" * 20])
                if phone == "":
                    phone = "unknown"
            elif r < 0.08 and made:
                stats["repeats"] += 1
                kind, digits = random.choice(made)
                phone = _formats(kind, digits)
            else:
                counter += 1
                n = (counter * 7_654_321) % 10_000_000
                k = random.random()
                if k < 0.8:
                    kind, digits = "se", random.choice(se_prefixes) + f"{n:07d}"
                elif k < 0.9:
                    kind, digits = "gr", random.choice(gr_prefixes) + f"{n:07d}"
                else:
                    kind, digits = "uk", random.choice(uk_prefixes) + f"{n % 1_000_000:06d}"
                phone = _formats(kind, digits)
                stats["unique_valid"] += 1
                if len(made) < 50_000:
                    made.append((kind, digits))
                elif random.random() < 0.01:
                    made[random.randrange(len(made))] = (kind, digits)
            if "," in phone:
                phone = f'"{phone}"'
            fh.write(f"{phone},{first},{last},{city},{points}\n")
    stats["bytes"] = path.stat().st_size
    return stats


# --- processes -------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    kids = [int(x) for x in fh.read().split()]
                out += kids
                todo += kids
        except OSError:
            continue
    return out


def proc_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu(pid: int) -> tuple[float, float]:
    """(own CPU seconds, CPU seconds of waited-for children) of a process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def direct_children(pid: int) -> set[int]:
    kids: set[int] = set()
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids |= {int(x) for x in fh.read().split()}
    except OSError:
        pass
    return kids


def machine() -> dict:
    cpu = ""
    mem_kb = 0
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
        with open("/proc/meminfo") as fh:
            mem_kb = next((int(ln.split()[1]) for ln in fh if ln.startswith("MemTotal")), 0)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu or platform.processor(),
        "python": platform.python_version(),
    }


# --- the child steps (run inside a configured Django process) -------------------------------------------------


def child_import(csv_path: str, worker_pid: int, group: bool) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files import File
    from django.db import connection

    from contacts import services
    from contacts.models import Contact, ContactField, Import

    user = get_user_model().objects.filter(username="bench").first() or get_user_model().objects.create_user(
        "bench", password="bench-password-123", is_superuser=True
    )
    before = Contact.objects.count()
    for label, kind in (("City", "text"), ("Points", "number")):
        if not ContactField.objects.filter(key=label.lower()).exists():
            services.field_create(label=label, type=kind, actor=user)
    with open(csv_path, "rb") as fh:
        imp, _info = services.import_create(upload=File(fh, name=Path(csv_path).name), actor=user)
    target = services.group_create(name=f"Bench {imp.pk}", actor=user) if group else None
    services.import_configure(
        imp=imp,
        columns=["phone", "first_name", "last_name", "field:city", "field:points"],
        has_header=True,
        mode=Import.Mode.ADD_UPDATE,
        default_country="SE",
        target_group=target,
        new_fields=None,
        actor=user,
    )
    pool_children = direct_children(worker_pid)
    cpu_before = {p: proc_cpu(p) for p in pool_children}
    load_before = os.getloadavg()[0]
    queued = time.perf_counter()
    services.import_start(imp=imp, actor=user)
    peak = {"task": 0, "normalizers": 0, "tree": 0}
    task_pid = None
    while True:
        kids = descendants(worker_pid)
        tree = proc_kb(worker_pid, "VmRSS") + sum(proc_kb(p, "VmRSS") for p in kids)
        peak["tree"] = max(peak["tree"], tree)
        direct = direct_children(worker_pid)
        for p in kids:
            if p in direct:
                task_pid = task_pid or p
                peak["task"] = max(peak["task"], proc_kb(p, "VmHWM"))
            else:
                peak["normalizers"] = max(peak["normalizers"], proc_kb(p, "VmHWM"), proc_kb(p, "VmRSS"))
        status = Import.objects.filter(pk=imp.pk).values_list("status", flat=True).first()
        if status in {Import.Status.DONE, Import.Status.FAILED, Import.Status.CANCELLED}:
            break
        time.sleep(0.2)
    wall = time.perf_counter() - queued
    for p in descendants(worker_pid):
        if task_pid and p == task_pid:
            peak["task"] = max(peak["task"], proc_kb(p, "VmHWM"))
    imp.refresh_from_db()
    task_seconds = (imp.finished_at - imp.started_at).total_seconds()
    main_cpu = workers_cpu = 0.0
    for p, (own, kids_cpu) in cpu_before.items():
        own2, kids2 = proc_cpu(p)
        if own2 - own > main_cpu:
            main_cpu, workers_cpu = own2 - own, kids2 - kids_cpu
    rows = imp.processed_rows or 1
    ncpu = os.cpu_count() or 1
    idle_estimate = rows / max(main_cpu, (main_cpu + workers_cpu) / ncpu) if main_cpu else None
    result = {
        "vendor": connection.vendor,
        "status": imp.status,
        "error": imp.error_message,
        "rows": imp.processed_rows,
        "task_seconds": round(task_seconds, 2),
        "rows_per_s": round(imp.processed_rows / task_seconds) if task_seconds else None,
        "wall_seconds": round(wall, 2),
        "wall_rows_per_s": round(imp.processed_rows / wall),
        "counts": {
            "created": imp.created_count,
            "updated": imp.updated_count,
            "unchanged": imp.unchanged_count,
            "skipped": imp.skipped_count,
            "duplicates": imp.duplicate_count,
            "invalid": imp.invalid_count,
            "blocked": imp.blocked_count,
            "empty": imp.empty_count,
        },
        "counts_add_up": imp.total_rows == imp.counted_rows and imp.processed_rows == imp.total_rows + imp.empty_count,
        "contacts_before": before,
        "contacts_after": Contact.objects.count(),
        "peak_rss_mb": {k: round(v / 1024, 1) for k, v in peak.items()},
        "cpu_us_per_row": {"task": round(main_cpu / rows * 1e6, 1), "normalizers": round(workers_cpu / rows * 1e6, 1)},
        "cpu_bound_rows_per_s": round(idle_estimate) if idle_estimate else None,
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "workers": int(os.environ.get("IMPORT_WORKERS_USED", "0") or 0),
    }
    print("RESULT " + json.dumps(result))


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(q * (len(values) - 1))))
    return values[k]


def child_pages(requests_per_page: int) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from contacts.models import Contact, Group

    user = get_user_model().objects.filter(username="bench").first() or get_user_model().objects.create_user(
        "bench", password="bench-password-123", is_superuser=True
    )
    client = Client()
    client.force_login(user)
    extra = {}
    group = Group.objects.order_by("-member_count").first()
    if group is None or group.member_count < 1000:
        # A big group for the group page: half of the contacts, added the way the bulk action adds them.
        from contacts import services

        group = services.group_create(name="Bench: every other contact", actor=user)
        t0 = time.perf_counter()
        added = services.group_add_contacts(
            group=group, contacts=Contact.objects.filter(id__in=_every_other()), actor=user
        )
        extra["bulk_add_to_group"] = {"contacts": added, "seconds": round(time.perf_counter() - t0, 2)}
        group.refresh_from_db()
    sample = Contact.objects.order_by("-id").values_list("phone", "last_name").first()
    pages = {
        "contacts list": reverse("contacts:list"),
        "contacts list, page 20": reverse("contacts:list") + "?page=20",
        "contacts, status filter": reverse("contacts:list") + "?status=active",
        "search: name": reverse("contacts:list") + "?q=johanna",
        "search: rare name (no match)": reverse("contacts:list") + "?q=nosuchname",
        "search: two words + status": reverse("contacts:list") + "?q=anna+lund&status=active",
        "search: phone number": reverse("contacts:list") + f"?q={sample[0]}",
        "search: phone digits": reverse("contacts:list") + "?q=0701234",
        "groups page": reverse("contacts:groups"),
    }
    if group is not None:
        pages["group members"] = reverse("contacts:group", args=[group.pk])
        pages["contacts, group filter + search"] = reverse("contacts:list") + f"?group={group.pk}&q=berg"
    results = {}
    for label, url in pages.items():
        for _ in range(3):  # warm caches
            client.get(url)
        times = []
        for _ in range(requests_per_page):
            t0 = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
        results[label] = {"url": url, "p50_ms": round(_p(times, 0.5), 1), "p95_ms": round(_p(times, 0.95), 1)}
    print(
        "RESULT "
        + json.dumps({"vendor": connection.vendor, "contacts": Contact.objects.count(), "pages": results, **extra})
    )


def _every_other():
    from django.db.models import F

    from contacts.models import Contact

    return Contact.objects.annotate(half=F("id") % 2).filter(half=0).values("id")


# --- orchestration -----------------------------------------------------------------------------------------


def run_child(args: list[str], env: dict) -> dict:
    proc = subprocess.run([PY, __file__, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
    raise SystemExit(f"child {args[0]} failed ({proc.returncode})")


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            PY,
            "-m",
            "celery",
            "-A",
            "smsportal",
            "worker",
            "-c",
            "1",
            "-P",
            "prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        env=env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pg_admin(url: str, sql: str) -> None:
    import psycopg

    base = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql)


def bench_database(kind: str, csv_path: Path, rows: int, workdir: Path, args, broker: str) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "PYTHONPATH": str(ROOT)}
    dbdir = workdir / kind
    dbdir.mkdir(exist_ok=True)
    env["MEDIA_ROOT"] = str(dbdir / "media")
    env["CELERY_BROKER_URL"] = broker
    if kind == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{dbdir / 'bench.sqlite3'}"
        if not args.pages_only:
            for f in dbdir.glob("bench.sqlite3*"):
                f.unlink()
    else:
        env["DATABASE_URL"] = args.pg_url
        dbname = args.pg_url.rsplit("/", 1)[1]
        if not args.pages_only:
            pg_admin(args.pg_url, f'DROP DATABASE IF EXISTS "{dbname}"')
            pg_admin(args.pg_url, f'CREATE DATABASE "{dbname}"')
    if args.workers is not None:
        env["IMPORT_WORKERS"] = str(args.workers)
    out: dict = {"database": kind}
    if not args.pages_only:
        subprocess.run([PY, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
        worker = start_worker(env, dbdir / "worker.log")
        try:
            time.sleep(3)
            out["import"] = run_child(["--child-import", str(csv_path), str(worker.pid), str(int(args.group))], env)
            print(f"[{kind}] import: {json.dumps(out['import'])}", flush=True)
            if args.reimport:
                out["reimport"] = run_child(["--child-import", str(csv_path), str(worker.pid), "0"], env)
                print(f"[{kind}] re-import: {json.dumps(out['reimport'])}", flush=True)
        finally:
            stop(worker)
    if not args.no_pages:
        out["pages"] = run_child(["--child-pages", str(args.requests)], env)
        print(f"[{kind}] pages: {json.dumps(out['pages'])}", flush=True)
    return out


def markdown(results: list[dict], stats: dict, info: dict) -> str:
    lines = [
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['ram_gb']} GB RAM, Python {info['python']}.",
        f"File: {stats['rows']:,} rows, {stats['bytes'] / 1e6:.0f} MB; {stats['invalid']:,} invalid, "
        f"{stats['repeats']:,} repeats of an earlier number in another format, two custom fields.",
        "",
        "| database | run | rows/s (task) | rows/s (queue → done) | task s | peak RSS task / normalizer MB "
        "| created / updated / unchanged / dup / invalid | add up |",
        "| --- | --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in results:
        for key, label in (("import", "empty database"), ("reimport", "same file again")):
            if key not in r:
                continue
            i = r[key]
            c = i["counts"]
            lines.append(
                f"| {r['database']} | {label} | {i['rows_per_s']:,} | {i['wall_rows_per_s']:,} | {i['task_seconds']} "
                f"| {i['peak_rss_mb']['task']} / {i['peak_rss_mb']['normalizers']} "
                f"| {c['created']:,} / {c['updated']:,} / {c['unchanged']:,} / {c['duplicates']:,} / "
                f"{c['invalid']:,} | {'yes' if i['counts_add_up'] else 'NO'} |"
            )
    pages = [r for r in results if "pages" in r]
    if pages:
        lines += [
            "",
            "| page ("
            + ", ".join(f"{r['database']}: {r['pages']['contacts']:,} contacts" for r in pages)
            + ") | "
            + " | ".join(f"{r['database']} p50 / p95 ms" for r in pages)
            + " |",
            "| --- |" + " ---: |" * len(pages),
        ]
        for label in pages[0]["pages"]["pages"]:
            cells = []
            for r in pages:
                p = r["pages"]["pages"].get(label)
                cells.append(f"{p['p50_ms']} / {p['p95_ms']}" if p else "–")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-import":
        child_import(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1")
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child-pages":
        child_pages(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/smsportal_bench_contacts"),
    )
    parser.add_argument("--broker", default="", help="a broker URL (default: a private redis-server)")
    parser.add_argument("--workers", type=int, default=None, help="IMPORT_WORKERS (default: the setting)")
    parser.add_argument("--group", action="store_true", help="import into a target group as well")
    parser.add_argument("--reimport", action="store_true", help="import the same file a second time (updates)")
    parser.add_argument("--requests", type=int, default=50, help="requests per page for the page timings")
    parser.add_argument("--no-pages", action="store_true")
    parser.add_argument("--pages-only", action="store_true", help="time pages on a kept database (--workdir)")
    parser.add_argument("--workdir", default="", help="folder for the CSV and the SQLite database")
    parser.add_argument("--keep", action="store_true", help="keep the folder (and the PostgreSQL database)")
    args = parser.parse_args()

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="contacts-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    csv_path = workdir / f"contacts_{args.rows}.csv"
    stats_path = workdir / f"contacts_{args.rows}.json"
    if csv_path.exists() and stats_path.exists():
        stats = json.loads(stats_path.read_text())
    else:
        t0 = time.perf_counter()
        stats = generate(csv_path, args.rows)
        stats_path.write_text(json.dumps(stats))
        print(f"generated {csv_path.name}: {stats} in {time.perf_counter() - t0:.1f}s", flush=True)
    broker_proc = None
    broker = args.broker
    if not broker:
        broker_proc, broker = start_redis(workdir)
    results = []
    try:
        for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
            results.append(bench_database(kind, csv_path, args.rows, workdir, args, broker))
    finally:
        if broker_proc is not None:
            stop(broker_proc)
        if not args.keep:
            if args.db in {"postgres", "both"} and not args.pages_only:
                try:
                    pg_admin(args.pg_url, f'DROP DATABASE IF EXISTS "{args.pg_url.rsplit("/", 1)[1]}"')
                except Exception as exc:  # cleanup must not hide the results
                    print(f"could not drop the scratch database: {exc}")
            shutil.rmtree(workdir, ignore_errors=True)
    info = machine()
    print(json.dumps({"machine": info, "file": stats, "results": results}, indent=2))
    print()
    print(markdown(results, stats, info))


if __name__ == "__main__":
    main()
