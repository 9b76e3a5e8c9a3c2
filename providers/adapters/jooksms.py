"""JookSMS (sms.jooksms.com): OAuth client credentials, then JSON REST with ``Authorization: Bearer``.

Contract: ``seeds/001_d7be007dd5026ac9.txt`` plus protocol-notes §4. What the adapter uses:

- ``POST /oauth/access_token`` (form ``client_id``/``client_secret``) → a token valid one hour. Tokens are cached
  per account and client id for the whole process (all threads share one; one thread renews while the others
  wait), renewed at 55 minutes and once more when a call answers 401; every token is registered as a secret
  so the request log and error texts never show it.
- ``POST /sms/`` (one message), ``POST /sms/to_many`` (one text, many numbers), ``POST /sms/many`` (a text per
  number), all with our reference as ``external_id`` and an optional ``scheduled`` time.
- ``GET /sms/{id}`` for statuses, ``GET /sms/by_external/{external_id}`` to reconcile after a timeout.
- ``POST /sms/search/messages`` for replies (``direction == "incoming"``), paginated.
- ``/contact/`` (list, create) and ``/contact_group/`` (list) for sync.
- No delivery callbacks, no cancel, no balance in the API (protocol-notes §4: the "webhooks" are UI triggers).

Assumptions where the document is silent (also in docs/providers.md):
- ``external_id`` is "an integer"; our reference is a UUID, so it is mapped to a stable positive integer of 53
  bits (JSON-safe everywhere) by :func:`external_id_for`; an account option drops it to 31 bits in case
  JookSMS stores it in a 32-bit column. A lookup also compares the number, so a clash cannot be mistaken
  for our message.
- Error bodies are not documented: any answer whose ``result`` is not ``"ok"`` is an error; the message is
  taken from ``message``/``error_description``/``error``/``errors`` and the code from ``code``/``error``/the
  HTTP status. 401 (or an error saying the token is invalid) → a new token and one retry; still 401 → auth error.
- No batch maximum is documented for ``to_many``/``many``: we send at most 100 per call, which bounds how many
  messages one timeout leaves unknown. No text length or scheduling window is documented either: texts are
  not capped here, and a send time that is not in the future is sent at once.
- ``scheduled`` is written ``yyyy/mm/dd hh:mm +0000`` (the table's format; UTC with a numeric offset, which both
  examples' styles accept) and rounded up to the next whole minute so nothing leaves early.
- ``from`` is "the phone number you own"; an unknown one is silently replaced by JookSMS, so an alphanumeric
  sender is refused here rather than sent from another number.
- ``first_name``/``last_name`` are both required to create a contact: a missing last name is sent as "-" (and
  read back as empty). There is no update or delete call for contacts and no create call for groups: a
  contact already at JookSMS (same reference or number) is left as it is, and a group must exist there.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from django.utils import timezone

from .base import BaseAdapter, CredentialField, Feature, Limits
from .exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderNotSupported,
    ProviderResponseError,
    ProviderThrottled,
    ProviderUnparseableResponse,
    ProviderValidationError,
)
from .http import HttpResponse, parse_retry_after
from .types import (
    AccountCheck,
    DeliveryReport,
    InboundSMS,
    MessageStatus,
    OutboundSMS,
    SendResult,
    SyncContact,
    SyncGroup,
)

logger = logging.getLogger(__name__)

TOKEN_PATH = "oauth/access_token"
TOKEN_LIFETIME = 3600  # "The token will be valid for 1 hour" (and expires_in in the answer)
TOKEN_RENEW_MARGIN = 300  # renew at 55 minutes
MAX_BATCH = 100  # no documented maximum for to_many / many: our choice
MAX_PAGES = 10_000  # a guard against a server that never stops paginating
REPLY_LOOKBACK = timedelta(days=1)  # fetch_replies() without since: search needs at least one parameter
MISSING_LAST_NAME = "-"
_AUTH_ERRORS = {"invalid_client", "invalid_grant", "unauthorized_client", "access_denied", "invalid_token"}


def now() -> float:
    """The clock for token expiry (tests monkeypatch this instead of sleeping)."""
    return time.time()


# ------------------------------------------------------------------ token cache (process-wide, thread-safe)
@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: float  # renew from this moment on (55 min into a 1 h token)


_tokens: dict[tuple[str, str, str], _Token] = {}
_token_locks: dict[tuple[str, str, str], threading.Lock] = {}
_registry_lock = threading.Lock()


def _lock_for(key: tuple[str, str, str]) -> threading.Lock:
    with _registry_lock:
        return _token_locks.setdefault(key, threading.Lock())


def clear_token_cache() -> None:
    with _registry_lock:
        _tokens.clear()


# ------------------------------------------------------------------ small helpers
def external_id_for(client_ref: str, bits: int = 53) -> int:
    """Our reference (a UUID) as the positive integer JookSMS's ``external_id`` wants; stable, never 0."""
    digest = hashlib.sha256(str(client_ref).encode()).digest()
    value = int.from_bytes(digest[:8], "big") & ((1 << bits) - 1)
    return value or 1


