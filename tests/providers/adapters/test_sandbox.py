import time

import pytest

from providers.adapters.sandbox import SandboxAdapter
from providers.adapters.types import AccountConfig, MessageStatus, OutboundSMS


def adapter(**options):
    return SandboxAdapter(AccountConfig(id=None, uuid="u", name="s", base_url="", credentials={}, options=options))


def test_accepts_and_reports_progress(monkeypatch):
    a = adapter(sent_after="1", delivered_after="3", failure_rate="0")
    r = a.send([OutboundSMS(to="+46701234567", text="hello", sender="Shop", client_ref="0" * 32)])[0]
    assert r.status == MessageStatus.QUEUED and r.external_id.startswith("sbx-") and r.segments == 1
    now = time.time()
    for offset, expected in [(0, MessageStatus.QUEUED), (2, MessageStatus.SENT), (5, MessageStatus.DELIVERED)]:
        monkeypatch.setattr(time, "time", lambda o=offset: now + o)
        assert a.fetch_statuses([r.external_id])[0].status == expected


def test_failure_share_is_deterministic():
    a = adapter(sent_after="0", delivered_after="0", failure_rate="1")
    r = a.send([OutboundSMS(to="+46701234567", text="x", sender="", client_ref="1" * 32)])[0]
    first = a.fetch_statuses([r.external_id])[0]
    assert first.status == MessageStatus.UNDELIVERED and first.error_code
    assert a.fetch_statuses([r.external_id])[0].status == first.status


@pytest.mark.parametrize("number", ["+46700000000", "+4670120000"])
def test_numbers_ending_0000_are_rejected(number):
    r = adapter().send([OutboundSMS(to=number, text="x", sender="", client_ref="2" * 32)])[0]
    assert r.status == MessageStatus.REJECTED and "0000" in r.error_message


def test_check_is_ok():
    assert adapter().check().ok
