"""Forms of the contacts pages. They validate input and hand it to services; they never write."""

from __future__ import annotations

import phonenumbers
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import rows as R
from .models import BlocklistEntry, ContactField, ContactList, Group, Import

PASTE_MAX_NUMBERS = 10_000


def region_choices(blank_label: str = "") -> list[tuple[str, str]]:
    """Two-letter regions with their calling code: ('SE', 'SE (+46)')."""
    choices = [
        (region, f"{region} (+{phonenumbers.country_code_for_region(region)})")
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    ]
    return [("", blank_label), *choices] if blank_label else choices


class BootstrapMixin:
    def _style(self):
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, (forms.Select, forms.SelectMultiple)):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")


class ContactForm(BootstrapMixin, forms.Form):
    phone = forms.CharField(
        label=_("Phone number"), max_length=64, help_text=_("Any format: 070-123 45 67, +46 70 123 45 67, 0046…")
    )
    country = forms.ChoiceField(
        label=_("Country of a national number"),
        required=False,
        help_text=_("Only for numbers written without a country code; blank uses the workspace default."),
    )
    first_name = forms.CharField(label=_("First name"), max_length=R.NAME_MAX, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=R.NAME_MAX, required=False)

    def __init__(
        self,
        *args,
        fields: list[ContactField] | None = None,
        default_country: str = "",
        with_memberships: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.custom_fields = list(fields if fields is not None else ContactField.objects.all())
        self.fields["country"].choices = region_choices(
            _("Workspace default (%(code)s)") % {"code": default_country or "?"}
        )
        for f in self.custom_fields:
            self.fields[f"field_{f.key}"] = self._custom_field(f)
        if with_memberships:
            self.fields["groups"] = forms.ModelMultipleChoiceField(
                queryset=Group.objects.all(),
                required=False,
                label=_("Groups"),
                widget=forms.SelectMultiple(attrs={"size": 4}),
            )
            self.fields["lists"] = forms.ModelMultipleChoiceField(
                queryset=ContactList.objects.all(),
                required=False,
                label=_("Lists"),
                widget=forms.SelectMultiple(attrs={"size": 4}),
            )
        self._style()

    @staticmethod
    def _custom_field(f: ContactField) -> forms.Field:
        label = f.label
        help_text = _("Placeholder {%(key)s}") % {"key": f.key}
        if f.type == ContactField.Type.NUMBER:
            return forms.CharField(
                label=label, required=False, help_text=help_text, widget=forms.TextInput(attrs={"inputmode": "decimal"})
            )
        if f.type == ContactField.Type.DATE:
            return forms.CharField(
                label=label, required=False, help_text=help_text, widget=forms.DateInput(attrs={"type": "date"})
            )
        if f.type == ContactField.Type.CHOICE:
            return forms.ChoiceField(
                label=label,
                required=False,
                help_text=help_text,
                choices=[("", "—"), *((c, c) for c in f.choices or [])],
            )
        return forms.CharField(label=label, required=False, help_text=help_text, max_length=R.ATTRIBUTE_TEXT_MAX)

    def clean(self):
        """Normalize the phone and read the custom fields here, so every problem shows at once, at its field."""
        from .services import clean_attributes, normalize_or_error

        data = super().clean()
        if data.get("phone"):
            try:
                data["e164"], data["region"] = normalize_or_error(data["phone"], country=data.get("country") or "")
            except ValidationError as exc:
                self.add_error("phone", exc.messages[0])
        try:
            data["attributes"] = clean_attributes(
                {f.key: data.get(f"field_{f.key}") for f in self.custom_fields}, fields=self.custom_fields
            )
        except ValidationError as exc:
            self.add_service_errors(exc)
        return data

    @property
    def custom_bound_fields(self):
        return [self[f"field_{f.key}"] for f in self.custom_fields]

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put a service's ValidationError on the matching fields (``phone``, or a custom field key)."""
        if hasattr(exc, "error_dict"):
            for key, errors in exc.error_dict.items():
                name = key if key in self.fields else f"field_{key}" if f"field_{key}" in self.fields else None
                for error in errors:
                    self.add_error(name, error)
        else:
            self.add_error(None, exc)


class FieldForm(BootstrapMixin, forms.Form):
    label = forms.CharField(label=_("Name"), max_length=100)
    key = forms.SlugField(
        label=_("Placeholder key"),
        max_length=50,
        required=False,
        help_text=_("Used in messages as {key}. Blank: made from the name. Cannot change later."),
    )
    type = forms.ChoiceField(label=_("Type"), choices=ContactField.Type.choices)
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For a choice field: one per line (or comma-separated)."),
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["key"]
        self._style()


class NamedForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()


class SegmentForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("Segment name"), max_length=100)
    query = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()


