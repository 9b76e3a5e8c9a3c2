"""Forms of the providers UI. The account form is generated from the adapter's ``credential_fields`` and
``option_fields``: secret fields never render their value (blank = keep; a "set" indicator instead)."""

from __future__ import annotations

import re
from decimal import Decimal

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator

from smsportal.tables import HtmxFilterSet

from .adapters.base import BaseAdapter, CredentialField, Feature
from .adapters.registry import adapter_choices
from .models import ProviderAccount, ProviderRequestLog, SyncRun
from .selectors import local_day_range, request_log_operations
from .services import ACCOUNT_FIELDS, base_url_required
from .sync import SCOPE_LABELS, offered_scopes

CRED_PREFIX = "cred_"
OPT_PREFIX = "opt_"
_SPLIT = re.compile(r"[\s,;]+")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class ProviderPickForm(forms.Form):
    provider = forms.ChoiceField(choices=(), widget=forms.RadioSelect)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = adapter_choices()


def _bootstrap(field: forms.Field) -> None:
    widget = field.widget
    if isinstance(widget, forms.CheckboxInput):
        widget.attrs.setdefault("class", "form-check-input")
    elif isinstance(widget, forms.Select):
        widget.attrs.setdefault("class", "form-select")
    else:
        widget.attrs.setdefault("class", "form-control")


