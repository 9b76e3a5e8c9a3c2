"""htmx helpers shared by every app.

Flash messages on htmx responses
    ``HtmxMessagesMiddleware`` moves pending django messages into the ``HX-Trigger`` header as
    ``{"showMessages": {"messages": [{"level": "success", "message": "…"}]}}`` whenever an htmx response
    did not render them itself; ``static/js/app.js`` shows them as toasts. So a view that handles an htmx
    POST simply calls ``messages.success(request, "…")`` and returns its partial. Redirect-like responses
    (3xx, ``HX-Redirect``, ``HX-Location``, ``HX-Refresh``) keep the messages for the next full page.

Table refresh
    ``refresh_tables(response)`` adds the ``tableRefresh`` client event: every htmx table on the page
    reloads itself (see ``smsportal/tables.py``).
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpResponse
from django_htmx.http import trigger_client_event

TABLE_REFRESH_EVENT = "tableRefresh"
MESSAGES_EVENT = "showMessages"

_REDIRECT_HEADERS = ("HX-Redirect", "HX-Location", "HX-Refresh")


def refresh_tables(response: HttpResponse) -> HttpResponse:
    """Tell every htmx table on the page to reload (after a create / update / delete / bulk action)."""
    return trigger_client_event(response, TABLE_REFRESH_EVENT, {})


def _merge_trigger(response: HttpResponse, name: str, params: dict) -> None:
    existing = response.headers.get("HX-Trigger")
    data: dict = {}
    if existing:
        try:
            parsed = json.loads(existing)
            data = parsed if isinstance(parsed, dict) else {}
        except ValueError:  # a plain event name list: "a, b"
            data = {event.strip(): {} for event in existing.split(",") if event.strip()}
    data[name] = params
    response.headers["HX-Trigger"] = json.dumps(data)


class HtmxMessagesMiddleware:
    """Deliver flash messages with htmx partial responses through ``HX-Trigger`` (shown as toasts)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if not htmx or getattr(htmx, "boosted", False):
            return response
        if 300 <= response.status_code < 400 or any(h in response.headers for h in _REDIRECT_HEADERS):
            return response
        storage = messages.get_messages(request)
        if getattr(storage, "used", True):  # the response already rendered them (or there is no storage)
            return response
        items = [{"level": m.level_tag or "info", "message": str(m.message)} for m in storage]
        if items:
            _merge_trigger(response, MESSAGES_EVENT, {"messages": items})
        return response
