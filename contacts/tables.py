"""Tables of the contacts pages (django-tables2 on the shared ``HtmxTable`` base: lazy pagination, no COUNT).

Only indexed columns are sortable on the contacts table (id / created, phone, last name), so sorting stays fast
at a million rows."""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from smsportal.tables import EmptyState, HtmxTable, SelectionColumn, StatusColumn
from smsportal.templatetags.ui import STATUS_TONES

from .models import BlocklistEntry, Contact, ContactField, ContactList, Group, Import, SavedSegment


class ChoiceStatusColumn(StatusColumn):
    """A status badge toned by the stored value (django-tables2 hands a choice field's display text as
    ``value``, so the tone must come from the record)."""

    def render(self, value, record, bound_column):
        raw = getattr(record, bound_column.accessor, value)
        display = getattr(record, f"get_{bound_column.accessor}_display", None)
        label = display() if callable(display) else value
        return format_html(
            '<span class="badge badge-status tone-{}">{}</span>', STATUS_TONES.get(str(raw), "muted"), label
        )


class ContactTable(HtmxTable):
    """The contacts table. Its rows are rendered in one pass in Python (``rows_html``, template
    ``contacts/_contact_table.html``): django-tables2's cell-by-cell rendering costs ~0.8 ms a row, too much for
    the contacts pages' budget. Header, sorting, filters, pagination and selection stay the shared ones."""

    selected = SelectionColumn()
    phone = tables.Column(verbose_name=_("Phone"), linkify=("contacts:detail", [tables.A("pk")]))
    last_name = tables.Column(verbose_name=_("Name"), order_by=("last_name", "first_name", "id"), empty_values=())
    status = ChoiceStatusColumn(verbose_name=_("Status"), orderable=False)
    country = tables.Column(verbose_name=_("Country"), orderable=False)
    attributes = tables.Column(verbose_name=_("Fields"), orderable=False, empty_values=())
    created_at = tables.DateTimeColumn(verbose_name=_("Added"), format="Y-m-d H:i", order_by=("id",))
    empty_state = EmptyState(
        icon="people",
        title=_("No contacts yet"),
        text=_("Import a CSV or Excel file, or add a contact by hand."),
        action_url_name="contacts:imports",
        action_label=_("Import contacts"),
        action_icon="cloud-arrow-up",
    )

    class Meta(HtmxTable.Meta):
        model = Contact
        fields = ("selected", "phone", "last_name", "status", "country", "attributes", "created_at")
        order_by = ("-created_at",)
        row_attrs = {"data-contact": lambda record: record.pk}
        template_name = "contacts/_contact_table.html"

    def __init__(self, *args, field_labels: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.field_labels = field_labels or {}

    def order_created_at(self, queryset, is_descending):
        """Newest first by id; within a group or list, by the membership's contact id (same order, but read from
        the membership index: see ``selectors.in_group``)."""
        from .selectors import MEMBER_ORDER

        key = MEMBER_ORDER if MEMBER_ORDER in queryset.query.annotations else "id"
        return queryset.order_by(f"-{key}" if is_descending else key), True

    def rows_html(self):
        """Every row of the current page as HTML, escaped by ``format_html`` (same cells as the columns)."""
        page = getattr(self, "page", None)
        records = [row.record for row in (page.object_list if page is not None else self.rows)]
        if not records:
            return ""
        detail = reverse("contacts:detail", args=[0])[: -len("0/")]
        tz = timezone.get_current_timezone()
        form_id = self.bulk_form_id
        status_labels = dict(Contact.Status.choices)
        html = []
        for c in records:
            html.append(
                format_html(
                    '<tr data-contact="{}">'
                    '<td class="col-select"><input type="checkbox" class="form-check-input" name="selected" value="{}" '
                    'form="{}" data-select-row aria-label="Select row"></td>'
                    '<td><a href="{}{}/">{}</a></td><td>{}</td>'
                    '<td><span class="badge badge-status tone-{}">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>',
                    c.pk,
                    c.pk,
                    form_id,
                    detail,
                    c.pk,
                    c.phone,
                    c.full_name or format_html('<span class="text-secondary">{}</span>', "—"),
                    STATUS_TONES.get(c.status, "muted"),
                    status_labels.get(c.status, c.status),
                    c.country or "—",
                    self.render_attributes(c.attributes, c),
                    timezone.localtime(c.created_at, tz).strftime("%Y-%m-%d %H:%M") if c.created_at else "—",
                )
            )
        return mark_safe("".join(html))  # noqa: S308 - every part above went through format_html

    def render_last_name(self, value, record):
        name = record.full_name
        return name if name else format_html('<span class="text-secondary">{}</span>', "—")

    def render_attributes(self, value, record):
        if not value:
            return "—"
        items = list(value.items())[:3]
        html = format_html_join(
            "",
            '<span class="badge text-bg-light border fw-normal me-1">{}: {}</span>',
            ((self.field_labels.get(k, k), str(v)[:24]) for k, v in items),
        )
        if len(value) > 3:
            html = format_html('{}<span class="small text-secondary">+{}</span>', html, len(value) - 3)
        return html


class GroupTable(HtmxTable):
    name = tables.Column(verbose_name=_("Group"), linkify=("contacts:group", [tables.A("pk")]))
    description = tables.Column(verbose_name=_("Description"), orderable=False)
    member_count = tables.Column(verbose_name=_("Members"), attrs={"td": {"class": "text-end text-tabular"}})
    updated_at = tables.DateTimeColumn(verbose_name=_("Changed"), format="Y-m-d H:i")
    empty_state = EmptyState(
        icon="collection",
        title=_("No groups yet"),
        text=_("Create a group, then add contacts to it from the contacts table or an import."),
    )

    class Meta(HtmxTable.Meta):
        model = Group
        fields = ("name", "description", "member_count", "updated_at")
        order_by = ("name",)
        per_page = 25

    def render_member_count(self, value):
        return f"{value:,}"


class ContactListTable(GroupTable):
    name = tables.Column(verbose_name=_("List"), linkify=("contacts:contactlist", [tables.A("pk")]))
    empty_state = EmptyState(
        icon="list-ul",
        title=_("No lists yet"),
        text=_("A list is a fixed set of contacts, e.g. everyone from one import or one fair."),
    )

    class Meta(GroupTable.Meta):
        model = ContactList


class SegmentTable(HtmxTable):
    name = tables.Column(verbose_name=_("Saved segment"), linkify=True)
    query = tables.Column(verbose_name=_("Filter"), orderable=False)
    created_at = tables.DateTimeColumn(verbose_name=_("Saved"), format="Y-m-d H:i")
    actions = tables.TemplateColumn(
        template_name="contacts/_segment_actions.html", verbose_name="", orderable=False, empty_values=()
    )
    empty_state = EmptyState(
        icon="funnel",
        title=_("No saved segments"),
        text=_("Filter the contacts table, then choose “Save as segment” to use that filter as a campaign audience."),
    )

    class Meta(HtmxTable.Meta):
        model = SavedSegment
        fields = ("name", "query", "created_at", "actions")
        order_by = ("name",)
        per_page = 25

    def render_query(self, value):
        return format_html_join(
            "", '<span class="badge text-bg-light border fw-normal me-1">{}: {}</span>', value.items()
        )


class BlocklistTable(HtmxTable):
    selected = SelectionColumn()
    phone = tables.Column(verbose_name=_("Number"))
    reason = tables.Column(verbose_name=_("Reason"), orderable=False)
    source = tables.Column(verbose_name=_("Source"), orderable=False)
    note = tables.Column(verbose_name=_("Note"), orderable=False)
    created_by = tables.Column(verbose_name=_("By"), orderable=False, empty_values=())
    created_at = tables.DateTimeColumn(verbose_name=_("Added"), format="Y-m-d H:i")
    empty_state = EmptyState(
        icon="slash-circle",
        title=_("The blocklist is empty"),
        text=_("Numbers on it never receive a message. Opt-outs by reply and provider hard failures land here too."),
    )

    class Meta(HtmxTable.Meta):
        model = BlocklistEntry
        fields = ("selected", "phone", "reason", "source", "note", "created_by", "created_at")
        order_by = ("-created_at",)

    def render_reason(self, value, record):
        tone = "warning" if record.reason == BlocklistEntry.Reason.OPTED_OUT else "danger"
        return format_html('<span class="badge badge-status tone-{}">{}</span>', tone, record.get_reason_display())

    def render_created_by(self, value, record):
        return value.get_username() if value else format_html('<span class="text-secondary">{}</span>', "system")


class ImportTable(HtmxTable):
    original_name = tables.Column(verbose_name=_("File"), linkify=("contacts:import", [tables.A("pk")]))
    mode = tables.Column(verbose_name=_("Mode"), orderable=False)
    status = ChoiceStatusColumn(verbose_name=_("Status"), orderable=False)
    total_rows = tables.Column(verbose_name=_("Rows"), orderable=False, attrs={"td": {"class": "text-tabular"}})
    summary = tables.Column(verbose_name=_("Result"), orderable=False, empty_values=(), accessor="pk")
    created_by = tables.Column(verbose_name=_("By"), orderable=False, empty_values=())
    created_at = tables.DateTimeColumn(verbose_name=_("Uploaded"), format="Y-m-d H:i")
    empty_state = EmptyState(
        icon="cloud-arrow-up",
        title=_("No imports yet"),
        text=_("Upload a CSV or Excel file above: you map its columns and see a preview before anything is saved."),
    )

    class Meta(HtmxTable.Meta):
        model = Import
        fields = ("original_name", "mode", "status", "total_rows", "summary", "created_by", "created_at")
        order_by = ("-created_at",)
        per_page = 25

    def render_mode(self, value, record):
        labels = {"add_update": _("Add & update"), "add_only": _("Add only"), "blocklist": _("Blocklist")}
        return labels.get(record.mode, value)

    def render_total_rows(self, value, record):
        return f"{value:,}" if record.status != Import.Status.UPLOADED else "—"

    def render_summary(self, value, record):
        if record.status in (Import.Status.UPLOADED, Import.Status.QUEUED):
            return "—"
        if record.status == Import.Status.RUNNING:
            return format_html(
                '<div class="progress" style="height:.5rem;width:8rem" role="progressbar" aria-valuenow="{}" '
                'aria-valuemin="0" aria-valuemax="100"><div class="progress-bar" style="width:{}%"></div></div>',
                record.progress,
                record.progress,
            )
        parts = [(_("new"), record.created_count), (_("updated"), record.updated_count)]
        if record.invalid_count:
            parts.append((_("invalid"), record.invalid_count))
        if record.blocked_count:
            parts.append((_("blocked"), record.blocked_count))
        return format_html_join(", ", "{} {}", ((f"{n:,}", label) for label, n in parts))

    def render_created_by(self, value, record):
        return value.get_username() if value else "—"


class FieldTable(HtmxTable):
    label = tables.Column(verbose_name=_("Field"))
    key = tables.Column(verbose_name=_("Placeholder"), orderable=False)
    type = tables.Column(verbose_name=_("Type"), orderable=False)
    choices = tables.Column(verbose_name=_("Choices"), orderable=False, empty_values=())
    actions = tables.TemplateColumn(
        template_name="contacts/_field_actions.html", verbose_name="", orderable=False, empty_values=()
    )
    empty_state = EmptyState(
        icon="ui-checks",
        title=_("No custom fields yet"),
        text=_("Declare fields such as city or birthday; imports can fill them and messages can use them."),
    )

    class Meta(HtmxTable.Meta):
        model = ContactField
        fields = ("label", "key", "type", "choices", "actions")
        order_by = ("label",)
        per_page = 100

    def render_key(self, value):
        return format_html("<code>{{{}}}</code>", value)

    def render_type(self, value, record):
        return record.get_type_display()

    def render_choices(self, value):
        return ", ".join(value) if value else "—"
