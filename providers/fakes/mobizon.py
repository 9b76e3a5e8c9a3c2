"""A fake Mobizon API on 127.0.0.1, answering like ``seeds/003_250ee1e5798a911e.txt`` + protocol-notes §3.

Every call is ``POST /service/<module>/<method>?output=json&api=v1&apiKey=…`` with a form body using PHP array keys,
answered with HTTP 200 and the envelope ``{"code", "data", "message"}`` (errors too, as Mobizon does).

State: messages with statuses that move NEW (deferred) → ENQUEUD → ACCEPTD → DELIVRD as the fake clock passes
``step_seconds`` per step (UNDELIV for ``undeliverable_numbers``, REJECTD for ``rejected_numbers``), a balance
charged per segment, and delivery webhooks for final statuses (signed like Mobizon's, see ``webhook_payload``).

Regional domains: with ``home_host`` set (``host:port`` as the client sends it in ``Host``), a call arriving for
any other host answers code 13 with the right domain in ``data``, as Mobizon's regional servers do.

    fake = MobizonFake(api_key="k" * 40).start()
    adapter = MobizonAdapter(AccountConfig(..., base_url=fake.base_url, credentials={"api_key": "k" * 40}))
    fake.advance(10)                      # move the fake's clock instead of sleeping
    fake.fire_webhooks(url)               # POST the due delivery reports to our webhook URL
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from .base import FakeProvider, FakeRequest, Response, route

TS_FORMAT = "%Y-%m-%d %H:%M:%S"
FINAL = {"DELIVRD", "UNDELIV", "REJECTD", "EXPIRED", "DELETED"}
_ARRAY_KEY = re.compile(r"^([^\[\]]+)\[([^\[\]]*)\]$")


def php_form(pairs: dict[str, list[str]]) -> dict:
    """``ids[0]=1&params[validity]=5&text=x`` → ``{"ids": {"0": "1"}, "params": {"validity": "5"}, "text": "x"}``."""
    out: dict = {}
    for key, values in pairs.items():
        value = values[-1] if values else ""
        m = _ARRAY_KEY.match(key)
        if m:
            bucket = out.setdefault(m.group(1), {})
            if isinstance(bucket, dict):
                bucket[m.group(2) or str(len(bucket))] = value
        else:
            out[key] = value
    return out


def _segments(text: str) -> int:
    gsm = all(ord(c) < 128 for c in text)
    size, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(text) <= size else math.ceil(len(text) / multi)


class MobizonFake(FakeProvider):
    def __init__(
        self,
        *,
        api_key: str = "a" * 40,
        step_seconds: float = 1.0,
        home_host: str | None = None,
        webhook_secret: str = "",
        undeliverable_numbers: set[str] | None = None,
        rejected_numbers: set[str] | None = None,
        balance: Decimal = Decimal("100.0000"),
        currency: str = "EUR",
        price_per_segment: Decimal = Decimal("0.0450"),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.api_key = api_key
        self.step_seconds = step_seconds
        self.home_host = home_host
        self.webhook_secret = webhook_secret
        self.undeliverable_numbers = set(undeliverable_numbers or ())
        self.rejected_numbers = set(rejected_numbers or ())
        self.balance = balance
        self.currency = currency
        self.price_per_segment = price_per_segment
        self.offset = 0.0
        self._message_ids = itertools.count(169275418)
        self._campaign_ids = itertools.count(245455096)
        self._event_ids = itertools.count(26)
        self.messages: dict[str, dict] = {}
        self.webhooks_sent: dict[str, int] = {}  # message id → attempts made

    # --------------------------------------------------------------- helpers for tests
    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.offset, UTC)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.offset += seconds

    def calls(self, method: str) -> list[FakeRequest]:
        return [r for r in self.requests if r.path.lower().endswith("/" + method.lower())]

    def status_of(self, message_id: str) -> str:
        with self.lock:
            return self._status(self.messages[str(message_id)])

    def webhook_payload(self, message_id: str, *, attempt: int = 1, secret: str | None = None) -> dict:
        """The ``sms-delivery-report`` body Mobizon posts for a message's final status (protocol-notes §3.4).

        ``sign`` = sha1("eventId|attempt|eventCreateTs|secret"); absent when no secret is set. The event id is
        fixed per message, so retries (attempt 2, 3…) repeat it, as Mobizon's do.
        """
        with self.lock:
            msg = self.messages[str(message_id)]
            status = self._status(msg)
            if "event_id" not in msg:
                msg["event_id"] = next(self._event_ids)
                msg["event_ts"] = self.now().strftime(TS_FORMAT)
            payload = {
                "eventId": msg["event_id"],
                "eventType": "sms-delivery-report",
                "eventCreateTs": msg["event_ts"],
                "webhookId": 1,
                "attempt": attempt,
                "data": {
                    "campaignId": msg["campaignId"],
                    "messageId": msg["id"],
                    "segNum": msg["segNum"],
                    "statusUpdateTs": msg["statusUpdateTs"],
                    "status": status,
                    "to": msg["to"],
                },
            }
        secret = self.webhook_secret if secret is None else secret
        if secret:
            raw = f"{payload['eventId']}|{attempt}|{payload['eventCreateTs']}|{secret}"
            payload["sign"] = hashlib.sha1(raw.encode()).hexdigest()  # noqa: S324 - Mobizon's scheme
        return payload

    def post_webhook(self, url: str, payload: dict) -> int:
        """POST a payload like Mobizon does (JSON, 5 s timeout). Only for local URLs (tests, development)."""
        if not url.startswith(("http://127.", "http://localhost")):
            raise ValueError("the fake posts webhooks to local URLs only")
        req = urllib.request.Request(  # noqa: S310 - local URL checked above
            url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def fire_webhooks(self, url: str) -> list[tuple[str, int]]:
        """Post a delivery report for every message that reached a final status and was not acknowledged yet.

        Mobizon retries a report until it gets a 2xx within 5 s (up to 10 attempts): call again to retry.
        """
        with self.lock:
            due = [
                mid
                for mid, msg in self.messages.items()
                if self._status(msg) in FINAL and self.webhooks_sent.get(mid, 0) >= 0
            ]
        out = []
        for mid in due:
            attempt = self.webhooks_sent.get(mid, 0) + 1
            if attempt > 10:
                continue
            code = self.post_webhook(url, self.webhook_payload(mid, attempt=attempt))
            with self.lock:
                self.webhooks_sent[mid] = -1 if 200 <= code < 300 else attempt
            out.append((mid, code))
        return out

    # --------------------------------------------------------------- state
    def _status(self, msg: dict) -> str:
        now = self.now()
        start = msg["deferredTo"] or msg["created"]
        if msg.get("final"):
            return msg["final"]
        if now < start:
            return "NEW"
        steps = (now - start).total_seconds() / self.step_seconds if self.step_seconds > 0 else 99
        if steps < 1:
            status, at = "ENQUEUD", start
        elif msg["to"] in self.rejected_numbers:
            status, at = "REJECTD", start + timedelta(seconds=self.step_seconds)
        elif steps < 2:
            status, at = "ACCEPTD", start + timedelta(seconds=self.step_seconds)
        else:
            final = "UNDELIV" if msg["to"] in self.undeliverable_numbers else "DELIVRD"
            status, at = final, start + timedelta(seconds=2 * self.step_seconds)
        msg["startSendTs"] = start.strftime(TS_FORMAT)
        msg["statusUpdateTs"] = at.strftime(TS_FORMAT)
        if status in FINAL:
            msg["final"] = status
        return status

    def _public(self, msg: dict) -> dict:
        status = self._status(msg)
        return {
            "id": msg["id"],
            "campaignId": msg["campaignId"],
            "segNum": msg["segNum"],
            "segUserBuy": str(self.price_per_segment),
            "from": msg["from"],
            "to": msg["to"],
            "text": msg["text"],
            "status": status,
            "groups": "",
            "uuid": msg["uuid"],
            "countryA2": "",
            "operatorName": "",
            "startSendTs": msg.get("startSendTs"),
            "statusUpdateTs": msg.get("statusUpdateTs"),
        }

    # --------------------------------------------------------------- plumbing
    @staticmethod
    def envelope(code: int, data=None, message: str = "") -> Response:
        return (
            200,
            {"Content-Type": "application/json"},
            {"code": code, "data": data if data is not None else [], "message": message},
        )

    def dispatch(self, req: FakeRequest) -> Response:
        if not re.fullmatch(r"(?i)/service/\w+/\w+", req.path):
            return super().dispatch(req)
        with self.lock:
            self.requests.append(req)
            if self.fail_next:
                return self.fail_next.pop(0)
        if req.method != "POST":
            return 405, {"Allow": "POST"}, "POST only"
        query = {k: v[0] for k, v in req.query.items()}
        if query.get("output", "json") != "json":
            return self.envelope(6, message="Unsupported format")
        if query.get("api") != "v1":
            return self.envelope(3, message="Unsupported API version")
        if query.get("apiKey") != self.api_key:
            return self.envelope(8, message="Incorrect or missing API key")
        host = req.header("Host")
        if self.home_host and host.lower() != self.home_host.lower():
            return self.envelope(13, self.home_host, "This user is served by another API server")
        _, module, method = req.path.strip("/").split("/")
        handler = {
            ("message", "sendsmsmessage"): self.send_sms_message,
            ("message", "getsmsstatus"): self.get_sms_status,
            ("message", "list"): self.list_messages,
            ("user", "getownbalance"): self.get_own_balance,
        }.get((module.lower(), method.lower()))
        if handler is None:
            known_modules = {"message", "user"}
            return self.envelope(5 if module.lower() in known_modules else 4, message=f"Unknown {module}/{method}")
        with self.lock:
            return handler(php_form(req.form()))

    # --------------------------------------------------------------- methods
    def send_sms_message(self, form: dict) -> Response:
        errors = {}
        recipient = str(form.get("recipient", "")).strip().lstrip("+")
        text = str(form.get("text", ""))
        params = form.get("params") if isinstance(form.get("params"), dict) else {}
        if not re.fullmatch(r"\d{7,15}", recipient):
            errors["recipient"] = "Recipient must be a phone number in international format"
        if not text.strip():
            errors["text"] = "Text cannot be empty"
        deferred = None
        if params.get("deferredToTs"):
            try:
                deferred = datetime.strptime(params["deferredToTs"], TS_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                errors["params[deferredToTs]"] = "Wrong date format, expected YYYY-MM-DD HH:MM:SS"
            else:
                ahead = (deferred - self.now()).total_seconds()
                if not 3600 <= ahead <= 14 * 86400:
                    errors["params[deferredToTs]"] = "Deferred time must be 1 hour to 14 days from now"
        validity = params.get("validity", "1440")
        if not (str(validity).isdigit() and 1 <= int(validity) <= 4320):
            errors["params[validity]"] = "Validity must be 1–4320 minutes"
        if params.get("mclass") not in (None, "0", "1", "2", "3"):
            errors["params[mclass]"] = "Wrong message class"
        if errors:
            return self.envelope(1, errors, "Validation error")
        segments = _segments(text)
        cost = self.price_per_segment * segments
        if self.balance < cost:
            return self.envelope(15, message="Not enough money on the balance")
        self.balance -= cost
        message_id = str(next(self._message_ids))
        campaign_id = next(self._campaign_ids)
        self.messages[message_id] = {
            "id": int(message_id),
            "campaignId": campaign_id,
            "from": form.get("from") or "Mobizon",
            "to": recipient,
            "text": text,
            "name": params.get("name", ""),
            "validity": int(validity),
            "segNum": segments,
            "uuid": hashlib.md5(message_id.encode()).hexdigest(),  # noqa: S324 - an opaque id, not security
            "created": self.now(),
            "deferredTo": deferred,
            "startSendTs": None,
            "statusUpdateTs": None,
        }
        return self.envelope(0, {"campaignId": campaign_id, "messageId": int(message_id), "status": 2})

    def get_sms_status(self, form: dict) -> Response:
        raw = form.get("ids")
        if isinstance(raw, dict):
            ids = [v for v in raw.values() if v]
        else:
            ids = [i.strip() for i in str(raw or "").split(",") if i.strip()]
        if not ids:
            return self.envelope(2, message="No message ids given")
        if len(ids) > 100:
            return self.envelope(12, message="At most 100 message ids per call")
        items = []
        for mid in ids:
            msg = self.messages.get(str(mid))
            if msg is None:
                continue  # unknown ids are left out silently
            status = self._status(msg)
            items.append(
                {
                    "id": msg["id"],
                    "status": status,
                    "segNum": msg["segNum"],
                    "startSendTs": msg.get("startSendTs"),
                    "statusUpdateTs": msg.get("statusUpdateTs"),
                }
            )
        return self.envelope(0, items)

    def list_messages(self, form: dict) -> Response:
        criteria = form.get("criteria") if isinstance(form.get("criteria"), dict) else {}
        pagination = form.get("pagination") if isinstance(form.get("pagination"), dict) else {}
        sort = form.get("sort") if isinstance(form.get("sort"), dict) else {}
        items = [self._public(m) for m in self.messages.values()]
        if criteria.get("id"):
            items = [i for i in items if str(i["id"]) == str(criteria["id"])]
        if criteria.get("to"):
            items = [i for i in items if str(criteria["to"]).lstrip("+") in i["to"]]
        if "text" in criteria:
            items = [i for i in items if i["text"] == criteria["text"]]
        if criteria.get("from"):
            items = [i for i in items if i["from"] == criteria["from"]]
        if criteria.get("status"):
            items = [i for i in items if i["status"] == criteria["status"]]
        for field, direction in sort.items():
            items.sort(key=lambda i, f=field: (i.get(f) is None, i.get(f)), reverse=str(direction).upper() == "DESC")
            break
        size = int(pagination.get("pageSize") or 25)
        if size not in (25, 50, 100):
            return self.envelope(12, message="pageSize must be 25, 50 or 100")
        page = int(pagination.get("currentPage") or 0)
        return self.envelope(0, {"items": items[page * size : (page + 1) * size], "totalItemCount": len(items)})

    def get_own_balance(self, form: dict) -> Response:
        return self.envelope(0, {"balance": f"{self.balance:.4f}", "currency": self.currency})

    @route("GET", r"/")
    def index(self, req: FakeRequest) -> Response:
        return 200, {"Content-Type": "text/plain"}, "Mobizon fake"
