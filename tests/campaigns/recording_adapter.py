"""A scripted provider for pipeline tests: it records every message it *received* (so tests can prove nothing
is sent twice and nothing is lost), can be told to fail the next calls in any documented way, and answers
``reconcile`` from what it holds. Registered only in tests (fixture ``recording_account``)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

from providers.adapters.base import Feature
from providers.adapters.exceptions import ProviderTimeout
from providers.adapters.sandbox import SandboxAdapter
from providers.adapters.types import CancelResult, MessageStatus, OutboundSMS, SendResult


class Provider:
    """What the fake provider holds; shared by every adapter instance (reset per test)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received: Counter[str] = Counter()  # client_ref → times the provider accepted it
        self.to: dict[str, str] = {}
        self.calls: list[tuple[float, int]] = []  # (time, batch size) of every send call
        self.script: list = []  # next actions: an exception, "timeout_after_accept", "timeout_before_accept"
        self.on_call: Callable[[int], None] | None = None  # hook run before each call (call number)
        self.cancelled: list[str] = []

    def next_action(self):
        with self.lock:
            return self.script.pop(0) if self.script else None


PROVIDER = Provider()


class RecordingAdapter(SandboxAdapter):
    code = "recording"
    name = "Recording provider"
    features = SandboxAdapter.features | {Feature.RECONCILE}
    max_batch_size = 10

    def send_batch(self, batch: Sequence[OutboundSMS]) -> list[SendResult]:
        with PROVIDER.lock:
            PROVIDER.calls.append((time.time(), len(batch)))
            number = len(PROVIDER.calls)
        if PROVIDER.on_call is not None:
            PROVIDER.on_call(number)
        action = PROVIDER.next_action()
        if isinstance(action, Exception):
            raise action
        if action == "timeout_before_accept":
            raise ProviderTimeout("read timeout", ambiguous=True)
        with PROVIDER.lock:
            for m in batch:
                PROVIDER.received[m.client_ref] += 1
                PROVIDER.to[m.client_ref] = m.to
        if action == "timeout_after_accept":
            raise ProviderTimeout("read timeout", ambiguous=True)
        return [
            SendResult(
                m.client_ref,
                MessageStatus.QUEUED,
                external_id=f"rec-{m.client_ref}",
                segments=1,
                raw={"id": f"rec-{m.client_ref}"},
            )
            for m in batch
        ]

    def reconcile(self, messages: Sequence[OutboundSMS]) -> list[SendResult | None]:
        return [
            SendResult(m.client_ref, MessageStatus.QUEUED, external_id=f"rec-{m.client_ref}")
            if PROVIDER.received[m.client_ref]
            else None
            for m in messages
        ]

    def cancel(self, external_ids: Sequence[str]) -> list[CancelResult]:
        PROVIDER.cancelled.extend(external_ids)
        return [CancelResult(ext, cancelled=True) for ext in external_ids]
