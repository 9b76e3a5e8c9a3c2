"""Adapter registry, built from ``settings.SMSPORTAL_ADAPTERS`` (dotted paths), like RapidPro's channel types."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from .base import BaseAdapter
from .http import db_logger
from .types import AccountConfig


@cache
def _registry(paths: tuple[str, ...]) -> dict[str, type[BaseAdapter]]:
    registry: dict[str, type[BaseAdapter]] = {}
    for path in paths:
        cls = import_string(path)
        if not cls.code or cls.code in registry:
            raise ValueError(f"adapter {path} has an empty or duplicate code {cls.code!r}")
        registry[cls.code] = cls
    return registry


def registry() -> dict[str, type[BaseAdapter]]:
    return _registry(tuple(settings.SMSPORTAL_ADAPTERS))


def adapter_codes() -> list[str]:
    return list(registry())


def adapter_choices() -> list[tuple[str, str]]:
    return [(code, cls.name) for code, cls in registry().items()]


def get_adapter_class(code: str) -> type[BaseAdapter]:
    try:
        return registry()[code]
    except KeyError:
        raise LookupError(f"No adapter registered for provider {code!r}") from None


def account_config(account) -> AccountConfig:
    return AccountConfig(
        id=account.pk,
        uuid=str(account.uuid),
        name=account.name,
        base_url=account.base_url,
        credentials=dict(account.credentials or {}),
        options=dict(account.options or {}),
        default_sender=account.default_sender,
        webhook_token=account.webhook_token,
    )


def adapter_for(account, **kwargs) -> BaseAdapter:
    """An adapter instance for a ProviderAccount, logging every call to its ProviderRequestLog."""
    cls = get_adapter_class(account.provider)
    kwargs.setdefault("log", db_logger(account.pk))
    kwargs.setdefault("timeout", tuple(settings.PROVIDER_HTTP_TIMEOUT))
    return cls(account_config(account), **kwargs)