def format_scheduled(value: datetime) -> str:
    """``yyyy/mm/dd hh:mm TZ`` in UTC, rounded up to the minute (never early)."""
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if value.second or value.microsecond:
        value = value.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return value.strftime("%Y/%m/%d %H:%M +0000")


def format_search_date(value: datetime) -> str:
    """Search dates have minute precision: rounded down, so the minute of ``value`` is included."""
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y/%m/%d %H:%M +0000")


def parse_created(value: Any) -> datetime | None:
    """``{"date": "2016-06-26 19:59:36.000000", "timezone": "UTC"}`` (sms objects) or an ISO string (search)."""
    if isinstance(value, dict):
        raw, tz_name = str(value.get("date") or ""), str(value.get("timezone") or "UTC")
        try:
            dt = datetime.strptime(raw.strip(), "%Y-%m-%d %H:%M:%S.%f")
        except ValueError:
            try:
                dt = datetime.strptime(raw.strip(), "%Y-%m-%d %H:%M:%S")
            except ValueError:
                return None
        try:
            tz = ZoneInfo(tz_name)
        except (ValueError, KeyError, OSError):
            tz = UTC
        return dt.replace(tzinfo=tz).astimezone(UTC)
    if isinstance(value, str) and value.strip():
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return None


def _digits(phone: Any) -> str:
    return re.sub(r"\D", "", str(phone or ""))


def _error_parts(data: Any) -> tuple[str, str]:
    """``(code, message)`` from an error body of any of the usual shapes."""
    if not isinstance(data, dict):
        return "", ""
    code = ""
    message = ""
    err = data.get("error")
    if isinstance(err, dict):
        code = str(err.get("code") or err.get("status_code") or "")
        message = str(err.get("message") or err.get("description") or "")
    elif isinstance(err, str):
        code = err if re.fullmatch(r"[a-z_]+", err) else ""
        message = "" if code else err
    for key in ("error_description", "message", "msg", "detail"):
        if not message and data.get(key):
            message = str(data[key])
    errors = data.get("errors")
    if isinstance(errors, dict) and errors:
        details = "; ".join(
            f"{field}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for field, v in errors.items()
        )
        message = f"{message} ({details})" if message else details
    elif isinstance(errors, list) and errors:
        message = message or "; ".join(map(str, errors))
    code = code or str(data.get("code") or data.get("status_code") or "")
    if not message and code:
        message = code
    return code, message


def _token_problem(code: str, message: str) -> bool:
    text = f"{code} {message}".lower()
    return (
        code in _AUTH_ERRORS
        or "unauthenticated" in text
        or ("token" in text and "invalid" in text)
        or ("token" in text and "expired" in text)
    )


