"""Provider credentials are encrypted in the database: the raw column never holds a secret."""

import pytest
from django.db import connection

from providers.fields import decrypt_json
from providers.models import ProviderAccount


@pytest.mark.django_db
def test_raw_column_holds_no_secret_in_clear_text():
    account = ProviderAccount.objects.create(
        name="Real", provider="sandbox", credentials={"api_key": "VERY-SECRET-KEY-42", "client_secret": "hush-777"}
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM providers_provideraccount WHERE id = %s", [account.pk])
        raw = cursor.fetchone()[0]
    assert "VERY-SECRET-KEY-42" not in raw and "hush-777" not in raw and "api_key" not in raw
    assert raw.startswith("gAAAA")  # a Fernet token
    assert decrypt_json(raw)["api_key"] == "VERY-SECRET-KEY-42"
    assert ProviderAccount.objects.get(pk=account.pk).credentials["client_secret"] == "hush-777"


@pytest.mark.django_db
def test_key_rotation_reads_old_tokens(settings):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [old]
    account = ProviderAccount.objects.create(name="R", provider="sandbox", credentials={"k": "v"})
    settings.CREDENTIALS_KEYS = [new, old]
    assert ProviderAccount.objects.get(pk=account.pk).credentials == {"k": "v"}
