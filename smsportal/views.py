"""Workspace pages: dashboard, sign-in, settings, users, audit log, error pages. Thin: reads come from
``selectors``, writes from ``services``; every view checks the role on the server."""

from __future__ import annotations

import datetime as dt
import json
import logging
from copy import copy
from urllib.parse import urlencode

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotFound, HttpResponseServerError
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView

from . import roles, selectors, services
from .audit import audit
from .forms import (
    LoginForm,
    PasswordChangeForm,
    UserCreateForm,
    UserRoleForm,
    UserSetPasswordForm,
    WorkspaceSettingsForm,
)
from .models import AuditLog
from .roles import RoleRequiredMixin, role_required
from .tables import EmptyState, HtmxFilterSet, HtmxTable, HtmxTableView, csv_response
from .templatetags.ui import url_if

logger = logging.getLogger(__name__)


# --- dashboard ------------------------------------------------------------------------------------------
class DashboardView(RoleRequiredMixin, TemplateView):
    required_role = roles.MARKETER
    template_name = "dashboard/dashboard.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        contacts = selectors.contact_counts()
        campaign_counts = selectors.campaign_status_counts()
        week = selectors.messages_by_day(days=7)
        ctx.update(
            contacts=contacts,
            campaign_counts=campaign_counts,
            campaigns_total=sum(c["count"] for c in campaign_counts),
            campaigns_active=sum(c["count"] for c in campaign_counts if c["status"] in ("starting", "sending")),
            week=week,
            week_chart={
                "labels": week["labels"],
                "datasets": [
                    {"key": key, "label": str(spec["label"]), "color": spec["color"], "data": week["series"][key]}
                    for key, spec in week["groups"].items()
                ],
            },
            delivery_rate=_delivery_rate(week["totals"]),
            recent_campaigns=selectors.recent_campaigns(limit=6),
            recent_imports=selectors.recent_imports(limit=5),
            accounts=selectors.provider_accounts_health(),
            links={
                "contacts": url_if("contacts:list"),
                "contacts_active": url_if("contacts:list", status="active"),
                "contacts_opted_out": url_if("contacts:list", status="opted_out"),
                "contacts_blocked": url_if("contacts:list", status="blocked"),
                "blocklist": url_if("contacts:blocklist"),
                "imports": url_if("contacts:imports"),
                "import_new": url_if("contacts:import_new") or url_if("contacts:imports"),
                "campaigns": url_if("campaigns:list"),
                "campaign_new": url_if("campaigns:create") or url_if("campaigns:list"),
                "providers": url_if("providers:accounts"),
            },
            campaign_links={c["status"]: url_if("campaigns:list", status=c["status"]) for c in campaign_counts},
        )
        return ctx


def _delivery_rate(totals: dict) -> int | None:
    """Delivered share of messages with a final outcome (None when there is none yet)."""
    final = totals.get("delivered", 0) + totals.get("failed", 0)
    return round(100 * totals.get("delivered", 0) / final) if final else None


