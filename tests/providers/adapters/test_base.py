"""The BaseAdapter template: validation, batching, one result per message, error contract of send()."""

from datetime import timedelta

import pytest
from django.utils import timezone

from providers.adapters.base import BaseAdapter, Feature, Limits
from providers.adapters.exceptions import (
    ProviderAuthError,
    ProviderNotSupported,
    ProviderResponseError,
    ProviderThrottled,
    ProviderTimeout,
)
from providers.adapters.types import AccountConfig, MessageStatus, OutboundSMS, SendResult

CONFIG = AccountConfig(id=None, uuid="u", name="t", base_url="", credentials={"key": "k"})


class Recorder(BaseAdapter):
    code = "recorder"
    name = "Recorder"
    features = frozenset({Feature.SEND, Feature.BATCH_SAME_TEXT, Feature.SCHEDULED})
    max_batch_size = 3
    limits = Limits(sender_max_length=11, text_max_chars=320, schedule_min_ahead_seconds=3600)
    status_map = {"OK": MessageStatus.DELIVERED, "Sent": MessageStatus.SENT}

    def __init__(self, *a, raise_for=None, **kw):
        super().__init__(*a, **kw)
        self.calls = []
        self.raise_for = raise_for or {}

    def send_batch(self, batch):
        self.calls.append([m.client_ref for m in batch])
        exc = self.raise_for.get(len(self.calls))
        if exc:
            raise exc
        return [SendResult(m.client_ref, MessageStatus.QUEUED, external_id="x" + m.client_ref) for m in batch]


def msg(ref, text="hi", sender="Shop", **kw):
    return OutboundSMS(to="+46701234567", text=text, sender=sender, client_ref=ref, **kw)


def test_same_text_batches_split_at_max_and_results_keep_order():
    a = Recorder(CONFIG)
    messages = [msg(str(i)) for i in range(7)] + [msg("other", text="different")]
    results = a.send(messages)
    assert [r.client_ref for r in results] == [m.client_ref for m in messages]
    assert a.calls == [["0", "1", "2"], ["3", "4", "5"], ["6"], ["other"]]


def test_limits_reject_without_a_call():
    a = Recorder(CONFIG)
    results = a.send([msg("a", sender="ThisSenderIsTooLong"), msg("b", text=" "), msg("c", text="x" * 321)])
    assert [r.status for r in results] == [MessageStatus.REJECTED] * 3
    assert "at most 11" in results[0].error_message
    assert a.calls == []


def test_numeric_sender_has_its_own_limit():
    a = Recorder(CONFIG)
    assert a.send([msg("a", sender="+46701234567")])[0].status == MessageStatus.QUEUED


def test_schedule_window_enforced():
    a = Recorder(CONFIG)
    r = a.send([msg("a", send_at=timezone.now() + timedelta(minutes=5))])[0]
    assert r.status == MessageStatus.REJECTED and "1 hour" in r.error_message


def test_ambiguous_timeout_gives_unknown_for_that_batch_only():
    a = Recorder(CONFIG, raise_for={1: ProviderTimeout(ambiguous=True)})
    results = a.send([msg(str(i)) for i in range(4)])
    assert [r.status for r in results] == [MessageStatus.UNKNOWN] * 3 + [MessageStatus.QUEUED]
    assert a.calls == [["0", "1", "2"], ["3"]]  # never resent


@pytest.mark.parametrize("exc", [ProviderThrottled(retry_after=3), ProviderAuthError("bad key"), ProviderTimeout()])
def test_retryable_and_auth_errors_raise_for_the_whole_call(exc):
    a = Recorder(CONFIG, raise_for={1: exc})
    with pytest.raises(type(exc)):
        a.send([msg("a")])


def test_non_retryable_rejection_becomes_results_with_the_providers_words():
    a = Recorder(CONFIG, raise_for={1: ProviderResponseError(code="21", provider_message="Invalid number")})
    r = a.send([msg("a")])[0]
    assert r.status == MessageStatus.REJECTED and r.error_code == "21" and r.error_message == "Invalid number"


def test_status_map_is_case_tolerant_and_unknown_is_unknown():
    a = Recorder(CONFIG)
    assert a.map_status("ok") == MessageStatus.DELIVERED
    assert a.map_status(" Sent ") == MessageStatus.SENT
    assert a.map_status("WHAT") == MessageStatus.UNKNOWN
    assert a.map_status(None) == MessageStatus.UNKNOWN


def test_unsupported_operations_say_so():
    a = Recorder(CONFIG)
    with pytest.raises(ProviderNotSupported):
        a.fetch_statuses(["1"])
    with pytest.raises(ProviderNotSupported):
        a.fetch_replies()
    with pytest.raises(ProviderNotSupported):
        a.pull_contacts()
