import pytest


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Dashboard figures are cached; every test starts without them."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
