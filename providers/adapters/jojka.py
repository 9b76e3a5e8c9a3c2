"""Jojka (www.jojka.nu): form-encoded POSTs to ``/websms/api/<function>``, ``API_key`` in every body, JSON answers.

Contract: ``seeds/000_a79484044869b32f.txt`` plus protocol-notes §4 (a third-party SDK's fixtures fill in the
status shape and the error convention). What the adapter does with each documented function:

- ``send``: one unscheduled message. ``add_campaign``: everything else (up to 1000 numbers, one text, optional
  ``scheduled`` time). A campaign answers with a ``campaign_id`` only, so campaign messages get the external id
  ``c<campaign_id>:<msisdn>`` (see :func:`campaign_ref`): status lookups then cost one
  ``get_campaign_recipients_status`` call per campaign instead of one ``get_msg_status`` per message, and
  ``cancel_campaign`` can be reached from any of its messages.
- ``get_msg_status`` for messages sent with ``send``; ``get_campaign_recipients_status`` for campaign messages;
  ``get_msg_ids_by_campaign_id`` for :meth:`JojkaAdapter.campaign_message_ids`.
- ``fetch_replies`` (the last 96 hours at most); replies have no id, so a stable one is derived from their content.
- Contacts (``export_contacts_list`` / ``import_contacts_list``), groups (names carried by contacts) and the
  blocklist (``add_to_blocklist`` / ``rm_from_blocklist`` / ``check_if_in_blocklist``).
- No delivery callbacks exist (protocol-notes §4): statuses are polled.

Assumptions where the document is silent (also in docs/providers.md):
- Errors: any JSON answer with a non-empty top-level ``error`` key is a failure; its first value is the message
  and, when ``error`` is an object, its first key the code (the SDK's ``current($data['error'])``). HTTP errors
  are failures too. No error codes are documented, so an auth failure is recognised by HTTP 401/403 or by an
  error message about the API key (:func:`_looks_like_auth_error`).
- ``get_msg_status`` answers ``["STATUS"]`` (SDK fixture; the document's example is garbled); a bare string or an
  object with ``status`` is accepted too. Message ids are opaque strings.
- No message length, rate limit or scheduling window is documented: texts are not capped here (Jojka's own
  rejection comes back as a REJECTED result with its message), and a send time that is not in the future is sent
  at once (``scheduled`` omitted).
- Sender names: at most 11 characters from a-z, A-Z, 0-9 and separators (the document's list is cut off after
  "- and"; we accept ``-``, ``_``, ``.`` and space); numeric senders up to 15 digits.
- ``import_contacts_list`` upserts by msisdn; a contact's group columns are not limited to three.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from .base import BaseAdapter, CredentialField, Feature, Limits, chunked
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
    CancelResult,
    DeliveryReport,
    InboundSMS,
    MessageStatus,
    OutboundSMS,
    SendResult,
    SyncBlockEntry,
    SyncContact,
    SyncGroup,
)

logger = logging.getLogger(__name__)

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # "YYYY-MM-DD hh:mm:ss", UTC ("the system use UTC ± 0")
MAX_CAMPAIGN_NUMBERS = 1000  # add_campaign: "Up to 1000 recipients"
EXPORT_PAGE_SIZE = 10_000  # export_contacts_list: "Maximum value is 10000"
IMPORT_BATCH_SIZE = 1000  # import_contacts_list: no documented maximum; our choice, keeps bodies small
REPLY_WINDOW = timedelta(hours=96)  # fetch_replies: "Messages a maximum of 96 hours old are fetched"
SENDER_RE = re.compile(r"[A-Za-z0-9 ._\-]+")
_CAMPAIGN_REF_RE = re.compile(r"c(?P<campaign>[^:]+):(?P<msisdn>\d+)")


def campaign_ref(campaign_id: str, msisdn: str) -> str:
    """The external id of one message of a campaign: ``c<campaign_id>:<msisdn>``."""
    return f"c{campaign_id}:{msisdn.lstrip('+')}"


def parse_campaign_ref(external_id: str) -> tuple[str, str] | None:
    """``(campaign_id, msisdn)`` for a campaign message's external id, None for a plain Jojka message id."""
    m = _CAMPAIGN_REF_RE.fullmatch(external_id or "")
    return (m["campaign"], m["msisdn"]) if m else None


