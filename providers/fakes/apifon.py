"""A local fake of Apifon's REST API (seeds/004 + protocol-notes §1), for end-to-end tests and benchmarks.

Served paths (all under ``/services/api/v1`` except the token endpoint):

    POST /oauth2/token                      client credentials -> {access_token, token_type, expires_in}
    POST sms/send, sms/remove               send (params/placeholders, scheduling) and remove scheduled
    POST balance
    GET/POST list, GET/PUT/DELETE list/{id}, POST list/{id}/field, PUT/DELETE list/{id}/field/{field}
    GET/POST list/{id}/subscriber, POST .../subscriber/bulk, GET/PUT/DELETE .../subscriber/{md5},
    POST .../subscriber/{md5}/subscribe|unsubscribe
    POST bounce/subscriber/block, GET bounce/subscriber, GET bounce/subscriber/{destination},
    POST bounce/subscriber/query, DELETE bounce/subscriber/unblock/{destination}

Every API call is authenticated like Apifon: ``Authorization: ApifonWS <token>:<signature>`` checked against
the HMAC of ``METHOD\\nPATH\\nBODY\\nDATE`` (the same rule the adapter follows), or ``Bearer <token>`` issued by
the token endpoint. A failure answers the document's 401 body. Callback payloads are built by
:meth:`ApifonFake.delivery_callback` and :meth:`ApifonFake.reply_callback` in the document's shapes.

    fake = ApifonFake(credentials={"tok": "secret"}, clients={"cid": "csecret"}).start()
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.request
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from providers.adapters.apifon import SMS_STATUSES, destination_id, hmac_signature

from .base import FakeProvider, FakeRequest, Response, route

API = "/services/api/v1"
_MSISDN = re.compile(r"[1-9][0-9]{6,14}")
_JSON = {"Content-Type": "application/json"}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _error(status: int, title: str, details: dict | None = None) -> Response:
    return (
        status,
        _JSON,
        {
            "status": str(status),
            "title": title,
            "error_details": details or {},
            "error_report_code": str(uuid.uuid4()),
        },
    )


def _render(text: str, params: dict, landing: dict[str, dict]) -> str:
    """Apifon's placeholder substitution: each ``{KEY}`` once, from the subscriber's params (no re-scan).
    LANDING objects (``apifon_lp*`` keys with a dict value) become short URLs, collected into ``landing``."""

    def value(match: re.Match) -> str:
        key = match.group(1)
        if key not in params:
            return match.group(0)
        if isinstance(params[key], dict):
            code = uuid.uuid4().hex[:6]
            landing[key] = {"short_code": code, "short_url": f"https://apfn.eu/{code}"}
            return landing[key]["short_url"]
        return str(params[key])

    return re.sub(r"\{([^{}]+)\}", value, text)


def _field_identifier(name: str, type_: str) -> str:
    """Apifon's identifiers in the document: "Name" -> NAME, "Birthday" (DATE) -> date_BIRTHDAY."""
    ident = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") or "FIELD"
    return f"date_{ident}" if type_.upper() == "DATE" else ident


