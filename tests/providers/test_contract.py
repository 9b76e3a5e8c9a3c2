"""Contract tests: every adapter in the registry (settings.SMSPORTAL_ADAPTERS) must pass all of these.

Class-level shape (code, name, URLs, features, status map, credential fields, webhook kinds, limits), the
``send`` contract (one result per message, in order, rejected-by-limit results in place) against the adapter's
local fake server over real HTTP, a connection test against the fake, a failed test with a wrong secret, and
``ProviderNotSupported`` (raised before any HTTP call) for every operation the adapter does not offer.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.utils import timezone

from providers.adapters.base import BaseAdapter, CredentialField, Feature, WebhookKind
from providers.adapters.exceptions import ProviderError, ProviderNotSupported, ProviderValidationError
from providers.adapters.registry import get_adapter_class, registry
from providers.adapters.types import AccountCheck, AccountConfig, MessageStatus, OutboundSMS, SendResult, SyncGroup
from providers.adapters.types import WebhookRequest as WR
from providers.management.commands.fake_provider import fake_account_settings, fake_codes, start_fake

CODES = list(registry())  # the real registry, read at collection: the five providers plus the sandbox
NETWORK_FREE = {"sandbox"}  # adapters that make no HTTP call at all, so need no fake server


def adapter_class(code: str) -> type[BaseAdapter]:
    return get_adapter_class(code)


def config(code: str, **kwargs) -> AccountConfig:
    defaults = {
        "id": None,
        "uuid": "6f1c2a7e-0000-4000-8000-0000000000aa",
        "name": f"contract {code}",
        "base_url": "",
        "credentials": {},
        "options": {},
        "default_sender": "",
        "webhook_token": "contract-webhook-token",
    }
    defaults.update(kwargs)
    return AccountConfig(**defaults)


@pytest.fixture
def fake_adapter(request):
    """(adapter, fake) wired to the code's local fake server over real HTTP; (sandbox, None) for the sandbox."""
    code = request.param
    cls = adapter_class(code)
    if code in NETWORK_FREE:
        yield cls(config(code, options={"failure_rate": "0"})), None
        return
    fake = start_fake(code)
    try:
        acct = fake_account_settings(code, fake)
        yield cls(config(code, **acct)), fake
    finally:
        fake.stop()


def sender_for(adapter: BaseAdapter, fake=None) -> str:
    """A sender id the adapter accepts: the fake's own code if it has one, else a name, else a number."""
    codes = getattr(fake, "shortcodes", None) or ()
    for candidate in (*(str(c) for c in codes[:1]), "Shop", "46700000000"):
        try:
            adapter.validate_message(OutboundSMS(to="+46701234567", text="x", sender=candidate, client_ref="s"))
        except ProviderValidationError:
            continue
        return candidate
    raise AssertionError(f"{adapter.code} accepts none of the usual sender ids")


def test_every_provider_is_registered():
    assert {"sandbox", "jojka", "jooksms", "mobizon", "ogangi", "apifon"} <= set(CODES)


def test_every_network_adapter_has_a_fake_server():
    assert set(CODES) - NETWORK_FREE <= set(fake_codes())


# ---------------------------------------------------------------------------------------------- class shape
@pytest.mark.parametrize("code", CODES)
def test_identity_and_urls(code):
    cls = adapter_class(code)
    assert cls.code == code
    assert isinstance(cls.name, str) and cls.name.strip()
    assert isinstance(cls.default_base_url, str)
    if cls.default_base_url:
        parts = urlsplit(cls.default_base_url)
        assert parts.scheme in {"https", "sandbox"}, "a documented production URL must be https"
        assert parts.netloc
        assert not cls.default_base_url.endswith("/")
    else:
        # no single public address (per account: regional domain, customer host): the account form requires one
        assert cls.code in {"mobizon", "ogangi"}, f"{code} should document its production URL"


@pytest.mark.parametrize("code", CODES)
def test_features(code):
    cls = adapter_class(code)
    assert isinstance(cls.features, frozenset)
    assert all(isinstance(f, Feature) for f in cls.features)
    assert Feature.SEND in cls.features
    bulk = cls.features & {Feature.BATCH_SAME_TEXT, Feature.BATCH_PERSONAL}
    assert isinstance(cls.max_batch_size, int) and cls.max_batch_size >= 1
    assert (cls.max_batch_size > 1) == bool(bulk), "bulk features and max_batch_size must agree"
    assert isinstance(cls.status_batch_size, int) and cls.status_batch_size >= 1


