"""Apifon (https://ars.apifon.com): JSON REST with HMAC or OAuth2, lists/subscribers/bounce list, SMS with
per-subscriber params, scheduled sends, delivery and reply callbacks, balance.

Contract: ``seeds/004_94193108bab8683b.txt`` (the API reference) and ``seeds/protocol-notes.md`` §1 (what the
reference leaves out: HMAC string-to-sign, hosts, OAuth2 token endpoint, unsigned callbacks).

Choices made where the document is silent (also listed in docs/providers.md):

* HMAC signs ``METHOD\\nPATH\\nBODY\\nDATE`` with the path *without* the query string (Apifon's Node SDK);
  ``sign_query`` per account switches to signing ``path?query`` (protocol-notes §1.1, "M").
* OAuth2 client-credentials fields go in a form body (RFC 6749), not the SDK's query string; a token without
  ``expires_in`` is taken to live one hour; a 401 refreshes the token once and retries once.
* The document gives no limit on subscribers per ``sms/send`` or ``subscriber/bulk`` request: we send at most
  ``max_batch_size`` (1000) and ``CONTACTS_BULK_SIZE`` (500).
* Different texts in one request use one placeholder (``{sms_text}``) filled from each subscriber's ``params``;
  we assume Apifon substitutes once and does not re-scan the substituted value for placeholders. A single text
  without ``{...}`` is sent as is. ``dc`` is 0 (GSM-7) or 2 (UCS-2), so batches are grouped by encoding.
* ``external_id`` is ``"<request_id>:<message_id>"``: cancelling needs the request id (``sms/remove`` works on
  REQUEST_ID or REFERENCE_ID only) and every delivery callback carries both.
* ``reference_id`` of a request is the ``client_ref`` of its first message (the batch "anchor"); each
  subscriber's ``custom_id`` is its ``client_ref``. See :meth:`ApifonAdapter.reconcile`.
* The balance answer has no currency: the account option ``balance_currency`` (default EUR) names it.
* Callbacks are unsigned (notes §1.4): the per-account token in the callback URL authenticates them. The
  callback URL must be https (document), so no ``callback_url`` is sent when our public URL is plain http.
* SMS reply callbacks: the SMS request table has no ``reply_url`` (only IM has); replies of 2-way sender ids are
  configured in Apifon's panel. ``send_reply_url`` per account adds ``reply_url`` to SMS requests anyway.
* A 408 answer to a send is treated like a read timeout (ambiguous); to any other call it is retryable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from email.utils import formatdate
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from django.utils import timezone

from .base import BaseAdapter, CredentialField, Feature, Limits, WebhookKind, chunked
from .exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderNotSupported,
    ProviderResponseError,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnparseableResponse,
    ProviderValidationError,
    WebhookError,
)
from .http import HttpResponse, parse_retry_after, scrub
from .types import (
    AccountCheck,
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

logger = logging.getLogger("providers.apifon")

API = "/services/api/v1"
DEFAULT_IDENTITY_URL = "https://ids.apifon.com"  # protocol-notes §1.2 (staging: https://ids-staging.apifon.com)
DEFAULT_SCOPES = "smsGateway accountInfo readList writeList readSubscriber writeSubscriber"
TEXT_PARAM = "sms_text"  # the placeholder that carries each subscriber's own text in a mixed batch
PAGE_SIZE = 200  # documented maximum for subscribers and the bounce list
LIST_PAGE_SIZE = 50  # lists: no documented maximum (default 20); kept small
CONTACTS_BULK_SIZE = 500  # subscriber/bulk: no documented maximum
RECONCILE_MIN_AHEAD = 120  # seconds: a scheduled batch closer than this may already be leaving
DEFAULT_TOKEN_LIFETIME = 3600  # seconds, when the token answer has no expires_in
_PLACEHOLDER = re.compile(r"\{[^{}\s]+\}")
_MSISDN = re.compile(r"[1-9][0-9]{6,14}")  # "only digits between 7-15 digits long. First digit cannot be a 0."

# --- statuses -----------------------------------------------------------------------------------------------
# "SMS Callback Statuses" table of the document: code -> (text, normalized, description).
SMS_STATUSES: dict[int, tuple[str, MessageStatus, str]] = {
    1: ("absent", MessageStatus.UNDELIVERED, "No paging response from the Message Service."),
    3: ("accepted", MessageStatus.QUEUED, "Message accepted for delivery."),
    4: ("accepted_smsc", MessageStatus.SENT, "Message delivered to the Mobile Network Operator."),
    5: ("call_barred", MessageStatus.UNDELIVERED, "Subscriber enabled call barring."),
    7: ("delivered", MessageStatus.DELIVERED, "Message delivered to destination successfully."),
    8: ("expired", MessageStatus.EXPIRED, "The validity period of the message has expired."),
    # A click on the message's short link: proof of delivery (engagement event; never lowers a status).
    11: ("open", MessageStatus.DELIVERED, "The shortened URL in the message was opened by the recipient."),
    18: ("rejected_smsc", MessageStatus.REJECTED, "Message rejected by SMSC Provider."),
    19: ("teleservice_not_provisioned", MessageStatus.UNDELIVERED, "Destination has no SMS subscription."),
    21: ("unexpected_value", MessageStatus.UNDELIVERED, "Message delivered to SMSC and an error occurred there."),
    22: ("unknown_sub", MessageStatus.UNDELIVERED, "Number does not match to an MSISDN."),
    23: ("smpp_refused", MessageStatus.REJECTED, "Message refused by SMPP Provider."),
    24: ("smsc_refused", MessageStatus.REJECTED, "Message refused by SMSC Provider."),
    101: ("no_sender", MessageStatus.REJECTED, "Sender Id is not set."),
    103: ("invalid_sender", MessageStatus.REJECTED, "Sender Id is not valid."),
    105: ("lookup_invalid_msisdn", MessageStatus.REJECTED, "The destination number to send to is invalid."),
    106: ("unknown_sender_type", MessageStatus.REJECTED, "Does not recognize Sender Id Type."),
    107: ("account_not_allowed", MessageStatus.REJECTED, "The account has not been accepted."),
    109: ("no_coverage", MessageStatus.REJECTED, "No coverage: contact the account manager."),
    110: ("no_price", MessageStatus.REJECTED, "No price: contact the account manager."),
    111: ("spam_control", MessageStatus.REJECTED, "An identical message was already sent to the destination."),
    112: ("no_route_plan", MessageStatus.REJECTED, "There is no routing for the destination network."),
    113: ("invalid_account", MessageStatus.REJECTED, "The account has been suspended."),
    115: ("account_insufficient_credits", MessageStatus.REJECTED, "The message can't be sent due to low balance."),
}
# "IM Callback Statuses" (Viber): only used when a callback says type VIBER (SMS failover reports come as SMS).
IM_STATUSES: dict[int, tuple[str, MessageStatus, str]] = {
    3: ("sent", MessageStatus.SENT, "Delivered to the provider; pending until delivered or expired."),
    7: ("delivered", MessageStatus.DELIVERED, "Message delivered to the destination successfully."),
    8: ("expired", MessageStatus.EXPIRED, "The validity period of the message has expired."),
    10: ("seen", MessageStatus.DELIVERED, "The user saw the message."),
    11: ("open", MessageStatus.DELIVERED, "The shortened URL in the message was opened by the recipient."),
    22: ("unknown_user", MessageStatus.UNDELIVERED, "The destination is not a reachable user of the IM application."),
    101: ("no_sender", MessageStatus.REJECTED, "Sender ID is not set or is invalid."),
    105: ("invalid_msisdn", MessageStatus.REJECTED, "The destination number to send to is invalid."),
    109: ("no_coverage", MessageStatus.REJECTED, "No coverage: contact the account manager."),
    110: ("no_product", MessageStatus.REJECTED, "No price: contact the account manager."),
    111: ("spam_control", MessageStatus.REJECTED, "An identical message was already sent to the destination."),
    115: ("account_insufficient_credits", MessageStatus.REJECTED, "The message can't be sent due to low balance."),
    119: ("sender_id_disabled", MessageStatus.REJECTED, "The sender ID is disabled."),
    120: ("no_active_subscription", MessageStatus.REJECTED, "No active subscription for the Sender ID."),
    121: ("invalid_url", MessageStatus.REJECTED, "The message contains an invalid URL."),
    130: ("shared_sender_cap", MessageStatus.REJECTED, "The shared Sender ID reached its message cap."),
}
_SUCCESSFUL = {MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED}

# "Status Codes" table: HTTP status -> meaning (used when an error body has no title).
HTTP_MEANINGS: dict[int, str] = {
    200: "Request completed successfully.",
    201: "Request completed successfully and the resource has been created.",
    204: "Request completed successfully, no content to return.",
    304: "Not modified - the request was completed but the resource was not modified.",
    400: "Bad Request - the request is invalid and was not understood by the API.",
    401: "Unauthorized - header Authorization missing, invalid or revoked, or the host IP is not authorized.",
    403: "The request contains invalid or illegal values.",
    404: "Not Found - the endpoint or the resource does not exist.",
    405: "Method Not Allowed.",
    408: "Request timed out. Server failed to deliver a response in time.",
    409: "Conflict.",
    415: "Unsupported Media Type.",
    429: "Too many requests (Throttling).",
    500: "Internal Server Error.",
}

# Bounce list reasons (BLOCK_REASONS) <-> our BlocklistEntry reasons.
BLOCK_REASON_TO_OURS = {
    "sub_requested": "opted_out",
    "not_delivering": "hard_failure",
    "sub_invalid": "hard_failure",
    "sub_deleted": "provider",
    "other": "provider",
}
OURS_TO_BLOCK_REASON = {
    "opted_out": "sub_requested",
    "hard_failure": "not_delivering",
    "manual": "other",
    "provider": "other",
    "imported": "other",
}
BLOCK_REASONS = frozenset(BLOCK_REASON_TO_OURS)


def block_reason(reason: str) -> str:
    """Our reason (a value such as ``opted_out`` or its label "Opted out by reply") -> a BLOCK_REASONS option."""
    value = (reason or "").strip()
    if value in BLOCK_REASONS:
        return value
    key = re.sub(r"[^a-z]+", "_", value.lower()).strip("_")
    if key in OURS_TO_BLOCK_REASON:
        return OURS_TO_BLOCK_REASON[key]
    if "opt" in key or "stop" in key or "unsubscrib" in key:
        return "sub_requested"
    if "fail" in key or "bounce" in key or "undeliver" in key:
        return "not_delivering"
    if "invalid" in key:
        return "sub_invalid"
    return "other"


# --- HMAC (protocol-notes §1.1) -----------------------------------------------------------------------------
def string_to_sign(method: str, path: str, body: bytes | str, date_header: str) -> bytes:
    """``METHOD\\nPATH\\nBODY\\nDATE`` as UTF-8 bytes; BODY is the exact bytes sent ("" without a body)."""
    body_bytes = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    return method.upper().encode() + b"\n" + path.encode("utf-8") + b"\n" + body_bytes + b"\n" + date_header.encode()


def hmac_signature(secret_key: str, method: str, path: str, body: bytes | str, date_header: str) -> str:
    """base64(HMAC-SHA256(secret key, string to sign)), standard alphabet with padding."""
    digest = hmac.new(secret_key.encode("utf-8"), string_to_sign(method, path, body, date_header), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode("ascii")


def signed_path(url: str, *, sign_query: bool) -> str:
    """The URI path that goes into the signature. Default: no query string (Node SDK). An assumption: see notes."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if sign_query and parts.query:
        return f"{path}?{parts.query}"
    return path