class AccountForm(forms.Form):
    """Create or edit one account of one provider."""

    name = forms.CharField(max_length=100, help_text="How this account is called in campaigns and reports.")
    base_url = forms.CharField(label="Base URL", max_length=200, required=False)
    default_sender = forms.CharField(
        max_length=32, required=False, help_text="Used when a campaign does not name a sender."
    )
    allowed_senders = forms.CharField(
        label="Allowed sender ids",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The sender names and numbers registered with the provider, separated by commas or new lines. "
        "Campaigns may use only these. Empty: any.",
    )
    messages_per_second = forms.FloatField(
        label="Messages per second",
        min_value=0.1,
        max_value=10_000,
        initial=10.0,
        help_text="Throttle across all workers; set it to what your contract with the provider allows.",
    )
    price_per_segment = forms.DecimalField(
        label="Price per segment",
        max_digits=10,
        decimal_places=5,
        min_value=Decimal(0),
        required=False,
        help_text="For cost estimates before sending.",
    )
    currency = forms.CharField(max_length=3, required=False, help_text="ISO code, e.g. EUR, SEK.")
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        initial=True,
        help_text="Inactive accounts send nothing and accept no callbacks.",
    )
    poll_interval_seconds = forms.IntegerField(
        label="Poll every (seconds)",
        min_value=5,
        max_value=86_400,
        initial=60,
        help_text="How often statuses and replies are fetched where the provider has no callbacks.",
    )
    sync_enabled = forms.BooleanField(label="Sync on a schedule", required=False)
    sync_interval_minutes = forms.IntegerField(label="Sync every (minutes)", min_value=5, max_value=10_080, initial=60)

    def __init__(self, *args, adapter_class: type[BaseAdapter], account: ProviderAccount | None = None, **kwargs):
        self.adapter_class = adapter_class
        self.account = account
        super().__init__(*args, **kwargs)
        cls = adapter_class
        default = cls.default_base_url
        base = self.fields["base_url"]
        if default:
            base.initial = default
            base.help_text = (
                f"Documented production address: {default}. Change it for a regional domain, a staging host or "
                "a local fake server (manage.py fake_provider)."
            )
        else:
            base.help_text = (
                f"{cls.name} has no single public address: enter the one your account uses (or a local fake server)."
            )
            base.required = base_url_required(cls)
        self.secret_fields: list[str] = []
        self.set_secrets: set[str] = set()
        stored_creds = (account.credentials if account else {}) or {}
        stored_opts = (account.options if account else {}) or {}
        for prefix, specs, stored in (
            (CRED_PREFIX, cls.credential_fields, stored_creds),
            (OPT_PREFIX, cls.option_fields, stored_opts),
        ):
            for spec in specs:
                name = prefix + spec.name
                self.fields[name] = self._field(spec, stored.get(spec.name))
                if spec.secret:
                    self.secret_fields.append(name)
                    if stored.get(spec.name):
                        self.set_secrets.add(name)
        if not offered_scopes(cls):
            del self.fields["sync_enabled"]
            del self.fields["sync_interval_minutes"]
        if not cls.features & {Feature.STATUS_POLL, Feature.INBOUND_POLL}:
            del self.fields["poll_interval_seconds"]
        if account is not None:
            for name in ACCOUNT_FIELDS:
                if name in self.fields:
                    value = getattr(account, name)
                    if name == "allowed_senders":
                        value = ", ".join(value or [])
                    elif name == "base_url":
                        value = value or default
                    self.initial.setdefault(name, value)
        for field in self.fields.values():
            _bootstrap(field)

    def _field(self, spec: CredentialField, stored) -> forms.Field:
        if spec.secret:
            is_set = stored not in (None, "")
            help_text = spec.help_text
            if is_set:
                help_text = (help_text + " " if help_text else "") + "Stored — leave blank to keep it."
            return forms.CharField(
                label=spec.label,
                required=spec.required and not is_set,
                max_length=1000,
                help_text=help_text,
                strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            )
        if spec.choices:
            field = forms.ChoiceField(
                label=spec.label,
                choices=[("", "—"), *spec.choices] if not spec.required else spec.choices,
                required=spec.required,
                help_text=spec.help_text,
            )
        else:
            field = forms.CharField(label=spec.label, required=spec.required, max_length=1000, help_text=spec.help_text)
        field.initial = stored if stored not in (None, "") else spec.initial
        return field

    # ------------------------------------------------------------------ validation
    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        qs = ProviderAccount.objects.filter(name__iexact=name)
        if self.account is not None:
            qs = qs.exclude(pk=self.account.pk)
        if qs.exists():
            raise ValidationError(f"An account called {name!r} exists already.")
        return name

    def clean_base_url(self):
        value = self.cleaned_data["base_url"].strip().rstrip("/")
        if not value or value == self.adapter_class.default_base_url.rstrip("/"):
            return value
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise ValidationError(f"{value!r} is not an http(s) address, e.g. https://api.example.com") from None
        return value

    def _check_sender(self, sender: str, what: str) -> None:
        lim = self.adapter_class.limits
        numeric = sender.lstrip("+").isdigit()
        max_len = lim.sender_numeric_max_length if numeric else lim.sender_max_length
        size = len(sender.lstrip("+")) if numeric else len(sender)
        if max_len is not None and size > max_len:
            kind = "numeric" if numeric else "alphanumeric"
            raise ValidationError(
                f"{what} {sender!r} has {size} characters; {self.adapter_class.name} allows {kind} sender ids "
                f"of at most {max_len}."
            )

    def clean_default_sender(self):
        value = self.cleaned_data["default_sender"].strip()
        if value:
            self._check_sender(value, "The sender")
        return value

    def clean_allowed_senders(self):
        values, seen = [], set()
        for value in _SPLIT.split(self.cleaned_data["allowed_senders"] or ""):
            value = value.strip()
            if value and value not in seen:
                self._check_sender(value, "Sender id")
                seen.add(value)
                values.append(value)
        return values

    def clean_currency(self):
        value = (self.cleaned_data["currency"] or "").strip().upper()
        if value and not _CURRENCY.match(value):
            raise ValidationError("Use a three-letter ISO code, e.g. EUR.")
        return value

    def clean(self):
        data = super().clean()
        sender, allowed = data.get("default_sender"), data.get("allowed_senders")
        if sender and allowed and sender not in allowed:
            self.add_error("default_sender", f"{sender!r} is not among the allowed sender ids.")
        if data.get("price_per_segment") is not None and not data.get("currency"):
            self.add_error("currency", "Give the currency of the price.")
        return data

    def _post_clean(self):
        super()._post_clean()
        self.mark_invalid()

    def mark_invalid(self) -> None:
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = (widget.attrs.get("class", "") + " is-invalid").strip()

    # ------------------------------------------------------------------ for the services
    def account_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in ACCOUNT_FIELDS if name in self.cleaned_data}

    def credentials(self) -> dict:
        return {
            name.removeprefix(CRED_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(CRED_PREFIX)
        }

    def options(self) -> dict:
        return {
            name.removeprefix(OPT_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(OPT_PREFIX)
        }

    def apply_errors(self, exc: ValidationError) -> None:
        """Put a service's ValidationError on the right fields (model field names and cred_/opt_ names)."""
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                target = field if field in self.fields else None
                for error in errors:
                    self.add_error(target, error)
        else:
            self.add_error(None, exc)
        self.mark_invalid()

    def field_groups(self) -> dict[str, list]:
        """Bound fields grouped for the template's sections."""
        connection = [self["base_url"]] + [self[n] for n in self.fields if n.startswith(CRED_PREFIX)]
        options = [self[n] for n in self.fields if n.startswith(OPT_PREFIX)]
        sending = [
            self[n]
            for n in ("default_sender", "allowed_senders", "messages_per_second", "price_per_segment", "currency")
        ]
        polling = [
            self[n] for n in ("poll_interval_seconds", "sync_enabled", "sync_interval_minutes") if n in self.fields
        ]
        return {"connection": connection, "options": options, "sending": sending, "polling": polling}


class SyncStartForm(forms.Form):
    direction = forms.ChoiceField(choices=SyncRun.Direction.choices, initial=SyncRun.Direction.BOTH)
    scope = forms.MultipleChoiceField(choices=(), required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, adapter_class: type[BaseAdapter], **kwargs):
        super().__init__(*args, **kwargs)
        offered = offered_scopes(adapter_class)
        self.fields["scope"].choices = [(s, SCOPE_LABELS[s].capitalize()) for s in offered]
        self.fields["scope"].initial = offered


# ---------------------------------------------------------------------------------------------- request log
_STATUS_RE = re.compile(r"^(?:(\d{3})|([1-5])xx|none)$", re.IGNORECASE)


class RequestLogFilter(HtmxFilterSet):
    operation = django_filters.ChoiceFilter(label="Operation", choices=(), empty_label="Any operation")
    status = django_filters.CharFilter(
        label="Status code",
        method="filter_status",
        validators=[RegexValidator(_STATUS_RE, "Use a code (401), a class (4xx) or none (no answer).", code="invalid")],
    )
    errors_only = django_filters.BooleanFilter(label="Errors only", method="filter_errors", widget=forms.CheckboxInput)
    day = django_filters.DateFilter(label="Date", method="filter_day")

    class Meta:
        model = ProviderRequestLog
        fields = ["operation"]

    def __init__(self, *args, account: ProviderAccount | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        ops = request_log_operations(account) if account is not None else []
        current = self.data.get("operation") if self.data else None
        if current and current not in ops:
            ops.append(current)  # a bookmarked filter keeps working after the operation left the recent scan
        self.filters["operation"].extra["choices"] = [(op, op) for op in ops]
        self.form.fields["operation"].choices = [("", "Any operation"), *((op, op) for op in ops)]
        self.form.fields["status"].widget.attrs.setdefault("placeholder", "e.g. 4xx")

    def filter_status(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        m = _STATUS_RE.match(value)
        if not m:  # the field's validator reports it; never ignore a filter silently
            return queryset.none()
        if value.lower() == "none":
            return queryset.filter(status_code__isnull=True)
        if m.group(1):
            return queryset.filter(status_code=int(m.group(1)))
        low = int(m.group(2)) * 100
        return queryset.filter(status_code__gte=low, status_code__lt=low + 100)

    def filter_errors(self, queryset, name, value):
        if not value:
            return queryset
        from django.db.models import Q

        return queryset.filter(Q(status_code__gte=400) | Q(status_code__isnull=True) | ~Q(error=""))

    def filter_day(self, queryset, name, value):
        if not value:
            return queryset
        start, end = local_day_range(value)
        return queryset.filter(created_at__gte=start, created_at__lt=end)


class AccountFilter(HtmxFilterSet):
    q = django_filters.CharFilter(label="Search", method="search")
    provider = django_filters.ChoiceFilter(label="Provider", choices=(), empty_label="Any provider")
    is_active = django_filters.BooleanFilter(label="Active")

    class Meta:
        model = ProviderAccount
        fields = ["provider", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = adapter_choices()
        self.filters["provider"].extra["choices"] = choices
        self.form.fields["provider"].choices = [("", "Any provider"), *choices]
        self.form.fields["is_active"].widget = forms.Select(
            choices=[("", "Active or not"), ("true", "Active"), ("false", "Inactive")],
            attrs=self.form.fields["is_active"].widget.attrs,
        )

    def search(self, queryset, name, value):
        value = (value or "").strip()
        return queryset.filter(name__icontains=value) if value else queryset