def format_time(value: datetime) -> str:
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(value: Any) -> datetime | None:
    try:
        return datetime.strptime(str(value).strip(), TIME_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _msisdn(phone: Any) -> str:
    """A number as Jojka wants it: digits only, no "+" or "00"."""
    digits = re.sub(r"[^\d]", "", str(phone or ""))
    if str(phone or "").strip().startswith("00"):
        digits = digits[2:]
    return digits


def _sender(sender: str) -> str | None:
    """A name as given; a numeric sender in MSISDN form (no "+"); None (the account's Jojka number) if empty."""
    if not sender:
        return None
    return sender.lstrip("+") if sender.lstrip("+").isdigit() else sender


def _clean_field(value: Any) -> str:
    """import_contacts_list has no text delimiter: "," and ";" (and line breaks) must not appear in fields."""
    return " ".join(re.sub(r"[,;\r\n]+", " ", str(value or "")).split())


def _first_error(value: Any) -> tuple[str, str]:
    """``(code, message)`` of a Jojka ``error`` value: the first entry of an object/array, or the string."""
    if isinstance(value, dict):
        for key, inner in value.items():
            code, message = _first_error(inner)
            return (code or str(key)), message
        return "", ""
    if isinstance(value, list):
        return _first_error(value[0]) if value else ("", "")
    if value is None:
        return "", ""
    return "", str(value)


def _looks_like_auth_error(message: str) -> bool:
    text = message.lower().replace("_", " ")
    if any(w in text for w in ("unauthori", "not authori", "authenticat", "access denied", "forbidden")):
        return True
    return bool(re.search(r"api\s?key", text)) and any(
        w in text for w in ("invalid", "wrong", "missing", "incorrect", "unknown", "not valid", "no ", "bad")
    )


def jojka_error(response: HttpResponse) -> ProviderError | None:
    """The ``error_hook``: None for a good answer, else the precise exception with Jojka's code and message."""
    try:
        data = json.loads(response.content.decode("utf-8-sig")) if response.content else None
    except (ValueError, UnicodeDecodeError):
        data = None
    status = response.status_code
    has_error = isinstance(data, dict) and data.get("error") not in (None, "", False, [], {})
    if not has_error and status < 400:
        return None
    if has_error:
        code, message = _first_error(data["error"])
        code = code or "error"
    else:
        code, message = str(status), response.text[:300].strip()
    message = message or f"HTTP {status}"
    kwargs = {"code": code, "provider_message": message, "status_code": status}
    if status == 429 or "too many" in message.lower() or "rate limit" in message.lower():
        return ProviderThrottled(
            f"Jojka: {message}", retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs
        )
    if status in (401, 403) or _looks_like_auth_error(message):
        return ProviderAuthError(f"Jojka refused the API key: {message}", **kwargs)
    if status >= 500:
        return ProviderConnectionError(f"Jojka failed: {message}", **kwargs)
    return ProviderResponseError(f"Jojka: {message}", **kwargs)


class JojkaAdapter(BaseAdapter):
    code = "jojka"
    name = "Jojka"
    documentation = "seeds/000_a79484044869b32f.txt; protocol-notes.md §4 (Jojka)"
    default_base_url = "https://www.jojka.nu/websms/api"
    features = frozenset(
        {
            Feature.SEND,
            Feature.BATCH_SAME_TEXT,
            Feature.SCHEDULED,
            Feature.CANCEL,
            Feature.STATUS_POLL,
            Feature.INBOUND_POLL,
            Feature.CONTACTS_SYNC,
            Feature.GROUPS_SYNC,
            Feature.BLOCKLIST_SYNC,
        }
    )
    max_batch_size = MAX_CAMPAIGN_NUMBERS
    status_batch_size = MAX_CAMPAIGN_NUMBERS
    status_map = {
        # The document's three values (get_campaign_recipients_status):
        "SENT": MessageStatus.SENT,  # handed to the operator, no report yet (not final)
        "DELIVERED": MessageStatus.DELIVERED,  # the operator reported delivery (final)
        "ERROR": MessageStatus.UNDELIVERED,  # network, wrong number or handset problem (final)
        # Not documented, accepted in case Jojka spells a final failure out (protocol-notes: "the SDK has no
        # other values"):
        "UNDELIVERED": MessageStatus.UNDELIVERED,
    }
    credential_fields = (CredentialField("api_key", "API key", secret=True, help_text="The API_key Jojka gave you."),)
    limits = Limits(sender_max_length=11, sender_numeric_max_length=15)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sync_errors: list[str] = []  # what the last push_contacts could not sync, one line per batch

    # ------------------------------------------------------------------ transport
    def call(self, function: str, fields: dict[str, Any] | None = None, *, ambiguous: bool = False) -> Any:
        """POST one API function with ``API_key`` first in the form body; the parsed JSON answer."""
        api_key = self.cred("api_key")
        if not api_key:
            raise ProviderAuthError("No Jojka API key is set for this account")
        body = {"API_key": api_key}
        body.update({k: v for k, v in (fields or {}).items() if v is not None})
        response = self.http.request(
            "POST",
            self.url(function),
            operation=function,
            data=body,
            headers={"Accept": "application/json"},
            ambiguous_on_timeout=ambiguous,
            error_hook=jojka_error,
        )
        return response.json()

    # ------------------------------------------------------------------ limits
    def validate_message(self, message: OutboundSMS) -> None:
        super().validate_message(message)
        if not _msisdn(message.to):
            raise ProviderValidationError(f"{message.to!r} is not a phone number", field="to")
        sender = message.sender
        if sender and not sender.lstrip("+").isdigit() and not SENDER_RE.fullmatch(sender):
            raise ProviderValidationError(
                f"Jojka sender names may only use a-z, A-Z, 0-9, space, '-', '_' and '.'; {sender!r} does not",
                field="sender",
            )

    def _scheduled(self, message: OutboundSMS) -> str | None:
        if message.send_at is None or message.send_at <= timezone.now():
            return None
        return format_time(message.send_at)

    # ------------------------------------------------------------------ sending
    def plan_batches(self, messages: Sequence[OutboundSMS]) -> list[list[OutboundSMS]]:
        """Same-text batches of at most 1000, never holding one number twice: campaign messages are told
        apart by number (``c<campaign>:<msisdn>``), so a repeated number goes into another campaign."""
        batches: list[list[OutboundSMS]] = []
        for batch in super().plan_batches(messages):
            open_batches: list[tuple[list[OutboundSMS], set[str]]] = []
            for m in batch:
                number = _msisdn(m.to)
                for members, numbers in open_batches:
                    if number not in numbers and len(members) < self.max_batch_size:
                        members.append(m)
                        numbers.add(number)
                        break
                else:
                    open_batches.append(([m], {number}))
            batches.extend(members for members, _ in open_batches)
        return batches

    def send_batch(self, batch: Sequence[OutboundSMS]) -> list[SendResult]:
        if len(batch) == 1 and self._scheduled(batch[0]) is None:
            return [self._send_one(batch[0])]
        return self._send_campaign(batch)

    def _send_call(self, function: str, fields: dict, key: str, batch: Sequence[OutboundSMS]):
        """A sending call; ``(id, data)``, or ``(None, results)`` with UNKNOWN results when the answer cannot
        be read: accepted or not, it does not say, so the messages are never resent blindly."""
        try:
            data = self.call(function, fields, ambiguous=True)
        except ProviderUnparseableResponse as exc:
            data, detail = None, exc.message
        else:
            detail = f"Jojka's answer to {function} had no {key}"
        value = data.get(key) if isinstance(data, dict) else None
        if value in (None, "") or isinstance(value, (dict, list)):
            return None, [
                SendResult(
                    m.client_ref, MessageStatus.UNKNOWN, error_code="unparseable", error_message=detail, raw=data
                )
                for m in batch
            ]
        return str(value), data

    def _send_one(self, m: OutboundSMS) -> SendResult:
        fields = {"to": _msisdn(m.to), "msg": m.text, "from": _sender(m.sender)}
        message_id, data = self._send_call("send", fields, "message_id", [m])
        if message_id is None:
            return data[0]
        return SendResult(m.client_ref, MessageStatus.QUEUED, external_id=message_id, raw=data)

    def _send_campaign(self, batch: Sequence[OutboundSMS]) -> list[SendResult]:
        first = batch[0]
        if len(batch) > MAX_CAMPAIGN_NUMBERS:  # plan_batches never builds one; a direct caller might
            raise ProviderValidationError(f"Jojka takes at most {MAX_CAMPAIGN_NUMBERS} numbers per campaign")
        if any(m.text != first.text or m.sender != first.sender for m in batch):
            raise ProviderValidationError("A Jojka campaign carries one text from one sender")
        fields = {
            "to_msisdn": ";".join(_msisdn(m.to) for m in batch),
            "msg": first.text,
            "from": _sender(first.sender),
            "scheduled": self._scheduled(first),
            # "Only used for internal statistics": our campaign's name when the caller gives it, else our
            # reference of the batch's first message, so the campaign can be found in Jojka's interface.
            "name": str(first.extra.get("campaign_name") or f"smsportal {first.client_ref}")[:100],
        }
        campaign_id, data = self._send_call("add_campaign", fields, "campaign_id", batch)
        if campaign_id is None:
            return data
        return [
            SendResult(m.client_ref, MessageStatus.QUEUED, external_id=campaign_ref(campaign_id, m.to), raw=data)
            for m in batch
        ]

    def reconcile(self, messages: Sequence[OutboundSMS]) -> list[SendResult | None]:
        """Jojka has no lookup by our reference: ``send`` takes none, and a campaign is found only by the id
        its (lost) answer carried. So a timed-out call can be reconciled only when its campaign id is known
        from elsewhere (e.g. read off Jojka's interface, where the campaign is named after our reference) and
        passed as ``extra["jojka_campaign_id"]``: the campaign's recipients then say which numbers it holds.
        Without that hint this raises ProviderNotSupported and the messages stay UNKNOWN for a human.
        """
        if not messages:
            return []
        missing = [m for m in messages if not m.extra.get("jojka_campaign_id")]
        if missing:
            raise ProviderNotSupported(
                "Jojka cannot look messages up by our reference: check the campaign named "
                f"'smsportal {missing[0].client_ref}' in Jojka, or give its campaign id"
            )
        by_campaign: dict[str, list[dict]] = {}
        results: list[SendResult | None] = []
        for m in messages:
            campaign_id = str(m.extra["jojka_campaign_id"])
            if campaign_id not in by_campaign:
                by_campaign[campaign_id] = self.campaign_recipients(campaign_id)
            row = _match_receiver(by_campaign[campaign_id], _msisdn(m.to))
            if row is None:
                results.append(None)  # the campaign that timed out does not hold this number
                continue
            raw_status = str(row.get("status") or "")
            results.append(
                SendResult(
                    m.client_ref,
                    self.map_status(raw_status) if raw_status else MessageStatus.QUEUED,
                    external_id=campaign_ref(campaign_id, m.to),
                    raw=row,
                )
            )
        return results

    # ------------------------------------------------------------------ statuses
    def campaign_recipients(self, campaign_id: str) -> list[dict]:
        """``get_campaign_recipients_status``: ``[{receiver, message_id, status}]``."""
        data = self.call("get_campaign_recipients_status", {"campaign_id": campaign_id})
        rows = _find_list(data)
        return [r for r in rows if isinstance(r, dict)]

    def campaign_message_ids(self, campaign_id: str) -> list[str]:
        """``get_msg_ids_by_campaign_id``: the Jojka message ids of a campaign (empty until it is sent)."""
        data = self.call("get_msg_ids_by_campaign_id", {"campaign_id": campaign_id})
        return [str(v) for v in _find_list(data) if v not in (None, "")]

    def message_status(self, message_id: str) -> str:
        """``get_msg_status``: the raw status string of one message."""
        data = self.call("get_msg_status", {"msg_id": message_id})
        return _status_value(data)

    def fetch_status_batch(self, external_ids: Sequence[str]) -> list[DeliveryReport]:
        reports: list[DeliveryReport] = []
        campaigns: dict[str, list[tuple[str, str]]] = {}
        singles: list[str] = []
        for ext in external_ids:
            parsed = parse_campaign_ref(ext)
            if parsed:
                campaigns.setdefault(parsed[0], []).append((ext, parsed[1]))
            else:
                singles.append(ext)
        for campaign_id, members in campaigns.items():
            rows = self.campaign_recipients(campaign_id)
            for ext, msisdn in members:
                row = _match_receiver(rows, msisdn)
                if row is None:
                    continue  # not materialised yet (a scheduled campaign lists no recipients before it starts)
                raw_status = str(row.get("status") or "")
                reports.append(
                    DeliveryReport(
                        external_id=ext,
                        status=self.map_status(raw_status),
                        raw_status=raw_status,
                        to=f"+{msisdn}",
                        raw=row,
                    )
                )
        for message_id in singles:
            raw_status = self.message_status(message_id)
            reports.append(
                DeliveryReport(
                    external_id=message_id,
                    status=self.map_status(raw_status),
                    raw_status=raw_status,
                    raw={"msg_id": message_id, "status": raw_status},
                )
            )
        return reports

    # ------------------------------------------------------------------ cancel
    def cancel(self, external_ids: Sequence[str]) -> list[CancelResult]:
        """``cancel_campaign`` once per campaign; messages sent with ``send`` cannot be cancelled."""
        outcome: dict[str, tuple[bool, str]] = {}
        results = []
        for ext in external_ids:
            parsed = parse_campaign_ref(ext)
            if parsed is None:
                results.append(CancelResult(ext, cancelled=False, detail="Jojka can only cancel scheduled campaigns"))
                continue
            campaign_id = parsed[0]
            if campaign_id not in outcome:
                try:
                    self.call("cancel_campaign", {"campaign_id": campaign_id})
                except ProviderResponseError as exc:
                    outcome[campaign_id] = (False, exc.provider_message or exc.message)
                else:
                    outcome[campaign_id] = (True, f"campaign {campaign_id} cancelled")
            cancelled, detail = outcome[campaign_id]
            results.append(CancelResult(ext, cancelled=cancelled, detail=detail))
        return results

    # ------------------------------------------------------------------ replies, account
    def fetch_replies(self, since: datetime | None = None) -> list[InboundSMS]:
        """``fetch_replies``: Jojka keeps 96 hours; ``since`` narrows it ("received later than")."""
        floor = timezone.now() - REPLY_WINDOW
        fields = {"since_time": format_time(since)} if since is not None and since > floor else {}
        data = self.call("fetch_replies", fields)
        rows = [r for r in _find_list(data) if isinstance(r, dict)]
        seen: dict[tuple[str, str, str], int] = {}
        replies = []
        for row in rows:
            inserted = str(row.get("inserted") or "")
            sender = _msisdn(row.get("sender"))
            text = str(row.get("message") or "")
            key = (inserted, sender, text)
            n = seen[key] = seen.get(key, 0) + 1
            replies.append(
                InboundSMS(
                    external_id=reply_id(inserted, sender, text, n),
                    from_phone=f"+{sender}" if sender else "",
                    text=text,
                    received_at=parse_time(inserted),
                    raw=row,
                )
            )
        return replies

    def check(self) -> AccountCheck:
        """An authenticated read-only call: export one contact."""
        self.call("export_contacts_list", {"max": 1, "offset": 0})
        return AccountCheck(ok=True, detail="Jojka accepted the API key")

    # ------------------------------------------------------------------ contacts and groups
    def _export(self) -> Iterator[dict]:
        offset = 0
        while True:
            data = self.call("export_contacts_list", {"max": EXPORT_PAGE_SIZE, "offset": offset})
            rows = [r for r in _find_list(data, prefer="export") if isinstance(r, dict)]
            yield from rows
            if len(rows) < EXPORT_PAGE_SIZE:
                return
            offset += len(rows)

    def pull_contacts(self) -> Iterable[SyncContact]:
        for row in self._export():
            msisdn = _msisdn(row.get("msisdn"))
            if not msisdn:
                continue
            first, _, last = str(row.get("name") or "").strip().partition(" ")
            groups = row.get("groups") or []
            yield SyncContact(
                phone=f"+{msisdn}",
                first_name=first,
                last_name=last.strip(),
                groups=tuple(str(g) for g in (groups if isinstance(groups, list) else [groups]) if g),
                external_id=msisdn,
            )

    def pull_groups(self) -> Iterable[SyncGroup]:
        """Jojka has no group list: groups are the names its contacts carry (with member counts)."""
        counts: dict[str, int] = {}
        for contact in self.pull_contacts():
            for g in contact.groups:
                counts[g] = counts.get(g, 0) + 1
        return [SyncGroup(name=name, external_id=name, member_count=n) for name, n in counts.items()]

    def push_group(self, group: SyncGroup) -> str:
        """No call: a Jojka group is a name that exists once a contact carries it (push_contacts does that).
        The name loses "," and ";" (Jojka's list separators)."""
        name = _clean_field(group.name)
        if not name:
            raise ProviderValidationError(f"The group name {group.name!r} is empty once , and ; are removed")
        return name

    def push_contacts(self, contacts: Sequence[SyncContact]) -> list[str]:
        """``import_contacts_list`` in batches of lines ``msisdn;name;group1;group2…``; external id = msisdn.

        A batch Jojka rejects gives "" for its contacts and a line in ``self.sync_errors``; auth and
        retryable errors raise.
        """
        self.sync_errors = []
        ids: list[str] = []
        for chunk in chunked(list(contacts), IMPORT_BATCH_SIZE):
            lines, chunk_ids = [], []
            for c in chunk:
                msisdn = _msisdn(c.phone)
                name = _clean_field(f"{c.first_name} {c.last_name}") or msisdn
                groups = [g for g in (_clean_field(g) for g in c.groups) if g]
                lines.append(";".join([msisdn, name, *groups]))
                chunk_ids.append(msisdn)
            try:
                self.call("import_contacts_list", {"contacts_list": "\n".join(lines)})
            except ProviderResponseError as exc:
                self.sync_errors.append(f"contacts {chunk_ids[0]}…{chunk_ids[-1]}: {exc.message}")
                ids.extend("" for _ in chunk_ids)
            else:
                ids.extend(chunk_ids)
        return ids

    # ------------------------------------------------------------------ blocklist
    def is_blocked(self, phone: str) -> bool:
        data = self.call("check_if_in_blocklist", {"msisdn": _msisdn(phone)})
        value = data.get("in_blocklist") if isinstance(data, dict) else data
        if isinstance(value, str):
            return value.strip().lower() in {"true", "1", "yes"}
        return bool(value)

    def pull_blocklist(self) -> Iterable[SyncBlockEntry]:
        raise ProviderNotSupported(
            "Jojka cannot list its blocklist (it only checks one number at a time); numbers are pushed instead"
        )

    def push_blocklist(self, entries: Sequence[SyncBlockEntry]) -> int:
        """One number per call (the API has no batch form): checked first, added only when missing, so a
        second push adds nothing. Returns how many were added."""
        added = 0
        for entry in entries:
            msisdn = _msisdn(entry.phone)
            if msisdn and not self.is_blocked(msisdn):
                self.call("add_to_blocklist", {"msisdn": msisdn})
                added += 1
        return added

    def remove_from_blocklist(self, phones: Sequence[str]) -> int:
        removed = 0
        for phone in phones:
            msisdn = _msisdn(phone)
            if msisdn and self.is_blocked(msisdn):
                self.call("rm_from_blocklist", {"msisdn": msisdn})
                removed += 1
        return removed


def reply_id(inserted: str, sender: str, text: str, occurrence: int = 1) -> str:
    """Replies carry no id: a stable one from their content (and the n-th repeat of identical ones)."""
    digest = hashlib.sha256(f"{inserted}|{sender}|{text}|{occurrence}".encode()).hexdigest()
    return f"jr-{digest[:32]}"


def _find_list(data: Any, prefer: str = "") -> list:
    """A documented list answer, tolerating a wrapping object (``{"export": [...]}``, ``{"replies": [...]}``)
    or a single object where a list of one was meant."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if prefer and isinstance(data.get(prefer), list):
            return data[prefer]
        for value in data.values():
            if isinstance(value, list):
                return value
        return [data] if data else []
    if data in (None, ""):
        return []
    raise ProviderUnparseableResponse(f"Expected a list from Jojka, got {str(data)[:100]!r}")


def _status_value(data: Any) -> str:
    """get_msg_status: ``["DELIVERED"]`` (SDK fixture), or ``"DELIVERED"``, or ``{"status": "DELIVERED"}``."""
    if isinstance(data, list):
        return _status_value(data[0]) if data else ""
    if isinstance(data, dict):
        for key in ("status", "msg_status", "message_status"):
            if key in data:
                return _status_value(data[key])
        raise ProviderUnparseableResponse(f"No status in Jojka's answer {str(data)[:100]!r}")
    return "" if data is None else str(data).strip()


def _match_receiver(rows: Sequence[dict], msisdn: str) -> dict | None:
    """The recipient row for a number. The document's example masks receivers ("4670903xxxxxx"); if Jojka
    really does, a row matches when its visible prefix does and no other row's does."""
    exact = [r for r in rows if _msisdn(r.get("receiver")) == msisdn]
    if exact:
        return exact[-1]
    masked = []
    for r in rows:
        receiver = str(r.get("receiver") or "")
        if "x" in receiver.lower():
            prefix = receiver.lower().split("x", 1)[0]
            if prefix and msisdn.startswith(_msisdn(prefix)):
                masked.append(r)
    return masked[0] if len(masked) == 1 else None
