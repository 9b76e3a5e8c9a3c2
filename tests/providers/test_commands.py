"""manage.py fake_provider (a real server process the UI can talk to) and manage.py provider_matrix."""

import os
import re
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.management import CommandError, call_command

from providers.adapters.base import Feature
from providers.adapters.registry import registry
from providers.fakes.base import FakeProvider
from providers.management.commands.fake_provider import fake_account_settings, fake_class, fake_codes, start_fake
from providers.management.commands.provider_matrix import matrix

ROOT = Path(settings.BASE_DIR)


def test_provider_matrix_lists_every_adapter_from_its_features():
    out = StringIO()
    call_command("provider_matrix", stdout=out)
    text = out.getvalue()
    assert text.strip() == matrix()
    lines = text.strip().splitlines()
    assert lines[0].startswith("| provider | send | bulk |")
    assert len(lines) == 2 + len(registry())
    row = next(line for line in lines if "(`mobizon`)" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    mobizon = dict(zip(header, cells, strict=True))
    cls = registry()["mobizon"]
    assert mobizon["delivery callbacks"] == ("yes" if Feature.DELIVERY_WEBHOOK in cls.features else "–")
    assert mobizon["contacts sync"] == ("yes" if Feature.CONTACTS_SYNC in cls.features else "–")


@pytest.mark.parametrize("code", fake_codes())
def test_each_fake_module_has_exactly_one_fake_class(code):
    cls = fake_class(code)
    assert issubclass(cls, FakeProvider) and cls.__module__ == f"providers.fakes.{code}"


def test_sandbox_has_no_fake():
    with pytest.raises(CommandError, match="sandbox needs no server"):
        fake_class("sandbox")


def test_unknown_setting_is_refused():
    with pytest.raises(CommandError, match="has no setting 'nosuch'"):
        call_command("fake_provider", "jojka", "--set", "nosuch=1")


@pytest.mark.parametrize("code", fake_codes())
def test_account_settings_reach_the_fake(code):
    """The printed settings are enough for an adapter to pass the connection test against the fake."""
    fake = start_fake(code)
    try:
        acct = fake_account_settings(code, fake)
        assert acct["base_url"].startswith("http://127.0.0.1:")
        from providers.adapters.types import AccountConfig

        adapter = registry()[code](AccountConfig(id=None, uuid="u", name="n", **acct))
        assert adapter.check().ok
    finally:
        fake.stop()


def test_fake_provider_command_serves_until_interrupted():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "smsportal.settings.test"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "fake_provider", "jojka", "--latency", "1", "--set", "api_key=cli-key-123"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines, url = [], None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"listening at (http://127\.0\.0\.1:\d+\S*)", line)
            url = m.group(1) if m else None
        assert url, "".join(lines)
        for _ in range(3):
            line = proc.stdout.readline()
            lines.append(line)
            if "API key" in line:
                break
        assert "API key: cli-key-123" in "".join(lines)
        r = requests.post(f"{url}/send", data={"API_key": "cli-key-123", "to": "46701234567", "msg": "hi"}, timeout=5)
        assert r.status_code == 200 and "message_id" in r.json()
        assert (
            requests.post(f"{url}/send", data={"API_key": "wrong", "to": "4670", "msg": "x"}, timeout=5).status_code
            == 401
        )
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "Stopped." in out


def test_docs_carry_the_current_matrix():
    assert matrix() in (ROOT / "docs" / "providers.md").read_text(encoding="utf-8")
