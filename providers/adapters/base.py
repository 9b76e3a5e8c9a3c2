"""``BaseAdapter``: the template every provider adapter fills in (modelled on django-anymail's backends).

The rest of the app calls only the public methods here, with and for the types in ``types.py``:

    send(messages)            -> one SendResult per message, same order (template: validate → plan batches
                                 → send_batch hook → one result per message)
    reconcile(messages)       -> after an ambiguous timeout: what the provider holds for each client_ref
    fetch_statuses(ids)       -> DeliveryReports for external ids (batched per ``status_batch_size``)
    fetch_replies(since)      -> InboundSMS list
    cancel(external_ids)      -> CancelResults (provider-side scheduled messages / campaigns)
    check()                   -> AccountCheck (authenticated read-only call; balance where offered)
    parse_webhook(kind, req)  -> DeliveryReports or InboundSMS (after verify_webhook)
    sync hooks                -> push_/pull_ contacts, groups, blocklist

Error handling contract of ``send``: auth errors and retryable errors (throttling, 5xx, connection) raise
for the whole call so the task layer can stop or retry; an ambiguous timeout becomes ``UNKNOWN`` results for
the batch it hit (never resent blindly); a non-retryable provider rejection of a batch becomes ``REJECTED``
/``FAILED`` results carrying the provider's code and message; per-message limit violations become
``REJECTED`` results with ``error_code="limit"``, without any call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from django.utils import timezone

from .exceptions import (
    ProviderError,
    ProviderNotSupported,
    ProviderTimeout,
    ProviderValidationError,
    WebhookAuthError,
)
from .http import ProviderHTTP, RequestLogger, null_logger
from .types import (
    AccountCheck,
    AccountConfig,
    CancelResult,
    DeliveryReport,
    InboundSMS,
    MessageStatus,
    OutboundSMS,
    SendResult,
    SyncBlockEntry,
    SyncContact,
    SyncGroup,
    WebhookRequest,
)


class Feature(StrEnum):
    SEND = "send"
    BATCH_SAME_TEXT = "batch_same_text"  # one call, one text, many numbers
    BATCH_PERSONAL = "batch_personal"  # one call, a text per recipient
    SCHEDULED = "scheduled"  # provider-side send_at
    CANCEL = "cancel"  # cancel what the provider holds
    PAUSE_RESUME = "pause_resume"  # provider-side pause/resume of a broadcast
    DELIVERY_WEBHOOK = "delivery_webhook"
    INBOUND_WEBHOOK = "inbound_webhook"
    STATUS_POLL = "status_poll"
    INBOUND_POLL = "inbound_poll"
    RECONCILE = "reconcile"  # lookup by our client_ref (or equivalent) after an ambiguous timeout
    BALANCE = "balance"
    CONTACTS_SYNC = "contacts_sync"
    GROUPS_SYNC = "groups_sync"
    BLOCKLIST_SYNC = "blocklist_sync"


class WebhookKind(StrEnum):
    DELIVERY = "delivery"
    INBOUND = "inbound"


@dataclass(frozen=True)
class CredentialField:
    """One field of an account's credential form. ``secret`` fields are never rendered back."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    help_text: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    initial: Any = None


@dataclass(frozen=True)
class Limits:
    sender_max_length: int | None = 11  # alphanumeric sender ids: 11 characters in most networks
    sender_numeric_max_length: int | None = 16
    text_max_chars: int | None = None
    text_max_segments: int | None = None
    schedule_min_ahead_seconds: int | None = None
    schedule_max_ahead_seconds: int | None = None


@dataclass
class SyncPage:
    items: list
    next_cursor: Any = None


@dataclass
class SyncStats:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def chunked(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), max(1, size)):
        yield items[i : i + size]


