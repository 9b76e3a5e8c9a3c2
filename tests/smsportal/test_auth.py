"""Sign-in, sign-out, password change, and the login requirement on every page."""

import pytest
from django.urls import reverse

from smsportal import roles
from smsportal.models import AuditLog
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def test_login_page_renders_for_anonymous(client, workspace):
    resp = client.get(reverse("login"))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "Sign in" in html and "Test workspace" in html
    assert 'name="username"' in html and 'class="form-control"' in html


def test_login_redirects_to_dashboard_and_is_audited(client, workspace):
    user = UserFactory(username="anna", role=roles.MARKETER)
    resp = client.post(reverse("login"), {"username": "anna", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
    assert resp.status_code == 302 and resp["Location"] == reverse("dashboard")
    entry = AuditLog.objects.get(action=AuditLog.Action.LOGIN)
    assert entry.actor == user and entry.actor_label == "anna"
    assert entry.object_type == "auth.user" and entry.object_id == str(user.pk)
    assert entry.changes == {"ip": "10.1.2.3"}


def test_login_with_wrong_password_shows_error_and_is_not_audited(client, workspace):
    UserFactory(username="anna", role=roles.MARKETER)
    resp = client.post(reverse("login"), {"username": "anna", "password": "nope"})
    assert resp.status_code == 200
    assert "Please enter a correct username and password" in resp.content.decode()
    assert not AuditLog.objects.filter(action=AuditLog.Action.LOGIN).exists()


def test_login_follows_safe_next_only(client, workspace):
    UserFactory(username="anna", role=roles.OPERATOR)
    resp = client.post(
        reverse("login") + "?next=/workspace/users/",
        {"username": "anna", "password": PASSWORD, "next": "/workspace/users/"},
    )
    assert resp["Location"] == "/workspace/users/"
    client.logout()
    resp = client.post(reverse("login"), {"username": "anna", "password": PASSWORD, "next": "https://evil.example/"})
    assert resp["Location"] == reverse("dashboard")


def test_inactive_user_cannot_sign_in(client, workspace):
    user = UserFactory(username="gone", role=roles.OPERATOR)
    user.is_active = False
    user.save()
    resp = client.post(reverse("login"), {"username": "gone", "password": PASSWORD})
    assert resp.status_code == 200 and "_auth_user_id" not in client.session


def test_logout_is_post_only(marketer_client):
    assert marketer_client.get(reverse("logout")).status_code == 405
    assert "_auth_user_id" in marketer_client.session
    resp = marketer_client.post(reverse("logout"), follow=True)
    assert resp.redirect_chain[-1][0] == reverse("login")
    assert "_auth_user_id" not in marketer_client.session
    assert "You are signed out." in resp.content.decode()


def test_password_change(client, workspace):
    user = UserFactory(username="anna", role=roles.MARKETER)
    client.force_login(user)
    page = client.get(reverse("password_change"))
    assert page.status_code == 200 and 'name="old_password"' in page.content.decode()

    bad = client.post(reverse("password_change"), {"old_password": "wrong", "new_password1": "x", "new_password2": "y"})
    assert bad.status_code == 200
    assert "is-invalid" in bad.content.decode()

    new = "a much better passphrase 42"
    resp = client.post(
        reverse("password_change"), {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert resp.status_code == 302 and resp["Location"] == reverse("password_change_done")
    user.refresh_from_db()
    assert user.check_password(new)
    assert client.get(reverse("password_change_done")).status_code == 200  # still signed in
    entry = AuditLog.objects.get(action=AuditLog.Action.UPDATE, object_id=str(user.pk))
    assert entry.changes == {"password": "changed by the user"}
    assert new not in str(entry.changes)


@pytest.mark.parametrize(
    "url",
    ["/", "/workspace/settings/", "/workspace/users/", "/workspace/audit/", "/accounts/password/"],
)
def test_anonymous_is_sent_to_login(client, workspace, url):
    resp = client.get(url)
    assert resp.status_code == 302
    assert resp["Location"] == f"{reverse('login')}?next={url}"


def test_pages_open_without_login(client, workspace):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).status_code in (200, 503)
