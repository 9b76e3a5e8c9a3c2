"""Role enforcement on the workspace pages (server side), and what the navigation shows per role."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

OPERATOR_PAGES = ["/workspace/settings/", "/workspace/users/", "/workspace/users/new/"]
APPROVER_PAGES = ["/workspace/audit/"]


@pytest.mark.parametrize("url", OPERATOR_PAGES + APPROVER_PAGES)
def test_marketer_gets_403(marketer_client, workspace, url):
    resp = marketer_client.get(url)
    assert resp.status_code == 403
    assert "have access to this page" in resp.content.decode()


@pytest.mark.parametrize("url", OPERATOR_PAGES)
def test_approver_gets_403_on_operator_pages(approver_client, workspace, url):
    assert approver_client.get(url).status_code == 403


def test_approver_reads_audit_log(approver_client, workspace):
    assert approver_client.get("/workspace/audit/").status_code == 200


@pytest.mark.parametrize("url", OPERATOR_PAGES + APPROVER_PAGES + ["/"])
def test_operator_opens_everything(operator_client, workspace, url):
    assert operator_client.get(url).status_code == 200


def test_marketer_cannot_post_to_operator_actions(marketer_client, workspace, operator):
    urls = [
        reverse("smsportal:settings"),
        reverse("smsportal:user_role", args=[operator.pk]),
        reverse("smsportal:user_active", args=[operator.pk]),
        reverse("smsportal:user_password", args=[operator.pk]),
        reverse("smsportal:user_create"),
    ]
    for url in urls:
        assert marketer_client.post(url, {"role": "Marketer", "active": "0", "name": "x"}).status_code == 403, url
    operator.refresh_from_db()
    assert operator.is_active


def test_user_without_role_gets_403_on_dashboard(client, workspace):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="norole"))
    assert client.get("/").status_code == 403


def test_navigation_per_role(marketer_client, workspace):
    html = marketer_client.get("/").content.decode()
    assert 'href="/workspace/users/"' not in html and 'href="/workspace/settings/"' not in html
    assert 'href="/workspace/audit/"' not in html
    assert "Marketer" in html  # the role is shown in the user menu


def test_navigation_for_operator(operator_client, workspace):
    html = operator_client.get("/").content.decode()
    for href in ("/workspace/users/", "/workspace/settings/", "/workspace/audit/"):
        assert f'href="{href}"' in html
    assert 'action="/accounts/logout/"' in html and 'method="post"' in html
