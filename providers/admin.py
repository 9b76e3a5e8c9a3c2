"""Django admin for provider accounts, their request log, sync runs and id mappings.

Credentials are never shown: the account form has one write-only field per secret of the account's provider
(blank = keep) and plain fields for the non-secret ones. On "add", pick the provider and save; its credential
fields appear on the change page (or use the Providers page, which asks for everything in one step).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from .adapters.registry import adapter_choices
from .models import ExternalMapping, ProviderAccount, ProviderRequestLog, SyncRun

CRED_PREFIX = "credential__"


class ProviderAccountAdminForm(forms.ModelForm):
    provider = forms.ChoiceField(choices=())

    class Meta:
        model = ProviderAccount
        fields = (
            "name",
            "provider",
            "base_url",
            "options",
            "default_sender",
            "allowed_senders",
            "messages_per_second",
            "price_per_segment",
            "currency",
            "is_active",
            "sync_enabled",
            "sync_interval_minutes",
            "poll_interval_seconds",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = adapter_choices()
        self.credential_specs = []
        if self.instance.pk:
            self.fields["provider"].disabled = True
            try:
                specs = self.instance.adapter_class.credential_fields
            except LookupError:
                specs = ()
            stored = self.instance.credentials or {}
            for spec in specs:
                name = CRED_PREFIX + spec.name
                is_set = stored.get(spec.name) not in (None, "")
                if spec.secret:
                    self.fields[name] = forms.CharField(
                        label=f"{spec.label} (secret)",
                        required=spec.required and not is_set,
                        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                        help_text=("Stored — leave blank to keep it. " if is_set else "Not set. ") + spec.help_text,
                    )
                else:
                    self.fields[name] = forms.CharField(
                        label=spec.label,
                        required=spec.required,
                        initial=stored.get(spec.name, ""),
                        help_text=spec.help_text,
                    )
                self.credential_specs.append(spec)

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            creds = dict(self.instance.credentials or {})
            for spec in self.credential_specs:
                value = (data.get(CRED_PREFIX + spec.name) or "").strip()
                if spec.secret and not value:
                    continue  # blank = keep
                if value:
                    creds[spec.name] = value
                else:
                    creds.pop(spec.name, None)
            self.instance.credentials = creds
        return data

    def clean_base_url(self):
        value = (self.cleaned_data.get("base_url") or "").strip().rstrip("/")
        return value

    def _post_clean(self):
        try:
            super()._post_clean()
        except ValidationError as exc:  # pragma: no cover - ModelForm reports through add_error
            self.add_error(None, exc)


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountAdminForm
    list_display = (
        "name",
        "provider",
        "is_active",
        "last_check_status",
        "last_check_at",
        "balance",
        "balance_currency",
        "balance_at",
        "sync_enabled",
    )
    list_filter = ("provider", "is_active", "last_check_status", "sync_enabled")
    search_fields = ("name", "default_sender")
    readonly_fields = (
        "uuid",
        "is_sandbox",
        "last_check_status",
        "last_check_detail",
        "last_check_at",
        "balance",
        "balance_currency",
        "balance_at",
        "last_polled_at",
        "created_at",
        "updated_at",
    )

    def get_fieldsets(self, request, obj=None):
        form_fields = list(self.get_form(request, obj).base_fields)
        main = [f for f in form_fields if not f.startswith(CRED_PREFIX)]
        sets = [(None, {"fields": main})]
        if obj is not None:
            creds = [f for f in form_fields if f.startswith(CRED_PREFIX)]
            sets.append(("Credentials (write-only for secrets)", {"fields": creds}))
        sets.append(("State", {"fields": self.readonly_fields}))
        return sets

    def get_form(self, request, obj=None, change=False, **kwargs):
        # the credential fields depend on the instance; let the form build them, and keep the admin from
        # validating the declared field list against the model
        kwargs["fields"] = None
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            extra = form(instance=obj).fields
            form.base_fields = {**form.base_fields, **{k: v for k, v in extra.items() if k.startswith(CRED_PREFIX)}}
        return form


@admin.register(ProviderRequestLog)
class ProviderRequestLogAdmin(admin.ModelAdmin):
    """Read-only: rows are written (redacted) by the HTTP layer only."""

    list_display = ("created_at", "account", "operation", "method", "status_code", "duration_ms", "short_error")
    list_filter = ("account", "method", "operation")
    search_fields = ("operation", "url", "error")
    list_select_related = ("account",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = (
        "account",
        "created_at",
        "operation",
        "method",
        "url",
        "request_headers",
        "request_body",
        "status_code",
        "response_body",
        "duration_ms",
        "error",
    )

    @admin.display(description="error")
    def short_error(self, obj):
        return obj.error[:80]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("created_at", "account", "direction", "status", "started_at", "finished_at", "created_by")
    list_filter = ("status", "direction", "account")
    search_fields = ("account__name", "error")
    list_select_related = ("account", "created_by")
    readonly_fields = (
        "account",
        "direction",
        "scope",
        "status",
        "progress",
        "summary",
        "error",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    )

    def has_add_permission(self, request):
        return False  # start syncs from the account page, so they run through the worker


@admin.register(ExternalMapping)
class ExternalMappingAdmin(admin.ModelAdmin):
    list_display = ("account", "object_type", "local_id", "external_id", "updated_at")
    list_filter = ("object_type", "account")
    search_fields = ("local_id", "external_id")
    list_select_related = ("account",)
    readonly_fields = ("fingerprint", "updated_at")
