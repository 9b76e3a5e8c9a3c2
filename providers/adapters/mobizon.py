"""Mobizon adapter.

Contract: the Mobizon message API document (seeds ``003``: ``message/SendSmsMessage``, ``message/GetSMSStatus``,
``message/List``) plus protocol-notes §3 for what the document leaves out (envelope and codes, SMS statuses,
regional domains, webhooks).

Shape of every call (protocol-notes §3.1, and the document's curl examples)::

    POST https://api.<domain>/service/<module>/<method>?output=json&api=v1&apiKey=<key>
    Content-Type: application/x-www-form-urlencoded
    body: PHP-style array keys (``ids[0]=1&ids[1]=2``, ``params[validity]=1440``)
    answer: {"code": <int>, "data": <any>, "message": "<text>"}; success iff code is 0 or 100, whatever
            the HTTP status says

Assumptions where the documents are silent (also listed in docs/providers.md):

- The API domain is a per-account setting with no default. Code 13 ("wrong API server") names the right
  domain in ``data``; we follow it once per call and remember it on the adapter instance
  (``redirected_domain`` lets the caller persist it). We only follow it to a Mobizon host (``*.mobizon.<tld>``)
  – or, when we are talking to a loopback fake server, to another loopback host – so a broken answer can never
  send the API key elsewhere. ``data`` may be a bare host, a URL or an object holding one: all are accepted.
- ``params[deferredToTs]`` and the answers' timestamps carry no zone. We format and read them in the account's
  ``timezone`` option (default UTC; set it to the zone of the Mobizon account).
- ``params[validity]``: the document says 1 min – 3 days (4320 min). Newer Mobizon docs say 60–1440 min; we
  enforce the document's range and default to Mobizon's 1440.
- Scheduling window: the document says 1 hour – 14 days ahead. We keep a 5-minute margin on both ends so a call
  that takes a while, or a small clock skew, cannot push a message out of the window at Mobizon's end.
- ``GetSMSStatus`` ids: the parameter table says "maximum 100 characters", the codes table and protocol-notes
  say 100 ids. We always send an array (``ids[0]=…``), never the comma string, and at most 100 per call, which
  satisfies both readings.
- Codes 10 (concurrent save) and 999 (general service error) are treated as retryable; 3 ("contact support")
  is not. Code 30 is throttling. 8, 9 and 14 are credential/account problems that need a human.
- A 502/504 answer to a send means a gateway gave up while Mobizon may have acted: it is handled like a read
  timeout (the message becomes UNKNOWN and is reconciled), never resent blindly.
- Webhooks: JSON (Mobizon's "json" format) and, tolerantly, form-encoded bodies (``data[status]=…``). The XML
  format is refused with a message asking to switch the webhook to JSON.
- Balance for ``check()`` comes from ``user/getOwnBalance`` (Mobizon's official SDK and API docs; not in our
  document). If that method is not available to the key, ``check()`` falls back to a one-page ``message/list``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from django.utils.crypto import constant_time_compare

from .base import BaseAdapter, CredentialField, Feature, Limits, WebhookKind
from .exceptions import (
    ProviderAuthError,
    ProviderError,
    ProviderResponseError,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnparseableResponse,
    ProviderValidationError,
    WebhookAuthError,
    WebhookError,
)
from .http import HttpResponse, default_error_for, parse_retry_after
from .types import AccountCheck, DeliveryReport, MessageStatus, OutboundSMS, SendResult, WebhookRequest

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
SUCCESS_CODES = frozenset({0, 100})

# protocol-notes §3.1 (mobizon-api-docs apiCode.md): what each code means, for messages when Mobizon sends none.
CODE_MEANINGS: dict[int, str] = {
    1: "Validation error",
    2: "Record not found or not accessible",
    3: "Unidentified application error",
    4: "Wrong API module",
    5: "Wrong API method",
    6: "Wrong output format",
    8: "Login error (wrong API key or closed session)",
    9: "No access to this API method",
    10: "Could not save the data (concurrent update)",
    11: "A required parameter is missing",
    12: "A parameter breaks a limit",
    13: "Wrong API server for this account",
    14: "The account is blocked or deleted",
    15: "Operation error",
    30: "Too many calls to the same method",
    98: "Bulk operation only partly done",
    99: "Bulk operation: nothing processed",
    999: "General service error",
}
AUTH_CODES = frozenset({8, 9, 14})
RETRYABLE_CODES = frozenset({10, 999})
THROTTLE_CODE = 30
WRONG_DOMAIN_CODE = 13

VALIDITY_MIN, VALIDITY_MAX, VALIDITY_DEFAULT = 1, 4320, 1440  # minutes (document: 1 min – 3 days)
SCHEDULE_MARGIN_SECONDS = 300
STATUS_IDS_PER_CALL = 100
LIST_PAGE_SIZE = 50  # the document's example; newer docs allow 25, 50 or 100
RECONCILE_MAX_PAGES = 4
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"  # "2013-12-31 15:34:55"
KNOWN_DOMAINS = ("api.mobizon.kz", "api.mobizon.gmbh", "api.mobizon.ua", "api.mobizon.com.br", "api.mobizon.uz")
_MOBIZON_HOST = re.compile(r"^(?:[a-z0-9-]+\.)*mobizon\.[a-z]{2,10}(?:\.[a-z]{2,3})?$")
_HOSTPORT = re.compile(r"^[a-z0-9.-]+(?::\d{1,5})?$")


def webhook_signature(event_id: Any, attempt: Any, event_create_ts: Any, secret: str) -> str:
    """protocol-notes §3.4: ``sha1("{eventId}|{attempt}|{eventCreateTs}|{secretKey}")`` as lowercase hex."""
    return hashlib.sha1(f"{event_id}|{attempt}|{event_create_ts}|{secret}".encode()).hexdigest()  # noqa: S324


def normalize_domain(value: str) -> str:
    """``mobizon.kz``, ``api.mobizon.kz``, ``https://api.mobizon.kz/`` → ``api.mobizon.kz`` (host[:port])."""
    value = (value or "").strip()
    if "://" in value:
        value = urlsplit(value).netloc
    value = value.split("/", 1)[0].strip().lower().rstrip(".")
    if _MOBIZON_HOST.match(value.split(":", 1)[0]) and not value.startswith("api."):
        value = "api." + value
    return value


