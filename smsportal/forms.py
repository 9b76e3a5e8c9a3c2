"""Forms for the workspace pages. Validation only; the writes are in ``smsportal.services``."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model, password_validation
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from . import roles
from .models import WorkspaceSettings
from .regions import REGIONS


@cache
def region_choices() -> list[tuple[str, str]]:
    """Every region phonenumbers knows, as ("SE", "Sweden (SE, +46)"), sorted by name."""
    choices = [(code, f"{name} ({code}, +{calling_code})") for code, (name, calling_code) in REGIONS.items()]
    return sorted(choices, key=lambda c: c[1])


@cache
def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(zoneinfo.available_timezones())
    return [(n, n.replace("_", " ")) for n in names]


class LongSelect(forms.Select):
    """A select for long flat choice lists (time zones, countries), rendered in Python: Django's per-option
    templates make 850 options cost about a second."""

    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        selected = "" if value is None else str(value)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((str(v), mark_safe(" selected") if str(v) == selected else "", label) for v, label in self.choices),
        )
        return format_html("<select{}>{}</select>", flatatt(final_attrs), options)


class BootstrapFormMixin:
    """Bootstrap classes on every widget (errors at the field are rendered by includes/form_field.html)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")


class LoginForm(BootstrapFormMixin, auth_forms.AuthenticationForm):
    pass


class PasswordChangeForm(BootstrapFormMixin, auth_forms.PasswordChangeForm):
    pass


class WorkspaceSettingsForm(BootstrapFormMixin, forms.ModelForm):
    timezone = forms.TypedChoiceField(
        label=_("Time zone"),
        choices=timezone_choices,
        widget=LongSelect,
        help_text=_("Times are stored in UTC and shown in this time zone; schedules use it too."),
    )
    default_country = forms.TypedChoiceField(
        label=_("Default country"),
        choices=region_choices,
        widget=LongSelect,
        help_text=_("Phone numbers written without a country code are read as numbers of this country."),
    )

    class Meta:
        model = WorkspaceSettings
        fields = ["name", "timezone", "default_country", "default_sender", "require_approval"]
        labels = {
            "name": _("Workspace name"),
            "default_sender": _("Default sender"),
            "require_approval": _("Campaigns need approval"),
        }
        help_texts = {
            "name": _("Shown in the navigation and the page titles."),
            "default_sender": _(
                "Sender name or number proposed for new campaigns (up to 11 letters/digits, or a phone number)."
            ),
        }

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the workspace a name."))
        return name

    def clean_default_sender(self):
        sender = self.cleaned_data["default_sender"].strip()
        if not sender:
            return sender
        if sender.lstrip("+").isdigit():
            if not 3 <= len(sender.lstrip("+")) <= 16:
                raise forms.ValidationError(_("A numeric sender has 3 to 16 digits."))
        elif len(sender) > 11 or not all(c.isascii() and (c.isalnum() or c in " .-_&") for c in sender):
            raise forms.ValidationError(
                _("An alphanumeric sender has at most 11 characters: letters A–Z, digits, space, . - _ &.")
            )
        return sender


ROLE_CHOICES = [(r, r) for r in roles.ROLES]
ROLE_HELP = _(
    "Marketer: contacts and campaigns. Approver: also approves campaigns and reads the audit log. "
    "Operator: also providers, settings and users."
)


class UserCreateForm(BootstrapFormMixin, forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES, initial=roles.MARKETER, help_text=ROLE_HELP)
    password1 = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label=_("Password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        User = get_user_model()
        username_field = User._meta.get_field(User.USERNAME_FIELD)
        for validator in username_field.validators:
            validator(username)
        if User.objects.filter(**{f"{User.USERNAME_FIELD}__iexact": username}).exists():
            raise forms.ValidationError(_("A user named %(name)s already exists."), params={"name": username})
        return username

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords are not the same."))
        elif p1:
            User = get_user_model()
            probe = User(
                username=data.get("username") or "",
                email=data.get("email") or "",
                first_name=data.get("first_name") or "",
                last_name=data.get("last_name") or "",
            )
            try:
                password_validation.validate_password(p1, probe)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class UserRoleForm(BootstrapFormMixin, forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES)


class UserSetPasswordForm(BootstrapFormMixin, forms.Form):
    password1 = forms.CharField(
        label=_("New password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label=_("New password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords are not the same."))
        elif p1:
            try:
                password_validation.validate_password(p1, self.user)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data