# --- OAuth2 token cache (process-wide, per identity server + client) ---------------------------------------
def _clock() -> float:
    """Monotonic seconds; a module function so tests can move time without sleeping."""
    return time.monotonic()


@dataclass
class _CachedToken:
    value: str
    expires_at: float
    refresh_at: float


_tokens: dict[tuple[str, str, str], _CachedToken] = {}
_token_locks: dict[tuple[str, str, str], threading.Lock] = {}
_tokens_guard = threading.Lock()


def _token_lock(key: tuple[str, str, str]) -> threading.Lock:
    with _tokens_guard:
        return _token_locks.setdefault(key, threading.Lock())


def clear_token_cache() -> None:
    with _tokens_guard:
        _tokens.clear()


# --- small helpers ------------------------------------------------------------------------------------------
def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def loads_tolerant(text: str | bytes) -> Any:
    """JSON, forgiving the copy slips the document shows (``,,`` and trailing commas). Raises ValueError."""
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig", "replace")
    try:
        return json.loads(text)
    except ValueError:
        repaired = re.sub(r",\s*,", ",", text)
        repaired = re.sub(r",\s*([}\]])", r"\1", repaired)
        return json.loads(repaired)


def external_id_for(request_id: str, message_id: str) -> str:
    return f"{request_id}:{message_id}" if request_id else str(message_id or "")


def split_external_id(external_id: str) -> tuple[str, str]:
    """``"<request_id>:<message_id>"`` -> (request_id, message_id); a bare message id has no request id."""
    if ":" in external_id:
        request_id, message_id = external_id.split(":", 1)
        return request_id, message_id
    return "", external_id


def destination_id(phone: str) -> str:
    """Apifon's ``destination_id`` / ``lookup_md5``: MD5 of the number's digits (matches the document's example:
    ``306999999999`` -> ``7c845e6ece4f466f62f01767d0fd9cc4``)."""
    return hashlib.md5(phone.lstrip("+").encode("ascii", "ignore"), usedforsecurity=False).hexdigest()


def field_key(name: str) -> str:
    """Normalize a subscriber field name or identifier for matching: ``"First name"`` -> ``"FIRST_NAME"``."""
    return re.sub(r"[^A-Z0-9]+", "_", str(name).upper()).strip("_")


def _epoch_to_datetime(value: Any) -> datetime | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if seconds > 1e11:  # milliseconds (list/subscriber dates are in ms, callbacks in s)
        seconds /= 1000
    return datetime.fromtimestamp(seconds, tz=UTC)


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _webhook_path(code: str, account_uuid: str, kind: str, token: str) -> str:
    """Our callback path. Uses the ``providers:webhook`` URL when it is defined (with the token as a path
    argument or, failing that, as ``?token=``); otherwise the GUIDE's ``providers/<code>/<uuid>/<kind>/``."""
    from django.urls import NoReverseMatch, reverse

    base = {"code": code, "account_uuid": account_uuid, "kind": kind}
    try:
        return reverse("providers:webhook", kwargs={**base, "token": token})
    except NoReverseMatch:
        pass
    try:
        return reverse("providers:webhook", kwargs=base) + "?" + urlencode({"token": token})
    except NoReverseMatch:
        return f"/providers/{code}/{account_uuid}/{kind}/?" + urlencode({"token": token})