def _is_loopback(host: str) -> bool:
    host = host.split(":", 1)[0] if host.count(":") == 1 else host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class MobizonWrongDomain(ProviderResponseError):
    """Code 13: the account lives on another regional API server, named in ``domain``."""

    def __init__(self, message: str = "", *, domain: str = "", **kwargs):
        self.domain = domain
        super().__init__(message, **kwargs)


class MobizonAdapter(BaseAdapter):
    code = "mobizon"
    name = "Mobizon"
    documentation = "seeds 003 (Mobizon message API) + protocol-notes §3"
    default_base_url = ""  # no default domain: it depends on where the account was registered (§3.3)
    features = frozenset(
        {
            Feature.SEND,
            Feature.SCHEDULED,
            Feature.STATUS_POLL,
            Feature.RECONCILE,
            Feature.DELIVERY_WEBHOOK,
            Feature.BALANCE,
        }
    )
    max_batch_size = 1  # no bulk call in the document: one SendSmsMessage per message
    status_batch_size = STATUS_IDS_PER_CALL
    # protocol-notes §3.2; every status Mobizon documents. PDLIVRD (some segments delivered) is not final.
    status_map = {
        "NEW": MessageStatus.QUEUED,  # created, not yet sent
        "ENQUEUD": MessageStatus.QUEUED,  # queued for sending
        "ACCEPTD": MessageStatus.SENT,  # sent and accepted by the operator
        "PDLIVRD": MessageStatus.SENT,  # partly delivered; moves on to a final status later
        "DELIVRD": MessageStatus.DELIVERED,
        "UNDELIV": MessageStatus.UNDELIVERED,
        "REJECTD": MessageStatus.REJECTED,  # bad number, prohibited text, unregistered sender…
        "EXPIRED": MessageStatus.EXPIRED,  # not delivered within the validity period
        "DELETED": MessageStatus.FAILED,  # deleted by operator restrictions
    }
    credential_fields = (
        CredentialField(
            "api_key",
            "API key",
            secret=True,
            help_text="Mobizon control panel → Settings → API. 40 or 70 letters and digits.",
        ),
        CredentialField(
            "webhook_secret",
            "Webhook secret key",
            secret=True,
            required=False,
            help_text="The secret set on the Mobizon webhook (API → Webhooks); used to check each callback's sign.",
        ),
    )
    option_fields = (
        CredentialField(
            "domain",
            "API domain",
            help_text="The API server of the site you registered on, e.g. " + ", ".join(KNOWN_DOMAINS) + ".",
        ),
        CredentialField(
            "validity_minutes",
            "Validity (minutes)",
            required=False,
            initial=str(VALIDITY_DEFAULT),
            help_text="How long the network keeps trying: 1–4320 minutes.",
        ),
        CredentialField(
            "timezone",
            "Account time zone",
            required=False,
            initial="UTC",
            help_text="The time zone of the Mobizon account (scheduled times and reported times use it).",
        ),
        CredentialField(
            "reconcile_window_hours",
            "Reconcile window (hours)",
            required=False,
            initial="24",
            help_text="After a timeout, a message found by recipient and text within this window counts as sent.",
        ),
    )
    limits = Limits(
        sender_max_length=11,
        sender_numeric_max_length=16,
        schedule_min_ahead_seconds=3600,  # "not earlier than an hour from the current time"
        schedule_max_ahead_seconds=14 * 86400,  # "not later than 14 days"
    )
    webhook_kinds = (WebhookKind.DELIVERY,)

    def __init__(self, account, **kwargs):
        super().__init__(account, **kwargs)
        if account.base_url:
            base = account.base_url.rstrip("/")
            base = base.removesuffix("/service")
        else:
            domain = normalize_domain(str(self.options.get("domain") or ""))
            base = f"https://{domain}" if domain else ""
        self.base_url = base
        self.redirected_domain: str | None = None  # set when code 13 moved us; the caller may persist it
        self._issued_ids: set[str] = set()  # message ids this instance got back from sends

    # ------------------------------------------------------------------ the envelope
    def _query(self) -> list[tuple[str, str]]:
        return [("output", "json"), ("api", "v1"), ("apiKey", self.cred("api_key"))]

    def _call(
        self,
        module: str,
        method: str,
        fields: Sequence[tuple[str, str]] = (),
        *,
        operation: str,
        ambiguous: bool = False,
    ) -> dict:
        """One API call; returns the envelope ``{"code", "data", "message"}`` of a successful answer."""
        if not self.cred("api_key"):
            raise ProviderAuthError("The Mobizon account has no API key")
        for attempt in range(2):
            if not self.base_url:
                raise ProviderAuthError(
                    "The Mobizon account has no API domain: set it in the account (e.g. api.mobizon.kz)"
                )
            try:
                response = self.http.request(
                    "POST",
                    f"{self.base_url}/service/{module}/{method}",
                    operation=operation,
                    params=self._query(),
                    data=list(fields),
                    headers={"Content-Type": FORM_CONTENT_TYPE, "Cache-Control": "no-cache"},
                    ambiguous_on_timeout=ambiguous,
                    error_hook=partial(self._error_hook, ambiguous=ambiguous),
                )
            except MobizonWrongDomain as exc:
                if attempt == 0 and self._follow_domain(exc.domain):
                    continue
                # A configuration problem for a human (like wrong credentials): stop rather than reject messages.
                raise ProviderAuthError(
                    f"Mobizon says this account is served by another API server ({exc.domain or 'not named'}); "
                    "set the account's API domain to it",
                    code=WRONG_DOMAIN_CODE,
                    provider_message=exc.provider_message,
                ) from None
            return self._envelope(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _follow_domain(self, domain: str) -> bool:
        """Switch to the domain named by code 13, if it is a plausible Mobizon API host. Once per call."""
        target = normalize_domain(domain)
        if not target or not _HOSTPORT.match(target):
            return False
        current = urlsplit(self.base_url)
        host_ok = _MOBIZON_HOST.match(target.split(":", 1)[0]) or (
            _is_loopback(current.netloc) and _is_loopback(target)
        )
        if not host_ok or target == current.netloc:
            return False
        self.base_url = f"{current.scheme or 'https'}://{target}"
        self.redirected_domain = target
        return True

    @staticmethod
    def _decode(response: HttpResponse) -> dict | None:
        try:
            body = json.loads(response.content.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(body, dict) or "code" not in body:
            return None
        try:
            body["code"] = int(body["code"])
        except (TypeError, ValueError):
            return None
        return body

    def _envelope(self, response: HttpResponse) -> dict:
        body = self._decode(response)
        if body is None:  # the hook already refused these; kept for safety
            raise ProviderUnparseableResponse(
                f"Mobizon's answer is not its JSON envelope: {response.text[:200]!r}", status_code=response.status_code
            )
        return body

    def _error_hook(self, response: HttpResponse, *, ambiguous: bool = False) -> ProviderError | None:
        status = response.status_code
        if ambiguous and status in (502, 504):
            return ProviderTimeout(
                f"Mobizon's gateway answered HTTP {status}: the message may have been accepted; it will be reconciled",
                ambiguous=True,
                status_code=status,
            )
        body = self._decode(response)
        if status == 429 or status >= 500 or status in (401, 403):
            err = default_error_for(response, message=(body or {}).get("message", "") or "")
            return err
        if body is None:
            if status >= 400:
                return default_error_for(response)
            return ProviderUnparseableResponse(
                f"Mobizon's answer is not its JSON envelope: {response.text[:200]!r}", status_code=status
            )
        code = body["code"]
        if code in SUCCESS_CODES:
            return None if status < 400 else default_error_for(response, message=str(body.get("message") or ""))
        return mobizon_error(code, body.get("message"), body.get("data"), response)

    # ------------------------------------------------------------------ options
    def _zone(self) -> ZoneInfo:
        name = str(self.options.get("timezone") or "UTC")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ProviderValidationError(
                f"The Mobizon account's time zone {name!r} is not a known zone name", field="timezone"
            ) from None

    def _validity(self, message: OutboundSMS | None = None) -> int:
        raw = (message.extra.get("validity") if message else None) or self.options.get("validity_minutes")
        if raw in (None, ""):
            return VALIDITY_DEFAULT
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ProviderValidationError(f"Validity must be whole minutes, not {raw!r}", field="validity") from None
        if not VALIDITY_MIN <= value <= VALIDITY_MAX:
            raise ProviderValidationError(
                f"Mobizon accepts a validity of {VALIDITY_MIN}–{VALIDITY_MAX} minutes; got {value}", field="validity"
            )
        return value

    def format_ts(self, value: datetime) -> str:
        return value.astimezone(self._zone()).strftime(TIMESTAMP_FORMAT)

    def parse_ts(self, value: Any) -> datetime | None:
        if not value or not isinstance(value, str):
            return None
        try:
            naive = datetime.strptime(value.strip()[:19], TIMESTAMP_FORMAT)
        except ValueError:
            return None
        try:
            zone = self._zone()
        except ProviderValidationError:
            zone = ZoneInfo("UTC")
        return naive.replace(tzinfo=zone)

    # ------------------------------------------------------------------ validation
    def validate_message(self, message: OutboundSMS) -> None:
        super().validate_message(message)
        self._validity(message)
        mclass = message.extra.get("mclass")
        if mclass not in (None, "") and str(mclass) not in {"0", "1", "2", "3"}:
            raise ProviderValidationError(f"Mobizon's mclass is 0, 1, 2 or 3; got {mclass!r}", field="mclass")

    def validate_send_at(self, send_at: datetime) -> None:
        ahead = (send_at - timezone.now()).total_seconds()
        low = self.limits.schedule_min_ahead_seconds + SCHEDULE_MARGIN_SECONDS
        high = self.limits.schedule_max_ahead_seconds - SCHEDULE_MARGIN_SECONDS
        if not low <= ahead <= high:
            raise ProviderValidationError(
                "Mobizon schedules messages between 1 hour and 14 days ahead (we keep 5 minutes' margin at both "
                f"ends); this send time is {_describe_ahead(ahead)}",
                field="send_at",
            )

    # ------------------------------------------------------------------ send
    def send_fields(self, message: OutboundSMS) -> list[tuple[str, str]]:
        """The form fields of ``message/SendSmsMessage`` for one message (PHP array keys for params)."""
        fields = [("recipient", message.msisdn), ("text", message.text)]
        if message.sender:
            fields.append(("from", message.sender))
        name = message.extra.get("campaign_name")
        if name:
            fields.append(("params[name]", str(name)[:255]))
        if message.send_at is not None:
            fields.append(("params[deferredToTs]", self.format_ts(message.send_at)))
        mclass = message.extra.get("mclass")
        if mclass not in (None, ""):
            fields.append(("params[mclass]", str(mclass)))
        fields.append(("params[validity]", str(self._validity(message))))
        return fields

    def send_batch(self, batch: Sequence[OutboundSMS]) -> list[SendResult]:
        from campaigns.segments import count_segments

        results = []
        for message in batch:  # max_batch_size is 1; the loop keeps the hook honest if that ever changes
            envelope = self._call(
                "message", "sendSmsMessage", self.send_fields(message), operation="send", ambiguous=True
            )
            data = envelope.get("data") if isinstance(envelope.get("data"), dict) else {}
            message_id = data.get("messageId")
            if not message_id:
                # "Message is not accepted, see error code and data" (document's PHP example) – or code 100,
                # a background task: either way we hold no id, so the message is reconciled by lookup.
                results.append(
                    SendResult(
                        message.client_ref,
                        MessageStatus.UNKNOWN,
                        error_code=str(envelope.get("code", "")),
                        error_message=str(envelope.get("message") or "Mobizon returned no message id"),
                        raw=envelope,
                    )
                )
                continue
            external_id = str(message_id)
            self._issued_ids.add(external_id)
            results.append(
                SendResult(
                    message.client_ref,
                    MessageStatus.QUEUED,  # campaign status 1 (awaiting moderation) or 2 (sent) – both queued
                    external_id=external_id,
                    segments=count_segments(message.text).segments,  # estimate; segNum from status wins
                    raw=data,
                )
            )
        return results

    # ------------------------------------------------------------------ statuses
    def fetch_status_batch(self, external_ids: Sequence[str]) -> list[DeliveryReport]:
        if len(external_ids) > STATUS_IDS_PER_CALL:  # fetch_statuses chunks; this guards direct callers
            raise ProviderValidationError(f"Mobizon looks up at most {STATUS_IDS_PER_CALL} ids per call", field="ids")
        if not external_ids:
            return []
        fields = [(f"ids[{i}]", str(ext)) for i, ext in enumerate(external_ids)]
        envelope = self._call("message", "getSMSStatus", fields, operation="status")
        reports = []
        for item in _items(envelope.get("data")):
            if not isinstance(item, Mapping) or item.get("id") in (None, ""):
                continue
            raw_status = str(item.get("status") or "")
            reports.append(
                DeliveryReport(
                    external_id=str(item["id"]),
                    status=self.map_status(raw_status),
                    raw_status=raw_status,
                    occurred_at=self.parse_ts(item.get("statusUpdateTs")),
                    segments=_int_or_none(item.get("segNum")),
                    raw=dict(item),
                )
            )
        # Unknown or foreign ids are silently left out by Mobizon (§3.2): no report for them.
        return reports

    # ------------------------------------------------------------------ reconcile
    def reconcile(self, messages: Sequence[OutboundSMS]) -> list[SendResult | None]:
        """Find messages a timed-out send may have created, with ``message/List``.

        Matching rule: Mobizon keeps no reference of ours, so a message is recognised by what we sent. We search
        ``criteria[to]`` = the number and ``criteria[text]`` = the exact text (a complete-match criterion), newest
        first (``sort[id]=DESC``), and keep items whose ``to``, ``text`` and – when we set one – ``from`` are
        equal to ours, that were not handed out to another message already (ids this adapter got from its own
        sends, or matched earlier in this call), and whose send time, when Mobizon reports one, lies inside the
        ``reconcile_window_hours`` option (default 24 h; items not sent yet have no time and always qualify).
        The newest such item is taken as ours.

        Limits: an identical text sent to the same number inside the window by another campaign, or by hand in
        Mobizon's panel, is indistinguishable from ours; we then report it as ours, which errs towards not sending
        twice. Mobizon's list applies a forced creation-date limit of its own (the document hints at it), so very
        old messages are not found at all. When nothing matches on the pages we read, the message counts as not
        received (None: safe to send); when the list is longer than we read and nothing matched, we cannot tell
        and report UNKNOWN for a human.
        """
        window = self._reconcile_window()
        since = timezone.now() - window
        taken: set[str] = set(self._issued_ids)
        out: list[SendResult | None] = []
        for message in messages:
            found, complete = self._find_in_list(message, since=since, exclude=taken)
            if found is not None:
                taken.add(str(found["id"]))
                raw_status = str(found.get("status") or "")
                segments = _int_or_none(found.get("segNum"))
                cost = _decimal_or_none(found.get("segUserBuy"))
                out.append(
                    SendResult(
                        message.client_ref,
                        self.map_status(raw_status) if raw_status else MessageStatus.QUEUED,
                        external_id=str(found["id"]),
                        segments=segments,
                        cost=(cost * segments) if cost is not None and segments else None,
                        raw=dict(found),
                    )
                )
            elif complete:
                out.append(None)
            else:
                out.append(
                    SendResult(
                        message.client_ref,
                        MessageStatus.UNKNOWN,
                        error_code="reconcile_inconclusive",
                        error_message="Mobizon's message list is too long to tell whether this message was received",
                    )
                )
        return out

    def _reconcile_window(self) -> timedelta:
        raw = self.options.get("reconcile_window_hours") or 24
        try:
            hours = float(raw)
        except (TypeError, ValueError):
            hours = 24.0
        return timedelta(hours=max(hours, 0.25))

    def _find_in_list(self, message: OutboundSMS, *, since: datetime, exclude: set[str]) -> tuple[Mapping | None, bool]:
        """(newest matching item or None, whether every matching item was read)."""
        for page in range(RECONCILE_MAX_PAGES):
            fields = [("criteria[to]", message.msisdn), ("criteria[text]", message.text)]
            if message.sender:
                fields.append(("criteria[from]", message.sender))
            fields += [
                ("pagination[currentPage]", str(page)),
                ("pagination[pageSize]", str(LIST_PAGE_SIZE)),
                ("sort[id]", "DESC"),
            ]
            envelope = self._call("message", "list", fields, operation="reconcile")
            data = envelope.get("data") if isinstance(envelope.get("data"), Mapping) else {}
            items = [i for i in _items(data.get("items")) if isinstance(i, Mapping)]
            for item in items:
                if self._matches(item, message, since=since, exclude=exclude):
                    return item, True
            total = _int_or_none(data.get("totalItemCount"))
            read = page * LIST_PAGE_SIZE + len(items)
            if len(items) < LIST_PAGE_SIZE or total is None or read >= total:
                return None, True
        return None, False

    def _matches(self, item: Mapping, message: OutboundSMS, *, since: datetime, exclude: set[str]) -> bool:
        if item.get("id") in (None, "") or str(item["id"]) in exclude:
            return False
        if str(item.get("to") or "").lstrip("+") != message.msisdn:
            return False
        if str(item.get("text") or "") != message.text:
            return False
        if message.sender and item.get("from") not in (None, "") and str(item["from"]) != message.sender:
            return False
        sent_at = self.parse_ts(item.get("startSendTs"))
        return sent_at is None or sent_at >= since

    # ------------------------------------------------------------------ account
    def check(self) -> AccountCheck:
        try:
            envelope = self._call("user", "getOwnBalance", operation="check")
        except (ProviderResponseError, ProviderAuthError) as exc:
            if exc.code not in {"4", "5", "9"}:
                raise
            # The balance method is not open to this key: any authenticated read proves the key works.
            self._call(
                "message",
                "list",
                [("pagination[currentPage]", "0"), ("pagination[pageSize]", "25")],
                operation="check",
            )
            return AccountCheck(ok=True, detail=f"Connected to {self._host()} (balance not available to this key)")
        data = envelope.get("data") if isinstance(envelope.get("data"), Mapping) else {}
        balance = _decimal_or_none(data.get("balance"))
        currency = str(data.get("currency") or "")[:3]
        detail = f"Connected to {self._host()}"
        if self.redirected_domain:
            detail += " (Mobizon moved us here: update the account's API domain)"
        return AccountCheck(ok=True, balance=balance, currency=currency, detail=detail)

    def _host(self) -> str:
        return urlsplit(self.base_url).netloc or self.base_url

    # ------------------------------------------------------------------ webhooks
    def _webhook_payload(self, request: WebhookRequest) -> dict:
        content_type = request.header("Content-Type").lower()
        body = request.body.strip()
        if not body:
            raise WebhookError("Empty Mobizon callback")
        if "xml" in content_type or body.startswith(b"<"):
            raise WebhookError("Mobizon callbacks must use the JSON format (set it on the webhook in Mobizon)")
        if "json" in content_type or body[:1] in (b"{", b"["):
            try:
                payload = json.loads(body.decode("utf-8-sig"))
            except (ValueError, UnicodeDecodeError):
                raise WebhookError("Mobizon callback is not valid JSON") from None
            if not isinstance(payload, dict):
                raise WebhookError("Mobizon callback is not a JSON object")
            return payload
        return _php_form_to_dict(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))

    def verify_webhook(self, kind: WebhookKind, request: WebhookRequest, token: str) -> None:
        """The per-account URL token, then Mobizon's sha1 ``sign`` when the account has a webhook secret.

        Mobizon sends no ``sign`` when no secret is set on the webhook (§3.4); then the URL token alone
        authenticates. With a secret configured, a missing or wrong sign is refused.
        """
        super().verify_webhook(kind, request, token)
        secret = self.cred("webhook_secret")
        if not secret:
            return
        if request.method in ("GET", "HEAD") and not request.body.strip():
            return  # a reachability check of the URL: nothing is signed and nothing will be parsed
        payload = self._webhook_payload(request)
        sign = str(payload.get("sign") or "").strip().lower()
        if not sign:
            raise WebhookAuthError("Mobizon callback without a sign, but the account has a webhook secret")
        missing = [k for k in ("eventId", "attempt", "eventCreateTs") if payload.get(k) in (None, "")]
        if missing:
            raise WebhookAuthError(f"Mobizon callback cannot be verified: {', '.join(missing)} missing")
        expected = webhook_signature(payload["eventId"], payload["attempt"], payload["eventCreateTs"], secret)
        if not constant_time_compare(sign, expected):
            raise WebhookAuthError("Mobizon callback sign does not match the webhook secret")

    def parse_webhook(self, kind: WebhookKind, request: WebhookRequest) -> list[DeliveryReport]:
        if kind != WebhookKind.DELIVERY:
            return super().parse_webhook(kind, request)
        payload = self._webhook_payload(request)
        event_type = str(payload.get("eventType") or "sms-delivery-report")
        if event_type != "sms-delivery-report":
            return []  # form events reach every webhook of the account; they are not ours to handle
        data = payload.get("data")
        if not isinstance(data, Mapping):
            raise WebhookError("Mobizon delivery callback without data")
        message_id = data.get("messageId")
        if message_id in (None, ""):
            raise WebhookError("Mobizon delivery callback without data.messageId")
        raw_status = str(data.get("status") or "")
        if not raw_status:
            raise WebhookError("Mobizon delivery callback without data.status")
        to = str(data.get("to") or "").lstrip("+")
        return [
            DeliveryReport(
                external_id=str(message_id),
                status=self.map_status(raw_status),
                raw_status=raw_status,
                to=f"+{to}" if to else "",
                occurred_at=self.parse_ts(data.get("statusUpdateTs")) or self.parse_ts(payload.get("eventCreateTs")),
                segments=_int_or_none(data.get("segNum")),
                event_id=str(payload.get("eventId") or ""),  # the same on every retry: dedupe on it
                raw=payload,
            )
        ]


# ---------------------------------------------------------------------- helpers
def mobizon_error(code: int, message: Any, data: Any, response: HttpResponse | None = None) -> ProviderError:
    """A Mobizon error envelope → the error tree, keeping Mobizon's code and message."""
    text = str(message or "").strip()
    meaning = CODE_MEANINGS.get(code, "Mobizon error")
    details = _data_details(data) if code in (1, 11, 12, 15, 98, 99) else ""
    provider_message = "; ".join(p for p in (text, details) if p) or meaning
    status = response.status_code if response is not None else None
    summary = f"Mobizon: {meaning}" + (f": {provider_message}" if provider_message != meaning else "")
    kwargs = {"code": code, "provider_message": provider_message, "status_code": status}
    if code == WRONG_DOMAIN_CODE:
        return MobizonWrongDomain(summary, domain=_domain_from(data), **kwargs)
    if code == THROTTLE_CODE:
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
        return ProviderThrottled(summary, retry_after=retry_after, **kwargs)
    if code in AUTH_CODES:
        return ProviderAuthError(summary, **kwargs)
    return ProviderResponseError(summary, retryable=code in RETRYABLE_CODES, **kwargs)


def _domain_from(data: Any) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, Mapping):
        for key in ("domain", "apiServer", "server", "host", "url"):
            if isinstance(data.get(key), str):
                return data[key]
        strings = [v for v in data.values() if isinstance(v, str)]
        return strings[0] if len(strings) == 1 else ""
    if isinstance(data, list) and data and isinstance(data[0], str):
        return data[0]
    return ""


