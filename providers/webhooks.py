"""Provider callbacks: one view for every provider, account and kind.

URL (choice documented in docs/providers.md)::

    {PUBLIC_BASE_URL}/providers/<code>/<account uuid>/<kind>/<token>/

The per-account token is in the *path*, not the query string: some providers (Mobizon) let the operator paste
only a URL, others (Apifon) take it in every send request, and a path survives both, proxies that drop query
strings, and providers that append their own query parameters. Adapters whose provider signs callbacks
(Mobizon's sha1 ``sign``) check that signature on top of the token in ``verify_webhook``.

Order of work, each step stopping the request: unknown account/kind → 404; ``adapter.verify_webhook`` fails
→ 403 and nothing stored; ``adapter.parse_webhook`` fails (malformed) → 400 and nothing stored; otherwise the
normalized ``DeliveryReport``s go to ``campaigns.reports.apply_delivery_reports`` and the ``InboundSMS`` to
``campaigns.inbound.inbound_record`` (both de-duplicate, so a provider's retry of the same callback is stored
once), and the adapter's ``webhook_response(kind)`` is returned. The work is a few indexed queries, well
inside the seconds providers wait (Mobizon: 5 s).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from .adapters.base import WebhookKind
from .adapters.exceptions import ProviderNotSupported, WebhookAuthError, WebhookError
from .adapters.types import WebhookRequest

logger = logging.getLogger("providers.webhooks")

ALLOWED_METHODS = ("POST", "GET", "HEAD")


def webhook_path(*, code: str, account_uuid: str, kind: WebhookKind | str, token: str) -> str:
    return reverse(
        "providers:webhook",
        kwargs={"code": code, "account_uuid": str(account_uuid), "kind": str(kind), "token": token},
    )


def webhook_url(account, kind: WebhookKind | str, *, code: str = "") -> str:
    """The absolute callback URL of ``account`` (a ProviderAccount or an adapter's AccountConfig) for ``kind``.

    Adapters that pass a callback URL in each request (Apifon ``callback_url``/``reply_url``) call this with
    ``self.account`` and ``code=self.code``.
    """
    code = code or getattr(account, "provider", "")
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return base + webhook_path(code=code, account_uuid=str(account.uuid), kind=kind, token=account.webhook_token)


def webhook_request(request: HttpRequest) -> WebhookRequest:
    """Django request → the framework-free shape adapters parse."""
    return WebhookRequest(
        method=request.method or "POST",
        path=request.path,
        headers=dict(request.headers.items()),
        query={k: request.GET.getlist(k) for k in request.GET},
        body=request.body,
        remote_addr=request.META.get("REMOTE_ADDR", ""),
    )


def _text(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@login_not_required
def webhook_view(request: HttpRequest, code: str, account_uuid, kind: str, token: str) -> HttpResponse:
    from .models import ProviderAccount
    from .services import webhook_events_apply

    if request.method not in ALLOWED_METHODS:
        response = _text(405, "Method not allowed")
        response["Allow"] = ", ".join(ALLOWED_METHODS)
        return response
    account = ProviderAccount.objects.filter(uuid=account_uuid, provider=code, is_active=True).first()
    if account is None:
        raise Http404("Unknown provider account")
    try:
        hook_kind = WebhookKind(kind)
        adapter_class = account.adapter_class
    except (ValueError, LookupError):
        raise Http404("Unknown callback kind") from None
    if hook_kind not in adapter_class.webhook_kinds:
        raise Http404("This provider sends no such callbacks")

    adapter = account.get_adapter()
    wr = webhook_request(request)
    try:
        adapter.verify_webhook(hook_kind, wr, token)
    except WebhookAuthError as exc:
        logger.warning("rejected %s %s callback for account %s: %s", code, kind, account.pk, exc.message)
        return _text(403, "Forbidden")
    except WebhookError as exc:
        logger.warning("malformed %s %s callback for account %s: %s", code, kind, account.pk, exc.message)
        return _text(400, "Bad request")

    if request.method == "HEAD" or (request.method == "GET" and not request.GET):
        # A reachability check (some control panels ping the URL when it is saved): nothing to parse.
        status, content_type, body = adapter.webhook_response(hook_kind)
        return HttpResponse(b"" if request.method == "HEAD" else body, status=status, content_type=content_type)

    try:
        items = adapter.parse_webhook(hook_kind, wr)
    except ProviderNotSupported:
        raise Http404("This provider sends no such callbacks") from None
    except (WebhookError, ValueError, KeyError, TypeError) as exc:
        detail = exc.message if isinstance(exc, WebhookError) else f"{type(exc).__name__}: {exc}"
        logger.warning("malformed %s %s callback for account %s: %s", code, kind, account.pk, detail[:300])
        return _text(400, "Bad request: the callback could not be read")

    webhook_events_apply(account=account, items=items)
    status, content_type, body = adapter.webhook_response(hook_kind)
    return HttpResponse(body, status=status, content_type=content_type)
