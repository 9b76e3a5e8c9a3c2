"""Shared fixtures: users per role, a strict ``responses`` mock, the workspace, the sandbox account."""

import os

import pytest
import responses as responses_lib

from smsportal import roles

from .factories import ProviderAccountFactory, UserFactory, WorkspaceSettingsFactory


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def workspace(db):
    return WorkspaceSettingsFactory()


@pytest.fixture
def marketer(db):
    return UserFactory(username="marketer", role=roles.MARKETER)


@pytest.fixture
def approver(db):
    return UserFactory(username="approver", role=roles.APPROVER)


@pytest.fixture
def operator(db):
    return UserFactory(username="operator", role=roles.OPERATOR, is_staff=True)


@pytest.fixture
def marketer_client(client, marketer):
    client.force_login(marketer)
    return client


@pytest.fixture
def approver_client(client, approver):
    client.force_login(approver)
    return client


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def sandbox_account(db):
    return ProviderAccountFactory(name="Sandbox", provider="sandbox")


@pytest.fixture
def mocked_responses():
    """``responses`` that fails the test on any unexpected or unused HTTP call (the network is never real)."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture(autouse=True)
def _no_real_network(request, monkeypatch):
    """Outside ``mocked_responses`` and local fake servers, any HTTP call to a non-local host fails loudly."""
    import socket

    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in {"localhost", "::1"} or host.startswith("/")
        ):
            raise RuntimeError(f"Tests must not reach the network (tried {address!r})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SMSPORTAL_SKIP_BROWSER") == "1":
        skip = pytest.mark.skip(reason="SMSPORTAL_SKIP_BROWSER=1")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)
