"""An encrypted JSON field for provider credentials (Fernet, keys from settings.CREDENTIALS_KEYS).

The database column only ever holds a Fernet token; the first key encrypts, every key decrypts, so keys can
be rotated by prepending a new one.
"""

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def fernet() -> MultiFernet:
    keys = tuple(settings.CREDENTIALS_KEYS)
    if not keys:
        raise ImproperlyConfigured("CREDENTIALS_KEY is not set")
    return _fernet(keys)


def encrypt_json(value: dict) -> str:
    return fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "Provider credentials cannot be decrypted: CREDENTIALS_KEY changed without keeping the old key"
        ) from exc


class EncryptedJSONField(models.TextField):
    """Stores a dict encrypted; reads give the dict back. Never rendered in forms (editable=False)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", dict)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return {}
        return decrypt_json(value)

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        if value in (None, ""):
            return {}
        return decrypt_json(value)

    def get_prep_value(self, value):
        if value is None:
            value = {}
        return encrypt_json(dict(value))
