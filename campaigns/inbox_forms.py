"""Forms of the inbox: the filter pane, the reply box, assignment, and the keyword lists."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from providers.models import ProviderAccount
from smsportal.models import KeywordRule

from . import inbox_selectors as selectors
from . import keywords
from .models import Campaign, InboundMessage

REPLY_MAX_CHARS = 1600  # 10 GSM-7 segments; the account's own limits are checked on top


class InboxFilterForm(forms.Form):
    """The left pane. Every field is optional; an invalid value is ignored with a message, never a 500."""

    status = forms.ChoiceField(
        label=_("Conversations"),
        required=False,
        choices=[("", _("All")), ("unread", _("Unread")), ("open", _("Open")), ("closed", _("Closed"))],
    )
    assigned = forms.ChoiceField(
        label=_("Assigned"),
        required=False,
        choices=[("", _("Anyone")), ("me", _("Assigned to me")), ("none", _("Unassigned"))],
    )
    keyword = forms.ChoiceField(
        label=_("Keyword"), required=False, choices=[("", _("Any")), *InboundMessage.Keyword.choices]
    )
    campaign = forms.ModelChoiceField(
        label=_("Campaign"), required=False, queryset=Campaign.objects.none(), empty_label=_("Any campaign")
    )
    account = forms.ModelChoiceField(
        label=_("Account"), required=False, queryset=ProviderAccount.objects.none(), empty_label=_("Any account")
    )
    matched = forms.ChoiceField(
        label=_("Number"),
        required=False,
        choices=[("", _("Any")), ("yes", _("Known contacts")), ("no", _("Unknown numbers"))],
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=[("waiting", _("Longest waiting first")), ("newest", _("Newest first"))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.filter(replies__isnull=False).distinct().order_by("-id")
        self.fields["account"].queryset = ProviderAccount.objects.order_by("name")
        for name, field in self.fields.items():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", f"{css} {css}-sm")
            if name == "q":
                field.widget.input_type = "search"
                field.widget.attrs.update(placeholder=_("Number, name or text"), autocomplete="off")

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> selectors.InboxFilters:
        """The valid part of the input (invalid fields are left out, and reported by the page)."""
        data = self.cleaned_data if self.is_bound else {}
        valid = {k: v for k, v in data.items() if k not in self.errors}
        return selectors.InboxFilters(
            status=valid.get("status") or "",
            assigned=valid.get("assigned") or "",
            campaign=valid.get("campaign"),
            keyword=valid.get("keyword") or "",
            account=valid.get("account"),
            matched=valid.get("matched") or "",
            date_from=valid.get("date_from"),
            date_to=valid.get("date_to"),
            q=valid.get("q") or "",
            sort=valid.get("sort") or "waiting",
        )

    @property
    def active_count(self) -> int:
        if not self.is_bound:
            return 0
        return sum(1 for name in self.fields if name != "sort" and self.data.get(name) not in (None, ""))


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=_("Reply"),
        max_length=REPLY_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control", "placeholder": _("Write a reply…")}),
        error_messages={"required": _("Write a reply.")},
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("Assign to"), required=False, queryset=None, empty_label=_("Nobody"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        field.queryset = selectors.assignable_users()
        field.label_from_instance = lambda u: u.get_full_name() or u.get_username()
        field.widget.attrs["class"] = "form-select form-select-sm"


class KeywordRuleForm(forms.Form):
    """One (kind, language) list. Keywords are typed comma- or line-separated."""

    kind = forms.ChoiceField(label=_("Kind"), choices=KeywordRule.Kind.choices)
    language = forms.CharField(
        label=_("Language"), max_length=8, help_text=_("Code such as en, sv, el, es, ru, kk (or another).")
    )
    keywords = forms.CharField(
        label=_("Keywords"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Comma-separated or one per line. Only a reply that is exactly one of these (ignoring case, accents, "
            "spaces and punctuation) counts."
        ),
    )
    is_active = forms.BooleanField(label=_("Act on these keywords"), required=False, initial=True)
    auto_reply = forms.CharField(
        label=_("Auto-reply"),
        required=False,
        max_length=REPLY_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Sent through the account the reply came in on, at most once per number and day. Leave empty for no "
            "answer. Opt-out confirmations are the only message a number that opted out still gets."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(field.widget, forms.Select):
                field.widget.attrs.setdefault("class", "form-select")
            else:
                field.widget.attrs.setdefault("class", "form-control")

    def clean_language(self):
        value = (self.cleaned_data.get("language") or "").strip().lower()
        if not (2 <= len(value) <= 8 and value.replace("-", "").isalpha()):
            raise forms.ValidationError(_("Use a language code such as en, sv or el."))
        return value

    def clean_keywords(self):
        try:
            return keywords.parse_keywords(self.cleaned_data.get("keywords") or "")
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def apply_errors(self, exc) -> None:
        """Put a service's ValidationError on the fields it names."""
        if hasattr(exc, "error_dict"):
            for name, errors in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, errors)
        else:
            self.add_error(None, exc.messages)