class ApifonFake(FakeProvider):
    def __init__(
        self,
        *,
        credentials: dict[str, str] | None = None,
        clients: dict[str, str] | None = None,
        token_lifetime: int = 3600,
        balance: str = "9864.0",
        sign_query: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.credentials = dict(credentials or {"5b5a6ca0deb4bdba5bab": "fake-secret-key"})
        self.clients = dict(clients or {})
        self.token_lifetime = token_lifetime
        self.sign_query = sign_query
        self.balance = balance
        self.tokens: dict[str, float] = {}  # access token -> expiry (epoch seconds)
        self.token_requests = 0
        self.messages: dict[str, dict] = {}  # message_id -> message
        self.lists: dict[str, dict] = {}
        self.subscribers: dict[str, dict[str, dict]] = {}  # list id -> destination_id -> subscriber
        self.bounces: dict[str, dict] = {}  # destination digits -> entry
        self.writes = 0  # state-changing calls that changed something

    # ================================================================ state helpers (for tests)
    def snapshot(self) -> str:
        """A canonical dump of the synced state (lists, subscribers, bounce list) to compare runs."""
        with self.lock:
            lists = {
                lid: {k: v for k, v in data.items() if k not in {"date_updated", "meta"}}
                for lid, data in self.lists.items()
            }
            subs = {
                lid: {d: {k: v for k, v in s.items() if k not in {"date_updated", "meta"}} for d, s in members.items()}
                for lid, members in self.subscribers.items()
            }
            return json.dumps({"lists": lists, "subscribers": subs, "bounces": self.bounces}, sort_keys=True)

    def add_list(self, title: str, *, prefix: str = "+30", fields: Iterable[tuple[str, str]] = ()) -> str:
        with self.lock:
            list_id = uuid.uuid4().hex[:24]
            self.lists[list_id] = self._new_list(list_id, {"title": title, "prefix": prefix, "type": "ADVANCED"})
            for name, type_ in fields:
                ident = _field_identifier(name, type_)
                self.lists[list_id]["subscriber_fields"].append(
                    {"field": ident, "length": 256, "name": name, "type": type_, "internal": False}
                )
            self.subscribers[list_id] = {}
            return list_id

    def add_subscriber(self, list_id: str, destination: str, *, status: str = "SUBSCRIBED", **fields) -> str:
        with self.lock:
            digits = destination.lstrip("+")
            did = destination_id(digits)
            self.subscribers[list_id][did] = self._new_subscriber(
                list_id, {"destination": digits, "status": status, "subscriber_fields": fields}
            )
            return did

    def set_status(self, message_id: str, code: int) -> None:
        with self.lock:
            self.messages[message_id]["status"] = code

    def scheduled(self) -> list[dict]:
        with self.lock:
            return [m for m in self.messages.values() if m["status"] == "scheduled"]

    # ================================================================ callbacks in the document's shapes
    def delivery_callback(
        self,
        request_id: str,
        code: int = 7,
        *,
        message_ids: Iterable[str] | None = None,
        error_code: str = "000",
        price: str = "0.002",
    ) -> dict:
        """The SMS delivery callback for (some of) a request's messages, as the document's "Callback" example."""
        text = SMS_STATUSES[code][0]
        with self.lock:
            msgs = [m for m in self.messages.values() if m["request_id"] == request_id]
            if message_ids is not None:
                wanted = set(message_ids)
                msgs = [m for m in msgs if m["message_id"] in wanted]
            for m in msgs:
                m["status"] = code
            reference = msgs[0]["reference_id"] if msgs else ""
            callback_url = msgs[0]["callback_url"] if msgs else ""
        data = []
        for m in msgs:
            item = {
                "from": m["sender_id"],
                "to": m["number"],
                "message_id": m["message_id"],
                "custom_id": m["custom_id"],
                "status": {"code": code, "text": text},
                "error_code": error_code,
                "timestamp": int(time.time()),
                "price": price,
                "vat": "0.00048",
                "mccmnc": "20210",
            }
            if not m["custom_id"]:
                item.pop("custom_id")
            data.append(item)
        return {
            "url": callback_url,
            "request_id": request_id,
            "reference_id": reference,
            "data": data,
            "account_id": 5411,
            "type": "SMS",
        }

    @staticmethod
    def reply_callback(from_number: str, to: str, text: str, *, timestamp: int | None = None) -> dict:
        """The "SMS Reply Callback" payload."""
        return {
            "message_id": str(uuid.uuid4()),
            "from": from_number.lstrip("+"),
            "to": to,
            "text": text,
            "timestamp": timestamp if timestamp is not None else int(time.time()),
            "type": "SMS",
        }

    @staticmethod
    def post_callback(url: str, payload: dict, *, timeout: float = 5.0) -> int:
        """POST a callback payload like Apifon does (content-type application/json); returns the HTTP status."""
        req = urllib.request.Request(  # noqa: S310 - tests pass local http(s) URLs
            url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    # ================================================================ auth
    def _authenticate(self, req: FakeRequest) -> Response | None:
        auth = req.header("Authorization")
        if auth.startswith("Bearer "):
            expiry = self.tokens.get(auth.removeprefix("Bearer ").strip())
            if expiry is None or expiry < time.time():
                return _error(401, "Unauthorized")
            return None
        m = re.fullmatch(r"ApifonWS ([^:\s]+):(\S+)", auth)
        date_header = req.header("X-ApifonWS-Date")
        if not m or not date_header or m.group(1) not in self.credentials:
            return _error(401, "Unauthorized")
        path = req.path
        if self.sign_query and req.query:
            path += "?" + urlencode([(k, v) for k, vs in req.query.items() for v in vs])
        expected = hmac_signature(self.credentials[m.group(1)], req.method, path, req.body, date_header)
        if not hmac.compare_digest(expected, m.group(2)):
            return _error(401, "Unauthorized")
        return None

    def dispatch(self, req: FakeRequest) -> Response:
        if req.path.startswith(API + "/"):
            with self.lock:
                self.requests.append(req)
                if self.fail_next:
                    return self.fail_next.pop(0)
            denied = self._authenticate(req)
            if denied is not None:
                return denied
            sub = req.path[len(API) :]
            for method, pattern, fn in self._routes:
                if method != req.method:
                    continue
                match = pattern.fullmatch(sub)
                if match:
                    req.match, req.params = match, match.groupdict()
                    return fn(req)
            return _error(404, "Not Found")
        return super().dispatch(req)

    def _body(self, req: FakeRequest) -> tuple[Any, Response | None]:
        try:
            return json.loads(req.body or b"null"), None
        except ValueError:
            return None, _error(400, "Request validation Error(s)", {"body": "Not valid JSON"})

    @route("POST", r"/oauth2/token")
    def token(self, req: FakeRequest) -> Response:
        form = req.form1()
        self.token_requests += 1
        if form.get("grant_type") != "client_credentials":
            return 400, _JSON, {"error": "unsupported_grant_type", "error_description": "grant_type"}
        if self.clients.get(form.get("client_id", "")) != form.get("client_secret") or not form.get("client_id"):
            return 401, _JSON, {"error": "invalid_client", "error_description": "Client authentication failed"}
        token = str(uuid.uuid4())
        with self.lock:
            self.tokens[token] = time.time() + self.token_lifetime
        return (
            200,
            _JSON,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "scope": form.get("scope", ""),
            },
        )

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    # ================================================================ SMS
    @route("POST", r"/sms/send")
    def sms_send(self, req: FakeRequest) -> Response:
        body, err = self._body(req)
        if err:
            return err
        errors: dict[str, str] = {}
        message = body.get("message") if isinstance(body, dict) else None
        subscribers = body.get("subscribers") if isinstance(body, dict) else None
        if not isinstance(message, dict) or not str(message.get("text") or ""):
            errors["message.text"] = "may not be empty"
        if not isinstance(subscribers, list) or not subscribers:
            errors["subscribers"] = "may not be empty"
        sender = str((message or {}).get("sender_id") or "")
        numeric = sender.lstrip("+").isdigit()
        if not sender or len(sender) > (16 if numeric else 11):
            errors["message.sender_id"] = "Not a valid sender id"
        if str((message or {}).get("dc", 0)) not in {"0", "1", "2"}:
            errors["message.dc"] = "must be 0, 1 or 2"
        for i, s in enumerate(subscribers or []):
            if not isinstance(s, dict) or not _MSISDN.fullmatch(str(s.get("number") or "")):
                errors[f"subscribers[{i}].number"] = "Not a valid MSISDN"
        date = str(body.get("date") or "") if isinstance(body, dict) else ""
        if date:
            try:
                send_at = datetime.strptime(date, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
            except ValueError:
                errors["date"] = "Format yyyy-MM-dd'T'HH:mm:ss"
        if errors:
            return _error(400, "Request validation Error(s)", errors)
        scheduled = bool(date) and send_at > datetime.now(UTC)
        request_id = str(uuid.uuid4())
        results: dict[str, list[dict]] = {}
        with self.lock:
            for s in subscribers:
                text = str(message["text"])
                params = s.get("params") if isinstance(s.get("params"), dict) else {}
                landing: dict[str, dict] = {}
                text = _render(text, params, landing)
                message_id = str(uuid.uuid4())
                self.messages[message_id] = {
                    "message_id": message_id,
                    "request_id": request_id,
                    "reference_id": str(body.get("reference_id") or ""),
                    "custom_id": str(s.get("custom_id") or ""),
                    "number": str(s["number"]),
                    "text": text,
                    "dc": int(message.get("dc", 0)),
                    "sender_id": sender,
                    "date": date,
                    "callback_url": str(body.get("callback_url") or ""),
                    "status": "scheduled" if scheduled else 3,
                }
                detail = {"message_id": message_id, "custom_id": s.get("custom_id"), "length": len(text.encode())}
                if landing:
                    first = next(iter(landing.values()))
                    detail.update(short_code=first["short_code"], short_url=first["short_url"], landing_pages=landing)
                results.setdefault(str(s["number"]), []).append(detail)
        return (
            200,
            _JSON,
            {
                "request_id": request_id,
                "reference": body.get("reference_id"),
                "results": results,
                "result_info": {"status_code": 200, "description": "OK"},
            },
        )

    @route("POST", r"/sms/remove")
    def sms_remove(self, req: FakeRequest) -> Response:
        body, err = self._body(req)
        if err:
            return err
        field = str((body or {}).get("field") or "")
        key = {"REQUEST_ID": "request_id", "REFERENCE_ID": "reference_id"}.get(field)
        if key is None or not (body or {}).get("id"):
            return _error(400, "Request validation Error(s)", {"field": "REQUEST_ID or REFERENCE_ID"})
        with self.lock:
            doomed = [mid for mid, m in self.messages.items() if m[key] == body["id"] and m["status"] == "scheduled"]
            for mid in doomed:
                del self.messages[mid]
        return 200, _JSON, str(len(doomed))

    @route("POST", r"/balance")
    def balance_route(self, req: FakeRequest) -> Response:
        return (
            200,
            _JSON,
            {
                "balance": self.balance,
                "reserved": "0.0",
                "plafon": "0.0",
                "subscriptions": [],
            },
        )

    # ================================================================ lists
    def _new_list(self, list_id: str, body: dict) -> dict:
        now = _now_ms()
        return {
            "id": list_id,
            "type": body.get("type") or "ADVANCED",
            "title": body.get("title"),
            "status": "IDLE",
            "description": body.get("description") or "",
            "prefix": body.get("prefix"),
            "account_id": 5411,
            "date_created": now,
            "date_updated": now,
            "campaign_defaults": body.get("campaign_defaults") or {},
            "groups": [],
            "subscriber_fields": [],
            "gdpr_fields": [],
            "gdpr_properties": body.get("gdpr_properties") or {},
            "double_optin": body.get("double_optin")
            or {"mobile": False, "email": False, "review_mobile_details": False},
        }

    def _list_view(self, list_id: str) -> dict:
        data = dict(self.lists[list_id])
        members = self.subscribers.get(list_id, {}).values()
        data["total_subscribers"] = len(members)
        data["active_subscribers"] = sum(1 for s in members if s["status"] == "SUBSCRIBED")
        data["meta"] = {"ETag": hashlib.md5(json.dumps(data, sort_keys=True).encode()).hexdigest()}  # noqa: S324
        return data

    def _page(self, req: FakeRequest, items: list[dict], *, default_size: int, max_size: int | None) -> Response:
        try:
            page = max(1, int((req.query.get("page") or ["1"])[0]))
            size = max(1, int((req.query.get("size") or [str(default_size)])[0]))
        except ValueError:
            return _error(400, "Request validation Error(s)", {"page": "must be a number"})
        if max_size:
            size = min(size, max_size)
        start = (page - 1) * size
        chunk = items[start : start + size]
        pages = max(1, -(-len(items) // size))
        base = {k: v[0] for k, v in req.query.items() if k not in {"page", "size"}}

        def link(p: int) -> str:
            return f"{self.base_url}{req.path}?" + urlencode({**base, "page": p, "size": size})

        return (
            200,
            _JSON,
            {
                "meta": {"page": page, "size": size, "total": len(items)},
                "links": {
                    "prev": link(page - 1) if page > 1 else "",
                    "next": link(page + 1) if page < pages else "",
                    "first": link(1),
                    "last": link(pages),
                },
                "results": chunk,
            },
        )

    @route("GET", r"/list/?")
    def list_lists(self, req: FakeRequest) -> Response:
        with self.lock:
            items = [self._list_view(lid) for lid in self.lists]
        return self._page(req, items, default_size=20, max_size=None)

    @route("POST", r"/list/?")
    def list_create(self, req: FakeRequest) -> Response:
        body, err = self._body(req)
        if err:
            return err
        errors = {}
        if not isinstance(body, dict) or not str(body.get("title") or "").strip():
            errors["title"] = "may not be empty"
        if not isinstance(body, dict) or not str(body.get("prefix") or "").strip():
            errors["prefix"] = "may not be empty"
        if isinstance(body, dict) and body.get("type") != "ADVANCED":
            errors["type"] = "Available Options: ADVANCED"
        if errors:
            return _error(400, "Request validation Error(s)", errors)
        with self.lock:
            list_id = uuid.uuid4().hex[:24]
            self.lists[list_id] = self._new_list(list_id, body)
            self.subscribers[list_id] = {}
            self.writes += 1
        return 201, {"Location": f"{self.base_url}{API}/list/{list_id}"}, b""

    @route("GET", r"/list/(?P<list_id>[^/]+)")
    def list_get(self, req: FakeRequest) -> Response:
        with self.lock:
            if req.params["list_id"] not in self.lists:
                return _error(404, "Not Found")
            return 200, _JSON, self._list_view(req.params["list_id"])

    @route("PUT", r"/list/(?P<list_id>[^/]+)")
    def list_update(self, req: FakeRequest) -> Response:
        body, err = self._body(req)
        if err:
            return err
        list_id = req.params["list_id"]
        with self.lock:
            if list_id not in self.lists:
                return _error(404, "Not Found")
            if not str((body or {}).get("title") or "").strip() or not (body or {}).get("prefix"):
                return _error(400, "Request validation Error(s)", {"title/prefix": "may not be empty"})
            current = self.lists[list_id]
            changes = {
                k: body[k]
                for k in ("title", "description", "prefix", "campaign_defaults", "gdpr_properties", "double_optin")
                if k in body
            }
            if all(current.get(k) == v for k, v in changes.items()):
                return 304, {}, b""
            current.update(changes, date_updated=_now_ms())
            self.writes += 1
        return 204, {"Location": f"{self.base_url}{API}/list/{list_id}"}, b""

    @route("DELETE", r"/list/(?P<list_id>[^/]+)")
    def list_delete(self, req: FakeRequest) -> Response:
        with self.lock:
            if self.lists.pop(req.params["list_id"], None) is None:
                return _error(404, "Not Found")
            self.subscribers.pop(req.params["list_id"], None)
            self.writes += 1
        return 204, {}, b""

    @route("POST", r"/list/(?P<list_id>[^/]+)/field")
    def field_create(self, req: FakeRequest) -> Response:
        body, err = self._body(req)
        if err:
            return err
        list_id = req.params["list_id"]
        with self.lock:
            if list_id not in self.lists:
                return _error(404, "Not Found")
            name, type_ = str((body or {}).get("name") or ""), str((body or {}).get("type") or "").upper()
            length = (body or {}).get("length")
            errors = {}
            if not name:
                errors["name"] = "may not be empty"
            if type_ not in {"DATE", "TEXT", "NUMBER", "URL", "EMAIL"}:
                errors["type"] = "Available options: DATE, TEXT, NUMBER, URL, EMAIL"
            if not isinstance(length, int) or not 1 <= length <= 256:
                errors["length"] = "The minimum is 1 and the maximum is 256"
            if errors:
                return _error(400, "Request validation Error(s)", errors)
            ident = _field_identifier(name, type_)
            fields = self.lists[list_id]["subscriber_fields"]
            if any(f["field"] == ident for f in fields):
                return _error(409, "Conflict", {"name": f"field {ident} exists"})
            spec = {
                "field": ident,
                "length": length,
                "name": name,
                "type": type_,
                "internal": bool((body or {}).get("internal")),
            }
            if type_ == "DATE":
                spec["date_format"] = (body or {}).get("date_format") or "dd/MM/yy"
            fields.append(spec)
            self.writes += 1
        return 201, {"Location": f"{self.base_url}{API}/list/{list_id}/field/{ident}"}, b""

    @route("DELETE", r"/list/(?P<list_id>[^/]+)/field/(?P<field>[^/]+)")
    def field_delete(self, req: FakeRequest) -> Response:
        with self.lock:
            lst = self.lists.get(req.params["list_id"])
            if lst is None or not any(f["field"] == req.params["field"] for f in lst["subscriber_fields"]):
                return _error(404, "Not Found")
            lst["subscriber_fields"] = [f for f in lst["subscriber_fields"] if f["field"] != req.params["field"]]
            self.writes += 1
        return 204, {}, b""

    # ================================================================ subscribers
    def _new_subscriber(self, list_id: str, body: dict) -> dict:
        digits = re.sub(r"\D", "", str(body.get("destination") or ""))
        now = _now_ms()
        return {
            "id": uuid.uuid4().hex[:24],
            "destination": digits,
            "status": str(body.get("status") or "SUBSCRIBED"),
            "account_id": 5411,
            "destination_id": destination_id(digits),
            "archived": False,
            "date_created": now,
            "date_updated": now,
            "list_id": list_id,
            "gdpr_fields": body.get("gdpr_fields") or {},
            "subscriber_fields": dict(body.get("subscriber_fields") or {}),
            "groupOptions": list(body.get("groupOptions") or []),
        }

    def _validate_subscriber(self, list_id: str, body: Any, where: str) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not isinstance(body, dict):
            return {where: "must be an object"}
        digits = re.sub(r"\D", "", str(body.get("destination") or ""))
        if not _MSISDN.fullmatch(digits):
            errors[f"{where}.destination"] = "Not a valid mobile destination"
        if str(body.get("status") or "") not in {"SUBSCRIBED", "UNSUBSCRIBED", "UNCONFIRMED"}:
            errors[f"{where}.status"] = "Available options: SUBSCRIBED, UNSUBSCRIBED, UNCONFIRMED"
        known = {f["field"] for f in self.lists[list_id]["subscriber_fields"]}
        for key in body.get("subscriber_fields") or {}:
            if key not in known:
                errors[f"{where}.subscriber_fields.{key}"] = "Unknown subscriber field"
        return errors

    def _upsert(self, list_id: str, body: dict, *, update: bool) -> bool:
        """Insert or update; returns whether anything changed. Bounced destinations are skipped."""
        digits = re.sub(r"\D", "", str(body.get("destination") or ""))
        if digits in self.bounces:
            return False
        did = destination_id(digits)
        members = self.subscribers[list_id]
        current = members.get(did)
        if current is None:
            members[did] = self._new_subscriber(list_id, body)
            return True
        if not update:
            return False
        changed = False
        new_fields = {**current["subscriber_fields"], **(body.get("subscriber_fields") or {})}
        if new_fields != current["subscriber_fields"]:
            current["subscriber_fields"] = new_fields
            changed = True
        for key in ("status", "gdpr_fields", "groupOptions"):
            if key in body and body[key] != current.get(key):
                current[key] = body[key]
                changed = True
        if current.get("archived"):
            current["archived"] = False
            changed = True
        if changed:
            current["date_updated"] = _now_ms()
        return changed

    @route("GET", r"/list/(?P<list_id>[^/]+)/subscriber/?")
    def subscriber_list(self, req: FakeRequest) -> Response:
        with self.lock:
            if req.params["list_id"] not in self.lists:
                return _error(404, "Not Found")
            items = list(self.subscribers[req.params["list_id"]].values())
            status = (req.query.get("status") or [""])[0]
            if status:
                items = [s for s in items if s["status"] == status]
            fields = [f for f in (req.query.get("fields") or [""])[0].split(",") if f]
            if fields:
                items = [{k: s[k] for k in fields if k in s} for s in items]
            else:
                items = [dict(s) for s in items]
        return self._page(req, items, default_size=200, max_size=200)

    @route("POST", r"/list/(?P<list_id>[^/]+)/subscriber/?")
    def subscriber_add(self, req: FakeRequest) -> Response:
        body, err = self._body(req)
        if err:
            return err
        list_id = req.params["list_id"]
        with self.lock:
            if list_id not in self.lists:
                return _error(404, "Not Found")
            errors = self._validate_subscriber(list_id, body, "subscriber")
            if errors:
                return _error(400, "Request validation Error(s)", errors)
            digits = re.sub(r"\D", "", str(body.get("destination")))
            if digits in self.bounces:
                return _error(403, "Subscriber is blocked", {"destination": "in the bounce list"})
            if destination_id(digits) in self.subscribers[list_id]:
                return _error(409, "Conflict", {"destination": "already in the list"})
            self._upsert(list_id, body, update=False)
            self.writes += 1
        return 201, {"Location": f"{self.base_url}{API}/list/{list_id}/subscriber/{destination_id(digits)}"}, b""

    @route("POST", r"/list/(?P<list_id>[^/]+)/subscriber/bulk")
    def subscriber_bulk(self, req: FakeRequest) -> Response:
        body, err = self._body(req)
        if err:
            return err
        list_id = req.params["list_id"]
        with self.lock:
            if list_id not in self.lists:
                return _error(404, "Not Found")
            subs = (body or {}).get("subscribers")
            if not isinstance(subs, list) or not subs:
                return _error(400, "Request validation Error(s)", {"subscribers": "may not be empty"})
            errors: dict[str, str] = {}
            for i, s in enumerate(subs):
                errors.update(self._validate_subscriber(list_id, s, f"subscribers[{i}]"))
            if errors:
                return _error(400, "Request validation Error(s)", errors)
            update = bool((body or {}).get("update_on_duplicate", False))
            changed = sum(self._upsert(list_id, s, update=update) for s in subs)
            self.writes += changed
        return 200, {}, b""

    @route("GET", r"/list/(?P<list_id>[^/]+)/subscriber/(?P<md5>[0-9a-f]{32})")
    def subscriber_get(self, req: FakeRequest) -> Response:
        with self.lock:
            sub = self.subscribers.get(req.params["list_id"], {}).get(req.params["md5"])
            if sub is None:
                return _error(404, "Not Found")
            return 200, _JSON, dict(sub)

    @route("PUT", r"/list/(?P<list_id>[^/]+)/subscriber/(?P<md5>[0-9a-f]{32})")
    def subscriber_update(self, req: FakeRequest) -> Response:
        body, err = self._body(req)
        if err:
            return err
        list_id = req.params["list_id"]
        with self.lock:
            if req.params["md5"] not in self.subscribers.get(list_id, {}):
                return _error(404, "Not Found")
            errors = self._validate_subscriber(list_id, body, "subscriber")
            if errors:
                return _error(400, "Request validation Error(s)", errors)
            if self._upsert(list_id, body, update=True):
                self.writes += 1
        return 200, {}, b""

    @route("DELETE", r"/list/(?P<list_id>[^/]+)/subscriber/(?P<md5>[0-9a-f]{32})")
    def subscriber_delete(self, req: FakeRequest) -> Response:
        with self.lock:
            members = self.subscribers.get(req.params["list_id"], {})
            if req.params["md5"] not in members:
                return _error(404, "Not Found")
            if (req.query.get("permanent") or ["false"])[0].lower() == "true":
                del members[req.params["md5"]]
            else:
                members[req.params["md5"]]["archived"] = True
            self.writes += 1
        return 200, {}, b""

    @route("POST", r"/list/(?P<list_id>[^/]+)/subscriber/(?P<md5>[0-9a-f]{32})/(?P<action>subscribe|unsubscribe)")
    def subscriber_action(self, req: FakeRequest) -> Response:
        with self.lock:
            sub = self.subscribers.get(req.params["list_id"], {}).get(req.params["md5"])
            if sub is None:
                return _error(404, "Not Found")
            if req.params["action"] == "subscribe" and sub["destination"] in self.bounces:
                return _error(403, "Subscriber is blocked", {"destination": "in the bounce list"})
            sub["status"] = "SUBSCRIBED" if req.params["action"] == "subscribe" else "UNSUBSCRIBED"
            sub["archived"] = False
            self.writes += 1
        return 200, {}, b""

    # ================================================================ bounce list
    @route("POST", r"/bounce/subscriber/block")
    def bounce_block(self, req: FakeRequest) -> Response:
        body, err = self._body(req)
        if err:
            return err
        digits = re.sub(r"\D", "", str((body or {}).get("destination") or ""))
        reason = str((body or {}).get("reason") or "")
        errors = {}
        if not _MSISDN.fullmatch(digits):
            errors["destination"] = "Not a valid destination"
        if reason not in {"other", "not_delivering", "sub_deleted", "sub_requested", "sub_invalid"}:
            errors["reason"] = "Available Options: BLOCK_REASONS"
        if errors:
            return _error(400, "Request validation Error(s)", errors)
        with self.lock:
            if digits in self.bounces:
                return _error(409, "Conflict", {"destination": "already blocked"})
            self.bounces[digits] = {
                "destination": digits,
                "type": "MOBILE",
                "reason": reason,
                "user": "API",
                "description": str((body or {}).get("description") or ""),
                "date_created": _now_ms(),
            }
            self.writes += 1
        return 200, {}, b""

    @route("GET", r"/bounce/subscriber/?")
    def bounce_list(self, req: FakeRequest) -> Response:
        type_ = (req.query.get("type") or [""])[0]
        reason = (req.query.get("reason") or [""])[0]
        with self.lock:
            items = sorted(self.bounces.values(), key=lambda b: (b["date_created"], b["destination"]))
            items = [
                {"meta": {"Etag": hashlib.md5(b["destination"].encode()).hexdigest()}, **b}  # noqa: S324
                for b in items
                if (not type_ or b["type"] == type_) and (not reason or b["reason"] == reason)
            ]
        return self._page(req, items, default_size=200, max_size=200)

    @route("POST", r"/bounce/subscriber/query")
    def bounce_query(self, req: FakeRequest) -> Response:
        body, err = self._body(req)
        if err:
            return err
        conditions = (body or {}).get("conditions") or []
        with self.lock:
            items = list(self.bounces.values())
        for c in conditions:
            name, op, vl = c.get("name"), c.get("op"), str(c.get("vl"))
            if op == "eq":
                items = [b for b in items if str(b.get(name)) == vl]
            elif op == "beginsWith":
                items = [b for b in items if str(b.get(name, "")).startswith(vl)]
        size = min(200, int((body or {}).get("size") or 200))
        page = max(1, int((body or {}).get("page") or 1))
        chunk = items[(page - 1) * size : page * size]
        return 200, _JSON, {"meta": {"page": page, "size": size, "total": len(items)}, "results": chunk}

    @route("GET", r"/bounce/subscriber/(?P<destination>\d+)")
    def bounce_get(self, req: FakeRequest) -> Response:
        with self.lock:
            entry = self.bounces.get(req.params["destination"])
        if entry is None:
            return _error(404, "Not Found")
        return (
            200,
            _JSON,
            {
                "meta": {"Etag": hashlib.md5(entry["destination"].encode()).hexdigest()},  # noqa: S324
                **entry,
            },
        )

    @route("DELETE", r"/bounce/subscriber/unblock/(?P<destination>[^/]+)")
    def bounce_unblock(self, req: FakeRequest) -> Response:
        with self.lock:
            if self.bounces.pop(req.params["destination"], None) is None:
                return _error(404, "Not Found")
            self.writes += 1
        return 204, {}, b""
