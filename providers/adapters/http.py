"""The HTTP layer every adapter uses: one session, a timeout on every call, a redacted log row per call,
and HTTP failures mapped to the error tree.

Redaction is by value (every secret, token and signature the adapter registers is replaced wherever it
appears: URL, headers, body, error text) and by name (headers and parameters that carry credentials).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from .exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnparseableResponse,
)

logger = logging.getLogger("providers.http")

REDACTED = "***"
SENSITIVE_NAMES = frozenset(
    n.lower()
    for n in (
        "authorization",
        "proxy-authorization",
        "api_key",
        "apikey",
        "api-key",
        "x-api-key",
        "key",
        "token",
        "access_token",
        "refresh_token",
        "client_secret",
        "secret",
        "password",
        "pass",
        "signature",
        "sign",
        "sig",
        "x-apifonws-date-signature",
        "cookie",
        "set-cookie",
        "private_key",
        "privatekey",
        "secret_key",
    )
)
MAX_LOGGED_BODY = 20_000

_global_secrets: set[str] = set()
_global_lock = threading.Lock()


def register_global_secret(value: str) -> None:
    """Secrets seen anywhere (tokens, keys) are also scrubbed from ordinary log records."""
    if value and len(value) >= 6:
        with _global_lock:
            _global_secrets.add(value)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    if not text:
        return text
    values = set(secrets)
    with _global_lock:
        values |= _global_secrets
    for value in sorted((v for v in values if v and len(v) >= 4), key=len, reverse=True):
        text = text.replace(value, REDACTED)
        # also the percent-encoded form (secrets inside query strings and form bodies)
        from urllib.parse import quote, quote_plus

        for enc in {quote(value, safe=""), quote_plus(value)}:
            if enc != value:
                text = text.replace(enc, REDACTED)
    return text


class RedactingLogFilter(logging.Filter):
    """Logging filter (settings.LOGGING) that scrubs registered secrets from every record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        with _global_lock:
            has = bool(_global_secrets)
        if has:
            msg = record.getMessage()
            clean = scrub(msg)
            if clean != msg:
                record.msg, record.args = clean, ()
            # Tracebacks too: a chained requests exception prints its URL (query keys included).
            if record.exc_info and not record.exc_text:
                record.exc_text = scrub(self._formatter.formatException(record.exc_info))
            elif record.exc_text:
                record.exc_text = scrub(record.exc_text)
        return True


def _redact_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for k, v in pairs:
        base = re.sub(r"\[.*$", "", k).lower()
        out.append((k, REDACTED if base in SENSITIVE_NAMES or k.lower() in SENSITIVE_NAMES else v))
    return out


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    parts = urlsplit(url)
    query = urlencode(_redact_pairs(parse_qsl(parts.query, keep_blank_values=True)), safe="*[]")
    return scrub(urlunsplit(parts._replace(query=query)), secrets)


def redact_headers(headers: Mapping[str, str], secrets: Iterable[str] = ()) -> dict[str, str]:
    return {k: (REDACTED if k.lower() in SENSITIVE_NAMES else scrub(str(v), secrets)) for k, v in headers.items()}


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if str(k).lower() in SENSITIVE_NAMES else _redact_json(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(v) for v in value]
    return value


def redact_body(body: bytes | str | None, content_type: str = "", secrets: Iterable[str] = ()) -> str:
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    if len(text) > MAX_LOGGED_BODY:
        text = text[:MAX_LOGGED_BODY] + f"… [{len(text) - MAX_LOGGED_BODY} more characters]"
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            text = json.dumps(_redact_json(json.loads(text)), ensure_ascii=False)
        except ValueError:
            pass
    elif "=" in text and "\n" not in text and "<" not in text:
        pairs = parse_qsl(text, keep_blank_values=True)
        if pairs:
            text = urlencode(_redact_pairs(pairs), safe="*[]")
    return scrub(text, secrets)


@dataclass
class LogEntry:
    operation: str
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status_code: int | None
    response_body: str
    duration_ms: int
    error: str


RequestLogger = Callable[[LogEntry], None]


def null_logger(entry: LogEntry) -> None:
    return None


def write_log_entries(account_id: int | None, entries: list[LogEntry]) -> None:
    """Store log entries as ProviderRequestLog rows in one statement. Never raises: the log must not break
    (or lose the result of) a send."""
    if account_id is None or not entries:
        return
    from providers.models import ProviderRequestLog

    try:
        ProviderRequestLog.objects.bulk_create(
            [
                ProviderRequestLog(
                    account_id=account_id,
                    operation=e.operation[:50],
                    method=e.method,
                    url=e.url,
                    request_headers=e.request_headers,
                    request_body=e.request_body,
                    status_code=e.status_code,
                    response_body=e.response_body,
                    duration_ms=e.duration_ms,
                    error=e.error[:500],
                )
                for e in entries
            ],
            batch_size=200,
        )
    except Exception:
        logger.exception("could not write the provider request log")


def db_logger(account_id: int | None) -> RequestLogger:
    """Writes one ProviderRequestLog row per call."""

    def write(entry: LogEntry) -> None:
        write_log_entries(account_id, [entry])

    return write


@dataclass
class HttpResponse:
    status_code: int
    headers: Mapping[str, str]
    content: bytes
    url: str
    elapsed_ms: int

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return json.loads(self.content.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProviderUnparseableResponse(
                f"Expected JSON, got: {self.text[:200]!r}", status_code=self.status_code
            ) from exc


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            dt = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, dt.timestamp() - time.time())