class ApifonAdapter(BaseAdapter):
    code = "apifon"
    name = "Apifon"
    documentation = "seeds/004_94193108bab8683b.txt; protocol-notes.md §1"
    default_base_url = "https://ars.apifon.com"
    features = frozenset(
        {
            Feature.SEND,
            Feature.BATCH_SAME_TEXT,
            Feature.BATCH_PERSONAL,
            Feature.SCHEDULED,
            Feature.CANCEL,
            Feature.DELIVERY_WEBHOOK,
            Feature.INBOUND_WEBHOOK,
            Feature.RECONCILE,  # scheduled batches only: see reconcile()
            Feature.BALANCE,
            Feature.CONTACTS_SYNC,
            Feature.GROUPS_SYNC,
            Feature.BLOCKLIST_SYNC,
        }
    )
    max_batch_size = 1000  # the document sets no limit on subscribers per request
    status_map = {str(code): status for code, (_, status, _) in SMS_STATUSES.items()} | {
        text: status for _, (text, status, _) in SMS_STATUSES.items()
    }
    credential_fields = (
        CredentialField(
            "api_token",
            "API token",
            required=False,
            help_text='HMAC mode: the token ("API Token / Client ID") sent before the colon.',
        ),
        CredentialField(
            "secret_key",
            "Secret key",
            secret=True,
            required=False,
            help_text='HMAC mode: the key the requests are signed with (the panel calls it "API Key").',
        ),
        CredentialField("client_id", "OAuth client id", required=False, help_text="OAuth2 mode."),
        CredentialField("client_secret", "OAuth client secret", secret=True, required=False, help_text="OAuth2 mode."),
    )
    option_fields = (
        CredentialField(
            "auth_mode",
            "Authentication",
            choices=(("hmac", "HMAC signature (token + secret key)"), ("oauth", "OAuth2 client credentials")),
            initial="hmac",
        ),
        CredentialField(
            "identity_url",
            "OAuth identity server",
            required=False,
            initial=DEFAULT_IDENTITY_URL,
            help_text="Token endpoint host; staging is https://ids-staging.apifon.com.",
        ),
        CredentialField("oauth_scope", "OAuth scopes", required=False, initial=DEFAULT_SCOPES),
        CredentialField(
            "sign_query",
            "Sign the query string",
            required=False,
            choices=(("false", "No (path only)"), ("true", "Yes (path?query)")),
            initial="false",
            help_text="Whether GET query strings are part of the HMAC string to sign (undocumented).",
        ),
        CredentialField(
            "callback_base_url",
            "Public https base URL for callbacks",
            required=False,
            help_text="Defaults to the site's public URL; Apifon only calls https URLs.",
        ),
        CredentialField(
            "send_reply_url",
            "Send reply_url with SMS",
            required=False,
            choices=(("false", "No (replies configured in Apifon's panel)"), ("true", "Yes")),
            initial="false",
        ),
        CredentialField(
            "default_list_id",
            "Default list for contacts",
            required=False,
            help_text="Apifon list that receives synced contacts who are in none of the synced groups.",
        ),
        CredentialField(
            "list_prefix",
            "Country code of new lists",
            required=False,
            help_text="e.g. +30; empty: the workspace's default country.",
        ),
        CredentialField("balance_currency", "Balance currency", required=False, initial="EUR"),
    )
    limits = Limits(sender_max_length=11, sender_numeric_max_length=16)
    webhook_kinds = (WebhookKind.DELIVERY, WebhookKind.INBOUND)

    def __init__(self, account, **kwargs):
        super().__init__(account, **kwargs)
        # The webhook token travels inside callback_url in every send body: keep it out of the request log.
        self.http.add_secret(account.webhook_token)
        self._lists: dict[str, dict] = {}
        self._list_fields: dict[str, dict[str, dict]] = {}
        self._inactive: dict[str, dict[str, str]] = {}
        self._blocked: set[str] | None = None
        self._lists_scanned = False

    # ================================================================== options
    @property
    def auth_mode(self) -> str:
        mode = str(self.options.get("auth_mode") or "hmac").strip().lower()
        return "oauth" if mode in {"oauth", "oauth2"} else "hmac"

    @property
    def sign_query(self) -> bool:
        return _truthy(self.options.get("sign_query", False))

    @property
    def identity_url(self) -> str:
        return str(self.options.get("identity_url") or DEFAULT_IDENTITY_URL).rstrip("/")

    def api_url(self, path: str, query: dict[str, Any] | None = None) -> str:
        url = self.url(f"{API}/{path.lstrip('/')}")
        if query:
            url += "?" + urlencode([(k, v) for k, v in query.items() if v not in (None, "")])
        return url

    # ================================================================== auth
    def _auth_headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        # The date goes with OAuth too (the document's OAuth examples carry it; harmless).
        date_header = formatdate(usegmt=True)
        headers = {"Content-Type": "application/json", "X-ApifonWS-Date": date_header}
        if self.auth_mode == "oauth":
            headers["Authorization"] = f"Bearer {self._access_token()}"
            return headers
        token, secret = self.cred("api_token"), self.cred("secret_key")
        if not token or not secret:
            raise ProviderAuthError("Apifon HMAC mode needs the API token and the secret key")
        signature = hmac_signature(secret, method, signed_path(url, sign_query=self.sign_query), body, date_header)
        self.http.add_secret(signature)
        headers["Authorization"] = f"ApifonWS {token}:{signature}"
        return headers

    def _token_key(self) -> tuple[str, str, str]:
        scope = str(self.options.get("oauth_scope") or DEFAULT_SCOPES)
        fingerprint = hashlib.sha256(f"{self.cred('client_secret')}\0{scope}".encode()).hexdigest()
        return (self.identity_url, self.cred("client_id"), fingerprint)

    def _access_token(self, *, stale: str = "") -> str:
        """A valid Bearer token from the process-wide cache; fetched when missing, near expiry or ``stale``."""
        if not self.cred("client_id") or not self.cred("client_secret"):
            raise ProviderAuthError("Apifon OAuth2 mode needs the client id and the client secret")
        key = self._token_key()
        cached = _tokens.get(key)
        if cached and cached.value != stale and _clock() < cached.refresh_at:
            self.http.add_secret(cached.value)
            return cached.value
        with _token_lock(key):  # one fetch per key at a time; the others reuse its result
            cached = _tokens.get(key)
            if cached and cached.value != stale and _clock() < cached.refresh_at:
                self.http.add_secret(cached.value)
                return cached.value
            token = self._fetch_token()
            with _tokens_guard:
                _tokens[key] = token
            return token.value

    def _fetch_token(self) -> _CachedToken:
        started = _clock()
        response = self.http.request(
            "POST",
            f"{self.identity_url}/oauth2/token",
            operation="oauth.token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.cred("client_id"),
                "client_secret": self.cred("client_secret"),
                "scope": str(self.options.get("oauth_scope") or DEFAULT_SCOPES),
            },
            error_hook=self._token_error,
        )
        data = self._json(response)
        value = str(data.get("access_token") or "") if isinstance(data, dict) else ""
        if not value:
            raise ProviderUnparseableResponse("Apifon's token answer has no access_token")
        self.http.add_secret(value)
        try:
            lifetime = float(data.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        margin = min(300.0, lifetime * 0.1)  # renew a little before expiry
        return _CachedToken(value=value, expires_at=started + lifetime, refresh_at=started + lifetime - margin)

    def _token_error(self, response: HttpResponse) -> ProviderError | None:
        if response.status_code < 400:
            return None
        try:
            data = loads_tolerant(response.content)
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        error = str(data.get("error") or "")
        description = str(data.get("error_description") or error or HTTP_MEANINGS.get(response.status_code, ""))
        message = scrub(f"Apifon refused the OAuth2 token request: {description}", self.http.secrets)
        status = response.status_code
        if status == 429:
            return ProviderThrottled(
                message,
                code=status,
                provider_message=description,
                status_code=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500 or status == 408:
            return ProviderConnectionError(message, code=status, provider_message=description, status_code=status)
        if status in (400, 401, 403) and error in {
            "",
            "invalid_client",
            "unauthorized_client",
            "invalid_grant",
            "invalid_scope",
            "access_denied",
        }:
            return ProviderAuthError(message, code=error or status, provider_message=description, status_code=status)
        return ProviderResponseError(message, code=error or status, provider_message=description, status_code=status)

    # ================================================================== HTTP
    def _call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        query: dict[str, Any] | None = None,
        json_body: Any = None,
        send: bool = False,
    ) -> HttpResponse:
        """One API call: serialize the body once, sign those bytes, send the same bytes.

        OAuth mode: a 401 renews the token and retries once (a 401 means nothing was processed).
        A 304 (not modified) is a success for updates.
        """
        url = self.api_url(path, query)
        body = b""
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        attempts = 2 if self.auth_mode == "oauth" else 1
        for attempt in range(attempts):
            headers = self._auth_headers(method, url, body)
            try:
                return self.http.request(
                    method,
                    url,
                    operation=operation,
                    body=body or None,
                    headers=headers,
                    ambiguous_on_timeout=send,
                    error_hook=lambda r: self._error_for(r, send=send),
                )
            except ProviderAuthError:
                if attempt + 1 < attempts:
                    self._access_token(stale=headers["Authorization"].removeprefix("Bearer "))
                    continue
                raise
            except ProviderResponseError as exc:
                if exc.status_code == 304:
                    return HttpResponse(status_code=304, headers={}, content=b"", url=url, elapsed_ms=0)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, response: HttpResponse) -> Any:
        if not response.content.strip():
            return None
        try:
            return loads_tolerant(response.content)
        except ValueError as exc:
            raise ProviderUnparseableResponse(
                f"Apifon's answer is not JSON: {response.text[:200]!r}", status_code=response.status_code
            ) from exc

    def _error_for(self, response: HttpResponse, *, send: bool = False) -> ProviderError | None:
        """Map an answer to the error tree, keeping Apifon's status and message; None when it is fine."""
        status = response.status_code
        if status == 304:
            return None
        if status < 400:
            if not send or status >= 300:
                return None
            # A send answers 200 with result_info.status_code; anything but 2xx there is an error too.
            try:
                data = loads_tolerant(response.content)
            except ValueError:
                return None  # unreadable 2xx: send_batch decides (the request was probably processed)
            info = data.get("result_info") if isinstance(data, dict) else None
            if not isinstance(info, dict):
                return None
            try:
                code = int(str(info.get("status_code", 200)).strip() or 200)
            except ValueError:
                return None
            if 200 <= code < 300:
                return None
            return self._exception(code, str(info.get("description") or ""), "", "", response, send=send)
        title, details, report = self._error_body(response)
        return self._exception(status, title, details, report, response, send=send)

    def _error_body(self, response: HttpResponse) -> tuple[str, str, str]:
        """(title, details, error_report_code) from ``{status, title, error_details, error_report_code}``.

        The document's own examples are not valid JSON (unquoted values), so fall back to a tolerant scan.
        """
        text = response.text
        try:
            data = loads_tolerant(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            info = data.get("result_info") if isinstance(data.get("result_info"), dict) else {}
            title = str(data.get("title") or info.get("description") or data.get("message") or "")
            raw_details = data.get("error_details")
            if isinstance(raw_details, dict):
                details = "; ".join(f"{k}: {v}" for k, v in raw_details.items())
            else:
                details = str(raw_details or "")
            return title, details, str(data.get("error_report_code") or "")
        title = re.search(r'"title"\s*:\s*"([^"]*)"', text)
        report = re.search(r'"error_report_code"\s*:\s*"?([0-9A-Za-z-]+)', text)
        details = re.search(r'"error_details"\s*:\s*\{(.*?)\}', text, re.S)
        detail_text = ""
        if details:
            pairs = re.findall(r'"([^"]+)"\s*:\s*"?([^",}\n]*)"?', details.group(1))
            detail_text = "; ".join(f"{k}: {v.strip()}" for k, v in pairs)
        if not title and not text.strip().startswith(("{", "[")):
            return text.strip()[:200], "", ""
        return (title.group(1) if title else ""), detail_text, (report.group(1) if report else "")

    def _exception(
        self, status: int, title: str, details: str, report: str, response: HttpResponse, *, send: bool
    ) -> ProviderError:
        meaning = HTTP_MEANINGS.get(status, f"HTTP {status}")
        provider_message = scrub(" — ".join(p for p in (title, details) if p) or meaning, self.http.secrets)
        message = f"Apifon {status}: {provider_message}"
        if report:
            message += f" (error report {report})"
        kwargs = {"code": status, "provider_message": provider_message, "status_code": status}
        if status == 401:
            return ProviderAuthError(message, **kwargs)
        if status == 429:
            return ProviderThrottled(
                message, retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs
            )
        if status == 408:
            if send:  # "Server failed to deliver a response in time": the send may have been processed
                return ProviderTimeout(
                    message + ": the request may have been processed; it will be reconciled", ambiguous=True, **kwargs
                )
            return ProviderConnectionError(message, **kwargs)
        if status >= 500:
            return ProviderConnectionError(message, **kwargs)
        # 400, 403 (invalid or illegal values: not an auth problem at Apifon), 404, 405, 409, 415, other 4xx
        return ProviderResponseError(message, **kwargs)

    # ================================================================== sending
    def _sender(self, message: OutboundSMS) -> str:
        return message.sender or self.account.default_sender

    def validate_message(self, message: OutboundSMS) -> None:
        sender = self._sender(message)
        if message.sender != sender:
            from .types import replace

            message = replace(message, sender=sender)
        super().validate_message(message)
        if not _MSISDN.fullmatch(message.msisdn):
            raise ProviderValidationError(
                f"Apifon needs a number of 7-15 digits in international format; {message.to!r} is not", field="to"
            )
        if not sender:
            raise ProviderValidationError(
                "Apifon needs a sender id (none on the message or the account)", field="sender"
            )
        if not sender.lstrip("+").isdigit() and not (sender.isascii() and sender.isprintable()):
            raise ProviderValidationError(
                f"Apifon sender ids use Latin characters and digits only; {sender!r} has others", field="sender"
            )
        tte = message.extra.get("tte")
        if tte not in (None, ""):
            value = str(tte)
            if not value.isdigit():
                try:
                    datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")
                except ValueError:
                    raise ProviderValidationError(
                        f"Apifon's validity (tte) is seconds or yyyy-MM-ddTHH:mm:ss; got {value!r}", field="extra.tte"
                    ) from None

    @staticmethod
    def _encoding(text: str) -> str:
        from campaigns.segments import count_segments

        return count_segments(text).encoding

    def plan_batches(self, messages: Sequence[OutboundSMS]) -> list[list[OutboundSMS]]:
        """One request per (sender, send_at, encoding, validity), up to ``max_batch_size`` subscribers, never the
        same number twice in a request (Apifon's answer is keyed by number). Order is kept."""
        groups: dict[tuple, list[OutboundSMS]] = {}
        for m in messages:
            key = (self._sender(m), m.send_at, self._encoding(m.text), str(m.extra.get("tte") or ""))
            groups.setdefault(key, []).append(m)
        batches: list[list[OutboundSMS]] = []
        for group in groups.values():
            current: list[OutboundSMS] = []
            numbers: set[str] = set()
            for m in group:
                if len(current) >= self.max_batch_size or m.msisdn in numbers:
                    batches.append(current)
                    current, numbers = [], set()
                current.append(m)
                numbers.add(m.msisdn)
            if current:
                batches.append(current)
        return batches

    def callback_url(self, kind: WebhookKind) -> str:
        """Our https callback URL for ``kind`` with the account's token, or "" when we have no https URL."""
        from django.conf import settings

        base = str(self.options.get("callback_base_url") or getattr(settings, "PUBLIC_BASE_URL", "")).rstrip("/")
        if not base.startswith("https://") or not self.account.webhook_token:
            return ""  # the document: "Must be a valid URL starting with https://"
        return base + _webhook_path(self.code, str(self.account.uuid), kind.value, self.account.webhook_token)

    def build_send_body(self, batch: Sequence[OutboundSMS]) -> dict[str, Any]:
        from campaigns.segments import count_segments

        first = batch[0]
        texts = {m.text for m in batch}
        personal = len(texts) > 1 or bool(_PLACEHOLDER.search(first.text))
        subscribers = []
        for m in batch:
            sub: dict[str, Any] = {"number": m.msisdn, "custom_id": m.client_ref}
            if personal:
                sub["params"] = {TEXT_PARAM: m.text}
            subscribers.append(sub)
        encoding = count_segments(first.text).encoding
        body: dict[str, Any] = {
            "subscribers": subscribers,
            "reference_id": first.client_ref,
            "message": {
                "text": "{" + TEXT_PARAM + "}" if personal else first.text,
                "dc": 0 if encoding == "GSM-7" else 2,
                "sender_id": self._sender(first),
            },
        }
        callback = self.callback_url(WebhookKind.DELIVERY)
        if callback:
            body["callback_url"] = callback
        if _truthy(self.options.get("send_reply_url", False)):
            reply = self.callback_url(WebhookKind.INBOUND)
            if reply:
                body["reply_url"] = reply
        tte = first.extra.get("tte")
        if tte not in (None, ""):
            body["tte"] = str(tte)
        if first.send_at is not None:
            body["date"] = first.send_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return body

    def send_batch(self, batch: Sequence[OutboundSMS]) -> list[SendResult]:
        from campaigns.segments import count_segments

        response = self._call(
            "POST", "sms/send", json_body=self.build_send_body(batch), operation="sms.send", send=True
        )
        try:
            data = self._json(response)
        except ProviderUnparseableResponse as exc:
            # A 2xx we cannot read: Apifon most likely took the request. Never resend blindly.
            return [
                SendResult(m.client_ref, MessageStatus.UNKNOWN, error_code="unparseable", error_message=exc.message)
                for m in batch
            ]
        data = data if isinstance(data, dict) else {}
        request_id = str(data.get("request_id") or "")
        results = data.get("results") if isinstance(data.get("results"), dict) else {}
        by_custom: dict[str, list[dict]] = {}
        by_number: dict[str, list[dict]] = {}
        for number, details in results.items():
            entries = [d for d in (details if isinstance(details, list) else [details]) if isinstance(d, dict)]
            digits = re.sub(r"\D", "", str(number))
            by_number[digits] = entries
            for entry in entries:
                if entry.get("custom_id"):
                    by_custom.setdefault(str(entry["custom_id"]), []).append(entry)
        out: list[SendResult] = []
        for m in batch:
            entries = by_custom.get(m.client_ref) or by_number.get(m.msisdn) or []
            message_id = next((str(e["message_id"]) for e in entries if e.get("message_id")), "")
            if not message_id:
                out.append(
                    SendResult(
                        m.client_ref,
                        MessageStatus.UNKNOWN,
                        error_code="no_result",
                        error_message="Apifon's answer has no message id for this number",
                        raw={"request_id": request_id, "number": m.msisdn},
                    )
                )
                continue
            # Several detail objects = the parts the text was split into (as the OTP answer documents).
            segments = len(entries) if len(entries) > 1 else count_segments(m.text).segments
            out.append(
                SendResult(
                    m.client_ref,
                    MessageStatus.QUEUED,  # accepted; only the delivery callback confirms more
                    external_id=external_id_for(request_id, message_id),
                    segments=segments,
                    raw={
                        "request_id": request_id,
                        "reference": data.get("reference"),
                        "number": m.msisdn,
                        "details": entries,
                    },
                )
            )
        return out

    def reconcile(self, messages: Sequence[OutboundSMS]) -> list[SendResult | None]:
        """After an ambiguous timeout, make sure Apifon holds none of ``messages`` so they can be sent again.

        Apifon has no message lookup. What it has is ``sms/remove`` by REFERENCE_ID, and every request's
        ``reference_id`` is the client_ref of its first message. So for *scheduled* messages (send_at at least
        RECONCILE_MIN_AHEAD seconds away) we remove by each message's client_ref, the batch anchors first (as
        ``plan_batches`` would form them), until the removed count covers the messages: whatever Apifon held is
        then gone and all come back as None (safe to resend).

        Limits: immediate sends cannot be checked: ProviderNotSupported; their delivery callbacks carry
        ``custom_id`` = client_ref and settle them, and a message whose request never arrived stays UNKNOWN for a
        person. Pass whole timed-out batches (send() marks a batch UNKNOWN together): removing a request removes
        all its messages.
        """
        if not messages:
            return []
        now = timezone.now()
        near = [m for m in messages if m.send_at is None or (m.send_at - now).total_seconds() < RECONCILE_MIN_AHEAD]
        if near:
            raise ProviderNotSupported(
                "Apifon cannot look messages up: immediate sends are settled by their delivery callbacks "
                "(custom_id carries our reference) or checked by a person in Apifon's panel"
            )
        anchors = [batch[0].client_ref for batch in self.plan_batches(messages)]
        others = [m.client_ref for m in messages if m.client_ref not in set(anchors)]
        removed = 0
        for ref in anchors + others:
            if removed >= len(messages):
                break
            removed += self._remove("REFERENCE_ID", ref)
        if removed > len(messages):
            logger.warning(
                "Apifon removed %s scheduled messages while reconciling %s: the timed-out request held messages "
                "that were not passed to reconcile()",
                removed,
                len(messages),
            )
        return [None for _ in messages]

    def _remove(self, field: str, value: str) -> int:
        """``sms/remove``: delete scheduled messages by REQUEST_ID or REFERENCE_ID; returns how many."""
        response = self._call("POST", "sms/remove", json_body={"id": value, "field": field}, operation="sms.remove")
        data = self._json(response)
        if isinstance(data, dict):  # tolerate {"count": n} / {"deleted": n} though the document shows a bare integer
            data = next((data[k] for k in ("count", "deleted", "removed", "result") if k in data), 0)
        try:
            return int(str(data if data is not None else 0).strip())
        except ValueError:
            raise ProviderUnparseableResponse(f"Apifon's remove answer is not a number: {data!r}") from None

    def cancel(self, external_ids: Sequence[str]) -> list[CancelResult]:
        """Remove scheduled messages. Apifon removes per request: cancelling one message of a request cancels
        the request's other messages too (they share the same send date, so they stand or fall together)."""
        by_request: dict[str, list[str]] = {}
        results: dict[str, CancelResult] = {}
        for ext in external_ids:
            request_id, _ = split_external_id(ext)
            if not request_id:
                results[ext] = CancelResult(ext, cancelled=False, detail="No Apifon request id: cannot remove")
            else:
                by_request.setdefault(request_id, []).append(ext)
        for request_id, exts in by_request.items():
            count = self._remove("REQUEST_ID", request_id)
            for ext in exts:
                if count > 0:
                    results[ext] = CancelResult(
                        ext, cancelled=True, detail=f"Apifon removed {count} scheduled message(s) of the request"
                    )
                else:
                    results[ext] = CancelResult(
                        ext, cancelled=False, detail="Nothing scheduled left at Apifon (already sent or unknown)"
                    )
        return [results[ext] for ext in external_ids]

    # ================================================================== account
    def check(self) -> AccountCheck:
        data = self._json(self._call("POST", "balance", operation="balance"))
        if not isinstance(data, dict) or "balance" not in data:
            raise ProviderUnparseableResponse("Apifon's balance answer has no balance")
        balance = _decimal(data.get("balance"))
        parts = [f"Authenticated by {'OAuth2' if self.auth_mode == 'oauth' else 'HMAC'}"]
        reserved, plafon = _decimal(data.get("reserved")), _decimal(data.get("plafon"))
        if reserved:
            parts.append(f"reserved {reserved}")
        if plafon:
            parts.append(f"credit (plafon) {plafon}")
        subs = data.get("subscriptions") if isinstance(data.get("subscriptions"), list) else []
        for sub in subs:
            if isinstance(sub, dict):
                parts.append(
                    f"subscription {sub.get('senderId', '?')}: {sub.get('available', '?')} of "
                    f"{sub.get('total', '?')} until {sub.get('endDate', '?')}"
                )
        if not self.callback_url(WebhookKind.DELIVERY):
            parts.append("no https callback URL configured: delivery reports will not arrive")
        return AccountCheck(
            ok=True,
            balance=balance,
            currency=str(self.options.get("balance_currency") or "EUR"),
            detail="; ".join(parts)[:500],
        )

    # ================================================================== callbacks
    def parse_webhook(self, kind: WebhookKind, request: WebhookRequest) -> list[DeliveryReport | InboundSMS]:
        try:
            payload = loads_tolerant(request.body)
        except ValueError:
            raise WebhookError("Apifon callback body is not JSON") from None
        if not isinstance(payload, dict):
            raise WebhookError("Apifon callback body is not a JSON object")
        if WebhookKind(kind) == WebhookKind.DELIVERY:
            return list(self._delivery_reports(payload))
        if WebhookKind(kind) == WebhookKind.INBOUND:
            return [self._inbound(payload)]
        raise ProviderNotSupported(f"Apifon sends no {kind} callbacks")

    def _delivery_reports(self, payload: dict) -> Iterator[DeliveryReport]:
        request_id = str(payload.get("request_id") or "")
        kind = str(payload.get("type") or "SMS").upper()
        table = IM_STATUSES if kind in {"VIBER", "IM"} else SMS_STATUSES
        items = payload.get("data")
        items = items if isinstance(items, list) else [items] if isinstance(items, dict) else []
        if not items:
            raise WebhookError("Apifon delivery callback without data")
        for item in items:
            if not isinstance(item, dict) or not item.get("message_id"):
                raise WebhookError("Apifon delivery callback item without message_id")
            message_id = str(item["message_id"])
            status_obj = item.get("status") if isinstance(item.get("status"), dict) else {}
            raw_code = status_obj.get("code")
            text = str(status_obj.get("text") or "")
            try:
                code = int(raw_code)
            except (TypeError, ValueError):
                code = None
            entry = table.get(code) if code is not None else None
            if entry is None and text:
                entry = next((e for e in table.values() if e[0] == text.lower()), None)
            status = entry[1] if entry else MessageStatus.UNKNOWN
            dlr = str(item.get("error_code") or "")
            error_code = error_message = ""
            if status not in _SUCCESSFUL:
                error_code = str(code if code is not None else text)
                error_message = f"{text or (entry[0] if entry else 'unknown')}: {entry[2] if entry else 'unlisted'}"
                if dlr and dlr.strip("0"):
                    error_message += f" (DLR error {dlr})"
            yield DeliveryReport(
                external_id=external_id_for(request_id, message_id),
                status=status,
                raw_status=text or str(raw_code or ""),
                client_ref=str(item.get("custom_id") or ""),
                to=("+" + str(item["to"]).lstrip("+")) if str(item.get("to") or "").lstrip("+").isdigit() else "",
                occurred_at=_epoch_to_datetime(item.get("timestamp")),
                error_code=error_code,
                error_message=error_message,
                cost=_decimal(item.get("price")),  # without VAT (item "vat")
                event_id=f"{request_id}:{message_id}:{raw_code if raw_code is not None else text}"[:128],
                raw={**{k: v for k, v in payload.items() if k != "data"}, "data": item},
            )

    def _inbound(self, payload: dict) -> InboundSMS:
        reply = payload.get("reply")
        if isinstance(reply, dict):  # IM reply shape: {channel, reply{...}, original_im{...}}
            message = reply.get("message") if isinstance(reply.get("message"), dict) else {}
            original = payload.get("original_im") if isinstance(payload.get("original_im"), dict) else {}
            external_id = str(reply.get("reply_message_id") or "")
            sender, to = str(reply.get("from") or ""), str(reply.get("to") or "")
            text = str(message.get("text") or message.get("mediaUrl") or message.get("media_url") or "")
            in_reply_to = (
                external_id_for(str(original.get("request_id") or ""), str(original.get("message_id") or ""))
                if original.get("message_id")
                else ""
            )
            stamp = reply.get("timestamp")
        else:  # SMS reply: {message_id, from, to, text, timestamp, type}
            external_id = str(payload.get("message_id") or "")
            sender, to = str(payload.get("from") or ""), str(payload.get("to") or "")
            text = str(payload.get("text") or "")
            in_reply_to = ""
            stamp = payload.get("timestamp")
        if not sender:
            raise WebhookError("Apifon reply callback without 'from'")
        return InboundSMS(
            external_id=external_id,
            from_phone="+" + sender.lstrip("+") if sender.lstrip("+").isdigit() else sender,
            text=text,
            to=to,
            received_at=_epoch_to_datetime(stamp),
            in_reply_to_external_id=in_reply_to,
            raw=payload,
        )

    # ================================================================== sync: lists <-> groups
    def _paginate(self, path: str, query: dict[str, Any], *, size: int, operation: str) -> Iterator[dict]:
        """Every result of a paginated GET: follow ``links.next`` when the answer has links, else stop on a short
        page. ``meta.total`` is not used (the document calls it pages in tables and items in examples)."""
        page = 1
        while True:
            data = self._json(self._call("GET", path, query={**query, "page": page, "size": size}, operation=operation))
            data = data if isinstance(data, dict) else {}
            results = [r for r in (data.get("results") or []) if isinstance(r, dict)]
            yield from results
            links = data.get("links")
            more = bool(links.get("next")) if isinstance(links, dict) and "next" in links else len(results) >= size
            if not results or not more:
                return
            page += 1

    def pull_groups(self) -> Iterable[SyncGroup]:
        for item in self._paginate("list", {}, size=LIST_PAGE_SIZE, operation="list.list"):
            list_id = str(item.get("id") or "")
            if not list_id:
                continue
            self._remember_list(item)
            count = item.get("total_subscribers")
            yield SyncGroup(
                name=str(item.get("title") or "").strip(),
                external_id=list_id,
                member_count=int(count) if isinstance(count, int | float) else None,
            )

    def _remember_list(self, item: dict) -> None:
        list_id = str(item["id"])
        self._lists[list_id] = item
        fields = item.get("subscriber_fields")
        if isinstance(fields, list):
            self._list_fields[list_id] = {str(f["field"]): f for f in fields if isinstance(f, dict) and f.get("field")}

    def _get_list(self, list_id: str, *, fresh: bool = False) -> dict | None:
        if not fresh and list_id in self._lists:
            return self._lists[list_id]
        try:
            data = self._json(self._call("GET", f"list/{quote(list_id, safe='')}", operation="list.get"))
        except ProviderResponseError as exc:
            if exc.status_code == 404:
                return None
            raise
        if not isinstance(data, dict):
            return None
        data.setdefault("id", list_id)
        self._remember_list(data)
        return data

    def _list_prefix(self) -> str:
        prefix = str(self.options.get("list_prefix") or "").strip()
        if prefix:
            return prefix if prefix.startswith("+") else "+" + prefix
        try:
            import phonenumbers

            from smsportal.models import WorkspaceSettings

            code = phonenumbers.country_code_for_region(WorkspaceSettings.load().default_country or "")
        except Exception:  # no workspace yet: lists still need a prefix
            code = 0
        if not code:
            raise ProviderValidationError(
                "Set the country code for new Apifon lists (option list_prefix)", field="list_prefix"
            )
        return f"+{code}"

    def push_group(self, group: SyncGroup) -> str:
        """Create or rename the Apifon list for ``group``; idempotent (an unchanged list is not written).

        Without an external id, a list with the same title is reused rather than duplicated."""
        title = group.name.strip()
        current = self._get_list(group.external_id, fresh=True) if group.external_id else None
        if current is None:
            current = self._list_titled(title)
        if current is not None:
            list_id = str(current["id"])
            if str(current.get("title") or "").strip() != title:
                # PUT carries the list's own values back so that nothing else is reset.
                body = {"title": title, "prefix": current.get("prefix") or self._list_prefix()}
                for key in ("description", "campaign_defaults", "gdpr_properties", "double_optin"):
                    if current.get(key) not in (None, ""):
                        body[key] = current[key]
                self._call("PUT", f"list/{quote(list_id, safe='')}", json_body=body, operation="list.update")
                self._remember_list({**current, "title": title})
            return list_id
        prefix = self._list_prefix()
        response = self._call(
            "POST", "list", json_body={"title": title, "type": "ADVANCED", "prefix": prefix}, operation="list.create"
        )
        list_id = self._id_from_location(response)
        if not list_id:
            self._lists_scanned = False
            found = self._list_titled(title)
            if found is None:
                raise ProviderUnparseableResponse("Apifon created the list but named no id (no Location header)")
            list_id = str(found["id"])
        self._lists.setdefault(list_id, {"id": list_id, "title": title, "prefix": prefix})
        return list_id

    def _list_titled(self, title: str) -> dict | None:
        """The first list with this title; all lists are read once per adapter instance."""
        if not self._lists_scanned:
            for item in self._paginate("list", {}, size=LIST_PAGE_SIZE, operation="list.list"):
                if item.get("id"):
                    self._remember_list(item)
            self._lists_scanned = True
        return next((i for i in self._lists.values() if str(i.get("title") or "").strip() == title), None)

    @staticmethod
    def _id_from_location(response: HttpResponse) -> str:
        location = response.headers.get("Location") or response.headers.get("location") or ""
        return urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1] if location else ""

    # ================================================================== sync: subscribers <-> contacts
    def push_fields(self, list_id: str, keys: Iterable[str]) -> dict[str, str]:
        """Extra hook: make sure the list has a subscriber field per key; return key -> field identifier.

        ``first_name``/``last_name`` use FIRST_NAME/LAST_NAME (the document's example fields). New fields are
        TEXT of length 256 named after the key in upper case; the identifier comes from the Location header
        (or, without one, from the list re-read)."""
        fields = self._list_fields.get(list_id)
        if fields is None:
            if self._get_list(list_id, fresh=True) is None:
                raise ProviderResponseError(f"Apifon list {list_id} does not exist", code=404, status_code=404)
            fields = self._list_fields.setdefault(list_id, {})
        index: dict[str, str] = {}
        for identifier, spec in fields.items():
            index.setdefault(field_key(identifier), identifier)
            index.setdefault(field_key(spec.get("name") or identifier), identifier)
        mapping: dict[str, str] = {}
        for key in dict.fromkeys(keys):
            wanted = field_key(key)
            if wanted in index:
                mapping[key] = index[wanted]
                continue
            response = self._call(
                "POST",
                f"list/{quote(list_id, safe='')}/field",
                json_body={"name": wanted, "type": "TEXT", "length": 256, "internal": False},
                operation="list.field.create",
            )
            identifier = self._id_from_location(response)
            if not identifier:
                self._get_list(list_id, fresh=True)
                fields = self._list_fields.get(list_id, {})
                identifier = next((i for i, s in fields.items() if field_key(s.get("name") or i) == wanted), "")
            if not identifier:
                raise ProviderUnparseableResponse(f"Apifon created field {wanted} but did not say its identifier")
            self._list_fields.setdefault(list_id, {})[identifier] = {
                "field": identifier,
                "name": wanted,
                "type": "TEXT",
            }
            index[wanted] = identifier
            mapping[key] = identifier
        return mapping

    def _inactive_statuses(self, list_id: str) -> dict[str, str]:
        """digits -> UNSUBSCRIBED/UNCONFIRMED for the list: a push must never resubscribe these."""
        if list_id not in self._inactive:
            found: dict[str, str] = {}
            for status in ("UNSUBSCRIBED", "UNCONFIRMED"):
                for sub in self._paginate(
                    f"list/{quote(list_id, safe='')}/subscriber",
                    {"status": status, "fields": "destination,status"},
                    size=PAGE_SIZE,
                    operation="subscriber.list",
                ):
                    digits = re.sub(r"\D", "", str(sub.get("destination") or ""))
                    if digits:
                        found[digits] = str(sub.get("status") or status).upper()
            self._inactive[list_id] = found
        return self._inactive[list_id]

    def _field_value(self, list_id: str, identifier: str, value: Any) -> Any:
        spec = self._list_fields.get(list_id, {}).get(identifier, {})
        if str(spec.get("type") or "").upper() == "DATE" and isinstance(value, str):
            try:  # DATE fields take epoch milliseconds (or the field's own format)
                parsed = date.fromisoformat(value[:10])
            except ValueError:
                return value
            return int(datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC).timestamp() * 1000)
        return value

    def push_contacts(self, contacts: Sequence[SyncContact]) -> list[str]:
        """Upsert subscribers into the lists of their groups (``subscriber/bulk`` with update_on_duplicate), in
        chunks of CONTACTS_BULK_SIZE. Returns each contact's ``destination_id`` (MD5 of its digits).

        Subscribers who unsubscribed at Apifon keep UNSUBSCRIBED; unconfirmed ones (double opt-in) are skipped,
        since writing them could send another confirmation SMS. Empty values are not sent (never blank out
        Apifon's data); email and email_status are not sent (mobile-only subscribers)."""
        default_list = str(self.options.get("default_list_id") or "").strip()
        by_list: dict[str, list[SyncContact]] = {}
        placed: set[int] = set()
        for i, c in enumerate(contacts):
            targets = c.groups or ((default_list,) if default_list else ())
            if targets:
                placed.add(i)
            for list_id in targets:
                by_list.setdefault(str(list_id), []).append(c)
        if len(placed) < len(contacts):
            # Apifon keeps subscribers only inside lists: these get "" (not accepted) instead of failing the batch.
            logger.warning(
                "%s contact(s) are in no synced group and the Apifon account has no default list (default_list_id)",
                len(contacts) - len(placed),
            )
        for list_id, members in by_list.items():
            keys = ["first_name", "last_name"] + [k for c in members for k in c.attributes]
            used = [k for k in dict.fromkeys(keys) if any(self._contact_value(c, k) not in (None, "") for c in members)]
            mapping = self.push_fields(list_id, used)
            inactive = self._inactive_statuses(list_id)
            subscribers = []
            for c in members:
                digits = c.phone.lstrip("+")
                status = inactive.get(digits, "SUBSCRIBED")
                if status == "UNCONFIRMED":
                    continue
                values = {
                    mapping[k]: self._field_value(list_id, mapping[k], v)
                    for k in used
                    if (v := self._contact_value(c, k)) not in (None, "")
                }
                sub: dict[str, Any] = {"destination": "+" + digits, "status": status}
                if values:
                    sub["subscriber_fields"] = values
                subscribers.append(sub)
            for chunk in chunked(subscribers, CONTACTS_BULK_SIZE):
                self._call(
                    "POST",
                    f"list/{quote(list_id, safe='')}/subscriber/bulk",
                    json_body={"update_on_duplicate": True, "subscribers": list(chunk)},
                    operation="subscriber.bulk",
                )
        return [destination_id(c.phone) if i in placed else "" for i, c in enumerate(contacts)]

    @staticmethod
    def _contact_value(contact: SyncContact, key: str) -> Any:
        if key == "first_name":
            return contact.first_name
        if key == "last_name":
            return contact.last_name
        return contact.attributes.get(key)

    def pull_contacts(self) -> Iterable[SyncContact]:
        """Every non-archived mobile subscriber of every list, merged by number (one contact in several lists
        has those lists as groups). Fields: FIRST_NAME/LAST_NAME -> names; others -> attributes keyed by the
        field's name in lower case (DATE fields as ISO dates)."""
        merged: dict[str, dict[str, Any]] = {}
        for group in list(self.pull_groups()):
            list_id = group.external_id
            fields = self._list_fields.get(list_id, {})
            for sub in self._paginate(
                f"list/{quote(list_id, safe='')}/subscriber", {}, size=PAGE_SIZE, operation="subscriber.list"
            ):
                if sub.get("archived") is True:
                    continue
                digits = re.sub(r"\D", "", str(sub.get("destination") or ""))
                if not digits:
                    continue  # email-only subscriber
                entry = merged.setdefault(
                    digits,
                    {
                        "first_name": "",
                        "last_name": "",
                        "attributes": {},
                        "groups": [],
                        "external_id": str(sub.get("destination_id") or destination_id(digits)),
                    },
                )
                entry["groups"].append(list_id)
                values = sub.get("subscriber_fields") or sub.get("subscribers_fields") or {}
                for identifier, value in values.items() if isinstance(values, dict) else ():
                    spec = fields.get(identifier, {})
                    key = field_key(spec.get("name") or identifier)
                    if str(spec.get("type") or "").upper() == "DATE" or identifier.startswith("date_"):
                        stamp = _epoch_to_datetime(value) if isinstance(value, int | float) else None
                        value = stamp.date().isoformat() if stamp else value
                    if key == "FIRST_NAME":
                        entry["first_name"] = str(value or "")
                    elif key == "LAST_NAME":
                        entry["last_name"] = str(value or "")
                    else:
                        entry["attributes"][key.lower()] = value
        for digits, entry in merged.items():
            yield SyncContact(
                phone="+" + digits,
                first_name=entry["first_name"],
                last_name=entry["last_name"],
                attributes=entry["attributes"],
                groups=tuple(dict.fromkeys(entry["groups"])),
                external_id=entry["external_id"],
            )

    # ================================================================== sync: bounce list <-> blocklist
    def pull_blocklist(self) -> Iterable[SyncBlockEntry]:
        for item in self._paginate("bounce/subscriber", {"type": "MOBILE"}, size=PAGE_SIZE, operation="bounce.list"):
            digits = re.sub(r"\D", "", str(item.get("destination") or ""))
            if not digits:
                continue
            reason = str(item.get("reason") or "other")
            yield SyncBlockEntry(
                phone="+" + digits, reason=BLOCK_REASON_TO_OURS.get(reason, "provider"), external_id=digits
            )

    def _blocked_numbers(self) -> set[str]:
        if self._blocked is None:
            self._blocked = {e.external_id for e in self.pull_blocklist()}
        return self._blocked

    def push_blocklist(self, entries: Sequence[SyncBlockEntry]) -> int:
        """Block numbers not yet on the bounce list (no bulk call is documented: one call each); returns how many
        were added. A 409 (already there) counts as present."""
        blocked = self._blocked_numbers()
        added = 0
        for entry in entries:
            digits = entry.phone.lstrip("+")
            if digits in blocked:
                continue
            reason = block_reason(entry.reason)
            body = {"destination": digits, "reason": reason, "description": f"smsportal: {entry.reason or 'blocked'}"}
            try:
                self._call("POST", "bounce/subscriber/block", json_body=body, operation="bounce.block")
            except ProviderResponseError as exc:
                if exc.status_code != 409:
                    raise
            else:
                added += 1
            blocked.add(digits)
        return added

    def remove_from_blocklist(self, phones: Sequence[str]) -> int:
        removed = 0
        for phone in phones:
            digits = phone.lstrip("+")
            try:
                self._call("DELETE", f"bounce/subscriber/unblock/{quote(digits, safe='')}", operation="bounce.unblock")
            except ProviderResponseError as exc:
                if exc.status_code != 404:
                    raise
            else:
                removed += 1
            if self._blocked is not None:
                self._blocked.discard(digits)
        return removed
