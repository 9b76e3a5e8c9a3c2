"""Provider accounts UI (Operators only): list, add/edit with the provider's own credential form, test
connection, callback URLs, sync with progress, and the redacted request log. Views stay thin: reads come from
``selectors``, writes go through ``services``."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from smsportal import roles
from smsportal.roles import RoleRequiredMixin, role_required
from smsportal.tables import HtmxTableView

from . import selectors, services
from .adapters.http import scrub
from .adapters.registry import get_adapter_class, registry
from .forms import AccountFilter, AccountForm, ProviderPickForm, RequestLogFilter, SyncStartForm
from .models import ProviderAccount
from .sync import SCOPE_LABELS, STEP_LABELS, offered_scopes
from .tables import AccountTable, RequestLogTable

OPERATOR = roles.OPERATOR


class FilteredTableMixin:
    """Hand the filter set to the table (see ``providers.tables.ProvidersTable``)."""

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        table.filterset = getattr(self, "filterset", None)
        return table


STOP_POLLING = 286  # htmx stops polling on this status (django_htmx.http.HttpResponseStopPolling)


def _htmx(request) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


# ---------------------------------------------------------------------------------------------- accounts
class AccountListView(RoleRequiredMixin, FilteredTableMixin, HtmxTableView):
    required_role = OPERATOR
    table_class = AccountTable
    filterset_class = AccountFilter
    template_name = "providers/account_list.html"

    def get_queryset(self):
        return selectors.account_list()


@role_required(OPERATOR)
def account_add(request):
    code = request.POST.get("provider") or request.GET.get("provider") or ""
    if code not in registry():
        pick = ProviderPickForm(initial={"provider": code or None})
        return render(
            request,
            "providers/account_add.html",
            {"catalogue": selectors.provider_catalogue(), "pick": pick, "unknown": code},
        )
    adapter_class = get_adapter_class(code)
    if request.method == "POST":
        form = AccountForm(request.POST, adapter_class=adapter_class)
        if form.is_valid():
            try:
                account = services.account_create(
                    actor=request.user,
                    provider=code,
                    fields=form.account_fields(),
                    credentials=form.credentials(),
                    options=form.options(),
                )
            except ValidationError as exc:
                form.apply_errors(exc)
            else:
                messages.success(request, f"Account {account.name} added. Test the connection next.")
                url = reverse("providers:account", kwargs={"pk": account.pk})
                return HttpResponseClientRedirect(url) if _htmx(request) else redirect(url)
    else:
        suggested = adapter_class.name if not ProviderAccount.objects.filter(name=adapter_class.name).exists() else ""
        form = AccountForm(adapter_class=adapter_class, initial={"name": suggested})
    return _render_form(request, form, adapter_class, account=None)


@role_required(OPERATOR)
def account_edit(request, pk: int):
    account = get_object_or_404(ProviderAccount, pk=pk)
    try:
        adapter_class = account.adapter_class
    except LookupError:
        raise Http404(f"Provider {account.provider!r} is no longer installed") from None
    if request.method == "POST":
        form = AccountForm(request.POST, adapter_class=adapter_class, account=account)
        if form.is_valid():
            try:
                account = services.account_update(
                    actor=request.user,
                    account=account,
                    fields=form.account_fields(),
                    credentials=form.credentials(),
                    options=form.options(),
                )
            except ValidationError as exc:
                form.apply_errors(exc)
            else:
                messages.success(request, f"Account {account.name} saved.")
                url = reverse("providers:account", kwargs={"pk": account.pk})
                return HttpResponseClientRedirect(url) if _htmx(request) else redirect(url)
    else:
        form = AccountForm(adapter_class=adapter_class, account=account)
    return _render_form(request, form, adapter_class, account=account)


def _render_form(request, form: AccountForm, adapter_class, *, account):
    context = {
        "form": form,
        "groups": form.field_groups(),
        "provider": selectors.provider_info(adapter_class),
        "account": account,
    }
    if _htmx(request):
        # htmx swaps only 2xx answers: the form with its errors comes back as 200
        return render(request, "providers/account_form.html#form", context)
    return render(request, "providers/account_form.html", context, status=400 if form.is_bound and form.errors else 200)


def _detail_context(account: ProviderAccount) -> dict:
    adapter_class = account.adapter_class
    last_run = selectors.sync_latest(account)
    offered = offered_scopes(adapter_class)
    return {
        "account": account,
        "provider": selectors.provider_info(adapter_class),
        "features": selectors.feature_labels(adapter_class),
        "credential_state": selectors.account_credential_state(account),
        "webhooks": selectors.account_webhook_urls(account),
        "effective_base_url": account.base_url or adapter_class.default_base_url,
        "recent_logs": selectors.request_log_recent(account),
        **_sync_context(account, last_run, offered),
    }


def _sync_context(account, last_run, offered) -> dict:
    active = last_run is not None and last_run.status in selectors.ACTIVE_SYNC_STATUSES
    missing = [SCOPE_LABELS[s] for s in SCOPE_LABELS if s not in offered]
    return {
        "provider": selectors.provider_info(account.adapter_class),
        "sync_offered": offered,
        "sync_offered_labels": [SCOPE_LABELS[s] for s in offered],
        "sync_missing_labels": missing,
        "sync_form": SyncStartForm(adapter_class=account.adapter_class) if offered else None,
        "last_run": last_run,
        "last_run_steps": [
            {"key": key, "label": STEP_LABELS.get(key, key), **stats}
            for key, stats in ((last_run.summary or {}).items() if last_run else ())
        ],
        "sync_active": active,
        "recent_runs": selectors.sync_recent(account) if offered else [],
        "sync_next_due": selectors.sync_next_due(account, last_run) if offered else None,
    }


CALLS_CHANGED_EVENT = "providerCallsChanged"  # the "Recent calls" card reloads itself on it


@role_required(OPERATOR)
def account_detail(request, pk: int):
    account = get_object_or_404(ProviderAccount, pk=pk)
    if _htmx(request) and request.GET.get("part") == "recent":
        return render(
            request,
            "providers/account_detail.html#recent",
            {"account": account, "recent_logs": selectors.request_log_recent(account)},
        )
    try:
        context = _detail_context(account)
    except LookupError:
        raise Http404(f"Provider {account.provider!r} is no longer installed") from None
    return render(request, "providers/account_detail.html", context)


@require_POST
@role_required(OPERATOR)
def account_check(request, pk: int):
    account = get_object_or_404(ProviderAccount, pk=pk)
    account = services.account_check(account=account, actor=request.user)
    if account.last_check_status == ProviderAccount.CheckStatus.OK:
        messages.success(request, f"Connected to {account.provider_name}.")
    else:
        messages.error(request, account.last_check_detail)
    if _htmx(request):
        response = render(request, "providers/account_detail.html#connection", {"account": account})
        return trigger_client_event(response, CALLS_CHANGED_EVENT, {})
    return redirect("providers:account", pk=account.pk)


@require_POST
@role_required(OPERATOR)
def account_rotate_token(request, pk: int):
    account = get_object_or_404(ProviderAccount, pk=pk)
    services.account_rotate_webhook_token(actor=request.user, account=account)
    messages.success(request, "New callback URLs made: update them at the provider; the old ones no longer work.")
    return redirect(reverse("providers:account", kwargs={"pk": account.pk}) + "#callbacks")


# ---------------------------------------------------------------------------------------------- sync
@require_POST
@role_required(OPERATOR)
def sync_start(request, pk: int):
    account = get_object_or_404(ProviderAccount, pk=pk)
    form = SyncStartForm(request.POST, adapter_class=account.adapter_class)
    if not form.is_valid():
        messages.error(request, "Choose what to sync.")
    else:
        try:
            services.sync_start(
                account=account,
                actor=request.user,
                direction=form.cleaned_data["direction"],
                scope=form.cleaned_data["scope"],
            )
        except services.SyncNotPossible as exc:
            messages.error(request, str(exc))
        else:
            messages.info(request, "Sync started; it runs in the background.")
    if _htmx(request):
        return _sync_partial(request, account)
    return redirect(reverse("providers:account", kwargs={"pk": account.pk}) + "#sync")


@role_required(OPERATOR)
def sync_status(request, pk: int):
    account = get_object_or_404(ProviderAccount, pk=pk)
    return _sync_partial(request, account, polling=True)


def _sync_partial(request, account, *, polling: bool = False) -> HttpResponse:
    context = {
        "account": account,
        **_sync_context(account, selectors.sync_latest(account), offered_scopes(account.adapter_class)),
    }
    response = render(request, "providers/account_detail.html#sync", context)
    if _htmx(request) and not context["sync_active"]:
        trigger_client_event(response, CALLS_CHANGED_EVENT, {})
        if polling:
            response.status_code = STOP_POLLING
    return response


# ---------------------------------------------------------------------------------------------- request log
class RequestLogView(RoleRequiredMixin, FilteredTableMixin, HtmxTableView):
    required_role = OPERATOR
    table_class = RequestLogTable
    filterset_class = RequestLogFilter
    template_name = "providers/request_log.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and roles.has_role(request.user, OPERATOR):
            self.account = get_object_or_404(ProviderAccount, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.request_log_for(self.account)

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        kwargs["account"] = self.account
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["account"] = self.account
        return context


def _pretty(text: str, secrets) -> str:
    text = scrub(text or "", secrets)
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            return json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return text


@role_required(OPERATOR)
def request_log_detail(request, pk: int, log_id: int):
    account = get_object_or_404(ProviderAccount, pk=pk)
    entry = get_object_or_404(account.request_logs, pk=log_id)
    # Rows are redacted when written; scrubbing again with today's secrets is a second line of defence.
    secrets = services.account_secret_values(account)
    headers = {k: scrub(str(v), secrets) for k, v in (entry.request_headers or {}).items()}
    context = {
        "account": account,
        "entry": entry,
        "url": scrub(entry.url, secrets),
        "headers": headers,
        "request_body": _pretty(entry.request_body, secrets),
        "response_body": _pretty(entry.response_body, secrets),
        "error": scrub(entry.error, secrets),
    }
    return render(request, "providers/request_log_detail.html", context)
