"""Browser journeys: pytest-playwright (sync API) against Django's ``live_server``, on Debian's Chromium.

Use in a test module under tests/browser/::

    pytestmark = pytest.mark.browser

    def test_something(logged_in_page, screenshot, live_server):
        page = logged_in_page(roles.MARKETER)          # a Playwright page with a signed-in session
        page.goto(live_server.url + "/contacts/")
        screenshot(page, "contacts-list")              # test-results/screenshots/<test name>/contacts-list.png

Chromium comes from the system (``/usr/bin/chromium``, or ``SMSPORTAL_CHROMIUM``); when it is missing, the
browser tests are skipped with a message (CI installs it). ``SMSPORTAL_SKIP_BROWSER=1`` skips them too
(tests/conftest.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

# live_server runs Django in a thread while Playwright's sync API runs an event loop in this one; Django's
# async-safety check would refuse ORM calls from the test body otherwise.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("SMSPORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}


def pytest_collection_modifyitems(config, items):
    """Every test in this folder is a browser test, so ``-m "not browser"`` always leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.path)).is_relative_to(here) and "browser" not in item.keywords:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        why = f"Chromium not found at {CHROMIUM}: install it (apt-get install chromium) or set SMSPORTAL_CHROMIUM"
        if os.environ.get("SMSPORTAL_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SMSPORTAL_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT, "locale": "en-GB", "timezone_id": "Europe/Stockholm"}


@pytest.fixture
def page(page):
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def screenshot(request):
    """``screenshot(page, "step")`` saves test-results/screenshots/<test name>/<step>.png and returns the path.

    ``SMSPORTAL_SCREENSHOTS_DIR`` puts them elsewhere (pytest-playwright empties test-results/ at the start of
    every pytest session, including ones that run no browser test).
    """
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    base = os.environ.get("SMSPORTAL_SCREENSHOTS_DIR") or Path(request.config.rootpath) / "test-results" / "screenshots"
    folder = Path(base) / test_name

    def take(page, step: str, *, full_page: bool = True) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', step)}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture
def workspace_live(transactional_db):
    """The workspace for a live-server test. Transactional tests flush the database after each test, which
    also removes the role groups the data migration created, so they are created again here."""
    from importlib import import_module

    from django.apps import apps
    from django.core.cache import cache

    from tests.factories import WorkspaceSettingsFactory

    import_module("smsportal.migrations.0002_roles").create_roles(apps, None)
    cache.clear()  # the live server shares this process's cache: no dashboard figures from another test
    return WorkspaceSettingsFactory(name="Acme Retail", timezone="Europe/Stockholm", default_country="SE")


@pytest.fixture
def logged_in_page(page, live_server, workspace_live):
    """``logged_in_page(role, username=None)``: the Playwright page, signed in as a new user with that role.

    The session is created server-side (no login form round trip) and handed to the browser as its cookie.
    """
    from django.conf import settings
    from django.test import Client

    from tests.factories import UserFactory

    def login(role: str, *, username: str | None = None, **user_fields):
        user = UserFactory(username=username or role.lower(), role=role, **user_fields)
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
        )
        page.user = user
        return page

    return login
