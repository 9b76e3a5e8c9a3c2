"""``manage.py up`` end to end: fresh var dir → login page at the printed URL → Ctrl-C leaves no process."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every live process whose ancestry includes ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        children = {p for p, pp in parents.items() if pp in frontier} - found
        found |= children
        frontier = children
    return found


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs /proc to find child processes")
def test_up_serves_the_login_page_and_ctrl_c_stops_everything(tmp_path):
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        {
            "SMSPORTAL_VAR_DIR": str(tmp_path / "var"),
            "SMSPORTAL_ENV_FILE": "none",
            "DJANGO_DEBUG": "true",
            "SMSPORTAL_NO_BOOTSTRAP": "1",
            "SMSPORTAL_ADMIN_PASSWORD": "first-operator-pass",
            "PYTHONUNBUFFERED": "1",
        }
    )
    log = (tmp_path / "up.log").open("w+b")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "up", "--port", str(port), "--concurrency", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and url is None:
            text = (tmp_path / "up.log").read_text(errors="replace")
            m = re.search(r"open (http://\S+)", text)
            url = m.group(1) if m else None
            assert proc.poll() is None, text
            time.sleep(0.3)
        assert url == f"http://127.0.0.1:{port}/", text
        assert "user:     admin" in text and "first-operator-pass" in text
        with urllib.request.urlopen(url, timeout=10) as resp:  # redirects to the login page
            assert resp.status == 200 and "/login" in resp.url
        kids = descendants(proc.pid)
        assert len(kids) >= 3  # web, worker (+ its pool), beat
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=40)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(Path(f"/proc/{k}").exists() for k in kids):
            time.sleep(0.2)
        alive = [k for k in kids if Path(f"/proc/{k}").exists() and "Z" not in Path(f"/proc/{k}/stat").read_text()]
        assert alive == [], f"processes left behind: {alive}"
        # running it again is safe: setup steps are idempotent, no second operator is created
        again = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "up", "--setup-only"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert "password" not in again.stdout
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