def default_error_for(response: HttpResponse, message: str = "", code: str = "") -> ProviderError:
    """The generic mapping of an HTTP failure; adapters refine it with the provider's own codes."""
    status = response.status_code
    snippet = message or response.text[:300].strip()
    if status == 429:
        return ProviderThrottled(
            snippet or "Too many requests",
            code=code or status,
            provider_message=message,
            status_code=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status in (401, 403):
        return ProviderAuthError(snippet, code=code or status, provider_message=message, status_code=status)
    if status >= 500:
        return ProviderConnectionError(
            snippet or f"HTTP {status}", code=code or status, provider_message=message, status_code=status
        )
    return ProviderResponseError(
        snippet or f"HTTP {status}", code=code or status, provider_message=message, status_code=status
    )


class ProviderHTTP:
    """One ``requests.Session`` per adapter instance.

    ``error_hook(response) -> ProviderError | None`` lets an adapter turn an error status or an error body
    into a precise exception (with the provider's code and message); it is called for every response, 2xx
    included (providers that answer errors with 200), and returns None when the answer is fine. Without a hook,
    or when it returns None for a status >= 400, the generic mapping applies. Exception texts are scrubbed of
    every registered secret before they are raised.
    """

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        log: RequestLogger = null_logger,
        secrets: Iterable[str] = (),
        session: requests.Session | None = None,
        user_agent: str = "smsportal/1.0",
    ):
        self.timeout = timeout
        self.log = log
        self.secrets: set[str] = {s for s in secrets if s}
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        for s in self.secrets:
            register_global_secret(s)

    def add_secret(self, value: str | None) -> None:
        if value:
            self.secrets.add(str(value))
            register_global_secret(str(value))

    def scrub_exception(self, exc: ProviderError) -> ProviderError:
        """Remove every known secret from an exception's texts (providers sometimes echo them back)."""
        exc.message = scrub(exc.message, self.secrets)
        exc.provider_message = scrub(exc.provider_message, self.secrets)
        exc.args = (exc.message,)
        return exc

    def request(
        self,
        method: str,
        url: str,
        *,
        operation: str = "",
        params: Any = None,
        data: Any = None,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        ambiguous_on_timeout: bool = False,
        error_hook: Callable[[HttpResponse], ProviderError | None] | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> HttpResponse:
        """Send one request; return the response or raise a ``ProviderError``.

        ``ambiguous_on_timeout``: set for calls that change state at the provider (sends). A read timeout
        then raises ``ProviderTimeout(ambiguous=True)``: never blind-retry it.
        """
        method = method.upper()
        hdrs = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        req = requests.Request(method, url, params=params, data=data if body is None else body, headers=hdrs)
        prepared = self.session.prepare_request(req)
        started = time.perf_counter()
        status: int | None = None
        resp_body = b""
        error = ""
        try:
            try:
                raw = self.session.send(prepared, timeout=timeout or self.timeout, allow_redirects=False)
            except requests.exceptions.ConnectTimeout:
                error = "connect timeout"
                raise ProviderTimeout("Timed out connecting to the provider", ambiguous=False) from None
            except (requests.exceptions.ReadTimeout, requests.exceptions.Timeout):
                error = "read timeout"
                raise ProviderTimeout(
                    "The provider did not answer in time"
                    + (": the request may have been processed; it will be reconciled" if ambiguous_on_timeout else ""),
                    ambiguous=ambiguous_on_timeout,
                ) from None
            except requests.exceptions.RequestException as exc:
                error = type(exc).__name__
                if ambiguous_on_timeout and isinstance(exc, requests.exceptions.ChunkedEncodingError):
                    raise ProviderTimeout("The connection broke mid-answer", ambiguous=True) from None
                # ``from None``: the requests exception's text includes the URL, and URLs can carry keys.
                raise ProviderConnectionError(f"Could not reach the provider ({type(exc).__name__})") from None
            status = raw.status_code
            resp_body = raw.content
            response = HttpResponse(
                status_code=raw.status_code,
                headers=raw.headers,
                content=raw.content,
                url=raw.url,
                elapsed_ms=int((time.perf_counter() - started) * 1000),
            )
            exc = error_hook(response) if error_hook is not None else None
            if exc is None and status >= 400:
                exc = default_error_for(response)
            if exc is None and 300 <= status < 400:
                exc = ProviderResponseError(
                    f"Unexpected redirect to {response.headers.get('Location', '?')}", status_code=status
                )
            if exc is not None:
                self.scrub_exception(exc)
                error = str(exc)
                raise exc
            return response
        finally:
            duration = int((time.perf_counter() - started) * 1000)
            content_type = prepared.headers.get("Content-Type", "")
            self.log(
                LogEntry(
                    operation=operation,
                    method=method,
                    url=redact_url(prepared.url or url, self.secrets),
                    request_headers=redact_headers(
                        {k: v for k, v in prepared.headers.items() if k.lower() != "user-agent"}, self.secrets
                    ),
                    request_body=redact_body(prepared.body, content_type, self.secrets),
                    status_code=status,
                    response_body=redact_body(resp_body, "", self.secrets),
                    duration_ms=duration,
                    error=error,
                )
            )