class BaseAdapter:
    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    documentation: ClassVar[str] = ""  # which seeds document this adapter follows
    default_base_url: ClassVar[str] = ""
    features: ClassVar[frozenset[Feature]] = frozenset({Feature.SEND})
    max_batch_size: ClassVar[int] = 1
    status_batch_size: ClassVar[int] = 1
    status_map: ClassVar[dict[str, MessageStatus]] = {}
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
    option_fields: ClassVar[tuple[CredentialField, ...]] = ()  # non-secret per-account options
    limits: ClassVar[Limits] = Limits()
    webhook_kinds: ClassVar[tuple[WebhookKind, ...]] = ()

    def __init__(
        self,
        account: AccountConfig,
        *,
        log: RequestLogger = null_logger,
        timeout: tuple[float, float] = (5.0, 30.0),
        http: ProviderHTTP | None = None,
    ):
        self.account = account
        self.credentials = dict(account.credentials)
        self.options = dict(account.options)
        self.base_url = (account.base_url or self.default_base_url).rstrip("/")
        secrets = [str(self.credentials.get(f.name, "")) for f in self.credential_fields if f.secret]
        self.http = http or ProviderHTTP(timeout=timeout, log=log, secrets=secrets)
        if http is not None:
            for s in secrets:
                self.http.add_secret(s)

    # ------------------------------------------------------------------ capabilities
    @classmethod
    def supports(cls, feature: Feature | str) -> bool:
        return Feature(feature) in cls.features

    def require(self, feature: Feature) -> None:
        if feature not in self.features:
            raise ProviderNotSupported(f"{self.name} does not offer {feature.value.replace('_', ' ')}")

    def cred(self, name: str, default: str = "") -> str:
        return str(self.credentials.get(name) or default)

    # ------------------------------------------------------------------ statuses
    def map_status(self, raw: Any) -> MessageStatus:
        """Raw provider status → normalized. Unknown raw values give UNKNOWN (the raw one is kept by callers)."""
        if raw is None:
            return MessageStatus.UNKNOWN
        key = str(raw).strip()
        if key in self.status_map:
            return self.status_map[key]
        for k, v in self.status_map.items():
            if k.lower() == key.lower():
                return v
        return MessageStatus.UNKNOWN

    # ------------------------------------------------------------------ sending (template)
    def validate_message(self, message: OutboundSMS) -> None:
        """Documented limits, checked before any call. Raise ProviderValidationError(field=...)."""
        lim = self.limits
        sender = message.sender
        if not message.text.strip():
            raise ProviderValidationError("The message text is empty", field="text")
        if sender:
            numeric = sender.lstrip("+").isdigit()
            max_len = lim.sender_numeric_max_length if numeric else lim.sender_max_length
            if max_len is not None and len(sender.lstrip("+") if numeric else sender) > max_len:
                kind = "numeric" if numeric else "alphanumeric"
                raise ProviderValidationError(
                    f"{self.name} allows {kind} sender ids of at most {max_len} characters; "
                    f"{sender!r} has {len(sender)}",
                    field="sender",
                )
        if lim.text_max_chars is not None and len(message.text) > lim.text_max_chars:
            raise ProviderValidationError(
                f"{self.name} accepts at most {lim.text_max_chars} characters; the text has {len(message.text)}",
                field="text",
            )
        if lim.text_max_segments is not None:
            from campaigns.segments import count_segments

            segs = count_segments(message.text).segments
            if segs > lim.text_max_segments:
                raise ProviderValidationError(
                    f"{self.name} accepts at most {lim.text_max_segments} segments; the text needs {segs}",
                    field="text",
                )
        if message.send_at is not None:
            self.validate_send_at(message.send_at)

    def validate_send_at(self, send_at: datetime) -> None:
        if Feature.SCHEDULED not in self.features:
            raise ProviderValidationError(f"{self.name} cannot schedule messages", field="send_at")
        ahead = (send_at - timezone.now()).total_seconds()
        lim = self.limits
        if lim.schedule_min_ahead_seconds is not None and ahead < lim.schedule_min_ahead_seconds:
            raise ProviderValidationError(
                f"{self.name} needs a send time at least {_human(lim.schedule_min_ahead_seconds)} ahead",
                field="send_at",
            )
        if lim.schedule_max_ahead_seconds is not None and ahead > lim.schedule_max_ahead_seconds:
            raise ProviderValidationError(
                f"{self.name} accepts a send time at most {_human(lim.schedule_max_ahead_seconds)} ahead",
                field="send_at",
            )

    def plan_batches(self, messages: Sequence[OutboundSMS]) -> list[list[OutboundSMS]]:
        """Group messages into provider calls. Default: same-text bulk where offered, else one per call.

        Messages with the same (text, sender, send_at) go together up to ``max_batch_size`` when the adapter
        has BATCH_SAME_TEXT; with BATCH_PERSONAL any messages go together up to ``max_batch_size``.
        """
        if self.max_batch_size <= 1 or not (self.features & {Feature.BATCH_SAME_TEXT, Feature.BATCH_PERSONAL}):
            return [[m] for m in messages]
        if Feature.BATCH_PERSONAL in self.features:
            groups: dict[Any, list[OutboundSMS]] = {}
            for m in messages:
                groups.setdefault((m.sender, m.send_at), []).append(m)
        else:
            groups = {}
            for m in messages:
                groups.setdefault((m.text, m.sender, m.send_at), []).append(m)
        batches: list[list[OutboundSMS]] = []
        for group in groups.values():
            batches.extend(list(chunk) for chunk in chunked(group, self.max_batch_size))
        return batches

    def send(self, messages: Sequence[OutboundSMS]) -> list[SendResult]:
        """Send messages; one SendResult per message, in the order given."""
        self.require(Feature.SEND)
        results: dict[str, SendResult] = {}
        valid: list[OutboundSMS] = []
        for m in messages:
            try:
                self.validate_message(m)
            except ProviderValidationError as exc:
                results[m.client_ref] = SendResult(
                    m.client_ref, MessageStatus.REJECTED, error_code="limit", error_message=exc.message
                )
            else:
                valid.append(m)
        for batch in self.plan_batches(valid):
            try:
                batch_results = self.send_batch(batch)
            except ProviderTimeout as exc:
                if not exc.ambiguous:
                    raise
                for m in batch:
                    results[m.client_ref] = SendResult(
                        m.client_ref, MessageStatus.UNKNOWN, error_code="timeout", error_message=exc.message
                    )
                continue
            except ProviderError as exc:
                if exc.retryable or isinstance(exc, _RAISE_ALWAYS):
                    raise
                for m in batch:
                    results[m.client_ref] = SendResult(
                        m.client_ref,
                        MessageStatus.REJECTED,
                        error_code=exc.code or type(exc).__name__,
                        error_message=exc.provider_message or exc.message,
                    )
                continue
            by_ref = {r.client_ref: r for r in batch_results}
            for m in batch:
                results[m.client_ref] = by_ref.get(m.client_ref) or SendResult(
                    m.client_ref,
                    MessageStatus.UNKNOWN,
                    error_code="no_result",
                    error_message="The provider's answer did not mention this message",
                )
        return [results[m.client_ref] for m in messages]

    def send_batch(self, batch: Sequence[OutboundSMS]) -> list[SendResult]:
        """Hook: one provider call (or the fewest the API allows) for ``batch``."""
        raise NotImplementedError

    def reconcile(self, messages: Sequence[OutboundSMS]) -> list[SendResult | None]:
        """Hook: after an ambiguous timeout, ask the provider what it holds for each message.

        Return per message a SendResult if the provider has it (with its external id and status), or None
        if the provider certainly does not have it (safe to send again). Raise ProviderNotSupported when the
        API cannot tell; the caller then leaves the messages UNKNOWN for a human.
        """
        raise ProviderNotSupported(f"{self.name} cannot look messages up by our reference")

    # ------------------------------------------------------------------ statuses, replies, cancel, account
    def fetch_statuses(self, external_ids: Sequence[str]) -> list[DeliveryReport]:
        """Look up statuses; batched by ``status_batch_size`` via the ``fetch_status_batch`` hook."""
        self.require(Feature.STATUS_POLL)
        reports: list[DeliveryReport] = []
        for chunk in chunked(list(external_ids), self.status_batch_size):
            reports.extend(self.fetch_status_batch(chunk))
        return reports

    def fetch_status_batch(self, external_ids: Sequence[str]) -> list[DeliveryReport]:
        raise NotImplementedError

    def fetch_replies(self, since: datetime | None = None) -> list[InboundSMS]:
        raise ProviderNotSupported(f"{self.name} has no API for fetching replies")

    def cancel(self, external_ids: Sequence[str]) -> list[CancelResult]:
        raise ProviderNotSupported(f"{self.name} cannot cancel messages it holds")

    def check(self) -> AccountCheck:
        """Hook: an authenticated read-only call. Raise ProviderError on failure."""
        raise NotImplementedError

    # ------------------------------------------------------------------ webhooks
    def verify_webhook(self, kind: WebhookKind, request: WebhookRequest, token: str) -> None:
        """Default authentication: the per-account token in the URL (constant-time compare).

        Adapters with a provider signature add their check (and call super()).
        """
        from django.utils.crypto import constant_time_compare

        if not token or not constant_time_compare(token, self.account.webhook_token):
            raise WebhookAuthError("Unknown or wrong webhook token")

    def parse_webhook(self, kind: WebhookKind, request: WebhookRequest) -> list[DeliveryReport | InboundSMS]:
        raise ProviderNotSupported(f"{self.name} sends no {kind} callbacks")

    def webhook_response(self, kind: WebhookKind) -> tuple[int, str, str]:
        """(status, content type, body) to answer a valid callback with."""
        return 200, "text/plain", "OK"

    # ------------------------------------------------------------------ sync (only where the API keeps them)
    def pull_groups(self) -> Iterable[SyncGroup]:
        raise ProviderNotSupported(f"{self.name} keeps no groups")

    def push_group(self, group: SyncGroup) -> str:
        """Create or update a group; return its external id."""
        raise ProviderNotSupported(f"{self.name} keeps no groups")

    def pull_contacts(self) -> Iterable[SyncContact]:
        raise ProviderNotSupported(f"{self.name} keeps no contacts")

    def push_contacts(self, contacts: Sequence[SyncContact]) -> list[str]:
        """Create or update contacts; return their external ids in order."""
        raise ProviderNotSupported(f"{self.name} keeps no contacts")

    def pull_blocklist(self) -> Iterable[SyncBlockEntry]:
        raise ProviderNotSupported(f"{self.name} keeps no blocklist")

    def push_blocklist(self, entries: Sequence[SyncBlockEntry]) -> int:
        raise ProviderNotSupported(f"{self.name} keeps no blocklist")

    def remove_from_blocklist(self, phones: Sequence[str]) -> int:
        raise ProviderNotSupported(f"{self.name} keeps no blocklist")

    # ------------------------------------------------------------------ helpers
    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def estimate_cost(self, segments: int, price_per_segment) -> Any:
        return None if price_per_segment is None else price_per_segment * segments


from .exceptions import ProviderAuthError  # noqa: E402

_RAISE_ALWAYS = (ProviderAuthError,)


def _human(seconds: int) -> str:
    if seconds % 86400 == 0:
        d = seconds // 86400
        return f"{d} day{'s' if d != 1 else ''}"
    if seconds % 3600 == 0:
        h = seconds // 3600
        return f"{h} hour{'s' if h != 1 else ''}"
    m = math.ceil(seconds / 60)
    return f"{m} minute{'s' if m != 1 else ''}"
