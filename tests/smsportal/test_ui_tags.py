"""Navigation, tolerant links and the shared template tags."""

import pytest
from django.template import Context, Template
from django.test import RequestFactory, override_settings
from django.urls import include, path

from smsportal import roles
from smsportal.templatetags import ui
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _fake_view(request):  # pragma: no cover - never called
    raise AssertionError


contacts_patterns = (
    [
        path("", _fake_view, name="list"),
        path("groups/", _fake_view, name="groups"),
    ],
    "contacts",
)
urlpatterns = [
    path("", _fake_view, name="dashboard"),
    path("contacts/", include(contacts_patterns)),
]


def _request(path_, user):
    request = RequestFactory().get(path_)
    request.user = user
    return request


def _entries(sections):
    return {entry["item"].url_name: entry for section in sections for entry in section["items"]}


@override_settings(ROOT_URLCONF=__name__)
def test_nav_marks_missing_pages_disabled_and_active_by_longest_prefix():
    user = UserFactory(username="op", role=roles.OPERATOR)
    entries = _entries(ui.build_nav(_request("/contacts/groups/7/", user)))
    assert entries["contacts:groups"]["active"] and entries["contacts:groups"]["url"] == "/contacts/groups/"
    assert not entries["contacts:list"]["active"] and not entries["dashboard"]["active"]
    assert entries["campaigns:list"]["url"] is None  # not built yet: rendered disabled, no crash
    entries = _entries(ui.build_nav(_request("/contacts/", user)))
    assert entries["contacts:list"]["active"]
    entries = _entries(ui.build_nav(_request("/", user)))
    assert entries["dashboard"]["active"] and not entries["contacts:list"]["active"]


@override_settings(ROOT_URLCONF=__name__)
def test_sidebar_renders_disabled_items_and_hides_items_above_the_role():
    user = UserFactory(username="m", role=roles.MARKETER)
    html = Template("{% load ui %}{% sidebar_nav %}").render(Context({"request": _request("/", user)}))
    assert '<a class="nav-link" href="/contacts/">' in html
    assert 'aria-disabled="true"' in html and "Campaigns" in html
    assert "Providers" not in html and "Users" not in html and "Audit log" not in html


def test_nav_for_approver_includes_audit_log():
    user = UserFactory(username="a", role=roles.APPROVER)
    entries = _entries(ui.build_nav(_request("/workspace/audit/", user)))
    assert entries["smsportal:audit"]["active"]
    assert "smsportal:users" not in entries and "providers:accounts" not in entries


def test_inbox_badge_counts_unread_replies_capped():
    from tests.factories import InboundMessageFactory

    user = UserFactory(username="m", role=roles.MARKETER)
    InboundMessageFactory.create_batch(3)
    InboundMessageFactory(status="closed")
    assert ui._badge_inbox_unread() == "3"
    from smsportal.selectors import inbox_unread_count

    assert inbox_unread_count(limit=2) == 2
    assert user  # the badge is computed for any role that sees the Inbox


@override_settings(ROOT_URLCONF=__name__)
def test_nav_link_tag():
    user = UserFactory(username="m", role=roles.MARKETER)
    ctx = Context({"request": _request("/contacts/", user)})
    html = Template('{% load ui %}{% nav_link "contacts:list" "Contacts" "people" %}').render(ctx)
    assert 'class="nav-link active"' in html and 'href="/contacts/"' in html and "bi-people" in html
    html = Template('{% load ui %}{% nav_link "campaigns:list" "Campaigns" %}').render(ctx)
    assert "disabled" in html and "href" not in html
    html = Template('{% load ui %}{% nav_link "contacts:list" "Contacts" "" "Operator" %}').render(ctx)
    assert html == ""


@override_settings(ROOT_URLCONF=__name__)
def test_url_if():
    assert ui.url_if("contacts:list", status="opted_out", q="") == "/contacts/?status=opted_out"
    assert ui.url_if("contacts:list") == "/contacts/"
    assert ui.url_if("campaigns:list", status="draft") == ""
    html = Template('{% load ui %}{% url_if "contacts:groups" as u %}[{{ u }}]').render(Context())
    assert html == "[/contacts/groups/]"


def test_status_badge_and_filters():
    html = Template('{% load ui %}{% status_badge "delivered" "Delivered" %}|{% status_badge "weird" %}').render(
        Context()
    )
    assert html == (
        '<span class="badge badge-status tone-success">Delivered</span>|'
        '<span class="badge badge-status tone-muted">Weird</span>'
    )
    assert ui.percent(1, 3) == 33 and ui.percent(5, 0) == 0 and ui.percent("x", 2) == 0
    assert ui.get_item({"a": 1}, "a") == 1 and ui.get_item(None, "a") is None
    user = UserFactory(username="anna.berg", first_name="Anna", last_name="Berg")
    assert ui.initials(user) == "AB"
    assert ui.initials(UserFactory(username="zed")) == "ZE"


def test_widget_filter_marks_invalid_fields():
    from smsportal.forms import UserRoleForm

    form = UserRoleForm(data={"role": "nope"})
    assert not form.is_valid()
    html = ui.widget(form["role"])
    assert "is-invalid" in html and 'aria-invalid="true"' in html and 'aria-describedby="id_role_errors"' in html
