"""Error pages in the app's look, and flash messages delivered to htmx requests."""

import json

import pytest
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.test import RequestFactory

from smsportal import views
from smsportal.htmx import HtmxMessagesMiddleware, refresh_tables

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]


def test_404_in_the_app_shell_for_signed_in_users(production, marketer_client, workspace):
    resp = marketer_client.get("/no/such/page/")
    html = resp.content.decode()
    assert resp.status_code == 404
    assert "We couldn't find that page" in html and "app-sidebar" in html


def test_404_standalone_for_anonymous(production, client, workspace):
    resp = client.get("/no/such/page/")
    html = resp.content.decode()
    assert resp.status_code == 404 and "We couldn't find that page" in html and "app-sidebar" not in html
    assert "/static/css/app.css" in html


def test_403_page_names_the_missing_role(production, marketer_client, workspace):
    resp = marketer_client.get("/workspace/users/")
    assert resp.status_code == 403
    assert "This page needs the Operator role." in resp.content.decode()


def test_403_for_htmx_is_a_small_fragment(production, marketer_client, workspace):
    resp = marketer_client.get("/workspace/users/", headers={"HX-Request": "true"})
    assert resp.status_code == 403
    assert "<html" not in resp.content.decode() and "Operator role" in resp.content.decode()


def test_500_renders_without_database_or_request_context(django_assert_num_queries):
    request = RequestFactory().get("/")
    with django_assert_num_queries(0):
        resp = views.server_error(request)
    html = resp.content.decode()
    assert resp.status_code == 500
    assert "Something went wrong on our side" in html and "/static/css/app.css" in html


def test_500_falls_back_to_plain_html_if_the_template_breaks(monkeypatch):
    def broken(name):
        raise RuntimeError("template engine down")

    monkeypatch.setattr(views.loader, "get_template", broken)
    resp = views.server_error(RequestFactory().get("/"))
    assert resp.status_code == 500 and b"Server error" in resp.content


def test_500_handler_is_wired(production, client, workspace, monkeypatch):
    from smsportal import selectors

    def explode():
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "contact_counts", explode)
    client.raise_request_exception = False
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="op", role="Operator"))
    resp = client.get("/")
    assert resp.status_code == 500 and "Something went wrong on our side" in resp.content.decode()


# --- flash messages on htmx responses --------------------------------------------------------------------
def _run(view, *, htmx=True, extra=None):
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore
    from django_htmx.middleware import HtmxMiddleware

    headers = {"HX-Request": "true"} if htmx else {}
    headers.update(extra or {})
    request = RequestFactory().get("/", headers=headers)
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return HtmxMiddleware(HtmxMessagesMiddleware(view))(request)


def _says(request):
    messages.success(request, "Saved <b>5</b> rows")
    messages.error(request, "One row failed")


def test_messages_go_to_hx_trigger_on_htmx_partials():
    def view(request):
        _says(request)
        return HttpResponse("<tr></tr>")

    resp = _run(view)
    assert json.loads(resp["HX-Trigger"]) == {
        "showMessages": {
            "messages": [
                {"level": "success", "message": "Saved <b>5</b> rows"},
                {"level": "error", "message": "One row failed"},
            ]
        }
    }


def test_messages_merge_with_other_triggers():
    def view(request):
        _says(request)
        return refresh_tables(HttpResponse(""))

    trigger = json.loads(_run(view)["HX-Trigger"])
    assert set(trigger) == {"tableRefresh", "showMessages"}


def test_messages_are_kept_for_redirects_and_full_pages():
    def redirecting(request):
        _says(request)
        return HttpResponseRedirect("/")

    def hx_redirect(request):
        _says(request)
        resp = HttpResponse("")
        resp["HX-Redirect"] = "/"
        return resp

    def not_htmx(request):
        _says(request)
        return HttpResponse("")

    assert "HX-Trigger" not in _run(redirecting)
    assert "HX-Trigger" not in _run(hx_redirect)
    assert "HX-Trigger" not in _run(not_htmx, htmx=False)
    assert "HX-Trigger" not in _run(not_htmx, extra={"HX-Boosted": "true"})


def test_messages_already_rendered_are_not_sent_twice():
    def view(request):
        _says(request)
        rendered = [str(m) for m in messages.get_messages(request)]
        return HttpResponse("".join(rendered))

    assert "HX-Trigger" not in _run(view)


def test_csrf_failure_page_in_the_app_look(workspace, marketer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    resp = client.post("/accounts/logout/")
    assert resp.status_code == 403
    assert "This form has expired" in resp.content.decode() and "/static/css/app.css" in resp.content.decode()
