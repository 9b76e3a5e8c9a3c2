"""``manage.py test``: the whole test suite, with pytest (arguments are passed to pytest).

Without arguments it runs, in order:
1. the suite on SQLite (the embedded default), browser journeys included (skipped with a message when
   Chromium is missing, unless SMSPORTAL_REQUIRE_BROWSER=1);
2. the suite again on PostgreSQL + Redis, integration tests (real Celery worker processes) included, when
   those servers answer (``TEST_DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/smsportal, and
   ``TEST_BROKER_URL``, default redis://127.0.0.1:6379/15); skipped with a message where absent, unless
   SMSPORTAL_REQUIRE_INTEGRATION=1 (CI sets it) makes their absence a failure.
pytest's exit code 5 (no tests collected) is a failure, never a silent pass.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/smsportal"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


class Command(BaseCommand):
    help = "Run the whole test suite (SQLite, then PostgreSQL + Redis with integration tests). Args go to pytest."

    def run_from_argv(self, argv):
        sys.exit(self.run(argv[2:]))

    def pytest(self, args: list[str], env: dict[str, str], label: str) -> int:
        print(f"\n===== smsportal test run: {label} =====", flush=True)
        code = subprocess.call([sys.executable, "-m", "pytest", *args], env=env)
        if code == 5:
            print(f"smsportal: {label}: pytest collected no tests — that is a failure.", flush=True)
            return 1
        return code

    def run(self, args: list[str]) -> int:
        base_env = dict(os.environ)
        base_env.pop("DATABASE_URL", None)
        base_env.pop("CELERY_BROKER_URL", None)
        base_env["DJANGO_SETTINGS_MODULE"] = "smsportal.settings.test"
        if args:  # explicit pytest arguments: one run, on whatever DATABASE_URL the caller set
            env = dict(os.environ, DJANGO_SETTINGS_MODULE="smsportal.settings.test")
            return self.pytest(args, env, "pytest " + " ".join(args))
        codes = [self.pytest(["-m", "not integration"], base_env, "SQLite + in-memory broker")]
        pg = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
        broker = os.environ.get("TEST_BROKER_URL", DEFAULT_REDIS)
        require = os.environ.get("SMSPORTAL_REQUIRE_INTEGRATION") == "1"
        if reachable(pg, 5432) and reachable(broker, 6379):
            env = dict(base_env, DATABASE_URL=pg, TEST_BROKER_URL=broker, SMSPORTAL_REQUIRE_INTEGRATION="1")
            codes.append(self.pytest(["-m", "not browser"], env, "PostgreSQL + Redis, integration tests included"))
        else:
            msg = (
                f"PostgreSQL ({urlsplit(pg).netloc}) or Redis ({urlsplit(broker).netloc}) is not reachable: "
                "the PostgreSQL suite and the integration tests were SKIPPED. Set TEST_DATABASE_URL / TEST_BROKER_URL."
            )
            print(f"\nsmsportal: {msg}", flush=True)
            if require:
                codes.append(1)
        failed = [c for c in codes if c != 0]
        print(f"\nsmsportal: {len(codes) - len(failed)} of {len(codes)} test runs passed.", flush=True)
        return failed[0] if failed else 0
