"""Ogangi adapter (Messangi "Mobile Engagement Campaign Manager" REST API).

Contract: the Ogangi document (seeds ``002``: ``tools/sendSMSByFile``, ``getShortcodes``,
``createBroadcastFromJson``, ``getBroadcast``, ``suspend``/``resume``/``stopBroadcast``, ``DELETE broadcast``)
plus protocol-notes §2 (signature, base URL, XML envelope, statuses).

Every call is a signed URL (protocol-notes §2.1)::

    params    = the path parameters after the method name and before {publicKey}, joined with "/"
    signature = lowercase hex HMAC-SHA256(key=privateKey, msg=params)
    url       = {base_url}/rest/api/{method}/{params}/{publicKey}/{signature}

and every answer is XML: ``<input>method</input><status>OK|BAD_SIGNATURE|ERROR</status><description>…</description>
<result>…</result>``, with or without a ``<response>`` root (§2.3).

How we use the API:
- Sending is always ``createBroadcastFromJson`` (a single message is a broadcast of one recipient; a batch of
  the same text, sender and send time is one broadcast). ``sendSMSByFile`` is not used: it answers with
  per-message ids, but nothing in the document can look those ids up again, stop them or schedule them, and its
  file layout is not in the document either; broadcasts have ``getBroadcast`` for status, scheduling, and
  suspend/resume/stop/delete for our pause, resume and cancel.
- A message's external id is ``"<broadcastId>:<msisdn>"``: unique per message, and the broadcast id is what
  every later call needs.
- Status: ``getBroadcast`` reports a broadcast, not its messages. Status 2 (done) with every expected message
  sent means "sent" for each; done with none sent means "failed"; done with some sent cannot be attributed to
  messages and is reported as unknown with the counts. Broadcasts of one recipient (``batch_size`` option 1)
  give exact per-message results at the cost of one call per message.
- After an ambiguous timeout there is nothing to look a broadcast up by (no list or search call in the
  document), so ``reconcile`` is not offered: such messages stay unknown for a human.

Assumptions where the documents are silent (also listed in docs/providers.md):
- The JSON recipient format of ``to`` is referenced but not given by the document. We POST a form field ``to``
  holding a JSON array of ``{"mobile": "<digits>", "text": "<message>"}`` objects – the columns of Messangi's
  "SMSs Recipient List" file. ``recipients_json`` is the one place to change it.
- The HTTP method of ``getBroadcast``/``getShortcodes``/``suspend``/``resume``/``stopBroadcast`` is not given;
  we use GET (as the Java example and courier do for signed calls); ``createBroadcastFromJson`` is POST and the
  delete is DELETE, as documented.
- We sign the raw (not percent-encoded) values and percent-encode each path segment only in the URL; optional
  parameters are the literal ``null``; hex is lowercase (option ``signature_case`` switches to upper).
- ``shortcodeIgnore`` is "true" when we pass a short code (the document: "if false the shortcode parameter
  will be ignored"); with no short code we pass ``0`` and "false" so the instance's default is used.
- ``date`` (``dd-MM-yyyy HH:mm``) is written in the account's ``timezone`` option (default UTC), rounded up to
  the next whole minute so a broadcast never starts before the requested time.
- ``campaignName`` is sent raw (the document's example ``testJsonBroadcast`` is not Base64) and so is limited
  to letters, digits, ``-`` and ``_``.
- Broadcast status numbers (Messangi's "Broadcast Types and Status" page, not in the document): 1 sending,
  2 done, 3 suspended, 4 aborted, 5 forced suspended; ``SCHEDULED`` appears as a description.
- ``ERROR`` ("Internal error") is not retried: it is a definite answer, but we cannot know whether the broadcast
  was created, so a retry could send twice.
- HTTP 404 with an empty body means "invalid parameters" (courier's observation); 502/504 after a send is
  treated like a read timeout (UNKNOWN), never resent.
- XML answers with a DOCTYPE or ENTITY declaration are refused outright (no entity expansion, no XML bombs).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import xml.etree.ElementTree as ET  # DTDs and entities are refused before parsing (see parse_xml)
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from .base import BaseAdapter, CredentialField, Feature, Limits
from .exceptions import (
    ProviderAuthError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnparseableResponse,
    ProviderValidationError,
)
from .http import REDACTED, HttpResponse, LogEntry, default_error_for
from .types import AccountCheck, CancelResult, DeliveryReport, MessageStatus, OutboundSMS, SendResult

NULL = "null"  # "Use null to ignore this parameter"
DATE_FORMAT = "%d-%m-%Y %H:%M"  # dd-MM-yyyy HH:mm
DEFAULT_BATCH_SIZE = 500
MAX_BATCH_SIZE = 1000  # our cap (the document gives none): keeps one POST body and one broadcast manageable
_CAMPAIGN_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


# ---------------------------------------------------------------------- signing (protocol-notes §2.1)
def sign_params(private_key: str, params: str, *, upper: bool = False) -> str:
    """hex(HMAC-SHA256(key=private key, msg=the "/"-joined raw path parameters)).

    Test vector (protocol-notes §2.1, courier's messangi handler): key ``my-private-key``, params
    ``7/2020/2/18765422035/U2ltcGxlIE1lc3NhZ2Ug4pi6`` →
    ``f69bc6a924480d3ed82970d9679c4be90589bd3064add51c47e8bf50a211d55f``.
    """
    digest = hmac.new(private_key.encode("utf-8"), params.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest.upper() if upper else digest


def signed_path(method: str, params: Sequence[str], public_key: str, signature: str) -> str:
    """``{method}/{params…}/{publicKey}/{signature}``, each parameter percent-encoded as one path segment."""
    segments = [quote(str(p), safe="") for p in params]
    return "/".join([method, *segments, quote(public_key, safe=""), signature])


def redact_signed_url(url: str) -> str:
    """Replace the last two path segments of a ``/rest/api/`` URL (public key, signature) with ``***``.

    Structural redaction for the request log: it cannot miss a signature, whatever its value.
    """
    parts = urlsplit(url)
    if "/rest/api/" not in parts.path:
        return url
    segments = parts.path.split("/")
    if len(segments) >= 3:
        segments[-1] = REDACTED
        segments[-2] = REDACTED
    return urlunsplit(parts._replace(path="/".join(segments)))


# ---------------------------------------------------------------------- XML (protocol-notes §2.3)
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ENVELOPE_ROOT = "ogangi-envelope"


def parse_xml(content: bytes) -> ET.Element:
    """Parse an Ogangi answer tolerantly: optional root, namespaces, whitespace, an XML declaration.

    The answer is wrapped in a synthetic root, so both the documented fragments (``<input>…</input>
    <status>…</status>``) and a real ``<response>`` document parse. Namespaces are stripped from tags. Any
    DOCTYPE or ENTITY declaration is refused before parsing: no entity expansion, no external entities.
    """
    raw = content or b""
    match = _XML_DECL.match(raw)
    encoding = "utf-8"
    if match:
        enc = _XML_ENCODING.search(match.group(0))
        if enc:
            encoding = enc.group(1).decode("ascii")
        raw = raw[match.end() :]
    try:
        text = raw.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        text = raw.decode("utf-8", "replace")
    text = text.lstrip("\ufeff").strip()
    if not text:
        raise ProviderUnparseableResponse("Ogangi answered with an empty body")
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise ProviderUnparseableResponse("Ogangi's answer declares a DTD or entities; refused (XML bomb guard)")
    try:
        root = ET.fromstring(f"<{_ENVELOPE_ROOT}>{text}</{_ENVELOPE_ROOT}>")  # noqa: S314
    except ET.ParseError as exc:
        raise ProviderUnparseableResponse(f"Ogangi's answer is not XML ({exc}): {text[:200]!r}") from None
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.rsplit("}", 1)[1]
    return root


def find_shallow(root: ET.Element, tag: str) -> ET.Element | None:
    """The shallowest element named ``tag`` (breadth first): the envelope's ``status``, not a message's."""
    level = [root]
    while level:
        for el in level:
            if el is not root and el.tag == tag:
                return el
        level = [child for el in level for child in el]
    return None


def text_of(el: ET.Element | None, tag: str, default: str = "") -> str:
    if el is None:
        return default
    child = el.find(tag)
    if child is None or child.text is None:
        return default
    return child.text.strip()


def element_dict(el: ET.Element) -> dict[str, str]:
    return {child.tag: (child.text or "").strip() for child in el if len(child) == 0}


def parse_envelope(content: bytes) -> tuple[str, str, ET.Element]:
    root = parse_xml(content)
    status_el = find_shallow(root, "status")
    if status_el is None or not (status_el.text or "").strip():
        raise ProviderUnparseableResponse("Ogangi's answer has no <status>")
    description_el = find_shallow(root, "description")
    description = (description_el.text or "").strip() if description_el is not None else ""
    return status_el.text.strip().upper(), description, root


def parse_ogangi_date(value: str) -> datetime | None:
    """``2014-12-17T00:12:13.571-04:30``; tolerant of the document's malformed ``-04:002``."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2}:?\d{2})?", value)
    if not m:
        return None
    try:
        return datetime.fromisoformat(m.group(1) + (m.group(2) or ""))
    except ValueError:
        return None


def normalize_status(raw: Any) -> str:
    """Upper-case, spaces and ``/`` to ``_`` (§2.3: ``DELIVERED TO CARRIER`` = ``DELIVERED_TO_CARRIER``)."""
    return re.sub(r"[\s/]+", "_", str(raw or "").strip().upper())


BROADCAST_DONE = {"2", "DONE", "STATUS_DONE"}
BROADCAST_FINAL = BROADCAST_DONE | {"4", "ABORTED", "STATUS_ABORTED"}


class OgangiAdapter(BaseAdapter):
    code = "ogangi"
    name = "Ogangi"
    documentation = "seeds 002 (Ogangi/Messangi REST API) + protocol-notes §2"
    default_base_url = ""  # per customer (§2.2): scheme + host + application context, e.g. https://host/mmc
    features = frozenset(
        {
            Feature.SEND,
            Feature.BATCH_SAME_TEXT,
            Feature.SCHEDULED,
            Feature.STATUS_POLL,
            Feature.CANCEL,
            Feature.PAUSE_RESUME,
        }
    )
    max_batch_size = DEFAULT_BATCH_SIZE
    status_batch_size = 1000  # ids per fetch; one getBroadcast per distinct broadcast among them
    # Keys are normalized (normalize_status). Message statuses: protocol-notes §2.3 (Messangi's SMS status
    # table, cut off after UNDELIV, plus SENT_TO_CARRIER from the document). Broadcast statuses: numbers 1–5 and
    # their names, and SCHEDULED from createBroadcastFromJson's statusDescription.
    status_map = {
        # message statuses
        "PENDING": MessageStatus.QUEUED,
        "SENDING": MessageStatus.QUEUED,
        "BUFFRED": MessageStatus.SENT,  # buffered at the SMSC, not final
        "SENT": MessageStatus.SENT,
        "SENT_TO_CARRIER": MessageStatus.SENT,
        "DELIVERED_TO_CARRIER": MessageStatus.SENT,
        "ACCEPTD": MessageStatus.SENT,
        "SENT_TO_DEVICE": MessageStatus.SENT,
        "DELIVERED_TO_DEVICE": MessageStatus.DELIVERED,
        "DELIVRD": MessageStatus.DELIVERED,
        "READ": MessageStatus.DELIVERED,
        "UNDELIVERED": MessageStatus.UNDELIVERED,
        "UNDELIV": MessageStatus.UNDELIVERED,
        "UNREACHABLE": MessageStatus.UNDELIVERED,
        "EXPIRED": MessageStatus.EXPIRED,
        "REJECTD": MessageStatus.REJECTED,
        "BAD_FROM": MessageStatus.REJECTED,
        "BAD_TO": MessageStatus.REJECTED,
        "BAD_ADDRESS": MessageStatus.REJECTED,
        "BAD_ENCODING": MessageStatus.REJECTED,
        "BAD_CARRIER_FROM": MessageStatus.REJECTED,  # "BAD_CARRIER/FROM"
        "BAD_CARRIER": MessageStatus.REJECTED,
        "BAD_TIMEZONE": MessageStatus.REJECTED,
        "NOT_ENOUGH_FUNDS": MessageStatus.REJECTED,
        "INVALID_ROUTING": MessageStatus.REJECTED,
        "INVALID_TEMPLATE_ID_PARAMETERS_TYPE": MessageStatus.REJECTED,  # "INVALID TEMPLATE ID/PARAMETERS/TYPE"
        "INVALID_TEMPLATE_ID": MessageStatus.REJECTED,
        "INVALID_TEMPLATE_PARAMETERS": MessageStatus.REJECTED,
        "INVALID_TEMPLATE_TYPE": MessageStatus.REJECTED,
        "TEMPLATE_NOT_SUPPORTED": MessageStatus.REJECTED,
        "NOT_SENT": MessageStatus.FAILED,
        "CARRIER_GATEWAY_ERROR": MessageStatus.FAILED,
        "INTERNAL_ERROR": MessageStatus.FAILED,
        "DELETED": MessageStatus.FAILED,
        # broadcast statuses (number, Messangi's name, short name)
        "SCHEDULED": MessageStatus.QUEUED,
        "1": MessageStatus.QUEUED,
        "STATUS_SENDING": MessageStatus.QUEUED,
        "2": MessageStatus.SENT,  # refined by the counts, see broadcast_report
        "STATUS_DONE": MessageStatus.SENT,
        "DONE": MessageStatus.SENT,
        "3": MessageStatus.QUEUED,  # suspended: waits for resume
        "STATUS_SUSPENDED": MessageStatus.QUEUED,
        "SUSPENDED": MessageStatus.QUEUED,
        "4": MessageStatus.CANCELLED,  # aborted (stopped)
        "STATUS_ABORTED": MessageStatus.CANCELLED,
        "ABORTED": MessageStatus.CANCELLED,
        "5": MessageStatus.QUEUED,  # forced suspended
        "STATUS_FORCED_SUSPENDED": MessageStatus.QUEUED,
        "FORCED_SUSPENDED": MessageStatus.QUEUED,
    }
    credential_fields = (
        CredentialField("instance_id", "Instance id", help_text="Your workspace number at Ogangi."),
        CredentialField("user_name", "User name", help_text="The user that owns the broadcasts we create."),
        CredentialField("public_key", "Public key", secret=True),
        CredentialField("private_key", "Private key", secret=True, help_text="Signs every call; never sent."),
    )
    option_fields = (
        CredentialField(
            "default_shortcode",
            "Default short/long code",
            required=False,
            help_text="Used when a message has no sender; the connection test lists the account's codes.",
        ),
        CredentialField(
            "timezone",
            "Account time zone",
            required=False,
            initial="UTC",
            help_text="Scheduled broadcast times are written in this zone.",
        ),
        CredentialField(
            "batch_size",
            "Recipients per broadcast",
            required=False,
            initial=str(DEFAULT_BATCH_SIZE),
            help_text="1–1000. Use 1 for exact per-message status (one call per message).",
        ),
        CredentialField(
            "signature_case",
            "Signature hex case",
            required=False,
            initial="lower",
            choices=(("lower", "lower case"), ("upper", "UPPER CASE")),
        ),
    )
    limits = Limits(sender_max_length=None, sender_numeric_max_length=15)

    def __init__(self, account, **kwargs):
        super().__init__(account, **kwargs)
        base = (account.base_url or "").rstrip("/")
        for suffix in ("/rest/api", "/rest"):
            base = base.removesuffix(suffix)
        self.base_url = base
        self.max_batch_size = self._batch_size()
        # The public key and signature travel in the URL path: redact them structurally in the log.
        inner = self.http.log
        if not getattr(inner, "_ogangi_redacting", False):

            def log(entry: LogEntry, _inner=inner) -> None:
                _inner(replace(entry, url=redact_signed_url(entry.url)))

            log._ogangi_redacting = True  # type: ignore[attr-defined]
            self.http.log = log

    def _batch_size(self) -> int:
        raw = self.options.get("batch_size")
        if raw in (None, ""):
            return DEFAULT_BATCH_SIZE
        try:
            return max(1, min(MAX_BATCH_SIZE, int(str(raw).strip())))
        except ValueError:
            return DEFAULT_BATCH_SIZE

    def map_status(self, raw: Any) -> MessageStatus:
        return self.status_map.get(normalize_status(raw), MessageStatus.UNKNOWN)

    # ------------------------------------------------------------------ calls
    def _require_config(self) -> None:
        missing = [f.label for f in self.credential_fields if f.required and not self.cred(f.name)]
        if missing:
            raise ProviderAuthError(f"The Ogangi account is missing: {', '.join(missing)}")
        if not self.base_url:
            raise ProviderAuthError(
                "The Ogangi account has no base URL: set it to your platform's address "
                "(e.g. https://customer.ogangi.com/mmc)"
            )

    def signed_url(self, method: str, params: Sequence[str]) -> tuple[str, str]:
        """(URL, signature) for a call; see sign_params for the rule."""
        upper = str(self.options.get("signature_case") or "lower").lower() == "upper"
        signature = sign_params(self.cred("private_key"), "/".join(str(p) for p in params), upper=upper)
        path = signed_path(method, params, self.cred("public_key"), signature)
        return f"{self.base_url}/rest/api/{path}", signature

    def _call(
        self,
        http_method: str,
        method: str,
        params: Sequence[str],
        *,
        operation: str,
        data: Any = None,
        ambiguous: bool = False,
    ) -> ET.Element:
        """One signed call; returns the parsed answer (synthetic root) of an OK answer."""
        self._require_config()
        url, signature = self.signed_url(method, params)
        # The signature is redacted for this call only: registering every per-call signature globally would
        # grow the process-wide secret set without bound (one per broadcast).
        added = signature not in self.http.secrets
        self.http.secrets.add(signature)
        try:
            response = self.http.request(
                http_method,
                url,
                operation=operation,
                data=data,
                headers={"Accept": "application/xml, text/xml"},
                ambiguous_on_timeout=ambiguous,
                error_hook=partial(self._error_hook, ambiguous=ambiguous),
            )
        finally:
            if added:
                self.http.secrets.discard(signature)
        return parse_xml(response.content)

    def _error_hook(self, response: HttpResponse, *, ambiguous: bool = False) -> ProviderError | None:
        status = response.status_code
        if ambiguous and status in (502, 504):
            return ProviderTimeout(
                f"Ogangi's gateway answered HTTP {status}: the broadcast may have been created; "
                "it cannot be looked up, so the messages stay unknown",
                ambiguous=True,
                status_code=status,
            )
        if status == 404 and not response.content.strip():
            return ProviderResponseError(
                "Ogangi answered 404 with no body: invalid parameters", code=404, status_code=404
            )
        if status == 429 or status >= 500 or status in (401, 403):
            return default_error_for(response)
        try:
            envelope_status, description, _root = parse_envelope(response.content)
        except ProviderUnparseableResponse as exc:
            if status >= 400:
                return default_error_for(response)
            exc.status_code = status
            return exc
        if envelope_status == "OK":
            return None if status < 400 else default_error_for(response, message=description)
        return ogangi_error(envelope_status, description, status)

    # ------------------------------------------------------------------ validation
    def validate_message(self, message: OutboundSMS) -> None:
        sender = message.sender.lstrip("+")
        if sender and not sender.isdigit():
            raise ProviderValidationError(
                f"Ogangi sends from a short or long code (digits only); {message.sender!r} is not one",
                field="sender",
            )
        super().validate_message(message)

    def _zone(self) -> ZoneInfo:
        name = str(self.options.get("timezone") or "UTC")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ProviderValidationError(
                f"The Ogangi account's time zone {name!r} is not a known zone name", field="timezone"
            ) from None

    def format_date(self, send_at: datetime | None) -> str:
        """``dd-MM-yyyy HH:mm`` in the account's zone, rounded up to the minute; ``null`` = start now.

        A time already due (or within the next minute, finer than the format can say) starts now.
        """
        if send_at is None or send_at <= timezone.now() + timedelta(minutes=1):
            return NULL
        local = send_at.astimezone(self._zone())
        if local.second or local.microsecond:
            local = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return local.strftime(DATE_FORMAT)

    # ------------------------------------------------------------------ send
    @staticmethod
    def recipients_json(batch: Sequence[OutboundSMS]) -> str:
        """The ``to`` field of createBroadcastFromJson (assumed format, see the module docstring)."""
        return json.dumps(
            [{"mobile": m.msisdn, "text": m.text} for m in batch], ensure_ascii=False, separators=(",", ":")
        )

    def _shortcode(self, message: OutboundSMS) -> str:
        for candidate in (message.sender, self.options.get("default_shortcode"), self.account.default_sender):
            value = str(candidate or "").lstrip("+")
            if value.isdigit():
                return value
        return ""

    @staticmethod
    def campaign_name(message: OutboundSMS) -> str:
        name = str(message.extra.get("campaign_name") or f"smsportal-{message.client_ref[:12]}")
        return _CAMPAIGN_NAME_UNSAFE.sub("-", name).strip("-")[:60] or NULL

    def broadcast_params(self, first: OutboundSMS, broadcast_id: str = "-1") -> list[str]:
        shortcode = self._shortcode(first)
        return [
            self.cred("instance_id"),
            broadcast_id,  # -1 = new
            shortcode or "0",
            self.cred("user_name"),
            "true" if shortcode else "false",  # shortcodeIgnore: "if false the shortcode … will be ignored"
            self.campaign_name(first),
            self.format_date(first.send_at),
        ]

    def send_batch(self, batch: Sequence[OutboundSMS]) -> list[SendResult]:
        from campaigns.segments import count_segments

        first = batch[0]
        root = self._call(
            "POST",
            "createBroadcastFromJson",
            self.broadcast_params(first),
            data=[("to", self.recipients_json(batch))],
            operation="send",
            ambiguous=True,
        )
        broadcast = find_shallow(root, "broadcast")
        info = element_dict(broadcast) if broadcast is not None else {}
        broadcast_id = info.get("id", "")
        if not broadcast_id:
            return [
                SendResult(
                    m.client_ref,
                    MessageStatus.UNKNOWN,
                    error_code="no_broadcast_id",
                    error_message="Ogangi answered OK without a broadcast id",
                    raw=info,
                )
                for m in batch
            ]
        raw_status = info.get("statusDescription") or info.get("status") or ""
        status = self.map_status(raw_status) if raw_status else MessageStatus.QUEUED
        if status in (MessageStatus.UNKNOWN, MessageStatus.SENT):
            status = MessageStatus.QUEUED  # just created: nothing is known to have gone out yet
        return [
            SendResult(
                m.client_ref,
                status,
                external_id=f"{broadcast_id}:{m.msisdn}",
                segments=count_segments(m.text).segments,
                raw={"broadcast": info},
            )
            for m in batch
        ]

    # ------------------------------------------------------------------ broadcasts
    @staticmethod
    def broadcast_id(external_id: str) -> str:
        return str(external_id).split(":", 1)[0].strip()

    def _by_broadcast(self, external_ids: Sequence[str]) -> OrderedDict[str, list[str]]:
        groups: OrderedDict[str, list[str]] = OrderedDict()
        for ext in external_ids:
            bid = self.broadcast_id(ext)
            if not re.fullmatch(r"-?\d+", bid):
                raise ProviderValidationError(f"{ext!r} is not an Ogangi broadcast id", field="external_id")
            groups.setdefault(bid, []).append(str(ext))
        return groups

    def get_broadcast(self, broadcast_id: str) -> dict[str, str]:
        root = self._call("GET", "getBroadcast", [self.cred("instance_id"), broadcast_id], operation="status")
        broadcast = find_shallow(root, "broadcast")
        if broadcast is None:
            raise ProviderUnparseableResponse(f"Ogangi's getBroadcast answer for {broadcast_id} has no <broadcast>")
        return element_dict(broadcast)

    def broadcast_status(self, info: Mapping[str, str]) -> tuple[MessageStatus, str, str]:
        """(status for each message of the broadcast, raw status, detail)."""
        raw = info.get("status") or info.get("statusDescription") or ""
        key = normalize_status(raw)
        status = self.map_status(raw)
        detail = ""
        if key in BROADCAST_FINAL:
            expected, sent = _int(info.get("expectedMessages")), _int(info.get("sentMessages"))
            aborted = key not in BROADCAST_DONE
            if expected is not None and sent is not None:
                if sent >= expected:
                    status = MessageStatus.SENT
                elif sent == 0 and aborted:
                    status, detail = MessageStatus.CANCELLED, "the broadcast was stopped before sending anything"
                elif sent == 0:
                    status, detail = MessageStatus.FAILED, "the broadcast finished without sending any message"
                else:
                    status = MessageStatus.UNKNOWN
                    detail = (
                        f"the broadcast {'was stopped after sending' if aborted else 'sent'} {sent} of {expected} "
                        "messages; Ogangi does not say which"
                    )
        return status, raw, detail

    def fetch_statuses(self, external_ids: Sequence[str]) -> list[DeliveryReport]:
        self.require(Feature.STATUS_POLL)
        reports: list[DeliveryReport] = []
        for broadcast_id, ids in self._by_broadcast(external_ids).items():
            info = self.get_broadcast(broadcast_id)
            status, raw, detail = self.broadcast_status(info)
            occurred = parse_ogangi_date(info.get("endDate", "")) or parse_ogangi_date(info.get("startDate", ""))
            for ext in ids:
                msisdn = ext.split(":", 1)[1] if ":" in ext else ""
                reports.append(
                    DeliveryReport(
                        external_id=ext,
                        status=status,
                        raw_status=raw,
                        to=f"+{msisdn}" if msisdn else "",
                        occurred_at=occurred,
                        error_code="partial" if status == MessageStatus.UNKNOWN and detail else "",
                        error_message=detail,
                        raw=info,
                    )
                )
        return reports

    def fetch_status_batch(self, external_ids: Sequence[str]) -> list[DeliveryReport]:
        return self.fetch_statuses(external_ids)

    def _simple(self, method: str, broadcast_id: str, *, operation: str, http_method: str = "GET") -> None:
        self._call(http_method, method, [self.cred("instance_id"), broadcast_id], operation=operation)

    def _per_broadcast(self, external_ids: Sequence[str], action) -> list[CancelResult]:
        results: list[CancelResult] = []
        for broadcast_id, ids in self._by_broadcast(external_ids).items():
            try:
                done, detail = action(broadcast_id)
            except ProviderAuthError:
                raise
            except ProviderError as exc:
                if exc.retryable:
                    raise
                done, detail = False, f"broadcast {broadcast_id}: {exc.provider_message or exc.message}"
            results.extend(CancelResult(ext, cancelled=done, detail=detail) for ext in ids)
        return results

    def cancel(self, external_ids: Sequence[str]) -> list[CancelResult]:
        """Cancel the broadcasts holding these messages: stop a running one, delete one that has not started.

        A finished (done or aborted) broadcast is left alone. A message counts as cancelled only when we know it
        was not sent: the broadcast had sent nothing when it was stopped or deleted. When a running broadcast had
        already sent some of its messages, it is still stopped, but Ogangi does not say which messages went out,
        so none of them is reported cancelled (the detail says so); one-recipient broadcasts are always exact.
        """

        def action(broadcast_id: str) -> tuple[bool, str]:
            info = self.get_broadcast(broadcast_id)
            key = normalize_status(info.get("status") or info.get("statusDescription") or "")
            if key in BROADCAST_FINAL:
                return False, f"broadcast {broadcast_id} has already finished"
            try:
                self._simple("stopBroadcast", broadcast_id, operation="cancel")
            except ProviderResponseError as exc:
                if exc.retryable or (_int(info.get("sentMessages")) or 0) > 0:
                    raise  # never delete a broadcast that has sent something: its record is the only trace
                # A broadcast that has not started cannot be stopped; deleting it is what cancels it.
                self._simple("broadcast", broadcast_id, operation="cancel", http_method="DELETE")
                return True, f"broadcast {broadcast_id} deleted before it started"
            try:  # the counts after the stop: messages may have gone out since the first look
                info = self.get_broadcast(broadcast_id)
            except ProviderResponseError:
                pass
            sent = _int(info.get("sentMessages")) or 0
            if not sent:
                return True, f"broadcast {broadcast_id} stopped before sending anything"
            expected = _int(info.get("expectedMessages"))
            return False, (
                f"broadcast {broadcast_id} stopped after {sent}"
                + (f" of {expected}" if expected is not None else "")
                + " messages had been sent; Ogangi does not say which, so none is marked cancelled"
            )

        return self._per_broadcast(external_ids, action)

    def pause_remote(self, external_ids: Sequence[str]) -> list[CancelResult]:
        """Suspend the broadcasts holding these messages. ``cancelled`` = True means the call took effect."""

        def action(broadcast_id: str) -> tuple[bool, str]:
            self._simple("suspendBroadcast", broadcast_id, operation="pause")
            return True, f"broadcast {broadcast_id} suspended"

        return self._per_broadcast(external_ids, action)

    def resume_remote(self, external_ids: Sequence[str]) -> list[CancelResult]:
        """Resume suspended broadcasts. ``cancelled`` = True means the call took effect."""

        def action(broadcast_id: str) -> tuple[bool, str]:
            self._simple("resumeBroadcast", broadcast_id, operation="resume")
            return True, f"broadcast {broadcast_id} resumed"

        return self._per_broadcast(external_ids, action)

    # ------------------------------------------------------------------ account
    def shortcodes(self) -> list[str]:
        """The instance's short/long codes (getShortcodes)."""
        root = self._call(
            "GET", "getShortcodes", [self.cred("instance_id"), self.cred("user_name")], operation="shortcodes"
        )
        return [(sc.text or "").strip() for sc in root.iter("sc") if (sc.text or "").strip()]

    def check(self) -> AccountCheck:
        codes = self.shortcodes()
        listed = ", ".join(codes[:10]) + (f" and {len(codes) - 10} more" if len(codes) > 10 else "")
        default = str(self.options.get("default_shortcode") or "").lstrip("+")
        if default and default not in codes:
            return AccountCheck(
                ok=False,
                detail=f"Signed in, but the default short code {default} is not among the account's codes ({listed})",
            )
        return AccountCheck(ok=True, detail=f"Connected; short/long codes: {listed or 'none'}")


def ogangi_error(envelope_status: str, description: str, http_status: int | None = None) -> ProviderError:
    """A non-OK envelope → the error tree, keeping Ogangi's status and description."""
    description = description.strip()
    if envelope_status == "BAD_SIGNATURE":
        return ProviderAuthError(
            "Ogangi refused the signature: check the public and private keys and the instance id"
            + (f" ({description})" if description else ""),
            code=envelope_status,
            provider_message=description or "Invalid signature, access denied",
            status_code=http_status,
        )
    return ProviderResponseError(
        f"Ogangi: {description or envelope_status}",
        code=envelope_status,
        provider_message=description or envelope_status,
        status_code=http_status,
        retryable=False,
    )


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