@pytest.mark.parametrize("code", CODES)
def test_status_map(code):
    cls = adapter_class(code)
    assert all(isinstance(k, str) and k for k in cls.status_map)
    assert all(isinstance(v, MessageStatus) for v in cls.status_map.values())
    if cls.features & {Feature.STATUS_POLL, Feature.DELIVERY_WEBHOOK}:
        assert cls.status_map, "an adapter that reads statuses needs a status map"
        finals = {v for v in cls.status_map.values() if v.is_final}
        assert MessageStatus.DELIVERED in finals
        assert finals - {MessageStatus.DELIVERED}, "some failure status must be mapped"
    adapter = cls(config(code))
    assert adapter.map_status("certainly-not-a-status") == MessageStatus.UNKNOWN
    assert adapter.map_status(None) == MessageStatus.UNKNOWN


@pytest.mark.parametrize("code", CODES)
def test_credential_and_option_fields(code):
    cls = adapter_class(code)
    specs = (*cls.credential_fields, *cls.option_fields)
    names = [f.name for f in specs]
    assert len(names) == len(set(names)), "credential and option names must be unique together"
    for f in specs:
        assert isinstance(f, CredentialField)
        assert re.fullmatch(r"[a-z][a-z0-9_]*", f.name), f.name
        assert f.label.strip()
        if f.choices:
            assert all(isinstance(c, tuple) and len(c) == 2 for c in f.choices)
            if f.initial not in (None, ""):
                assert f.initial in {c[0] for c in f.choices}
    if code not in NETWORK_FREE:
        assert any(f.secret for f in cls.credential_fields), "a real provider authenticates with a secret"


@pytest.mark.parametrize("code", CODES)
def test_webhook_kinds_match_features(code):
    cls = adapter_class(code)
    assert all(isinstance(k, WebhookKind) for k in cls.webhook_kinds)
    assert (WebhookKind.DELIVERY in cls.webhook_kinds) == (Feature.DELIVERY_WEBHOOK in cls.features)
    assert (WebhookKind.INBOUND in cls.webhook_kinds) == (Feature.INBOUND_WEBHOOK in cls.features)


@pytest.mark.parametrize("code", CODES)
def test_limits_are_enforced_before_any_call(code, mocked_responses):
    adapter = adapter_class(code)(config(code))
    sender = sender_for(adapter)
    with pytest.raises(ProviderValidationError) as exc:
        adapter.validate_message(OutboundSMS(to="+46701234567", text="   ", sender=sender, client_ref="a" * 32))
    assert exc.value.field == "text"
    lim = adapter.limits
    assert lim.sender_max_length is not None or lim.sender_numeric_max_length is not None
    if lim.sender_max_length is not None:
        too_long = "S" * (lim.sender_max_length + 1)
    else:
        too_long = "4" * (lim.sender_numeric_max_length + 1)
    with pytest.raises(ProviderValidationError) as exc:
        adapter.validate_message(OutboundSMS(to="+46701234567", text="Hi", sender=too_long, client_ref="b" * 32))
    assert exc.value.field == "sender"
    if Feature.SCHEDULED not in adapter.features:
        with pytest.raises(ProviderValidationError):
            adapter.validate_send_at(timezone.now() + timedelta(days=1))


# ---------------------------------------------------------------------------------------------- behaviour
UNSUPPORTED_CALLS = {
    Feature.CANCEL: lambda a: a.cancel(["ext-1"]),
    Feature.STATUS_POLL: lambda a: a.fetch_statuses(["ext-1"]),
    Feature.INBOUND_POLL: lambda a: a.fetch_replies(since=None),
    Feature.RECONCILE: lambda a: a.reconcile([OutboundSMS(to="+46701234567", text="x", sender="", client_ref="r")]),
    Feature.CONTACTS_SYNC: lambda a: (list(a.pull_contacts()), a.push_contacts([])),
    Feature.GROUPS_SYNC: lambda a: (list(a.pull_groups()), a.push_group(SyncGroup(name="VIP"))),
    Feature.BLOCKLIST_SYNC: lambda a: (list(a.pull_blocklist()), a.push_blocklist([]), a.remove_from_blocklist([])),
    Feature.DELIVERY_WEBHOOK: lambda a: a.parse_webhook(WebhookKind.DELIVERY, WR("POST", "/", {}, {}, b"{}")),
    Feature.INBOUND_WEBHOOK: lambda a: a.parse_webhook(WebhookKind.INBOUND, WR("POST", "/", {}, {}, b"{}")),
}


