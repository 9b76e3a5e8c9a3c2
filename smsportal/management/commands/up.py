"""``manage.py up``: the whole product on one machine, with nothing else installed.

Migrates, collects static files, creates a first Operator (prints its login once) and the sandbox provider
account, optionally loads demo data, then runs web + Celery worker + Celery beat together on the configured
database and broker (SQLite and the filesystem broker by default). Ctrl-C stops all three, children included.
Safe to run again.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from smsportal import roles


class Command(BaseCommand):
    help = "Migrate, create the first operator and sandbox account, then run web + worker + beat (Ctrl-C stops all)."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="Load demo contacts, groups and campaigns.")
        parser.add_argument("--host", default=os.environ.get("SMSPORTAL_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("SMSPORTAL_PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes.")
        parser.add_argument("--setup-only", action="store_true", help="Prepare everything, start nothing.")

    def handle(self, *args, **opts):
        self.stdout.write("smsportal: migrating the database…")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("smsportal: collecting static files…")
        call_command("collectstatic", interactive=False, verbosity=0)
        self.ensure_operator()
        self.ensure_sandbox_account()
        if opts["demo"]:
            call_command("seed_demo", stdout=self.stdout)
        if opts["setup_only"]:
            self.stdout.write(self.style.SUCCESS("smsportal: setup done."))
            return
        self.run_processes(opts)

    # ------------------------------------------------------------------ setup
    def ensure_operator(self) -> None:
        User = get_user_model()
        operators = Group.objects.get(name=roles.OPERATOR)
        if User.objects.filter(is_superuser=True).exists() or operators.user_set.exists():
            return
        username = os.environ.get("SMSPORTAL_ADMIN_USER", "admin")
        password = os.environ.get("SMSPORTAL_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user = User.objects.create_user(username=username, password=password, is_staff=True, is_superuser=True)
        user.groups.add(operators)
        banner = "=" * 64
        self.stdout.write(
            self.style.WARNING(
                f"\n{banner}\n  First operator account created (shown only this once):\n"
                f"    user:     {username}\n    password: {password}\n"
                f"  Change it after logging in (user menu → Change password).\n{banner}\n"
            )
        )

    def ensure_sandbox_account(self) -> None:
        from providers.models import ProviderAccount

        if ProviderAccount.objects.filter(provider="sandbox").exists():
            return
        from smsportal.models import WorkspaceSettings

        ws = WorkspaceSettings.load()
        ProviderAccount.objects.create(
            name="Sandbox",
            provider="sandbox",
            is_sandbox=True,
            default_sender=ws.default_sender or "smsportal",
            allowed_senders=[ws.default_sender or "smsportal"],
            messages_per_second=50,
            options={"failure_rate": "0.05", "sent_after": "1", "delivered_after": "3"},
        )
        self.stdout.write("smsportal: created the Sandbox provider account (no network, for trying things out).")

    # ------------------------------------------------------------------ processes
    def run_processes(self, opts) -> None:
        py = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        addr = f"{opts['host']}:{opts['port']}"
        env = dict(os.environ, PYTHONUNBUFFERED="1", SMSPORTAL_NO_BOOTSTRAP="1")
        commands = {
            "web": [py, manage, "runserver", addr, "--noreload", "--skip-checks"],
            "worker": [
                py,
                "-m",
                "celery",
                "-A",
                "smsportal",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={opts['concurrency']}",
                "--without-gossip",
                "--without-mingle",
                "-n",
                "worker@%h",
            ],
            "beat": [
                py,
                "-m",
                "celery",
                "-A",
                "smsportal",
                "beat",
                "--loglevel=INFO",
                f"--schedule={settings.CELERY_BEAT_SCHEDULE_FILENAME}",
            ],
        }
        procs: dict[str, subprocess.Popen] = {}
        stopping = threading.Event()

        def pump(name: str, proc: subprocess.Popen) -> None:
            assert proc.stdout is not None
            for line in iter(proc.stdout.readline, b""):
                sys.stdout.write(f"[{name:6}] {line.decode('utf-8', 'replace')}")
                sys.stdout.flush()

        def stop_all(*_):
            if stopping.is_set():
                return
            stopping.set()
            self.stdout.write("\nsmsportal: stopping web, worker and beat…")
            for proc in procs.values():
                if proc.poll() is None:
                    try:
                        os.kill(proc.pid, signal.SIGTERM)  # the main process stops its own children
                    except ProcessLookupError:
                        pass
            deadline = time.monotonic() + 10
            for proc in procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            for proc in procs.values():
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # whatever is left in the group (prefork children)
                except ProcessLookupError:
                    pass
                proc.wait()

        signal.signal(signal.SIGINT, stop_all)
        signal.signal(signal.SIGTERM, stop_all)
        try:
            for name, cmd in commands.items():
                proc = subprocess.Popen(
                    cmd,
                    env=env,
                    cwd=settings.BASE_DIR,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # own process group: we stop it, children included
                )
                procs[name] = proc
                threading.Thread(target=pump, args=(name, proc), daemon=True).start()
            url = f"http://{'127.0.0.1' if opts['host'] in ('0.0.0.0', '::') else opts['host']}:{opts['port']}/"
            if self.wait_healthy(url + "healthz", procs):
                self.stdout.write(
                    self.style.SUCCESS(f"\nsmsportal is running: open {url}\n(Ctrl-C stops web, worker and beat)\n")
                )
            while not stopping.is_set():
                for name, proc in procs.items():
                    if proc.poll() is not None and not stopping.is_set():
                        self.stderr.write(f"smsportal: {name} exited with code {proc.returncode}; stopping the rest.")
                        stop_all()
                        raise CommandError(f"{name} stopped unexpectedly")
                time.sleep(0.3)
        finally:
            stop_all()

    def wait_healthy(self, url: str, procs) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs.values()):
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our own local server
                    if resp.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.3)
        self.stderr.write(f"smsportal: {url} did not answer within 60 s")
        return False
