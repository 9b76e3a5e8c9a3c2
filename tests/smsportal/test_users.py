"""Users page: list with roles, create, change role, deactivate/reactivate, set password; all audited."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from smsportal import roles
from smsportal.models import AuditLog
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


def _create_data(**overrides):
    data = {
        "username": "nina",
        "first_name": "Nina",
        "last_name": "Holm",
        "email": "nina@example.com",
        "role": roles.APPROVER,
        "password1": "a long enough passphrase",
        "password2": "a long enough passphrase",
    }
    data.update(overrides)
    return data


def test_list_shows_users_with_roles(operator_client, marketer, approver):
    html = operator_client.get(reverse("smsportal:users")).content.decode()
    assert f'id="user-{marketer.pk}"' in html and f'id="user-{approver.pk}"' in html
    assert '<option value="Marketer" selected>' in html and '<option value="Approver" selected>' in html


def test_list_queries_do_not_grow_with_users(operator_client, django_assert_max_num_queries):
    UserFactory.create_batch(15, role=roles.MARKETER)
    with django_assert_max_num_queries(12):
        assert operator_client.get(reverse("smsportal:users")).status_code == 200


def test_create_user(operator_client, operator):
    resp = operator_client.post(reverse("smsportal:user_create"), _create_data(), follow=True)
    assert "User nina created as Approver." in resp.content.decode()
    user = User.objects.get(username="nina")
    assert user.check_password("a long enough passphrase") and user.is_active
    assert roles.role_name(user) == roles.APPROVER
    entry = AuditLog.objects.get(action=AuditLog.Action.CREATE, object_type="auth.user")
    assert entry.actor == operator and entry.object_id == str(user.pk)
    assert entry.changes["role"] == [None, roles.APPROVER]
    assert "passphrase" not in json.dumps(entry.changes)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"username": "OPERATOR"}, "username", "already exists"),
        ({"username": "bad name!"}, "username", "Enter a valid username"),
        ({"password2": "something else"}, "password2", "not the same"),
        ({"password1": "123", "password2": "123"}, "password1", "too short"),
        ({"role": "Admin"}, "role", "Select a valid choice"),
        ({"email": "not-an-email"}, "email", "valid email"),
    ],
)
def test_create_user_errors_at_the_field(operator_client, operator, overrides, field, message):
    resp = operator_client.post(reverse("smsportal:user_create"), _create_data(**overrides))
    html = resp.content.decode()
    assert resp.status_code == 200
    assert f'id="id_{field}_errors"' in html and message in html
    assert not User.objects.filter(username__in=["nina", "bad name!"]).exists()


def test_change_role_with_htmx_returns_the_row_and_a_toast(operator_client, marketer):
    resp = operator_client.post(
        reverse("smsportal:user_role", args=[marketer.pk]), {"role": roles.APPROVER}, headers={"HX-Request": "true"}
    )
    assert resp.status_code == 200
    html = resp.content.decode()
    assert html.strip().startswith(f'<tr id="user-{marketer.pk}"')
    assert "<html" not in html
    assert '<option value="Approver" selected>' in html
    trigger = json.loads(resp["HX-Trigger"])
    assert trigger["showMessages"]["messages"] == [{"level": "success", "message": "marketer is now Approver."}]
    assert roles.role_name(User.objects.get(pk=marketer.pk)) == roles.APPROVER
    entry = AuditLog.objects.get(action=AuditLog.Action.UPDATE, object_id=str(marketer.pk))
    assert entry.changes == {"role": [roles.MARKETER, roles.APPROVER]}


def test_change_role_without_htmx_redirects_with_message(operator_client, marketer):
    resp = operator_client.post(
        reverse("smsportal:user_role", args=[marketer.pk]), {"role": roles.OPERATOR}, follow=True
    )
    assert resp.redirect_chain[-1][0] == reverse("smsportal:users")
    assert "marketer is now Operator." in resp.content.decode()


def test_invalid_role_changes_nothing(operator_client, marketer):
    resp = operator_client.post(
        reverse("smsportal:user_role", args=[marketer.pk]), {"role": "Superhero"}, headers={"HX-Request": "true"}
    )
    assert resp.status_code == 200
    assert "Choose one of the roles" in resp["HX-Trigger"]
    assert roles.role_name(User.objects.get(pk=marketer.pk)) == roles.MARKETER


def test_last_operator_cannot_be_demoted_or_deactivated(operator_client, operator):
    from django.test import Client

    resp = operator_client.post(
        reverse("smsportal:user_role", args=[operator.pk]), {"role": roles.MARKETER}, follow=True
    )
    assert "last active Operator" in resp.content.decode()
    assert roles.role_name(User.objects.get(pk=operator.pk)) == roles.OPERATOR

    other = UserFactory(username="op2", role=roles.OPERATOR)
    other_client = Client()
    other_client.force_login(other)
    resp = other_client.post(reverse("smsportal:user_active", args=[operator.pk]), {"active": "0"}, follow=True)
    assert "is deactivated" in resp.content.decode()  # op2 is still an active Operator, so this is allowed
    # now op2 is the last active Operator: it cannot step down
    resp = other_client.post(reverse("smsportal:user_role", args=[other.pk]), {"role": roles.MARKETER}, follow=True)
    assert "op2 is the last active Operator" in resp.content.decode()
    assert roles.role_name(User.objects.get(pk=other.pk)) == roles.OPERATOR


def test_deactivate_and_reactivate(operator_client, operator, marketer):
    url = reverse("smsportal:user_active", args=[marketer.pk])
    resp = operator_client.post(url, {"active": "0"}, headers={"HX-Request": "true"})
    assert "Deactivated" in resp.content.decode()
    marketer.refresh_from_db()
    assert not marketer.is_active
    operator_client.post(url, {"active": "1"})
    marketer.refresh_from_db()
    assert marketer.is_active
    changes = list(AuditLog.objects.filter(object_id=str(marketer.pk)).order_by("id").values_list("changes", flat=True))
    assert changes == [{"is_active": [True, False]}, {"is_active": [False, True]}]


def test_cannot_deactivate_yourself(operator_client, operator):
    UserFactory(username="op2", role=roles.OPERATOR)
    resp = operator_client.post(reverse("smsportal:user_active", args=[operator.pk]), {"active": "0"}, follow=True)
    assert "You cannot deactivate your own account." in resp.content.decode()
    operator.refresh_from_db()
    assert operator.is_active


def test_deactivated_user_loses_access(operator_client, marketer):
    from django.test import Client

    marketer_client = Client()
    marketer_client.force_login(marketer)
    assert marketer_client.get("/").status_code == 200
    operator_client.post(reverse("smsportal:user_active", args=[marketer.pk]), {"active": "0"})
    assert marketer_client.get("/").status_code == 302


def test_set_password_for_another_user(operator_client, operator, marketer):
    url = reverse("smsportal:user_password", args=[marketer.pk])
    assert operator_client.get(url).status_code == 200
    resp = operator_client.post(url, {"password1": "short", "password2": "short"})
    assert "too short" in resp.content.decode()
    resp = operator_client.post(url, {"password1": "new secret phrase 9", "password2": "new secret phrase 9"})
    assert resp.status_code == 302
    marketer.refresh_from_db()
    assert marketer.check_password("new secret phrase 9")
    entry = AuditLog.objects.get(object_id=str(marketer.pk), action=AuditLog.Action.UPDATE)
    assert entry.changes == {"password": "changed"}


def test_own_password_goes_through_the_change_password_page(operator_client, operator):
    resp = operator_client.get(reverse("smsportal:user_password", args=[operator.pk]))
    assert resp.status_code == 302 and resp["Location"] == reverse("password_change")


def test_unknown_user_is_404(operator_client):
    assert operator_client.post(reverse("smsportal:user_role", args=[99999]), {"role": "Marketer"}).status_code == 404
