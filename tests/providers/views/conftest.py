"""Fixtures of the providers tests that need a provider with sync, callbacks and reply polling."""

import pytest

from tests.providers.memory_adapter import STORES, make_memory_account, register_memory_adapter


@pytest.fixture
def memory_provider(settings):
    yield register_memory_adapter(settings)
    STORES.clear()


@pytest.fixture
def memory_account(db, memory_provider):
    return make_memory_account()
