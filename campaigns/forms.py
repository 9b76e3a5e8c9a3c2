"""Forms of the composer. They only parse input; what makes a campaign sendable is checked by
``services.campaign_problems`` so the composer, the schedule action and the API tell the same story."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from contacts.models import Contact, ContactList, Group, SavedSegment
from providers.models import ProviderAccount

from .models import Campaign, TestNumber


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        state = "" if obj.is_active else " — disabled"
        return f"{obj.name} ({obj.provider_name}){state}"


def _accounts(current: ProviderAccount | None):
    qs = ProviderAccount.objects.filter(is_active=True)
    if current is not None:
        qs = ProviderAccount.objects.filter(pk=current.pk) | qs
    return qs.order_by("name")


class CampaignNewForm(forms.Form):
    name = forms.CharField(
        max_length=150,
        label="Campaign name",
        widget=forms.TextInput(
            attrs={"class": "form-control", "autofocus": True, "placeholder": "e.g. Spring sale, week 12"}
        ),
    )


class CampaignForm(forms.ModelForm):
    """Everything the composer edits. ``when``/``send_at`` choose sending now or later (workspace time)."""

    WHEN_CHOICES = (("now", "Send now"), ("later", "Schedule for later"))

    account = AccountChoiceField(
        queryset=ProviderAccount.objects.none(),
        required=False,
        label="Provider account",
        empty_label="Choose an account…",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    when = forms.ChoiceField(
        choices=WHEN_CHOICES,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        initial="now",
        required=False,
        label="When",
    )
    send_at = forms.DateTimeField(
        required=False,
        label="Date and time",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "class": "form-control"}, format="%Y-%m-%dT%H:%M"),
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "account",
            "sender",
            "groups",
            "lists",
            "segments",
            "exclude_groups",
            "exclude_lists",
            "text",
            "speed_mode",
            "speed_value",
        ]
        labels = {
            "groups": "Groups",
            "lists": "Lists",
            "segments": "Saved segments",
            "exclude_groups": "Leave out groups",
            "exclude_lists": "Leave out lists",
            "text": "Message",
            "speed_mode": "Send speed",
            "speed_value": "Hours / messages per minute",
        }
        widgets = {
            "name": forms.TextInput(attrs={"class": "form-control"}),
            "sender": forms.TextInput(
                attrs={"class": "form-control", "list": "sender-options", "autocomplete": "off", "spellcheck": "false"}
            ),
            "text": forms.Textarea(
                attrs={
                    "class": "form-control font-monospace",
                    "rows": 6,
                    "spellcheck": "true",
                    "placeholder": "Hi {first_name|there}, …",
                }
            ),
            "speed_mode": forms.RadioSelect(attrs={"class": "form-check-input"}),
            "speed_value": forms.NumberInput(attrs={"class": "form-control", "min": 1, "step": 1}),
            **{
                name: forms.SelectMultiple(attrs={"class": "form-select", "size": 4})
                for name in ("groups", "lists", "segments", "exclude_groups", "exclude_lists")
            },
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = _accounts(self.instance.account if self.instance.pk else None)
        self.fields["name"].required = True  # an empty name is never saved (the draft keeps its last name)
        self.fields["account"].required = True
        self.fields["text"].required = False
        self.fields["speed_mode"].required = False
        for name, model in (
            ("groups", Group),
            ("lists", ContactList),
            ("segments", SavedSegment),
            ("exclude_groups", Group),
            ("exclude_lists", ContactList),
        ):
            field = self.fields[name]
            field.queryset = model.objects.order_by("name")
            field.help_text = ""
        if self.instance.pk and not self.is_bound:
            if self.instance.scheduled_at:
                self.initial["when"] = "later"
                self.initial["send_at"] = timezone.localtime(self.instance.scheduled_at).replace(tzinfo=None)
        self.fields["speed_mode"].choices = Campaign.SpeedMode.choices

    def clean_sender(self):
        return (self.cleaned_data.get("sender") or "").strip()

    def clean_text(self):
        return (self.cleaned_data.get("text") or "").replace("\r\n", "\n")

    def clean_speed_mode(self):
        return self.cleaned_data.get("speed_mode") or Campaign.SpeedMode.MAX

    def draft_data(self) -> dict:
        """What can be saved from this submission even when parts are invalid (nothing typed is lost)."""
        data = {}
        for name in (
            "name",
            "account",
            "sender",
            "text",
            "speed_mode",
            "speed_value",
            "groups",
            "lists",
            "segments",
            "exclude_groups",
            "exclude_lists",
        ):
            if name in self.cleaned_data:
                data[name] = self.cleaned_data[name]
        return data

    @property
    def send_now(self) -> bool:
        return (self.cleaned_data.get("when") or "now") == "now"


class TestSendForm(forms.Form):
    __test__ = False

    numbers = forms.ModelMultipleChoiceField(
        queryset=TestNumber.objects.all(), widget=forms.CheckboxSelectMultiple, required=False, label="Send to"
    )
    contact = forms.ModelChoiceField(
        queryset=Contact.objects.none(),
        required=False,
        label="Fill placeholders from",
        empty_label="Fallback values only",
    )

    def __init__(self, *args, contacts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["numbers"].queryset = TestNumber.objects.order_by("label", "phone")
        if contacts is not None:
            self.fields["contact"].queryset = Contact.objects.filter(pk__in=[c.pk for c in contacts]).order_by("pk")
            if contacts and not self.is_bound:
                self.fields["contact"].initial = contacts[0].pk
        self.fields["contact"].widget.attrs["class"] = "form-select form-select-sm"


class TestNumberForm(forms.Form):
    __test__ = False

    phone = forms.CharField(
        max_length=32,
        label="Phone",
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "placeholder": "+46 70 123 45 67"}),
    )
    label = forms.CharField(
        max_length=100,
        required=False,
        label="Whose",
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "placeholder": "e.g. Anna's phone"}),
    )


class FailedGroupForm(forms.Form):
    name = forms.CharField(max_length=100, label="Group name", widget=forms.TextInput(attrs={"class": "form-control"}))