def _data_details(data: Any) -> str:
    """Code 1's ``data`` names the wrong fields: ``{"recipient": "…"}`` → ``recipient: …``."""
    if isinstance(data, Mapping):
        parts = []
        for key, value in data.items():
            if isinstance(value, list | tuple):
                value = ", ".join(str(v) for v in value)
            elif isinstance(value, Mapping):
                value = ", ".join(f"{k}: {v}" for k, v in value.items())
            parts.append(f"{key}: {value}")
        return "; ".join(parts)[:400]
    if isinstance(data, list):
        return "; ".join(str(v) for v in data)[:400]
    if isinstance(data, str):
        return data[:400]
    return ""


def _items(value: Any) -> list:
    """Mobizon's arrays may arrive as JSON objects (PHP arrays with non-sequential keys)."""
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return list(value.values())
    return []


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _decimal_or_none(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _php_form_to_dict(form: Mapping[str, list[str]]) -> dict:
    """``data[status]=DELIVRD`` → ``{"data": {"status": "DELIVRD"}}`` (one level, as Mobizon's payload has)."""
    out: dict[str, Any] = {}
    for key, values in form.items():
        value = values[0] if values else ""
        m = re.fullmatch(r"([^\[\]]+)\[([^\[\]]*)\]", key)
        if m:
            out.setdefault(m.group(1), {})
            if isinstance(out[m.group(1)], dict):
                out[m.group(1)][m.group(2)] = value
        else:
            out[key] = value
    return out


def _describe_ahead(seconds: float) -> str:
    if seconds < 0:
        return "in the past"
    if seconds < 3600:
        return f"{int(seconds // 60)} minutes ahead"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours ahead"
    return f"{seconds / 86400:.1f} days ahead"
