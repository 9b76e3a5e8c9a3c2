"""Workspace settings page: validation at the field, audited changes, the time zone taking effect."""

import pytest
from django.urls import reverse

from smsportal.models import AuditLog, WorkspaceSettings

pytestmark = pytest.mark.django_db

URL = "/workspace/settings/"


def _data(**overrides):
    data = {
        "name": "Acme",
        "timezone": "Europe/Athens",
        "default_country": "GR",
        "default_sender": "ACME",
        "require_approval": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_page_shows_current_values_and_choices(operator_client, workspace):
    html = operator_client.get(URL).content.decode()
    assert 'value="Test workspace"' in html
    assert '<option value="Europe/Stockholm" selected>' in html
    assert '<option value="SE" selected>Sweden (SE, +46)</option>' in html
    assert "Greece (GR, +30)" in html


def test_save_updates_and_audits_the_changes(operator_client, operator, workspace):
    resp = operator_client.post(URL, _data(), follow=True)
    assert resp.redirect_chain[-1][0] == reverse("smsportal:settings")
    assert "Workspace settings saved." in resp.content.decode()
    ws = WorkspaceSettings.load()
    assert (ws.name, ws.timezone, ws.default_country, ws.default_sender, ws.require_approval) == (
        "Acme",
        "Europe/Athens",
        "GR",
        "ACME",
        True,
    )
    assert ws.updated_by == operator
    entry = AuditLog.objects.get(action=AuditLog.Action.SETTINGS)
    assert entry.actor == operator
    assert entry.changes == {
        "name": ["Test workspace", "Acme"],
        "timezone": ["Europe/Stockholm", "Europe/Athens"],
        "default_country": ["SE", "GR"],
        "default_sender": ["", "ACME"],
        "require_approval": [False, True],
    }


def test_saving_without_changes_writes_no_audit_entry(operator_client, workspace):
    operator_client.post(
        URL,
        _data(
            name="Test workspace",
            timezone="Europe/Stockholm",
            default_country="SE",
            default_sender="",
            require_approval=None,
        ),
    )
    assert not AuditLog.objects.filter(action=AuditLog.Action.SETTINGS).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "Select a valid choice"),
        ("default_country", "XX", "Select a valid choice"),
        ("name", "   ", "This field is required"),
        ("default_sender", "ThisIsTooLongForASender", "at most 11 characters"),
        ("default_sender", "Shöp", "at most 11 characters"),
        ("default_sender", "+12", "3 to 16 digits"),
    ],
)
def test_invalid_values_are_shown_at_the_field_and_nothing_changes(operator_client, workspace, field, value, message):
    resp = operator_client.post(URL, _data(**{field: value}))
    html = resp.content.decode()
    assert resp.status_code == 200
    assert f'id="id_{field}_errors"' in html and message in html
    assert 'aria-invalid="true"' in html
    ws = WorkspaceSettings.load()
    assert ws.name == "Test workspace" and ws.timezone == "Europe/Stockholm"
    assert not AuditLog.objects.filter(action=AuditLog.Action.SETTINGS).exists()


def test_new_time_zone_is_used_to_show_times(operator_client, workspace):
    operator_client.post(URL, _data(timezone="Asia/Tokyo"))
    html = operator_client.get("/").content.decode()
    assert "(Asia/Tokyo)" in html


def test_service_refuses_unknown_fields(operator):
    from smsportal.services import workspace_settings_update

    with pytest.raises(TypeError):
        workspace_settings_update(actor=operator, webhook_secret="x")
