"""Shared plumbing of the campaign benchmarks: scratch databases and brokers, worker processes, fast seeding of
contacts, RSS sampling, percentiles. Not a benchmark itself."""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SETTINGS = "benchmarks.handover_settings"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"


# ---------------------------------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def pg_admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def scratch_env(kind: str, workdir: Path, *, pg_url: str, broker: str, name: str) -> dict:
    """Environment for a child process on a fresh database (SQLite file or a new PostgreSQL database)."""
    env = dict(os.environ)
    env.update(DJANGO_SETTINGS_MODULE=SETTINGS, PYTHONPATH=str(ROOT), MEDIA_ROOT=str(workdir / "media"))
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    if kind == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{workdir / (name + '.sqlite3')}"
    else:
        base = pg_url.rsplit("/", 1)[0]
        pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}"')
        pg_admin(pg_url, f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"{base}/{name}"
    if broker == "filesystem":
        env["CELERY_BROKER_URL"] = "filesystem://"
        env["HANDOVER_BROKER_DIR"] = str(workdir / f"broker-{name}")
    else:
        env["CELERY_BROKER_URL"] = broker
    return env


def migrate(env: dict) -> None:
    subprocess.run([PY, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)


def drop_pg(pg_url: str, name: str) -> None:
    try:
        pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as exc:
        print(f"could not drop {name}: {exc}", file=sys.stderr)


def start_worker(env: dict, log: Path, *, concurrency: int = 2) -> subprocess.Popen:
    return subprocess.Popen(
        [
            PY,
            "-m",
            "celery",
            "-A",
            "smsportal",
            "worker",
            "-c",
            str(concurrency),
            "-P",
            "prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
            "-O",
            "fair",
        ],
        env=env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_child(script: Path, args: list[str], env: dict) -> dict:
    """Run ``script --child …`` with ``env``; its last stdout line is a JSON result."""
    proc = subprocess.run([PY, str(script), *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"child {args} failed ({proc.returncode})")
    sys.stderr.write(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------- memory
def descendants(pid: int) -> list[int]:
    out = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for c in children:
        out.append(int(c))
        out.extend(descendants(int(c)))
    return out


def proc_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Peak RSS (MB) of a process and of each of its descendants, sampled twice a second."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_main = 0
        self.peak_child = 0
        self.peak_anon = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.5):
            self.peak_main = max(self.peak_main, proc_kb(self.pid, "VmRSS"))
            for c in descendants(self.pid):
                self.peak_child = max(self.peak_child, proc_kb(c, "VmRSS"), proc_kb(c, "VmHWM"))
                # Anonymous memory only: RSS also counts the SQLite file pages the process maps (mmap_size).
                self.peak_anon = max(self.peak_anon, proc_kb(c, "RssAnon"))

    def stop(self) -> dict:
        self._halt.set()
        self.join(2)
        return {
            "worker_main_mb": round(self.peak_main / 1024),
            "worker_process_peak_mb": round(self.peak_child / 1024),
            "worker_process_anon_peak_mb": round(self.peak_anon / 1024),
        }


# ---------------------------------------------------------------------------------------------------- data
FIRST = ["Anna", "Bo", "Carl", "Dana", "Erik", "Fatima", "Göran", "Hanna", "Ivan", "Johanna", "Åsa", "Zoë", ""]
LAST = ["Andersson", "Berg", "Carlsson", "Dahl", "Ek", "Fors", "Gustafsson", "Holm", "Öberg"]
CITIES = ["Stockholm", "Göteborg", "Malmö", "Uppsala", "Lund", "Umeå", ""]


def _fast_insert(model, rows: list[dict], batch: int = 10_000) -> None:
    """INSERT rows of ``model`` with one executemany per batch; defaults filled the ORM's way."""
    from django.db import connection
    from django.utils import timezone

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({cols}) VALUES ({marks})"
    prepared = []
    for row in rows:
        values = []
        for f in fields:
            if f.attname in row:
                v = row[f.attname]
            elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                v = now
            else:
                v = f.get_default()
            values.append(f.get_db_prep_save(v, connection))
        prepared.append(values)
    with connection.cursor() as cur:
        for i in range(0, len(prepared), batch):
            cur.executemany(sql, prepared[i : i + batch])


def seed_contacts(
    n: int,
    *,
    opted_out: float = 0.04,
    blocked: float = 0.01,
    blocklisted: float = 0.01,
    seed: int = 42,
    subsets: tuple[int, ...] = (),
) -> dict:
    """``n`` contacts (unique +4670… numbers, names, a city field) in one group; a few opted out, blocked or
    on the blocklist. ``subsets``: also a group of the first k contacts for each k. Returns the group ids and
    counts. One transaction per 100k rows."""
    from django.db import transaction

    from contacts.models import BlocklistEntry, Contact, ContactField, Group, GroupMembership

    rnd = random.Random(seed)
    ContactField.objects.get_or_create(key="city", defaults={"label": "City"})
    group = Group.objects.create(name=f"Benchmark audience {n:,}")
    subset_groups = {k: Group.objects.create(name=f"Benchmark first {k:,}") for k in subsets if k < n}
    counts = {"contacts": n, "opted_out": 0, "blocked": 0, "blocklisted": 0}
    step = 100_000
    for start in range(0, n, step):
        rows, block_rows = [], []
        for i in range(start, min(n, start + step)):
            r = rnd.random()
            status = "active"
            if r < opted_out:
                status = "opted_out"
                counts["opted_out"] += 1
            elif r < opted_out + blocked:
                status = "blocked"
                counts["blocked"] += 1
            phone = f"+4670{i:07d}" if i < 10_000_000 else f"+4672{i - 10_000_000:07d}"
            if rnd.random() < blocklisted:
                block_rows.append({"phone": phone, "reason": "manual"})
                counts["blocklisted"] += 1
            rows.append(
                {
                    "phone": phone,
                    "first_name": rnd.choice(FIRST),
                    "last_name": rnd.choice(LAST),
                    "attributes": {"city": rnd.choice(CITIES)} if rnd.random() < 0.8 else {},
                    "status": status,
                    "country": "SE",
                }
            )
        with transaction.atomic():
            _fast_insert(Contact, rows)
            if block_rows:
                _fast_insert(BlocklistEntry, block_rows)
            ids = Contact.objects.filter(phone__gte=rows[0]["phone"], phone__lte=rows[-1]["phone"]).values_list(
                "pk", flat=True
            )
            _fast_insert(GroupMembership, [{"group_id": group.pk, "contact_id": cid} for cid in ids])
            for k, sub in subset_groups.items():
                if start < k:
                    last = rows[min(k - start, len(rows)) - 1]["phone"]
                    sub_ids = Contact.objects.filter(phone__gte=rows[0]["phone"], phone__lte=last).values_list(
                        "pk", flat=True
                    )
                    _fast_insert(GroupMembership, [{"group_id": sub.pk, "contact_id": cid} for cid in sub_ids])
    Group.objects.filter(pk=group.pk).update(member_count=n)
    for k, sub in subset_groups.items():
        Group.objects.filter(pk=sub.pk).update(member_count=k)
    counts["group_id"] = group.pk
    counts["groups"] = {n: group.pk, **{k: g.pk for k, g in subset_groups.items()}}
    return counts


# ---------------------------------------------------------------------------------------------------- reporting
def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def machine() -> dict:
    import sqlite3

    info = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }
    try:
        info["postgres"] = subprocess.run(["postgres", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    try:
        info["redis"] = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    except (OSError, IndexError):
        pass
    return info


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