def jooksms_error(response: HttpResponse) -> ProviderError | None:
    """The ``error_hook``: None for a good answer, else the precise exception with JookSMS's code and message."""
    status = response.status_code
    try:
        data = response.json() if response.content else None
    except ProviderUnparseableResponse:
        data = None
    result = data.get("result") if isinstance(data, dict) else None
    body_error = result is not None and str(result).lower() != "ok"
    if status < 400 and not body_error:
        return None
    code, message = _error_parts(data)
    if not message:
        message = response.text[:300].strip() or f"HTTP {status}"
    kwargs = {"code": code or str(status), "provider_message": message, "status_code": status}
    if status == 429:
        return ProviderThrottled(
            f"JookSMS: {message}", retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs
        )
    if status in (401, 403) or _token_problem(code, message):
        # A token problem in a 200 body is treated like a 401 so it gets one renewal too.
        kwargs["status_code"] = status if status in (401, 403) else 401
        return ProviderAuthError(f"JookSMS refused the credentials: {message}", **kwargs)
    if status >= 500:
        return ProviderConnectionError(f"JookSMS failed: {message}", **kwargs)
    return ProviderResponseError(f"JookSMS: {message}", **kwargs)


def _not_found(exc: ProviderError) -> bool:
    text = f"{exc.code} {exc.provider_message}".lower()
    return exc.status_code == 404 or "not found" in text or "not_found" in text


