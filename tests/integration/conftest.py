"""Integration harness: PostgreSQL + Redis + real Celery worker processes.

Runs only when the test database is PostgreSQL (``DATABASE_URL=postgres://…``) and Redis answers at
``TEST_BROKER_URL`` (``manage.py test`` arranges both when the servers are there). Elsewhere these tests are
skipped with a message saying why; with ``SMSPORTAL_REQUIRE_INTEGRATION=1`` (CI) their absence fails instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("TEST_BROKER_URL", "redis://127.0.0.1:6379/15")


def _why_unavailable() -> str | None:
    if connection.vendor != "postgresql":
        return "integration tests need PostgreSQL: run with DATABASE_URL=postgres://… (manage.py test does this)"
    parts = urlsplit(BROKER)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=2):
            pass
    except OSError:
        return f"integration tests need Redis at {parts.netloc} (TEST_BROKER_URL)"
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/integration/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _require_integration_servers():
    why = _why_unavailable()
    if why:
        if os.environ.get("SMSPORTAL_REQUIRE_INTEGRATION") == "1":
            pytest.fail(f"SMSPORTAL_REQUIRE_INTEGRATION=1 but {why}")
        pytest.skip(why)


def _database_url() -> str:
    s = connection.settings_dict
    auth = quote(s.get("USER") or "postgres")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def _flush_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER).flushdb()


class WorkerProcess:
    def __init__(self, proc: subprocess.Popen, log_path: Path):
        self.proc = proc
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the worker and every child it has (a crash, not a shutdown)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill()


@pytest.fixture
def celery_app_on_broker(transactional_db, settings):
    """Point this test process's Celery app at the real broker (not eager) for the test's duration."""
    from smsportal.celery import app

    _flush_broker()
    if not str(app.conf.broker_url).startswith("redis"):
        pytest.fail("the test settings must use TEST_BROKER_URL as the broker for integration tests")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    yield app
    app.conf.task_always_eager = True
    _flush_broker()


@pytest.fixture
def start_worker(celery_app_on_broker, tmp_path):
    """Start real ``celery worker`` processes on the test database and broker; stopped at teardown."""
    workers: list[WorkerProcess] = []

    def start(
        name: str = "w1", concurrency: int = 2, extra_env: dict | None = None, beat: bool = False
    ) -> WorkerProcess:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "smsportal.settings.base",
                "DJANGO_DEBUG": "true",
                "SECRET_KEY": os.environ.get("SECRET_KEY", "integration-secret-key-0123456789abcdefghij"),
                "DATABASE_URL": _database_url(),
                "CELERY_BROKER_URL": BROKER,
                "SMSPORTAL_NO_BOOTSTRAP": "1",
                "SMSPORTAL_ENV_FILE": "none",
                "CELERY_VISIBILITY_TIMEOUT": "20",
                "CAMPAIGN_LANE_LEASE_SECONDS": "30",
                "CAMPAIGN_RECONCILE_DELAY": "5",
                "PYTHONUNBUFFERED": "1",
            }
        )
        from django.conf import settings as dj

        env["CREDENTIALS_KEY"] = ",".join(dj.CREDENTIALS_KEYS)  # the worker must decrypt what tests saved
        env.update(extra_env or {})
        log_path = tmp_path / f"worker-{name}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "smsportal",
                "worker",
                "--loglevel=INFO",
                "-n",
                f"{name}@%h",
                f"--concurrency={concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *(["-B", f"--schedule={tmp_path / f'beat-{name}'}"] if beat else []),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = WorkerProcess(proc, log_path)
        workers.append(worker)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "ready." in worker.log():
                return worker
            if proc.poll() is not None:
                pytest.fail(f"celery worker exited early:\n{worker.log()[-3000:]}")
            time.sleep(0.2)
        pytest.fail(f"celery worker not ready within 30 s:\n{worker.log()[-3000:]}")

    yield start
    for w in workers:
        w.stop()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
