"""A fake Jojka API on 127.0.0.1, answering like ``seeds/000_a79484044869b32f.txt`` (fixed up per protocol-notes §4).

Every function is ``POST /websms/api/<function>`` with a form body carrying ``API_key``. State: messages (with
statuses that move SENT → DELIVERED, or → ERROR for numbers in ``fail_numbers`` or on the blocklist, as the fake
clock passes ``delivered_after``), campaigns (scheduled ones hold no messages until their time, and can be
cancelled until then), contacts with group names, the blocklist, and replies (``seed_reply``).

    fake = JojkaFake(api_key="k").start()
    adapter = JojkaAdapter(AccountConfig(..., base_url=fake.api_url, credentials={"api_key": "k"}))
    fake.advance(60)   # move the fake's clock instead of sleeping

Errors follow the convention the adapter reads: a JSON object with an ``error`` key (HTTP 401 for a wrong
key, HTTP 200 for a bad call, as PHP APIs commonly do).
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

from .base import FakeProvider, FakeRequest, Response, route

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
REPLY_WINDOW = timedelta(hours=96)


class JojkaFake(FakeProvider):
    prefix = "/websms/api"

    def __init__(
        self,
        *,
        api_key: str = "test-jojka-key",
        delivered_after: float = 5.0,
        fail_numbers: set[str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.api_key = api_key
        self.delivered_after = delivered_after
        self.fail_numbers = set(fail_numbers or ())
        self.offset = 0.0
        self._ids = itertools.count(116690255)
        self._campaign_ids = itertools.count(287359)
        self.messages: dict[str, dict] = {}  # message_id → {msisdn, msg, from, sent_at, campaign_id}
        self.campaigns: dict[str, dict] = {}  # campaign_id → {msg, from, name, start, numbers, msg_ids, cancelled}
        self.contacts: dict[str, dict] = {}  # msisdn → {name, groups: list}
        self.blocklist: set[str] = set()
        self.replies: list[dict] = []  # {inserted: datetime, sender, message}

    # --------------------------------------------------------------- helpers for tests
    @property
    def api_url(self) -> str:
        return self.base_url + self.prefix

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.offset, UTC)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.offset += seconds

    def seed_reply(self, sender: str, message: str, *, at: datetime | None = None) -> None:
        with self.lock:
            self.replies.append({"inserted": at or self.now(), "sender": sender.lstrip("+"), "message": message})

    def calls(self, function: str) -> list[FakeRequest]:
        return [r for r in self.requests if r.path == f"{self.prefix}/{function}"]

    # --------------------------------------------------------------- plumbing
    def dispatch(self, req: FakeRequest) -> Response:
        if req.method == "POST" and req.path.startswith(self.prefix + "/"):
            with self.lock:
                self.requests.append(req)
                if self.fail_next:
                    return self.fail_next.pop(0)
            fields = req.form1()
            if fields.get("API_key") != self.api_key:
                return 401, {}, {"error": ["Invalid API key"]}
            function = req.path[len(self.prefix) + 1 :]
            handler = getattr(self, f"fn_{function}", None)
            if handler is None:
                return 404, {}, {"error": [f"Unknown function {function}"]}
            with self.lock:
                self._materialise()
                return handler(fields)
        return super().dispatch(req)

    @route("GET", r"/websms/api/.*")
    def not_post(self, req: FakeRequest) -> Response:
        return 405, {}, {"error": ["All calls must be made as a POST"]}

    @staticmethod
    def _bad(message: str) -> Response:
        return 200, {}, {"error": [message]}

    def _status(self, message: dict) -> str:
        if message["msisdn"] in self.fail_numbers or message["blocked"]:
            return "ERROR"
        if (self.now() - message["sent_at"]).total_seconds() >= self.delivered_after:
            return "DELIVERED"
        return "SENT"

    def _new_message(self, msisdn: str, msg: str, sender: str, campaign_id: str | None) -> str:
        mid = str(next(self._ids))
        self.messages[mid] = {
            "msisdn": msisdn,
            "msg": msg,
            "from": sender,
            "sent_at": self.now(),
            "campaign_id": campaign_id,
            "blocked": msisdn in self.blocklist,
        }
        return mid

    def _materialise(self) -> None:
        """Campaigns whose start time has come get their messages."""
        now = self.now()
        for cid, c in self.campaigns.items():
            if not c["msg_ids"] and not c["cancelled"] and c["start"] <= now:
                c["msg_ids"] = [self._new_message(n, c["msg"], c["from"], cid) for n in c["numbers"]]

    # --------------------------------------------------------------- sending
    def fn_send(self, f: dict) -> Response:
        to, msg = f.get("to", "").strip(), f.get("msg", "")
        if not to.isdigit():
            return self._bad("Parameter to is missing or not an MSISDN")
        if not msg:
            return self._bad("Parameter msg is missing")
        if len(f.get("from", "")) > 11 and not f.get("from", "").isdigit():
            return self._bad("Parameter from is longer than 11 characters")
        return 200, {}, {"message_id": self._new_message(to, msg, f.get("from", ""), None)}

    def fn_add_campaign(self, f: dict) -> Response:
        msg = f.get("msg", "")
        numbers = [n.strip() for n in f.get("to_msisdn", "").split(";") if n.strip()]
        groups = [g.strip() for g in f.get("to_group", "").split(";") if g.strip()]
        if not msg:
            return self._bad("Parameter msg is missing")
        if not numbers and not groups:
            return self._bad("Either to_msisdn or to_group must be given")
        if len(numbers) > 1000:
            return self._bad("Too many recipients in to_msisdn (max 1000)")
        if any(not n.isdigit() for n in numbers):
            return self._bad("to_msisdn holds a number that is not an MSISDN")
        for name, contact in self.contacts.items():
            if "all" in groups or set(groups) & set(contact["groups"]):
                numbers.append(name)
        start = self.now()
        if f.get("scheduled"):
            try:
                start = datetime.strptime(f["scheduled"], TIME_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                return self._bad("Parameter scheduled must be YYYY-MM-DD hh:mm:ss")
        cid = str(next(self._campaign_ids))
        self.campaigns[cid] = {
            "msg": msg,
            "from": f.get("from", ""),
            "name": f.get("name", ""),
            "start": start,
            "numbers": list(dict.fromkeys(numbers)),
            "msg_ids": [],
            "cancelled": False,
        }
        self._materialise()
        return 200, {}, {"campaign_id": cid}

    def fn_cancel_campaign(self, f: dict) -> Response:
        c = self.campaigns.get(f.get("campaign_id", ""))
        if c is None:
            return self._bad("No campaign with that campaign_id")
        if c["msg_ids"]:
            return self._bad("The campaign has already been sent")
        c["cancelled"] = True
        return 200, {}, {"successes": "done"}

    # --------------------------------------------------------------- statuses
    def fn_get_msg_status(self, f: dict) -> Response:
        m = self.messages.get(f.get("msg_id", ""))
        if m is None:
            return self._bad("No message with that msg_id")
        return 200, {}, [self._status(m)]

    def fn_get_msg_ids_by_campaign_id(self, f: dict) -> Response:
        c = self.campaigns.get(f.get("campaign_id", ""))
        if c is None:
            return self._bad("No campaign with that campaign_id")
        return 200, {}, list(c["msg_ids"])

    def fn_get_campaign_recipients_status(self, f: dict) -> Response:
        c = self.campaigns.get(f.get("campaign_id", ""))
        if c is None:
            return self._bad("No campaign with that campaign_id")
        rows = []
        for mid in c["msg_ids"]:
            m = self.messages[mid]
            rows.append({"receiver": m["msisdn"], "message_id": mid, "status": self._status(m)})
        return 200, {}, rows

    # --------------------------------------------------------------- replies
    def fn_fetch_replies(self, f: dict) -> Response:
        floor = self.now() - REPLY_WINDOW
        if f.get("since_time"):
            try:
                since = datetime.strptime(f["since_time"], TIME_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                return self._bad("Parameter since_time must be YYYY-MM-DD hh:mm:ss")
            floor = max(floor, since)
        rows = [
            {"inserted": r["inserted"].strftime(TIME_FORMAT), "sender": r["sender"], "message": r["message"]}
            for r in self.replies
            if r["inserted"].replace(microsecond=0) > floor.replace(microsecond=0)
            and (not f.get("from_msisdn") or r["sender"] == f["from_msisdn"])
        ]
        return 200, {}, rows

    # --------------------------------------------------------------- contacts and groups
    def _upsert(self, msisdn: str, name: str, groups: list[str]) -> None:
        contact = self.contacts.setdefault(msisdn, {"name": name, "groups": []})
        contact["name"] = name
        for g in groups:
            if g and g not in contact["groups"]:
                contact["groups"].append(g)

    def fn_add_contact(self, f: dict) -> Response:
        msisdn, name = f.get("msisdn", "").strip(), f.get("name", "")
        if not msisdn.isdigit() or not name:
            return self._bad("Parameters msisdn and name are obligatory")
        self._upsert(msisdn, name, [g.strip() for g in f.get("group", "").split(";")])
        return 200, {}, {"msisdn": msisdn}

    def fn_add_contact_to_group(self, f: dict) -> Response:
        msisdn, group = f.get("msisdn", "").strip(), f.get("group", "")
        if msisdn not in self.contacts or not group:
            return self._bad("No contact with that msisdn")
        if group not in self.contacts[msisdn]["groups"]:
            self.contacts[msisdn]["groups"].append(group)
        return 200, {}, {"msisdn": msisdn, "group": group}

    def fn_rm_contact_from_group(self, f: dict) -> Response:
        msisdn, group = f.get("msisdn", "").strip(), f.get("group", "")
        if msisdn not in self.contacts:
            return self._bad("No contact with that msisdn")
        if group in self.contacts[msisdn]["groups"]:
            self.contacts[msisdn]["groups"].remove(group)
        return 200, {}, {"msisdn": msisdn, "group": group}

    def fn_rm_contact(self, f: dict) -> Response:
        if self.contacts.pop(f.get("msisdn", "").strip(), None) is None:
            return self._bad("No contact with that msisdn")
        return 200, {}, {"successes": "done"}

    def fn_get_groups_from_msisdn(self, f: dict) -> Response:
        contact = self.contacts.get(f.get("msisdn", "").strip())
        if contact is None:
            return self._bad("No contact with that msisdn")
        return 200, {}, {"groups": list(contact["groups"])}

    def fn_export_contacts_list(self, f: dict) -> Response:
        try:
            limit = int(f.get("max") or 100)
            offset = int(f.get("offset") or 0)
        except ValueError:
            return self._bad("max and offset must be integers")
        if limit > 10000 or limit < 1:
            return self._bad("max must be between 1 and 10000")
        rows = [
            {"msisdn": k, "name": v["name"], "groups": list(v["groups"])}
            for k, v in sorted(self.contacts.items())[offset : offset + limit]
        ]
        return 200, {}, {"export": rows}

    def fn_import_contacts_list(self, f: dict) -> Response:
        text = f.get("contacts_list")
        if not text:
            return self._bad("contacts_list or contacts_list_url is obligatory")
        for n, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            cols = [c.strip() for c in line.replace(",", ";").split(";")]
            if not cols[0].isdigit() or len(cols) < 2:
                return self._bad(f"Line {n}: msisdn;name is required")
            self._upsert(cols[0], cols[1], cols[2:])
        return 200, {}, {"successes": "done"}

    # --------------------------------------------------------------- blocklist
    def fn_add_to_blocklist(self, f: dict) -> Response:
        msisdn = f.get("msisdn", "").strip()
        if not msisdn.isdigit():
            return self._bad("Parameter msisdn is obligatory")
        self.blocklist.add(msisdn)
        return 200, {}, {"successes": "done"}

    def fn_rm_from_blocklist(self, f: dict) -> Response:
        msisdn = f.get("msisdn", "").strip()
        if msisdn not in self.blocklist:
            return self._bad("The number is not in the blocklist")
        self.blocklist.discard(msisdn)
        return 200, {}, {"successes": "done"}

    def fn_check_if_in_blocklist(self, f: dict) -> Response:
        msisdn = f.get("msisdn", "").strip()
        if not msisdn.isdigit():
            return self._bad("Parameter msisdn is obligatory")
        return 200, {}, {"in_blocklist": msisdn in self.blocklist}


if __name__ == "__main__":  # pragma: no cover - manual use: python -m providers.fakes.jojka
    fake = JojkaFake(port=8801)
    print(f"Jojka fake on {fake.api_url} (API key {fake.api_key})")
    fake.serve_forever()