class JookSMSAdapter(BaseAdapter):
    code = "jooksms"
    name = "JookSMS"
    documentation = "seeds/001_d7be007dd5026ac9.txt; protocol-notes.md §4 (JookSMS)"
    default_base_url = "https://sms.jooksms.com/api/v1"
    features = frozenset(
        {
            Feature.SEND,
            Feature.BATCH_SAME_TEXT,
            Feature.BATCH_PERSONAL,
            Feature.SCHEDULED,
            Feature.STATUS_POLL,
            Feature.INBOUND_POLL,
            Feature.RECONCILE,
            Feature.CONTACTS_SYNC,
            Feature.GROUPS_SYNC,
        }
    )
    max_batch_size = MAX_BATCH
    status_batch_size = 50  # GET /sms/{id} is one call per message; this only sizes the caller's chunks
    status_map = {
        # Outgoing statuses the document shows:
        "queued": MessageStatus.QUEUED,  # accepted, waiting (or scheduled)
        "sent": MessageStatus.SENT,  # handed to the network; the document shows no later delivery status
        # Incoming messages (search results):
        "received": MessageStatus.DELIVERED,  # an inbound message, received by JookSMS
        # Not in the document; accepted in case JookSMS reports them:
        "delivered": MessageStatus.DELIVERED,
        "undelivered": MessageStatus.UNDELIVERED,
        "failed": MessageStatus.FAILED,
        "error": MessageStatus.FAILED,
        "rejected": MessageStatus.REJECTED,
        "expired": MessageStatus.EXPIRED,
        "cancelled": MessageStatus.CANCELLED,
        "canceled": MessageStatus.CANCELLED,
    }
    credential_fields = (
        CredentialField("client_id", "Client ID", help_text="The API client ID from JookSMS's API page."),
        CredentialField("client_secret", "Client secret", secret=True),
    )
    option_fields = (
        CredentialField(
            "external_id_bits",
            "Reference size",
            required=False,
            initial="53",
            choices=(("53", "53-bit (default)"), ("31", "31-bit (if JookSMS rejects large external ids)")),
            help_text="How our message reference is sent as JookSMS's integer external_id.",
        ),
    )
    limits = Limits(sender_max_length=None, sender_numeric_max_length=15)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sync_errors: list[str] = []  # what the last push_contacts could not sync, one line per contact
        self._contact_index: dict[str, dict[str, str]] | None = None
        self._groups: list[SyncGroup] | None = None

    # ------------------------------------------------------------------ auth
    @property
    def _token_key(self) -> tuple[str, str, str]:
        return (str(self.account.uuid), self.cred("client_id"), self.base_url)

    def access_token(self, *, stale: str | None = None) -> str:
        """The cached token, or a new one when there is none, it is due for renewal, or it is ``stale``
        (the one a call just got a 401 with; if another thread already replaced it, that one is used)."""
        key = self._token_key
        with _lock_for(key):
            cached = _tokens.get(key)
            if cached and now() < cached.renew_at and (stale is None or cached.value != stale):
                self.http.add_secret(cached.value)
                return cached.value
            token = self._request_token()
            _tokens[key] = token
            return token.value

    def _request_token(self) -> _Token:
        client_id, secret = self.cred("client_id"), self.cred("client_secret")
        if not client_id or not secret:
            raise ProviderAuthError("The JookSMS client ID and secret are not both set for this account")
        started = now()
        response = self.http.request(
            "POST",
            self.url(TOKEN_PATH),
            operation="access_token",
            data={"client_id": client_id, "client_secret": secret},
            headers={"Accept": "application/json"},
            error_hook=_token_error,
        )
        data = response.json()
        value = data.get("access_token") if isinstance(data, dict) else None
        if not value or not isinstance(value, str):
            raise ProviderUnparseableResponse("JookSMS's token answer had no access_token")
        self.http.add_secret(value)
        try:
            lifetime = float(data.get("expires_in") or TOKEN_LIFETIME)
        except (TypeError, ValueError):
            lifetime = TOKEN_LIFETIME
        renew_after = max(lifetime - TOKEN_RENEW_MARGIN, lifetime / 2)
        return _Token(value=value, renew_at=started + renew_after)

    def call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json_body: Any = None,
        params: dict | None = None,
        ambiguous: bool = False,
    ) -> Any:
        """One authenticated call (a new token and one retry on 401); the parsed JSON answer."""
        token = self.access_token()
        for attempt in (1, 2):
            try:
                response = self.http.request(
                    method,
                    self.url(path),
                    operation=operation,
                    json_body=json_body,
                    params=params,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    ambiguous_on_timeout=ambiguous,
                    error_hook=jooksms_error,
                )
            except ProviderAuthError as exc:
                # 401 = the token was refused before anything happened, so even a send can be retried.
                if attempt == 2 or exc.status_code != 401:
                    raise
                token = self.access_token(stale=token)
                continue
            return response.json()
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ limits
    def _bits(self) -> int:
        return 31 if str(self.options.get("external_id_bits") or "53").strip() == "31" else 53

    def external_id(self, message: OutboundSMS) -> int:
        return external_id_for(message.client_ref, self._bits())

    def validate_message(self, message: OutboundSMS) -> None:
        super().validate_message(message)
        if not re.fullmatch(r"\+\d{6,15}", message.to or ""):
            raise ProviderValidationError(
                f"JookSMS needs numbers with + and the country code; {message.to!r} is not", field="to"
            )
        sender = message.sender
        if sender and not re.fullmatch(r"\+?\d{3,15}", sender):
            raise ProviderValidationError(
                f"JookSMS sends from a phone number you own; {sender!r} is not a phone number", field="sender"
            )

    def _scheduled(self, send_at: datetime | None) -> str | None:
        if send_at is None or send_at <= timezone.now():
            return None
        return format_scheduled(send_at)

    # ------------------------------------------------------------------ sending
    def send_batch(self, batch: Sequence[OutboundSMS]) -> list[SendResult]:
        """One message → ``/sms/``; one text → ``/sms/to_many``; different texts → ``/sms/many``.
        (plan_batches groups by sender and send time, at most 100 per batch.)"""
        if len(batch) == 1:
            return [self._send_one(batch[0])]
        first = batch[0]
        same_text = all(m.text == first.text for m in batch)
        body: dict[str, Any] = {}
        if first.sender:
            body["from"] = first.sender.lstrip("+")
        if same_text:
            body["body"] = first.text
        scheduled = self._scheduled(first.send_at)
        if scheduled:
            body["scheduled"] = scheduled
        items = []
        for m in batch:
            item: dict[str, Any] = {"to": m.to}
            if not same_text:
                item["body"] = m.text
            item["external_id"] = self.external_id(m)
            item_scheduled = self._scheduled(m.send_at)
            if item_scheduled and item_scheduled != scheduled:
                item["scheduled"] = item_scheduled
            items.append(item)
        body["list"] = items
        path = "sms/to_many" if same_text else "sms/many"
        try:
            data = self.call("POST", path, operation=path.replace("/", "_"), json_body=body, ambiguous=True)
        except ProviderUnparseableResponse as exc:
            return self._unknown(batch, exc.message)
        ids = data.get("ids") if isinstance(data, dict) else None
        if not isinstance(ids, list) or len(ids) != len(batch):
            # Which id belongs to which number is then a guess: leave them unknown, reconcile by external_id.
            return self._unknown(batch, f"JookSMS's answer to {path} did not list one id per message", raw=data)
        results = []
        for m, raw_id in zip(batch, ids, strict=True):
            if str(raw_id).strip() in ("-1", "", "None"):
                results.append(
                    SendResult(
                        m.client_ref,
                        MessageStatus.REJECTED,
                        error_code="-1",
                        error_message="JookSMS could not accept this message (id -1)",
                        raw={"id": raw_id},
                    )
                )
            else:
                results.append(
                    SendResult(m.client_ref, MessageStatus.QUEUED, external_id=str(raw_id), raw={"id": raw_id})
                )
        return results

    def _send_one(self, m: OutboundSMS) -> SendResult:
        body: dict[str, Any] = {"to": m.to, "body": m.text}
        if m.sender:
            body["from"] = m.sender.lstrip("+")
        scheduled = self._scheduled(m.send_at)
        if scheduled:
            body["scheduled"] = scheduled
        body["external_id"] = self.external_id(m)
        try:
            data = self.call("POST", "sms/", operation="sms_send", json_body=body, ambiguous=True)
        except ProviderUnparseableResponse as exc:
            return self._unknown([m], exc.message)[0]
        sms = data.get("data") if isinstance(data, dict) else None
        if not isinstance(sms, dict) or sms.get("id") in (None, ""):
            return self._unknown([m], "JookSMS's answer to /sms/ had no message id", raw=data)[0]
        raw_status = str(sms.get("status") or "queued")
        status = self.map_status(raw_status)
        return SendResult(
            m.client_ref,
            status if status != MessageStatus.UNKNOWN else MessageStatus.QUEUED,
            external_id=str(sms["id"]),
            raw=data,
        )

    @staticmethod
    def _unknown(batch: Sequence[OutboundSMS], detail: str, raw: Any = None) -> list[SendResult]:
        return [
            SendResult(m.client_ref, MessageStatus.UNKNOWN, error_code="unparseable", error_message=detail, raw=raw)
            for m in batch
        ]

    def reconcile(self, messages: Sequence[OutboundSMS]) -> list[SendResult | None]:
        """``GET /sms/by_external/{external_id}`` per message: found → its id and status; 404 → None."""
        results: list[SendResult | None] = []
        for m in messages:
            ext = self.external_id(m)
            try:
                data = self.call("GET", f"sms/by_external/{ext}", operation="sms_by_external")
            except ProviderResponseError as exc:
                if _not_found(exc):
                    results.append(None)
                    continue
                raise
            sms = data.get("data") if isinstance(data, dict) else None
            if not isinstance(sms, dict) or not sms or sms.get("id") in (None, ""):
                results.append(None)
                continue
            if _digits(sms.get("number")) and _digits(sms.get("number")) != _digits(m.to):
                # Another message carries the same integer (a hash clash, ~1 in 10^15 per lookup): we cannot
                # tell whether ours exists, so it stays unknown rather than being resent.
                results.append(
                    SendResult(
                        m.client_ref,
                        MessageStatus.UNKNOWN,
                        error_code="reference_clash",
                        error_message=f"external_id {ext} belongs to a message to another number",
                        raw=data,
                    )
                )
                continue
            raw_status = str(sms.get("status") or "queued")
            status = self.map_status(raw_status)
            results.append(
                SendResult(
                    m.client_ref,
                    status if status != MessageStatus.UNKNOWN else MessageStatus.QUEUED,
                    external_id=str(sms["id"]),
                    raw=data,
                )
            )
        return results

    # ------------------------------------------------------------------ statuses
    def fetch_status_batch(self, external_ids: Sequence[str]) -> list[DeliveryReport]:
        reports = []
        for ext in external_ids:
            try:
                data = self.call("GET", f"sms/{ext}", operation="sms_get")
            except ProviderResponseError as exc:
                if _not_found(exc):
                    logger.warning("JookSMS does not know message %s", ext)
                    continue
                raise
            sms = data.get("data") if isinstance(data, dict) else None
            if not isinstance(sms, dict):
                raise ProviderUnparseableResponse(f"JookSMS's answer for message {ext} had no data")
            raw_status = str(sms.get("status") or "")
            reports.append(
                DeliveryReport(
                    external_id=str(sms.get("id") or ext),
                    status=self.map_status(raw_status),
                    raw_status=raw_status,
                    to=str(sms.get("number") or ""),
                    occurred_at=parse_created(sms.get("updated")),
                    raw=data,
                )
            )
        return reports

    # ------------------------------------------------------------------ replies, account
    def _pages(
        self, method: str, path: str, *, operation: str, json_body: Any = None, params: dict | None = None
    ) -> Iterator[dict]:
        """Every item of a paginated list (``meta.pagination``), page by page with ``?page=N`` on our base URL
        (the ``links.next`` host is never followed, so the token only goes where it came from)."""
        page = 1
        while page <= MAX_PAGES:
            query = dict(params or {})
            if page > 1:
                query["page"] = page
            data = self.call(method, path, operation=operation, json_body=json_body, params=query or None)
            items = data.get("data") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise ProviderUnparseableResponse(f"JookSMS's list answer for {path} had no data list")
            yield from (i for i in items if isinstance(i, dict))
            next_page = _next_page(data, page)
            if next_page is None or not items:
                return
            page = next_page

    def fetch_replies(self, since: datetime | None = None) -> list[InboundSMS]:
        """Incoming messages from the search (which needs at least one criterion: the start date)."""
        start = since or (timezone.now() - REPLY_LOOKBACK)
        body = {"from_date": format_search_date(start)}
        replies, seen = [], set()
        for item in self._pages("POST", "sms/search/messages", operation="sms_search", json_body=body):
            if str(item.get("direction") or "").lower() != "incoming":
                continue
            ext = str(item.get("id") or "")
            if not ext or ext in seen:
                continue
            received = parse_created(item.get("created"))
            if since is not None and received is not None and received < since:
                continue  # the search works in whole minutes
            seen.add(ext)
            replies.append(
                InboundSMS(
                    external_id=ext,
                    from_phone=str(item.get("number") or ""),
                    text=str(item.get("content") or ""),
                    received_at=received,
                    raw=item,
                )
            )
        return replies

    def check(self) -> AccountCheck:
        """A token, then an authenticated read-only call (the first page of contact groups)."""
        data = self.call("GET", "contact_group/", operation="contact_group_list")
        total = _pagination(data).get("total")
        detail = "JookSMS issued a token"
        if total is not None:
            detail += f"; {total} contact group{'s' if total != 1 else ''}"
        return AccountCheck(ok=True, detail=detail)

    # ------------------------------------------------------------------ contacts and groups
    def pull_groups(self) -> Iterable[SyncGroup]:
        groups = [
            SyncGroup(name=str(g.get("name") or ""), external_id=str(g.get("id")))
            for g in self._pages("GET", "contact_group/", operation="contact_group_list")
            if g.get("id") is not None
        ]
        self._groups = groups
        return groups

    def push_group(self, group: SyncGroup) -> str:
        """JookSMS has no call to create or rename a group: an existing one is matched by id or name."""
        groups = self._groups if self._groups is not None else list(self.pull_groups())
        for g in groups:
            if group.external_id and g.external_id == group.external_id:
                return g.external_id
        wanted = group.name.strip().casefold()
        for g in groups:
            if g.name.strip().casefold() == wanted:
                return g.external_id
        raise ProviderNotSupported(
            f"JookSMS has no API to create contact groups: create “{group.name}” in JookSMS, then sync again"
        )

    def pull_contacts(self) -> Iterable[SyncContact]:
        for c in self._pages("GET", "contact/", operation="contact_list"):
            phone = str(c.get("main_phone") or "")
            if not phone:
                continue
            last = str(c.get("last_name") or "")
            yield SyncContact(
                phone=phone,
                first_name=str(c.get("first_name") or ""),
                last_name="" if last == MISSING_LAST_NAME else last,
                external_id=str(c.get("id")),
                local_id=str(c.get("reference") or ""),
            )

    def _contacts(self) -> dict[str, dict[str, str]]:
        if self._contact_index is None:
            index: dict[str, dict[str, str]] = {"ref": {}, "phone": {}, "id": {}}
            for c in self.pull_contacts():
                if c.local_id:
                    index["ref"].setdefault(c.local_id, c.external_id)
                index["phone"].setdefault(_digits(c.phone), c.external_id)
                index["id"][c.external_id] = c.external_id
            self._contact_index = index
        return self._contact_index

    def push_contacts(self, contacts: Sequence[SyncContact]) -> list[str]:
        """Create the contacts JookSMS does not have yet (matched by our reference, its id, then the number);
        one call per new contact (the API has no batch create). The others are left as they are (no update
        call exists). A contact JookSMS refuses gives "" and a line in ``self.sync_errors``."""
        self.sync_errors = []
        index = self._contacts()
        ids: list[str] = []
        for c in contacts:
            existing = (
                (c.local_id and index["ref"].get(c.local_id))
                or (c.external_id and index["id"].get(c.external_id))
                or index["phone"].get(_digits(c.phone))
            )
            if existing:
                ids.append(existing)
                continue
            first, last = c.first_name.strip(), c.last_name.strip()
            if not last and " " in first:
                first, last = first.split(" ", 1)
            body: dict[str, Any] = {
                "first_name": first or c.phone,
                "last_name": last or MISSING_LAST_NAME,
                "main_phone": c.phone,
            }
            if c.local_id:
                body["reference"] = c.local_id
            if c.groups:
                body["contact_group_id"] = int(c.groups[0]) if str(c.groups[0]).isdigit() else c.groups[0]
            try:
                data = self.call("POST", "contact/", operation="contact_create", json_body=body)
            except ProviderResponseError as exc:
                self.sync_errors.append(f"{c.phone}: {exc.message}")
                ids.append("")
                continue
            created = data.get("data") if isinstance(data, dict) else None
            ext = str(created.get("id")) if isinstance(created, dict) and created.get("id") is not None else ""
            if not ext:
                self.sync_errors.append(f"{c.phone}: JookSMS's answer had no contact id")
            else:
                if c.local_id:
                    index["ref"][c.local_id] = ext
                index["phone"][_digits(c.phone)] = ext
                index["id"][ext] = ext
            ids.append(ext)
        return ids


