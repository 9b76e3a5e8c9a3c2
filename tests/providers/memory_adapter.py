"""A sandbox-like test adapter with everything the sandbox lacks: a provider-side address book (contacts,
groups, blocklist) kept in memory per account, delivery and reply callbacks, reply polling, and a connection
test that makes a real (``responses``-mocked) HTTP call so the request log and redaction are exercised.

Registered only in tests (``settings.SMSPORTAL_ADAPTERS`` fixture ``memory_provider``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from providers.adapters.base import CredentialField, Feature, WebhookKind
from providers.adapters.exceptions import ProviderAuthError, WebhookAuthError, WebhookError
from providers.adapters.sandbox import SandboxAdapter
from providers.adapters.types import (
    AccountCheck,
    DeliveryReport,
    InboundSMS,
    SyncBlockEntry,
    SyncContact,
    SyncGroup,
    WebhookRequest,
)

BASE_URL = "https://memory.example.invalid/api"


@dataclass
class Store:
    contacts: dict[str, dict] = field(default_factory=dict)  # external id → {phone, first_name, last_name, groups}
    groups: dict[str, str] = field(default_factory=dict)  # external id → name
    blocklist: dict[str, str] = field(default_factory=dict)  # phone → reason
    replies: list[InboundSMS] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)
    since_seen: list = field(default_factory=list)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))


STORES: dict[str, Store] = {}


def store_for(account) -> Store:
    return STORES.setdefault(str(account.uuid), Store())


class MemoryAdapter(SandboxAdapter):
    code = "memory"
    name = "Memory provider"
    default_base_url = BASE_URL
    features = SandboxAdapter.features | {
        Feature.CONTACTS_SYNC,
        Feature.GROUPS_SYNC,
        Feature.BLOCKLIST_SYNC,
        Feature.DELIVERY_WEBHOOK,
        Feature.INBOUND_WEBHOOK,
        Feature.INBOUND_POLL,
    }
    credential_fields = (
        CredentialField("username", "User name"),
        CredentialField("api_key", "API key", secret=True),
        CredentialField("webhook_secret", "Webhook secret", secret=True, required=False),
    )
    option_fields = (CredentialField("region", "Region", required=False, initial="eu"),)
    webhook_kinds = (WebhookKind.DELIVERY, WebhookKind.INBOUND)
    sync_batch_size = 3  # small, so tests cross batch boundaries

    @property
    def store(self) -> Store:
        return store_for(self.account)

    # --------------------------------------------------------------- account
    def check(self) -> AccountCheck:
        key = self.cred("api_key")
        self.http.add_secret(key)
        response = self.http.request(
            "GET",
            self.url("balance"),
            operation="check",
            params={"user": self.cred("username"), "key": key},
            headers={"Authorization": f"Bearer {key}", "X-Echo": key},
            error_hook=self._error,
        )
        data = response.json()
        return AccountCheck(
            ok=True,
            balance=Decimal(str(data["balance"])),
            currency=data["currency"],
            detail=f"Connected as {self.cred('username')}",
        )

    def _error(self, response):
        if response.status_code == 401:
            data = response.json()
            return ProviderAuthError(
                f"Memory: {data['error']}",
                code=data.get("code", "AUTH"),
                provider_message=data["error"],
                status_code=401,
            )
        return None

    # --------------------------------------------------------------- sync
    def pull_groups(self) -> Iterable[SyncGroup]:
        self.store.calls["pull_groups"] += 1
        for ext, name in list(self.store.groups.items()):
            yield SyncGroup(name=name, external_id=ext)

    def push_group(self, group: SyncGroup) -> str:
        self.store.calls["push_group"] += 1
        ext = group.external_id or next((e for e, n in self.store.groups.items() if n == group.name), "")
        ext = ext or f"g{next(self.store.ids)}"
        self.store.groups[ext] = group.name
        return ext

    def pull_contacts(self) -> Iterable[SyncContact]:
        self.store.calls["pull_contacts"] += 1
        for ext, c in list(self.store.contacts.items()):
            yield SyncContact(
                phone=c["phone"],
                first_name=c.get("first_name", ""),
                last_name=c.get("last_name", ""),
                attributes=dict(c.get("attributes", {})),
                groups=tuple(c.get("groups", ())),
                external_id=ext,
            )

    def push_contacts(self, contacts: Sequence[SyncContact]) -> list[str]:
        self.store.calls["push_contacts"] += 1
        self.store.calls["contacts_pushed"] += len(contacts)
        ids = []
        for c in contacts:
            ext = c.external_id or next((e for e, x in self.store.contacts.items() if x["phone"] == c.phone), "")
            ext = ext or f"c{next(self.store.ids)}"
            self.store.contacts[ext] = {
                "phone": c.phone,
                "first_name": c.first_name,
                "last_name": c.last_name,
                "attributes": dict(c.attributes),
                "groups": list(c.groups),
            }
            ids.append(ext)
        return ids

    def pull_blocklist(self) -> Iterable[SyncBlockEntry]:
        self.store.calls["pull_blocklist"] += 1
        for phone, reason in list(self.store.blocklist.items()):
            yield SyncBlockEntry(phone=phone, reason=reason)

    def push_blocklist(self, entries: Sequence[SyncBlockEntry]) -> int:
        self.store.calls["push_blocklist"] += 1
        for e in entries:
            self.store.blocklist[e.phone] = e.reason
        return len(entries)

    def remove_from_blocklist(self, phones: Sequence[str]) -> int:
        self.store.calls["remove_from_blocklist"] += 1
        for p in phones:
            self.store.blocklist.pop(p, None)
        return len(phones)

    # --------------------------------------------------------------- replies
    def fetch_replies(self, since: datetime | None = None) -> list[InboundSMS]:
        self.store.since_seen.append(since)
        return [r for r in self.store.replies if since is None or (r.received_at and r.received_at >= since)]

    # --------------------------------------------------------------- webhooks
    def verify_webhook(self, kind: WebhookKind, request: WebhookRequest, token: str) -> None:
        super().verify_webhook(kind, request, token)
        secret = self.cred("webhook_secret")
        if secret:
            expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, request.header("X-Signature")):
                raise WebhookAuthError("bad signature")

    def parse_webhook(self, kind: WebhookKind, request: WebhookRequest):
        payload = request.json()
        if not isinstance(payload, dict):
            raise WebhookError("not an object")
        if kind == WebhookKind.DELIVERY:
            return [
                DeliveryReport(
                    external_id=str(e["message_id"]),
                    status=self.map_status(e["status"]),
                    raw_status=e["status"],
                    event_id=str(e["id"]),
                    occurred_at=datetime.now(UTC),
                    raw=e,
                )
                for e in payload["events"]
            ]
        return [
            InboundSMS(
                external_id=str(m["id"]), from_phone=m["from"], text=m["text"], received_at=datetime.now(UTC), raw=m
            )
            for m in payload["messages"]
        ]

    def webhook_response(self, kind: WebhookKind):
        return 200, "application/json", '{"ok": true}'


# ------------------------------------------------------------------------------------------------ fixture helpers
# Fixtures live in the conftests of tests/providers/services and tests/providers/views (and in the top-level test
# modules that need them); they call these.
MEMORY_PATH = "tests.providers.memory_adapter.MemoryAdapter"


def register_memory_adapter(settings):
    """Register the memory adapter next to the real ones, with fresh stores (use from a fixture)."""
    settings.SMSPORTAL_ADAPTERS = [*settings.SMSPORTAL_ADAPTERS, MEMORY_PATH]
    STORES.clear()
    return MemoryAdapter


def make_memory_account(**kwargs):
    from tests.factories import ProviderAccountFactory

    defaults = {
        "name": "Memory",
        "provider": "memory",
        "credentials": {"username": "shop", "api_key": "mem-key-123456"},
        "options": {"region": "eu"},
    }
    return ProviderAccountFactory(**{**defaults, **kwargs})