# --- authentication -------------------------------------------------------------------------------------
class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (a GET link must never sign anyone out); back to the sign-in page with a message."""

    http_method_names = ["post", "options"]

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You are signed out."))
        return response


class PasswordChangeView(RoleRequiredMixin, auth_views.PasswordChangeView):
    required_role = roles.MARKETER
    template_name = "registration/password_change_form.html"
    form_class = PasswordChangeForm
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit(
            actor=self.request.user,
            action=AuditLog.Action.UPDATE,
            obj=self.request.user,
            object_repr=self.request.user.get_username(),
            changes={"password": "changed by the user"},
        )
        return response


class PasswordChangeDoneView(RoleRequiredMixin, auth_views.PasswordChangeDoneView):
    required_role = roles.MARKETER
    template_name = "registration/password_change_done.html"


# --- workspace settings ---------------------------------------------------------------------------------
@role_required(roles.OPERATOR)
def workspace_settings(request):
    workspace = selectors.workspace_settings()
    if request.method == "POST":
        # the form writes into a copy, so a rejected form never changes what the page shows as saved
        form = WorkspaceSettingsForm(request.POST, instance=copy(workspace))
        if form.is_valid():
            try:
                services.workspace_settings_update(
                    actor=request.user, **{f: form.cleaned_data[f] for f in services.WORKSPACE_FIELDS}
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Workspace settings saved."))
                return redirect("smsportal:settings")
    else:
        form = WorkspaceSettingsForm(instance=workspace)
    return render(request, "smsportal/settings.html", {"form": form, "workspace_obj": workspace})


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


# --- users ----------------------------------------------------------------------------------------------
def _user_rows(users):
    return [{"user": u, "role": selectors.user_role(u)} for u in users]


@role_required(roles.OPERATOR)
def user_list(request):
    users = selectors.user_list()
    return render(request, "smsportal/users.html", {"rows": _user_rows(users), "role_choices": roles.ROLES})


@role_required(roles.OPERATOR)
def user_create(request):
    if request.method == "POST":
        form = UserCreateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = services.user_create(
                    actor=request.user,
                    username=data["username"],
                    password=data["password1"],
                    role=data["role"],
                    email=data["email"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("User %(name)s created as %(role)s.") % {"name": user.get_username(), "role": data["role"]},
                )
                return redirect("smsportal:users")
    else:
        form = UserCreateForm()
    return render(request, "smsportal/user_form.html", {"form": form})


def _get_user(pk):
    return get_object_or_404(get_user_model(), pk=pk)


def _row_response(request, user, status=200):
    """The updated row for htmx requests, else back to the users page."""
    if request.htmx:
        user = selectors.user_list().get(pk=user.pk)
        return render(
            request,
            "smsportal/users.html#user-row",
            {"row": _user_rows([user])[0], "role_choices": roles.ROLES},
            status=status,
        )
    return redirect("smsportal:users")


@require_POST
@role_required(roles.OPERATOR)
def user_set_role(request, pk):
    user = _get_user(pk)
    form = UserRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the roles: %(roles)s.") % {"roles": ", ".join(roles.ROLES)})
        return _row_response(request, user, status=200)
    try:
        services.user_set_role(actor=request.user, user=user, role=form.cleaned_data["role"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("%(name)s is now %(role)s.") % {"name": user.get_username(), "role": form.cleaned_data["role"]}
        )
    return _row_response(request, user)


@require_POST
@role_required(roles.OPERATOR)
def user_set_active(request, pk):
    user = _get_user(pk)
    activate = request.POST.get("active") == "1"
    try:
        if activate:
            services.user_reactivate(actor=request.user, user=user)
            messages.success(request, _("%(name)s can sign in again.") % {"name": user.get_username()})
        else:
            services.user_deactivate(actor=request.user, user=user)
            messages.success(
                request, _("%(name)s is deactivated and can no longer sign in.") % {"name": user.get_username()}
            )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _row_response(request, user)


@role_required(roles.OPERATOR)
def user_set_password(request, pk):
    user = _get_user(pk)
    if user.pk == request.user.pk:
        return redirect("password_change")
    if request.method == "POST":
        form = UserSetPasswordForm(request.POST, user=user)
        if form.is_valid():
            services.user_set_password(actor=request.user, user=user, password=form.cleaned_data["password1"])
            messages.success(request, _("New password set for %(name)s.") % {"name": user.get_username()})
            return redirect("smsportal:users")
    else:
        form = UserSetPasswordForm(user=user)
    return render(request, "smsportal/user_password.html", {"form": form, "target": user})


# --- audit log ------------------------------------------------------------------------------------------
class AuditLogTable(HtmxTable):
    created_at = tables.DateTimeColumn(verbose_name=gettext_lazy("When"), format="Y-m-d H:i:s")
    actor_label = tables.Column(verbose_name=gettext_lazy("Who"), orderable=False, empty_values=())
    action = tables.Column(verbose_name=gettext_lazy("Action"), orderable=False)
    object_repr = tables.Column(verbose_name=gettext_lazy("Object"), orderable=False, empty_values=())
    changes = tables.Column(verbose_name=gettext_lazy("Details"), orderable=False, empty_values=())
    empty_state = EmptyState(
        icon="journal-text",
        title=gettext_lazy("No activity recorded yet"),
        text=gettext_lazy("Sign-ins, imports, campaign actions and settings changes will be listed here."),
    )

    class Meta(HtmxTable.Meta):
        model = AuditLog
        fields = ("created_at", "actor_label", "action", "object_repr", "changes")
        order_by = ("-created_at",)

    def render_actor_label(self, value, record):
        if not value:
            return format_html('<span class="text-secondary">{}</span>', _("system"))
        return value

    def render_action(self, value, record):
        return format_html(
            '<span class="badge badge-status tone-{}">{}</span>', _action_tone(value), record.get_action_display()
        )

    def render_object_repr(self, value, record):
        kind = record.object_type.split(".")[-1] if record.object_type else ""
        return format_html(
            '<div class="text-truncate" style="max-width:22rem" title="{}">{}</div>'
            '<div class="small text-secondary">{}{}</div>',
            value,
            value or "—",
            kind,
            f" #{record.object_id}" if record.object_id else "",
        )

    def render_changes(self, value, record):
        if not value:
            return "—"
        parts = []
        for key, change in list(value.items())[:4]:
            if isinstance(change, list | tuple) and len(change) == 2:
                parts.append(format_html("<strong>{}</strong>: {} → {}", key, _short(change[0]), _short(change[1])))
            else:
                parts.append(format_html("<strong>{}</strong>: {}", key, _short(change)))
        more = len(value) - 4
        html = format_html('<div class="small">{}</div>', format_html("<br>".join(["{}"] * len(parts)), *parts))
        if more > 0:
            html = format_html('{}<div class="small text-secondary">+{} more</div>', html, more)
        return html

    def value_changes(self, value, record):
        return value


def _short(value, limit: int = 60) -> str:
    text = "—" if value in (None, "") else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _action_tone(action: str) -> str:
    return {
        "create": "success",
        "update": "info",
        "delete": "danger",
        "import": "primary",
        "export": "muted",
        "block": "danger",
        "unblock": "muted",
        "opt_out": "warning",
        "opt_in": "success",
        "schedule": "info",
        "start": "primary",
        "pause": "warning",
        "resume": "primary",
        "cancel": "danger",
        "approve": "success",
        "send": "primary",
        "sync": "info",
        "login": "muted",
        "settings": "warning",
    }.get(action, "muted")


class AuditLogFilter(HtmxFilterSet):
    q = django_filters.CharFilter(method="filter_q", label=gettext_lazy("Search object"))
    actor = django_filters.ModelChoiceFilter(
        queryset=lambda request: get_user_model().objects.order_by("username"),
        label=gettext_lazy("Who"),
        empty_label=gettext_lazy("Anyone"),
    )
    action = django_filters.ChoiceFilter(
        choices=AuditLog.Action.choices, label=gettext_lazy("Action"), empty_label=gettext_lazy("Any action")
    )
    object_type = django_filters.ChoiceFilter(
        choices=[], label=gettext_lazy("Object type"), empty_label=gettext_lazy("Any type")
    )
    date_from = django_filters.DateFilter(method="filter_date_from", label=gettext_lazy("From"))
    date_to = django_filters.DateFilter(method="filter_date_to", label=gettext_lazy("To"))

    class Meta:
        model = AuditLog
        fields = ["q", "actor", "action", "object_type", "date_from", "date_to"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        types = [(t, t) for t in selectors.audit_object_types() if t]
        self.filters["object_type"].extra["choices"] = types
        self.form.fields["object_type"].choices = [("", _("Any type")), *types]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        from django.db.models import Q

        return queryset.filter(Q(object_repr__icontains=value) | Q(object_id=value) | Q(actor_label__iexact=value))

    @staticmethod
    def _day_start(day: dt.date) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(created_at__gte=self._day_start(value))

    def filter_date_to(self, queryset, name, value):
        return queryset.filter(created_at__lt=self._day_start(value + dt.timedelta(days=1)))


class AuditLogView(RoleRequiredMixin, HtmxTableView):
    required_role = roles.APPROVER
    table_class = AuditLogTable
    filterset_class = AuditLogFilter
    template_name = "smsportal/audit_log.html"

    def get_queryset(self):
        return selectors.audit_log_list()

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            return self.export_csv()
        return super().get(request, *args, **kwargs)

    def export_csv(self):
        filterset = self.filterset_class(self.request.GET or None, queryset=self.get_queryset(), request=self.request)
        query = {k: v for k, v in self.request.GET.items() if k != "export" and v}
        if filterset.is_bound and not filterset.is_valid():
            messages.error(self.request, _("Fix the filters before exporting."))
            return redirect(f"{reverse('smsportal:audit')}?{urlencode(query)}")
        audit(
            actor=self.request.user,
            action=AuditLog.Action.EXPORT,
            object_type="smsportal.auditlog",
            object_repr="Audit log CSV",
            changes={"filter": query},
        )
        tz = timezone.get_current_timezone()
        rows = (
            (
                timezone.localtime(e.created_at, tz).isoformat(timespec="seconds"),
                e.actor_label,
                e.action,
                e.object_type,
                e.object_id,
                e.object_repr,
                _json(e.changes),
            )
            for e in filterset.qs.iterator(chunk_size=2000)
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return csv_response(
            rows,
            filename=f"audit-log-{stamp}.csv",
            header=["time", "actor", "action", "object_type", "object_id", "object", "changes"],
        )


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


# --- error pages ----------------------------------------------------------------------------------------
def _error_layout(request) -> str:
    user = getattr(request, "user", None)
    return "base.html" if user is not None and user.is_authenticated else "errors/base_error.html"


def permission_denied(request, exception=None):
    message = str(exception) if isinstance(exception, PermissionDenied) and str(exception) else ""
    if getattr(request, "htmx", False):
        return render(request, "errors/403_partial.html", {"message": message}, status=403)
    return render(request, "errors/403.html", {"message": message, "layout": _error_layout(request)}, status=403)


def page_not_found(request, exception=None):
    if getattr(request, "htmx", False):
        return HttpResponseNotFound(_("Not found."))
    return render(request, "errors/404.html", {"layout": _error_layout(request)}, status=404)


def server_error(request):
    """Rendered without a request context: no context processors, no database, no user."""
    try:
        html = loader.get_template("errors/500.html").render({})
    except Exception:  # the error page itself must never fail
        logger.exception("The 500 page could not be rendered")
        html = "<h1>Server error</h1><p>Something went wrong on our side. Please try again.</p>"
    return HttpResponseServerError(html)