def _pagination(data: Any) -> dict:
    meta = data.get("meta") if isinstance(data, dict) else None
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    return pagination if isinstance(pagination, dict) else {}


def _next_page(data: Any, page: int) -> int | None:
    p = _pagination(data)
    try:
        current = int(p.get("current_page") or page)
        total_pages = int(p.get("total_pages") or 0)
    except (TypeError, ValueError):
        current, total_pages = page, 0
    if total_pages and current < total_pages:
        return current + 1
    links = p.get("links")
    nxt = links.get("next") if isinstance(links, dict) else None
    if nxt:
        try:
            value = int(parse_qs(urlsplit(str(nxt)).query).get("page", [""])[0])
        except ValueError:
            return None
        return value if value > page else None
    return None


def _token_error(response: HttpResponse) -> ProviderError | None:
    """The token endpoint's answers: an OAuth error (``{"error": "invalid_client", ...}``) → auth error."""
    status = response.status_code
    try:
        data = response.json() if response.content else None
    except ProviderUnparseableResponse:
        data = None
    if status < 400 and not (isinstance(data, dict) and data.get("error")):
        return None
    code, message = _error_parts(data)
    message = message or response.text[:300].strip() or f"HTTP {status}"
    kwargs = {"code": code or str(status), "provider_message": message, "status_code": status}
    if status == 429:
        return ProviderThrottled(
            f"JookSMS: {message}", retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs
        )
    if status >= 500:
        return ProviderConnectionError(f"JookSMS failed to issue a token: {message}", **kwargs)
    if status in (400, 401, 403) or code in _AUTH_ERRORS:
        return ProviderAuthError(f"JookSMS refused the client ID and secret: {message}", **kwargs)
    return ProviderResponseError(f"JookSMS: {message}", **kwargs)
