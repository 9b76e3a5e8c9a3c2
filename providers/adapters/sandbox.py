"""The built-in sandbox provider: no network, deterministic, good enough to run whole campaigns.

It accepts every valid message, gives it an id that encodes when it was accepted, and reports, when polled,
``queued`` → ``sent`` → ``delivered`` as time passes; a configurable share of messages (chosen by a hash of
the id, so the same message always gets the same fate) ends ``undelivered`` instead. Numbers ending in
``0000`` are always rejected, so failure paths can be shown on purpose.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from .base import BaseAdapter, CredentialField, Feature, Limits
from .types import AccountCheck, CancelResult, DeliveryReport, MessageStatus, OutboundSMS, SendResult


class SandboxAdapter(BaseAdapter):
    code = "sandbox"
    name = "Sandbox (no network)"
    default_base_url = "sandbox://local"
    features = frozenset(
        {
            Feature.SEND,
            Feature.BATCH_SAME_TEXT,
            Feature.BATCH_PERSONAL,
            Feature.STATUS_POLL,
            Feature.RECONCILE,
            Feature.BALANCE,
            Feature.CANCEL,
        }
    )
    max_batch_size = 500
    status_batch_size = 1000
    status_map = {
        "ACCEPTED": MessageStatus.QUEUED,
        "SENT": MessageStatus.SENT,
        "DELIVERED": MessageStatus.DELIVERED,
        "UNDELIVERED": MessageStatus.UNDELIVERED,
        "REJECTED": MessageStatus.REJECTED,
        "CANCELLED": MessageStatus.CANCELLED,
    }
    option_fields = (
        CredentialField(
            "failure_rate",
            "Failure share (0–1)",
            required=False,
            initial="0.05",
            help_text="Share of messages that end undelivered.",
        ),
        CredentialField("sent_after", "Seconds until 'sent'", required=False, initial="1"),
        CredentialField("delivered_after", "Seconds until 'delivered'", required=False, initial="3"),
    )
    limits = Limits(sender_max_length=11, text_max_segments=10)

    def _opt(self, name: str, default: float) -> float:
        try:
            return float(self.options.get(name, default))
        except (TypeError, ValueError):
            return default

    def send_batch(self, batch: Sequence[OutboundSMS]) -> list[SendResult]:
        from campaigns.segments import count_segments

        now_ms = int(time.time() * 1000)
        results = []
        for m in batch:
            if m.msisdn.endswith("0000"):
                results.append(
                    SendResult(
                        m.client_ref,
                        MessageStatus.REJECTED,
                        error_code="SBX-400",
                        error_message="Sandbox rejects numbers ending in 0000",
                        raw={},
                    )
                )
                continue
            ext = f"sbx-{now_ms}-{uuid.UUID(m.client_ref).hex if _is_uuid(m.client_ref) else m.client_ref}"
            segments = count_segments(m.text).segments
            results.append(
                SendResult(
                    m.client_ref,
                    MessageStatus.QUEUED,
                    external_id=ext,
                    segments=segments,
                    raw={"id": ext, "status": "ACCEPTED"},
                )
            )
        return results

    def reconcile(self, messages: Sequence[OutboundSMS]) -> list[SendResult | None]:
        # The sandbox never loses a message: a timeout cannot happen, so nothing is held.
        return [None for _ in messages]

    def _fate(self, external_id: str) -> str:
        try:
            accepted_ms = int(external_id.split("-")[1])
        except (IndexError, ValueError):
            return "UNDELIVERED"
        age = time.time() - accepted_ms / 1000
        if age < self._opt("sent_after", 1):
            return "ACCEPTED"
        if age < self._opt("delivered_after", 3):
            return "SENT"
        h = int(hashlib.sha256(external_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return "UNDELIVERED" if h < self._opt("failure_rate", 0.05) else "DELIVERED"

    def fetch_status_batch(self, external_ids: Sequence[str]) -> list[DeliveryReport]:
        reports = []
        for ext in external_ids:
            raw = self._fate(ext)
            status = self.map_status(raw)
            reports.append(
                DeliveryReport(
                    external_id=ext,
                    status=status,
                    raw_status=raw,
                    occurred_at=datetime.now(UTC),
                    error_code="SBX-UND" if status == MessageStatus.UNDELIVERED else "",
                    error_message="Sandbox: handset unreachable" if status == MessageStatus.UNDELIVERED else "",
                    raw={"id": ext, "status": raw},
                )
            )
        return reports

    def cancel(self, external_ids: Sequence[str]) -> list[CancelResult]:
        return [CancelResult(ext, cancelled=False, detail="already handed over") for ext in external_ids]

    def check(self) -> AccountCheck:
        return AccountCheck(ok=True, balance=None, currency="", detail="Sandbox account: no network, always ready")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
