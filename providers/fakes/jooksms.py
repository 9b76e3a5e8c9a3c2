"""A fake JookSMS API on 127.0.0.1, answering like ``seeds/001_d7be007dd5026ac9.txt``.

Paths under ``/api/v1``: ``oauth/access_token`` (form or JSON client credentials → a 1 h bearer token),
``sms/`` (send; list), ``sms/to_many``, ``sms/many``, ``sms/{id}``, ``sms/by_external/{id}``,
``sms/search/messages``, ``contact/`` (create; list), ``contact/{id}``, ``contact_group/`` (list). Lists are
paginated 15 per page with ``?page=N`` and the document's ``meta.pagination`` block.

State: messages (outgoing ones move ``queued`` → ``sent`` once their scheduled time has come and
``sent_after`` seconds have passed on the fake clock), incoming replies (``seed_reply``), contacts and contact
groups (``add_group``: the API has no call to create one). Wrong client credentials → 401 ``invalid_client``;
a missing, unknown or expired token → 401 ``Unauthenticated.``.

    fake = JookSMSFake(client_id="id", client_secret="s").start()
    adapter = JookSMSAdapter(AccountConfig(..., base_url=fake.api_url, credentials={...}))
    fake.advance(3600)  # the fake clock: tokens expire, messages progress
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

from .base import FakeProvider, FakeRequest, Response, route

PER_PAGE = 15
_SCHEDULED_RE = re.compile(
    r"(?P<y>\d{4})[/-](?P<m>\d{1,2})[/-](?P<d>\d{1,2})\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::\d{2})?\s*(?P<tz>.*)"
)


def parse_when(value: str) -> datetime | None:
    """``yyyy/mm/dd hh:mm TZ`` with TZ like ``GMT-5``, ``+0600``, ``UTC`` or nothing (UTC)."""
    m = _SCHEDULED_RE.fullmatch(value.strip())
    if not m:
        return None
    tz_text = m["tz"].strip().upper()
    offset = timedelta()
    tzm = re.fullmatch(r"(?:GMT|UTC)?\s*(?:(?P<sign>[+-])(?P<h>\d{1,2}):?(?P<min>\d{2})?)?", tz_text)
    if tzm is None:
        return None
    if tzm["sign"]:
        minutes = int(tzm["h"]) * 60 + int(tzm["min"] or 0)
        offset = timedelta(minutes=minutes if tzm["sign"] == "+" else -minutes)
    try:
        local = datetime(int(m["y"]), int(m["m"]), int(m["d"]), int(m["H"]), int(m["M"]))
    except ValueError:
        return None
    return local.replace(tzinfo=timezone(offset)).astimezone(UTC)


def _created(dt: datetime) -> dict:
    return {"date": dt.strftime("%Y-%m-%d %H:%M:%S.000000"), "timezone": "UTC", "timezone_type": 3}


class JookSMSFake(FakeProvider):
    prefix = "/api/v1"

    def __init__(
        self,
        *,
        client_id: str = "test-client",
        client_secret: str = "test-secret",  # noqa: S107 - a fake's default, not a real secret
        token_lifetime: int = 3600,
        sent_after: float = 2.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.sent_after = sent_after
        self.offset = 0.0
        self.tokens: dict[str, float] = {}  # token → expiry (fake clock, epoch seconds)
        self.tokens_issued = 0
        self._sms_ids = itertools.count(100)
        self._contact_ids = itertools.count(12272)
        self._group_ids = itertools.count(4)
        self.messages: dict[int, dict] = {}
        self.contacts: dict[int, dict] = {}
        self.groups: dict[int, dict] = {}
        self.contact_groups: dict[int, int] = {}  # contact id → group id

    # --------------------------------------------------------------- helpers for tests
    @property
    def api_url(self) -> str:
        return self.base_url + self.prefix

    def clock(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.offset += seconds

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def add_group(self, name: str) -> int:
        with self.lock:
            gid = next(self._group_ids)
            self.groups[gid] = {"id": gid, "name": name}
            return gid

    def seed_reply(self, number: str, content: str, *, at: datetime | None = None) -> int:
        with self.lock:
            sid = next(self._sms_ids)
            self.messages[sid] = {
                "id": sid,
                "external_id": None,
                "direction": "incoming",
                "status": "received",
                "number": number,
                "content": content,
                "created": at or self.now(),
                "scheduled": None,
            }
            return sid

    def calls(self, path: str, method: str = "") -> list[FakeRequest]:
        return [r for r in self.requests if r.path == self.prefix + path and (not method or r.method == method)]

    # --------------------------------------------------------------- plumbing
    def dispatch(self, req: FakeRequest) -> Response:
        with self.lock:
            if req.path != f"{self.prefix}/oauth/access_token":
                header = req.header("Authorization")
                token = header[7:] if header.startswith("Bearer ") else ""
                expiry = self.tokens.get(token)
                if expiry is None or expiry <= self.clock():
                    self.requests.append(req)
                    return 401, {}, {"result": "error", "message": "Unauthenticated."}
            return super().dispatch(req)

    @staticmethod
    def _body(req: FakeRequest) -> dict:
        """JSON or form body (the document shows both)."""
        if "json" in req.header("Content-Type").lower():
            try:
                data = json.loads(req.body or b"{}")
            except ValueError:
                return {"__invalid__": True}
            return data if isinstance(data, dict) else {"__invalid__": True}
        return {k: v[0] for k, v in parse_qs(req.body.decode(), keep_blank_values=True).items()}

    @staticmethod
    def _invalid(errors: dict[str, str]) -> Response:
        return (
            422,
            {},
            {
                "result": "error",
                "message": "The given data was invalid.",
                "errors": {k: [v] for k, v in errors.items()},
            },
        )

    @staticmethod
    def _not_found(what: str) -> Response:
        return 404, {}, {"result": "error", "message": f"{what} not found"}

    def _page(self, req: FakeRequest, items: list[dict], path: str) -> dict:
        try:
            page = max(1, int(req.query.get("page", ["1"])[0]))
        except ValueError:
            page = 1
        total = len(items)
        total_pages = max(1, -(-total // PER_PAGE))
        chunk = items[(page - 1) * PER_PAGE : page * PER_PAGE]
        links = {"next": f"https://sms.jooksms.com/api/v1/{path}?page={page + 1}"} if page < total_pages else []
        return {
            "result": "ok",
            "meta": {
                "pagination": {
                    "count": len(chunk),
                    "current_page": page,
                    "links": links,
                    "per_page": PER_PAGE,
                    "total": total,
                    "total_pages": total_pages,
                }
            },
            "data": chunk,
        }

    # --------------------------------------------------------------- auth
    @route("POST", r"/api/v1/oauth/access_token")
    def access_token(self, req: FakeRequest) -> Response:
        body = self._body(req)
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return 401, {}, {"error": "invalid_client", "error_description": "Client authentication failed."}
        token = secrets.token_urlsafe(30)
        with self.lock:
            self.tokens[token] = self.clock() + self.token_lifetime
            self.tokens_issued += 1
        return 200, {}, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}

    # --------------------------------------------------------------- messages
    def _status(self, m: dict) -> str:
        if m["direction"] != "sending":
            return m["status"]
        due = m["scheduled"] or m["created"]
        if self.now() >= due + timedelta(seconds=self.sent_after):
            return "sent"
        return "queued"

    def _contact_for(self, number: str) -> dict | None:
        for c in self.contacts.values():
            if c["main_phone"] == number:
                return c
        return None

    def _sms_json(self, m: dict, *, flat_dates: bool = False) -> dict:
        out: dict[str, Any] = {}
        contact = self._contact_for(m["number"]) if not flat_dates else None
        if contact:
            out["contact"] = {"data": {k: v for k, v in contact.items() if k != "reference"}}
        out.update(
            {
                "content": m["content"],
                "created": m["created"].isoformat(timespec="seconds") if flat_dates else _created(m["created"]),
                "direction": m["direction"],
                "external_id": m["external_id"],
                "id": m["id"],
                "number": m["number"],
                "status": self._status(m),
            }
        )
        if flat_dates:
            out["updated"] = out["created"]
        return out

    def _create_sms(self, item: dict, *, body: str, scheduled: str | None) -> tuple[int | None, str]:
        to = str(item.get("to") or "")
        if not re.fullmatch(r"\+\d{6,15}", to):
            return None, "The to must be a phone number with + and country code."
        if not body:
            return None, "The body field is required."
        when = None
        if scheduled:
            when = parse_when(scheduled)
            if when is None:
                return None, "The scheduled format is yyyy/mm/dd hh:mm TZ."
        ext = item.get("external_id")
        if ext not in (None, ""):
            try:
                ext = int(ext)
            except (TypeError, ValueError):
                return None, "The external id must be an integer."
        else:
            ext = None
        sid = next(self._sms_ids)
        self.messages[sid] = {
            "id": sid,
            "external_id": ext,
            "direction": "sending",
            "status": "queued",
            "number": to,
            "content": body,
            "created": self.now(),
            "scheduled": when,
        }
        return sid, ""

    @route("POST", r"/api/v1/sms/?")
    def send(self, req: FakeRequest) -> Response:
        data = self._body(req)
        with self.lock:
            sid, error = self._create_sms(data, body=str(data.get("body") or ""), scheduled=data.get("scheduled"))
            if sid is None:
                field = "body" if "body" in error else "scheduled" if "scheduled" in error else "to"
                return self._invalid({field: error})
            return 200, {}, {"data": self._sms_json(self.messages[sid]), "result": "ok"}

    def _send_list(self, req: FakeRequest, *, same_text: bool) -> Response:
        data = self._body(req)
        items = data.get("list")
        if not isinstance(items, list) or not items:
            return self._invalid({"list": "The list field is required."})
        if same_text and not data.get("body"):
            return self._invalid({"body": "The body field is required."})
        ids = []
        with self.lock:
            for item in items:
                if not isinstance(item, dict):
                    ids.append(-1)
                    continue
                body = str(data.get("body") or "") if same_text else str(item.get("body") or "")
                sid, _ = self._create_sms(item, body=body, scheduled=item.get("scheduled") or data.get("scheduled"))
                ids.append(-1 if sid is None else sid)
        return 200, {}, {"result": "ok", "ids": ids}

    @route("POST", r"/api/v1/sms/to_many/?")
    def to_many(self, req: FakeRequest) -> Response:
        return self._send_list(req, same_text=True)

    @route("POST", r"/api/v1/sms/many/?")
    def many(self, req: FakeRequest) -> Response:
        return self._send_list(req, same_text=False)

    @route("GET", r"/api/v1/sms/?")
    def list_sms(self, req: FakeRequest) -> Response:
        with self.lock:
            items = [self._sms_json(m) for m in sorted(self.messages.values(), key=lambda m: -m["id"])]
        return 200, {}, self._page(req, items, "sms")

    @route("GET", r"/api/v1/sms/(?P<sid>\d+)")
    def get_sms(self, req: FakeRequest) -> Response:
        with self.lock:
            m = self.messages.get(int(req.params["sid"]))
            if m is None:
                return self._not_found("SMS")
            return 200, {}, {"data": self._sms_json(m), "result": "ok"}

    @route("GET", r"/api/v1/sms/by_external/(?P<ext>-?\d+)")
    def by_external(self, req: FakeRequest) -> Response:
        ext = int(req.params["ext"])
        with self.lock:
            found = [m for m in self.messages.values() if m["external_id"] == ext]
            if not found:
                return self._not_found("SMS")
            return 200, {}, {"data": self._sms_json(found[-1]), "result": "ok"}

    @route("POST", r"/api/v1/sms/search/messages/?")
    def search(self, req: FakeRequest) -> Response:
        data = self._body(req)
        keys = ("number", "from_date", "to_date", "query")
        if not any(data.get(k) for k in keys):
            return self._invalid({"number": "You must at least add one of the parameters."})
        start = parse_when(data["from_date"]) if data.get("from_date") else None
        end = parse_when(data["to_date"]) if data.get("to_date") else None
        if (data.get("from_date") and start is None) or (data.get("to_date") and end is None):
            return self._invalid({"from_date": "The date format is yyyy/mm/dd hh:mm t."})
        with self.lock:
            found = []
            for m in sorted(self.messages.values(), key=lambda m: -m["id"]):
                if data.get("number") and m["number"] != data["number"]:
                    continue
                if start and m["created"] < start:
                    continue
                if end and m["created"] > end + timedelta(seconds=59):
                    continue
                if data.get("query") and str(data["query"]).lower() not in m["content"].lower():
                    continue
                found.append(self._sms_json(m, flat_dates=True))
        return 200, {}, self._page(req, found, "sms/search/messages")

    # --------------------------------------------------------------- contacts and groups
    def _contact_json(self, c: dict) -> dict:
        return dict(c)

    @route("GET", r"/api/v1/contact/?")
    def list_contacts(self, req: FakeRequest) -> Response:
        with self.lock:
            items = [self._contact_json(c) for c in self.contacts.values()]
        return 200, {}, self._page(req, items, "contact")

    @route("GET", r"/api/v1/contact/(?P<cid>\d+)")
    def get_contact(self, req: FakeRequest) -> Response:
        with self.lock:
            c = self.contacts.get(int(req.params["cid"]))
            if c is None:
                return self._not_found("Contact")
            return 200, {}, {"data": self._contact_json(c), "result": "ok"}

    @route("POST", r"/api/v1/contact/?")
    def create_contact(self, req: FakeRequest) -> Response:
        data = self._body(req)
        required = ("first_name", "last_name", "main_phone")
        errors = {k: f"The {k} field is required." for k in required if not data.get(k)}
        if data.get("main_phone") and not re.fullmatch(r"\+\d{6,15}", str(data["main_phone"])):
            errors["main_phone"] = "The main phone must be a phone number with + and country code."
        group_id = data.get("contact_group_id")
        if group_id not in (None, ""):
            try:
                group_id = int(group_id)
            except (TypeError, ValueError):
                group_id = -1
            if group_id not in self.groups:
                errors["contact_group_id"] = "The selected contact group id is invalid."
        if errors:
            return self._invalid(errors)
        with self.lock:
            cid = next(self._contact_ids)
            self.contacts[cid] = {
                "display_name": f"{data['first_name']} {data['last_name']}".strip(),
                "first_name": data["first_name"],
                "id": cid,
                "is_public": None,
                "last_name": data["last_name"],
                "main_phone": data["main_phone"],
                "reference": data.get("reference"),
                "status": None,
            }
            if group_id not in (None, ""):
                self.contact_groups[cid] = group_id
            return 200, {}, {"data": self._contact_json(self.contacts[cid]), "result": "ok"}

    @route("GET", r"/api/v1/contact_group/?")
    def list_groups(self, req: FakeRequest) -> Response:
        with self.lock:
            items = [dict(g) for g in sorted(self.groups.values(), key=lambda g: -g["id"])]
        return 200, {}, self._page(req, items, "contact_group")


if __name__ == "__main__":  # pragma: no cover - manual use: python -m providers.fakes.jooksms
    fake = JookSMSFake(port=8802)
    print(f"JookSMS fake on {fake.api_url} (client {fake.client_id} / {fake.client_secret})")
    fake.serve_forever()
