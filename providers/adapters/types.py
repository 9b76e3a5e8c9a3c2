"""The only shapes the rest of the app sees from the adapter layer (frozen dataclasses)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class MessageStatus(StrEnum):
    """Normalized message statuses; values match ``campaigns.Message.Status``."""

    PENDING = "pending"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    EXPIRED = "expired"
    REJECTED = "rejected"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.EXPIRED,
        MessageStatus.REJECTED,
        MessageStatus.FAILED,
        MessageStatus.CANCELLED,
    }
)


@dataclass(frozen=True)
class AccountConfig:
    """What an adapter knows of its account: no model instance, so adapters stay plain Python."""

    id: int | None
    uuid: str
    name: str
    base_url: str
    credentials: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=dict)
    default_sender: str = ""
    webhook_token: str = ""


@dataclass(frozen=True)
class OutboundSMS:
    to: str  # E.164 with "+"
    text: str
    sender: str
    client_ref: str  # our Message.uuid (hex); used as the provider-side reference where possible
    send_at: datetime | None = None  # provider-side scheduling, if the adapter offers it
    extra: Mapping[str, Any] = field(default_factory=dict)  # provider-only options (like anymail's esp_extra)

    @property
    def msisdn(self) -> str:
        """The number without "+", as most providers want it."""
        return self.to.lstrip("+")


@dataclass(frozen=True)
class SendResult:
    client_ref: str
    status: MessageStatus
    external_id: str = ""
    segments: int | None = None
    cost: Decimal | None = None
    error_code: str = ""
    error_message: str = ""
    raw: Any = None

    @property
    def ok(self) -> bool:
        return self.status not in {MessageStatus.REJECTED, MessageStatus.FAILED, MessageStatus.UNKNOWN}


@dataclass(frozen=True)
class DeliveryReport:
    external_id: str
    status: MessageStatus
    raw_status: str = ""
    client_ref: str = ""
    to: str = ""
    occurred_at: datetime | None = None
    error_code: str = ""
    error_message: str = ""
    segments: int | None = None
    cost: Decimal | None = None
    event_id: str = ""  # provider's event id, used to de-duplicate webhook retries
    raw: Any = None


@dataclass(frozen=True)
class InboundSMS:
    external_id: str
    from_phone: str
    text: str
    to: str = ""
    received_at: datetime | None = None
    in_reply_to_external_id: str = ""
    raw: Any = None


@dataclass(frozen=True)
class AccountCheck:
    ok: bool
    balance: Decimal | None = None
    currency: str = ""
    detail: str = ""


@dataclass(frozen=True)
class CancelResult:
    external_id: str
    cancelled: bool
    detail: str = ""


# --- sync records ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SyncContact:
    phone: str  # E.164
    first_name: str = ""
    last_name: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()  # external group ids
    external_id: str = ""
    local_id: str = ""


@dataclass(frozen=True)
class SyncGroup:
    name: str
    external_id: str = ""
    local_id: str = ""
    member_count: int | None = None


@dataclass(frozen=True)
class SyncBlockEntry:
    phone: str
    reason: str = ""
    external_id: str = ""


@dataclass(frozen=True)
class WebhookRequest:
    """A provider callback as received, independent of Django's request object."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, list[str]]
    body: bytes
    remote_addr: str = ""

    def form(self) -> dict[str, list[str]]:
        from urllib.parse import parse_qs

        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    def json(self) -> Any:
        import json

        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str, default: str = "") -> str:
        lname = name.lower()
        for k, v in self.headers.items():
            if k.lower() == lname:
                return v
        return default


def replace(obj, **changes):
    return dataclasses.replace(obj, **changes)