class BlocklistAddForm(BootstrapMixin, forms.Form):
    phones = forms.CharField(
        label=_("Numbers"),
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "+46 70 123 45 67\n0701234568"}),
        help_text=_(
            "One or many: paste a column from a spreadsheet (newlines, commas or semicolons between "
            "numbers). For a file, use an import into the blocklist."
        ),
    )
    reason = forms.ChoiceField(
        label=_("Reason"), choices=BlocklistEntry.Reason.choices, initial=BlocklistEntry.Reason.MANUAL
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()

    def clean_phones(self) -> list[str]:
        import re

        values = [v.strip() for v in re.split(r"[\n;,\t]+", self.cleaned_data["phones"]) if v.strip()]
        if not values:
            raise ValidationError(_("Enter at least one number."))
        if len(values) > PASTE_MAX_NUMBERS:
            raise ValidationError(
                _("%(n)s numbers is more than %(max)s: import them as a file into the blocklist instead.")
                % {"n": f"{len(values):,}", "max": f"{PASTE_MAX_NUMBERS:,}"}
            )
        return values


class UploadForm(BootstrapMixin, forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (comma, semicolon, tab or pipe separated; any common encoding) or Excel .xlsx."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx,text/csv"}),
    )
    mode = forms.ChoiceField(
        label=_("What to do"), choices=Import.Mode.choices, initial=Import.Mode.ADD_UPDATE, widget=forms.RadioSelect
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style()
        self.fields["mode"].widget.attrs["class"] = "form-check-input"


TARGET_CHOICES_BASE = [
    ("", _("— ignore this column —")),
    (R.PHONE, _("Phone number")),
    (R.FIRST_NAME, _("First name")),
    (R.LAST_NAME, _("Last name")),
    (R.COUNTRY, _("Country of the number (per row)")),
    (R.GROUP, _("Group name(s)")),
    (R.LIST, _("List name(s)")),
]
NEW_FIELD = "__new__"


class MappingForm(BootstrapMixin, forms.Form):
    """One target per column, plus how to read the file and where the contacts go."""

    has_header = forms.BooleanField(label=_("The first row holds column names"), required=False)
    mode = forms.ChoiceField(label=_("What to do"), choices=Import.Mode.choices, widget=forms.RadioSelect)
    default_country = forms.ChoiceField(label=_("Country of national numbers"))
    target_group = forms.ModelChoiceField(
        queryset=Group.objects.all(), required=False, label=_("Add everyone to the group"), empty_label=_("— none —")
    )
    target_list = forms.ModelChoiceField(
        queryset=ContactList.objects.all(),
        required=False,
        label=_("Add everyone to the list"),
        empty_label=_("— none —"),
    )
    new_group = forms.CharField(label=_("…or a new group named"), required=False, max_length=100)
    preset_name = forms.CharField(
        label=_("Remember this mapping as"),
        required=False,
        max_length=100,
        help_text=_("Offered automatically for files with the same columns."),
    )

    def __init__(
        self,
        *args,
        header: list[str],
        samples: list[list[str]],
        fields: list[ContactField],
        sheet_names: list[str] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.header = header
        self.fields["default_country"].choices = region_choices()
        field_choices = [(f"{R.FIELD_PREFIX}{f.key}", _("Field: %(label)s") % {"label": f.label}) for f in fields]
        choices = [*TARGET_CHOICES_BASE, *field_choices, (NEW_FIELD, _("New field from this column…"))]
        self.column_rows = []
        for i, name in enumerate(header):
            target = forms.ChoiceField(choices=choices, required=False, label=name)
            new_label = forms.CharField(required=False, max_length=100, label=_("New field name"))
            new_type = forms.ChoiceField(choices=ContactField.Type.choices, required=False, label=_("Type"))
            self.fields[f"col_{i}"] = target
            self.fields[f"col_{i}_label"] = new_label
            self.fields[f"col_{i}_type"] = new_type
        if sheet_names and len(sheet_names) > 1:
            self.fields["sheet_name"] = forms.ChoiceField(
                label=_("Sheet"),
                choices=[(s, s) for s in sheet_names],
                help_text=_("This workbook has several sheets; contacts are read from one."),
            )
        self._style()
        self.fields["mode"].widget.attrs["class"] = "form-check-input"
        for i in range(len(header)):
            self.fields[f"col_{i}"].widget.attrs["class"] = "form-select form-select-sm"
            self.fields[f"col_{i}_label"].widget.attrs.update(
                {"class": "form-control form-control-sm", "placeholder": _("Field name")}
            )
            self.fields[f"col_{i}_type"].widget.attrs["class"] = "form-select form-select-sm"
            examples = [r[i] for r in samples if i < len(r) and r[i].strip()][:3]
            self.column_rows.append(
                {
                    "index": i,
                    "letter": _letter(i),
                    "name": header[i],
                    "examples": [e if len(e) <= 40 else e[:39] + "…" for e in examples],
                    "target": self[f"col_{i}"],
                    "new_label": self[f"col_{i}_label"],
                    "new_type": self[f"col_{i}_type"],
                }
            )

    def clean(self):
        data = super().clean()
        columns, new_fields = [], {}
        for i, name in enumerate(self.header):
            target = data.get(f"col_{i}") or ""
            if target == NEW_FIELD:
                label = (data.get(f"col_{i}_label") or name).strip()
                if not label:
                    self.add_error(f"col_{i}_label", _("Name the new field."))
                new_fields[i] = (label, data.get(f"col_{i}_type") or ContactField.Type.TEXT)
                target = ""
            columns.append(target)
        if R.PHONE not in columns:
            raise ValidationError(_("Choose the column that holds the phone numbers."))
        data["columns"] = columns
        data["new_fields"] = new_fields
        return data


def _letter(i: int) -> str:
    from .importing import column_label

    return column_label(i)
