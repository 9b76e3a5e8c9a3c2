"""A fake Ogangi (Messangi) REST API on 127.0.0.1, answering like ``seeds/002_6e29fc638224dbcc.txt`` +
protocol-notes §2.

Every call is ``{context}/rest/api/{method}/{params…}/{publicKey}/{signature}``; the signature is checked as
protocol-notes §2.1 gives it (hex HMAC-SHA256 of the raw "/"-joined params with the private key). A wrong key or
signature answers ``BAD_SIGNATURE`` ("Invalid signature, access denied"); a bad request answers ``ERROR``; an
unknown method or a wrong number of parameters is an HTTP 404 with an empty body, as the real server does.

Answers are XML inside a ``<response>`` root (``wrap_root=False`` serves the document's bare fragments instead).

State: broadcasts that are SCHEDULED until their date, then send ``messages_per_second`` messages a second of the
fake clock (numbers in ``fail_numbers`` are never sent) and end DONE (status 2); suspend (3), resume, stop (4,
aborted) and delete work as their names say; short codes come from ``shortcodes``.

    fake = OgangiFake(instance_id="7", private_key="k", public_key="p").start()
    adapter = OgangiAdapter(AccountConfig(..., base_url=fake.api_base, credentials={...}))
    fake.advance(10)
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import itertools
import json
import re
import time
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import default as default_policy
from urllib.parse import unquote
from xml.sax.saxutils import escape

from .base import FakeProvider, FakeRequest, Response

DATE_FORMAT = "%d-%m-%Y %H:%M"
EMPTY_404: Response = (404, {"Content-Type": "text/plain"}, b"")
# method → number of parameters before {publicKey}/{signature}
PARAM_COUNTS = {
    "tools/sendSMSByFile": 1,
    "getShortcodes": 2,
    "createBroadcastFromJson": 7,
    "getBroadcast": 2,
    "suspendBroadcast": 2,
    "resumeBroadcast": 2,
    "stopBroadcast": 2,
    "broadcast": 2,
}


class OgangiFake(FakeProvider):
    def __init__(
        self,
        *,
        instance_id: str = "7",
        user_name: str = "peter",
        public_key: str = "fake-public-key",
        private_key: str = "fake-private-key",
        context: str = "/mmc",
        shortcodes: tuple[str, ...] = ("434", "0000000"),
        messages_per_second: float = 10.0,
        fail_numbers: set[str] | None = None,
        wrap_root: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.instance_id = instance_id
        self.user_name = user_name
        self.public_key = public_key
        self.private_key = private_key
        self.context = context.rstrip("/")
        self.shortcodes = tuple(shortcodes)
        self.messages_per_second = messages_per_second
        self.fail_numbers = set(fail_numbers or ())
        self.wrap_root = wrap_root
        self.offset = 0.0
        self._broadcast_ids = itertools.count(1)
        self._message_ids = itertools.count(6710228708174720670)
        self.broadcasts: dict[str, dict] = {}

    # --------------------------------------------------------------- helpers for tests
    @property
    def api_base(self) -> str:
        """What an account's base URL is set to: scheme + host + application context."""
        return self.base_url + self.context

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.offset, UTC)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.offset += seconds
            for b in self.broadcasts.values():
                self._tick(b)

    def calls(self, method: str) -> list[FakeRequest]:
        return [r for r in self.requests if f"/rest/api/{method}/" in r.path]

    def sign(self, params: str) -> str:
        return hmac.new(self.private_key.encode(), params.encode(), hashlib.sha256).hexdigest()

    # --------------------------------------------------------------- XML
    def answer(self, method: str, status: str = "OK", description: str = "Completed", result: str = "") -> Response:
        body = (
            f"<input>{escape(method)}</input><status>{status}</status><description>{escape(description)}</description>"
        )
        if result:
            body += f"<result>{result}</result>"
        if self.wrap_root:
            body = f'<?xml version="1.0" encoding="UTF-8"?>\n<response>{body}</response>'
        return 200, {"Content-Type": "application/xml; charset=UTF-8"}, body

    def error(self, method: str, description: str) -> Response:
        return self.answer(method, "ERROR", description)

    @staticmethod
    def _broadcast_xml(b: dict, *, created: bool = False) -> str:
        fields = [
            ("id", b["id"]),
            ("text", b["text"]),
            ("startDate", b["start"].isoformat(timespec="milliseconds")),
        ]
        if b.get("end") and not created:
            fields.append(("endDate", b["end"].isoformat(timespec="milliseconds")))
        fields.append(("expectedMessages", len(b["recipients"])))
        if not created:
            fields.append(("sentMessages", b["sent"]))
            fields.append(("status", b["status"]))
        fields.append(("statusDescription", b["description"]))
        fields.append(("shortcode", b["shortcode"]))
        inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in fields)
        return f"<broadcast>{inner}</broadcast>"

    # --------------------------------------------------------------- broadcast state
    def _tick(self, b: dict) -> None:
        """Advance a broadcast along the fake clock (called under the lock)."""
        now = self.now()
        if b["status"] in (2, 4) or b["status"] in (3, 5):
            b["clock"] = now
            return
        if now < b["start"]:
            b["description"] = "SCHEDULED"
            b["clock"] = now
            return
        if b["description"] == "SCHEDULED":
            b["description"] = "SENDING"
            b["clock"] = b["start"]
        elapsed = (now - b["clock"]).total_seconds()
        b["budget"] += elapsed * self.messages_per_second
        b["clock"] = now
        sendable = [r for r in b["recipients"] if r["mobile"] not in self.fail_numbers]
        while b["budget"] >= 1 and b["cursor"] < len(b["recipients"]):
            r = b["recipients"][b["cursor"]]
            b["cursor"] += 1
            b["budget"] -= 1
            if r in sendable:
                b["sent"] += 1
        if b["cursor"] >= len(b["recipients"]):
            b["status"], b["description"], b["end"] = 2, "DONE", now

    # --------------------------------------------------------------- plumbing
    def dispatch(self, req: FakeRequest) -> Response:
        prefix = f"{self.context}/rest/api/"
        if not req.path.startswith(prefix):
            return super().dispatch(req)
        with self.lock:
            self.requests.append(req)
            if self.fail_next:
                return self.fail_next.pop(0)
        segments = req.path[len(prefix) :].split("/")
        method = "tools/" + segments[1] if segments[0] == "tools" and len(segments) > 1 else segments[0]
        rest = segments[2:] if method.startswith("tools/") else segments[1:]
        count = PARAM_COUNTS.get(method)
        if count is None or len(rest) != count + 2:
            return EMPTY_404
        params = [unquote(s) for s in rest[:count]]
        public_key, signature = unquote(rest[count]), rest[count + 1]
        input_name = {"broadcast": "deleteBroadcast", "tools/sendSMSByFile": "sendSMS"}.get(method, method)
        if public_key != self.public_key or not hmac.compare_digest(signature, self.sign("/".join(params))):
            return self.answer(input_name, "BAD_SIGNATURE", "Invalid signature, access denied")
        if params[0] != self.instance_id:
            return self.answer(input_name, "BAD_SIGNATURE", "Invalid signature, access denied")
        expected_method = {"createBroadcastFromJson": "POST", "tools/sendSMSByFile": "POST", "broadcast": "DELETE"}
        if req.method != expected_method.get(method, req.method if req.method in ("GET", "POST") else "GET"):
            return 405, {"Content-Type": "text/plain"}, "Method not allowed"
        with self.lock:
            for b in self.broadcasts.values():
                self._tick(b)
            handler = {
                "tools/sendSMSByFile": self.send_sms_by_file,
                "getShortcodes": self.get_shortcodes,
                "createBroadcastFromJson": self.create_broadcast,
                "getBroadcast": self.get_broadcast,
                "suspendBroadcast": self.suspend_broadcast,
                "resumeBroadcast": self.resume_broadcast,
                "stopBroadcast": self.stop_broadcast,
                "broadcast": self.delete_broadcast,
            }[method]
            return handler(req, params)

    # --------------------------------------------------------------- methods
    def get_shortcodes(self, req: FakeRequest, params: list[str]) -> Response:
        if params[1] != self.user_name:
            return self.error("getShortcodes", "Unknown user")
        codes = "".join(f"<shortcode><sc>{escape(sc)}</sc></shortcode>" for sc in self.shortcodes)
        return self.answer("getShortcodes", result=f"<shortcodes>{codes}</shortcodes>")

    @staticmethod
    def _recipients(raw: str) -> list[dict] | None:
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        text = None
        if isinstance(data, dict):  # tolerate {"text": …, "recipients": [...]}
            text = data.get("text")
            data = data.get("recipients")
        if not isinstance(data, list) or not data:
            return None
        out = []
        for item in data:
            if isinstance(item, str):
                item = {"mobile": item}
            if not isinstance(item, dict):
                return None
            mobile = str(item.get("mobile") or item.get("to") or "").lstrip("+")
            body = item.get("text") or text
            if not re.fullmatch(r"\d{7,15}", mobile) or not body:
                return None
            out.append({"mobile": mobile, "text": str(body)})
        return out

    def create_broadcast(self, req: FakeRequest, params: list[str]) -> Response:
        _instance, broadcast_id, shortcode, user, ignore, name, date = params
        if user != self.user_name:
            return self.error("createBroadcastFromJson", "Unknown user")
        use_shortcode = ignore.lower() == "true"
        if use_shortcode and shortcode not in self.shortcodes:
            return self.error("createBroadcastFromJson", f"Invalid shortcode {shortcode}")
        recipients = self._recipients(req.form1().get("to", ""))
        if recipients is None:
            return self.error("createBroadcastFromJson", "Invalid recipient list")
        if date == "null":
            start = self.now()
        else:
            try:
                start = datetime.strptime(date, DATE_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                return self.error("createBroadcastFromJson", "Invalid date, expected dd-MM-yyyy HH:mm")
        if broadcast_id == "-1":
            bid = str(next(self._broadcast_ids))
        elif broadcast_id in self.broadcasts and self.broadcasts[broadcast_id]["description"] == "SCHEDULED":
            bid = broadcast_id
        else:
            return self.error("createBroadcastFromJson", f"Broadcast {broadcast_id} cannot be edited")
        b = {
            "id": bid,
            "text": recipients[0]["text"],
            "recipients": recipients,
            "shortcode": shortcode if use_shortcode else self.shortcodes[0],
            "name": name,
            "start": start,
            "end": None,
            "status": 1,
            "description": "SCHEDULED",
            "sent": 0,
            "cursor": 0,
            "budget": 0.0,
            "clock": self.now(),
        }
        self.broadcasts[bid] = b
        self._tick(b)
        return self.answer("createBroadcastFromJson", result=self._broadcast_xml(b, created=True))

    def _broadcast(self, method: str, params: list[str]) -> dict | Response:
        b = self.broadcasts.get(params[1])
        if b is None:
            return self.error(method, f"Broadcast {params[1]} not found")
        return b

    def get_broadcast(self, req: FakeRequest, params: list[str]) -> Response:
        b = self._broadcast("getBroadcast", params)
        if not isinstance(b, dict):
            return b
        return self.answer("getBroadcast", result=self._broadcast_xml(b))

    def suspend_broadcast(self, req: FakeRequest, params: list[str]) -> Response:
        b = self._broadcast("suspendBroadcast", params)
        if not isinstance(b, dict):
            return b
        if b["status"] != 1:
            return self.error("suspendBroadcast", "Broadcast is not in progress")
        b["status"], b["description"] = 3, "SUSPENDED"
        return self.answer("suspendBroadcast")

    def resume_broadcast(self, req: FakeRequest, params: list[str]) -> Response:
        b = self._broadcast("resumeBroadcast", params)
        if not isinstance(b, dict):
            return b
        if b["status"] not in (3, 5):
            return self.error("resumeBroadcast", "Broadcast is not suspended")
        b["status"], b["description"], b["clock"] = 1, "SENDING", self.now()
        return self.answer("resumeBroadcast")

    def stop_broadcast(self, req: FakeRequest, params: list[str]) -> Response:
        b = self._broadcast("stopBroadcast", params)
        if not isinstance(b, dict):
            return b
        if b["status"] not in (1, 3, 5) or b["description"] == "SCHEDULED":
            return self.error("stopBroadcast", "Broadcast is not in progress")
        b["status"], b["description"], b["end"] = 4, "ABORTED", self.now()
        return self.answer("stopBroadcast")

    def delete_broadcast(self, req: FakeRequest, params: list[str]) -> Response:
        b = self._broadcast("deleteBroadcast", params)
        if not isinstance(b, dict):
            return b
        del self.broadcasts[params[1]]
        return self.answer("deleteBroadcast")

    def send_sms_by_file(self, req: FakeRequest, params: list[str]) -> Response:
        """``file`` (multipart or form field): the "SMSs Recipient List" CSV (mobile, from, carrier, text…)."""
        content = b""
        ctype = req.header("Content-Type")
        if ctype.startswith("multipart/"):
            msg = BytesParser(policy=default_policy).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + req.body
            )
            for part in msg.iter_parts():
                if part.get_param("name", header="content-disposition") == "file":
                    content = part.get_payload(decode=True) or b""
        else:
            content = req.form1().get("file", "").encode()
        rows = [r for r in csv.reader(io.StringIO(content.decode("utf-8", "replace"))) if r]
        if not rows or any(len(r) < 4 for r in rows):
            return self.error("sendSMS", "Invalid recipient file")
        out = []
        for row in rows:
            mobile, sender, carrier, text = (c.strip() for c in row[:4])
            ok = mobile not in self.fail_numbers
            out.append(
                "<message>"
                f"<id>-{next(self._message_ids)}</id><carrier>{escape(carrier)}</carrier>"
                f"<from>{escape(sender)}</from><to>{escape(mobile)}</to><text>{escape(text)}</text>"
                f"<status>{'SENT_TO_CARRIER' if ok else 'BAD_TO'}</status>"
                f"<statusDescription>{'Sent to Carrier' if ok else 'Bad recipient'}</statusDescription>"
                f"<encoding>UTF-8</encoding><date>{self.now().isoformat(timespec='milliseconds')}</date>"
                "<timezone>UTC</timezone><clientId>fake</clientId>"
                "</message>"
            )
        return self.answer("sendSMS", result=f"<messages>{''.join(out)}</messages>")
