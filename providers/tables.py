"""Tables of the providers UI (django-tables2 on the shared htmx base)."""

from __future__ import annotations

import django_tables2 as tables
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from smsportal.tables import EmptyState, HtmxTable
from smsportal.templatetags.ui import status_badge

from .models import ProviderAccount, ProviderRequestLog, SyncRun
from .sync import offered_scopes


def _when(value) -> str:
    if not value:
        return ""
    return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


class ProvidersTable(HtmxTable):
    """The shared htmx table, with the page's filter set on ``table.filterset`` so the template can show filter
    errors and the "no match" state (render_table passes only the table to its template)."""

    filterset = None

    class Meta(HtmxTable.Meta):
        template_name = "providers/_table.html"


class AccountTable(ProvidersTable):
    name = tables.Column(linkify=("providers:account", {"pk": tables.A("pk")}), attrs={"td": {"class": "fw-semibold"}})
    provider = tables.Column(verbose_name="Provider", accessor="provider_name", order_by=("provider",))
    last_check_status = tables.Column(verbose_name="Connection", order_by=("last_check_status",))
    balance = tables.Column(verbose_name="Balance")
    is_active = tables.Column(verbose_name="Active")
    last_sync_status = tables.Column(verbose_name="Sync", orderable=False, empty_values=())

    empty_state = EmptyState(
        icon="broadcast-pin",
        title="No provider accounts yet",
        text="Add the account of your SMS provider (or try the built-in sandbox) to send campaigns.",
        action_url_name="providers:account_add",
        action_label="Add an account",
    )

    class Meta(ProvidersTable.Meta):
        model = ProviderAccount
        fields = ("name", "provider", "last_check_status", "balance", "is_active", "last_sync_status")
        order_by = ("name",)

    def render_last_check_status(self, value, record):
        badge = status_badge(value, record.get_last_check_status_display())
        when = _when(record.last_check_at)
        return format_html(
            '{} <span class="small text-secondary d-block" title="{}">{}</span>',
            badge,
            record.last_check_detail,
            f"tested {when}" if when else "",
        )

    def render_balance(self, value, record):
        when = _when(record.balance_at)
        return format_html(
            '<span class="text-tabular">{} {}</span><span class="small text-secondary d-block">{}</span>',
            value.normalize() if hasattr(value, "normalize") else value,
            record.balance_currency,
            f"at {when}" if when else "",
        )

    def render_is_active(self, value):
        return status_badge("active" if value else "cancelled", "Active" if value else "Inactive")

    def render_last_sync_status(self, value, record):
        try:
            offered = offered_scopes(record.adapter_class)
        except LookupError:
            offered = []
        if not offered:
            return format_html('<span class="small text-secondary">{}</span>', "not offered")
        if not value:
            label = "scheduled" if record.sync_enabled else "never"
            return format_html('<span class="small text-secondary">{}</span>', label)
        return format_html(
            '{} <span class="small text-secondary d-block">{}</span>',
            status_badge(value, SyncRun.Status(value).label),
            _when(getattr(record, "last_sync_at", None)),
        )


def _status_tone(code: int | None) -> str:
    if code is None:
        return "failed"
    if code < 300:
        return "ok"
    if code < 500 and code != 429:
        return "undelivered" if code >= 400 else "queued"
    return "failed"


class RequestLogTable(ProvidersTable):
    created_at = tables.Column(verbose_name="Time", orderable=False)
    operation = tables.Column(orderable=False)
    method = tables.Column(orderable=False)
    url = tables.Column(verbose_name="URL", orderable=False, attrs={"td": {"class": "text-break small"}})
    status_code = tables.Column(verbose_name="Status", orderable=False, empty_values=())
    duration_ms = tables.Column(verbose_name="ms", orderable=False, attrs={"td": {"class": "text-tabular text-end"}})
    error = tables.Column(orderable=False, default="", attrs={"td": {"class": "small text-danger"}})

    empty_state = EmptyState(
        icon="journal-text",
        title="No calls to this provider yet",
        text="Every call the portal makes to the provider (sends, status lookups, tests, syncs) is listed here, "
        "with secrets removed.",
    )

    class Meta(ProvidersTable.Meta):
        model = ProviderRequestLog
        fields = ("created_at", "operation", "method", "url", "status_code", "duration_ms", "error")
        order_by = ()

    def render_created_at(self, value, record):
        url = reverse("providers:request_log_detail", kwargs={"pk": record.account_id, "log_id": record.pk})
        return format_html('<a href="{}" class="text-nowrap">{}</a>', url, _when(value))

    def render_url(self, value):
        return format_html('<span title="{}">{}</span>', value, truncatechars(value, 90))

    def render_status_code(self, value):
        return status_badge(_status_tone(value), str(value) if value else "no answer")

    def render_error(self, value):
        return truncatechars(value, 80)