NOT_OFFERED = [(c, f) for c in CODES for f in UNSUPPORTED_CALLS if f not in adapter_class(c).features]


@pytest.mark.parametrize(("code", "feature"), NOT_OFFERED, ids=[f"{c}-{f}" for c, f in NOT_OFFERED])
def test_unsupported_features_raise_not_supported_without_a_call(code, feature, mocked_responses):
    adapter = adapter_class(code)(config(code, base_url="https://unreachable.example.invalid"))
    with pytest.raises(ProviderNotSupported):
        UNSUPPORTED_CALLS[feature](adapter)
    assert len(mocked_responses.calls) == 0


@pytest.mark.parametrize("fake_adapter", CODES, indirect=True)
def test_send_returns_one_result_per_message_in_order(fake_adapter):
    adapter, fake = fake_adapter
    sender = sender_for(adapter, fake)
    messages = [
        OutboundSMS(to="+46701000001", text="Spring sale: 20% off", sender=sender, client_ref="a1" * 16),
        OutboundSMS(to="+46701000002", text="", sender=sender, client_ref="b2" * 16),  # rejected by our check
        OutboundSMS(to="+46701000003", text="Spring sale: 20% off", sender=sender, client_ref="c3" * 16),
        OutboundSMS(to="+46701000004", text="Hello Anna, your code is 1234", sender=sender, client_ref="d4" * 16),
    ]
    results = adapter.send(messages)
    assert [r.client_ref for r in results] == [m.client_ref for m in messages]
    assert all(isinstance(r, SendResult) and isinstance(r.status, MessageStatus) for r in results)
    assert results[1].status == MessageStatus.REJECTED and results[1].error_code == "limit"
    accepted = [results[i] for i in (0, 2, 3)]
    assert all(r.ok for r in accepted), [(r.status, r.error_code, r.error_message) for r in accepted]
    assert all(r.external_id for r in accepted)
    assert len({r.external_id for r in accepted}) == 3, "each message needs its own external id"


@pytest.mark.parametrize("fake_adapter", CODES, indirect=True)
def test_send_of_nothing_calls_nothing(fake_adapter):
    adapter, fake = fake_adapter
    assert adapter.send([]) == []
    if fake is not None:
        assert fake.requests == []


@pytest.mark.parametrize("fake_adapter", CODES, indirect=True)
def test_connection_check_against_the_fake(fake_adapter):
    adapter, _fake = fake_adapter
    result = adapter.check()
    assert isinstance(result, AccountCheck)
    assert result.ok
    if Feature.BALANCE in adapter.features and adapter.code not in NETWORK_FREE:
        assert result.balance is not None


@pytest.mark.parametrize("code", [c for c in CODES if c not in NETWORK_FREE])
def test_wrong_secret_fails_the_check_with_the_providers_words(code):
    cls = adapter_class(code)
    fake = start_fake(code)
    try:
        acct = fake_account_settings(code, fake)
        wrong = "WRONG-secret-0123456789"
        secret = next(f.name for f in cls.credential_fields if f.secret and acct["credentials"].get(f.name))
        acct["credentials"] = {**acct["credentials"], secret: wrong}
        adapter = cls(config(code, **acct))
        with pytest.raises(ProviderError) as exc:
            outcome = adapter.check()
            if not outcome.ok:  # an adapter may report instead of raising
                raise ProviderError(outcome.detail)
        text = str(exc.value) + exc.value.provider_message
        assert text.strip()
        assert wrong not in text, "the secret must not appear in the error"
        assert not exc.value.retryable
    finally:
        fake.stop()


def test_registry_matches_settings():
    assert [get_adapter_class(c).__module__ + "." + get_adapter_class(c).__name__ for c in CODES] == list(
        settings.SMSPORTAL_ADAPTERS
    )
