"""The reusable htmx table: django-tables2 + django-filter, partial swaps, lazy pagination, bulk selection.

How to build a list page (``smsportal/views.py: AuditLogView`` is a complete example)
-------------------------------------------------------------------------------------
1. A table and a filter set::

       class ContactTable(HtmxTable):
           selected = SelectionColumn()                 # optional: checkboxes for bulk actions
           phone = tables.Column(linkify=True)
           status = StatusColumn()                      # coloured badge from get_<field>_display
           empty_state = EmptyState(icon="people", title="No contacts yet",
                                    text="Import a file or add a contact.", action_url_name="contacts:import",
                                    action_label="Import contacts")

           class Meta(HtmxTable.Meta):
               model = Contact
               fields = ("selected", "phone", "first_name", "status", "created_at")
               order_by = ("-id",)                      # sort only on indexed columns on big tables

       class ContactFilter(HtmxFilterSet):
           q = django_filters.CharFilter(method="search", label="Search")   # "q" renders as a search box
           class Meta:
               model = Contact
               fields = ["status"]

2. A view (the role mixin first; the queryset comes from a selector)::

       class ContactListView(RoleRequiredMixin, HtmxTableView):
           required_role = roles.MARKETER
           table_class = ContactTable
           filterset_class = ContactFilter
           template_name = "contacts/contact_list.html"

           def get_queryset(self):
               return selectors.contact_list()

3. A template that extends base.html and defines the ``table`` partial::

       {% extends "base.html" %}{% load render_table from django_tables2 %}
       {% block content %}
         {% include "tables/filter_form.html" %}
         {% partialdef table inline %}{% render_table table %}{% endpartialdef %}
       {% endblock %}

What you get
------------
- A normal GET renders the page; an htmx GET (filter change, sort, page link, refresh) renders only the
  ``table`` partial (``<template>#table``; if the page defines none, ``tables/table_partial.html``). Boosted
  and history-restore requests still get the full page, and responses vary on ``HX-Request``.
- Sort and page links keep a real ``href`` and add ``hx-get`` + ``hx-push-url``, so they work without
  JavaScript, in a new tab, and with the back button.
- The filter form submits through htmx on ``change`` and on typing (debounced 350 ms) and keeps the sort.
  Invalid filter values show an error in the table, never a 500 (``strict``: no rows).
- ``LazyPaginator`` by default: no ``COUNT(*)``; ``per_page`` from the query string is clamped to
  ``max_per_page``. For very deep paging on huge tables, sort by an indexed column (``-id``).
- Any response with the ``tableRefresh`` client event (``smsportal.htmx.refresh_tables(response)``, or an
  element with ``data-refresh-tables`` whose htmx request succeeded) reloads every table on the page with
  its current filters, sort and page.
- Bulk actions: add ``SelectionColumn()``; put ``{% include "tables/selection_bar.html" %}`` inside your
  ``<form id="bulk-form" …>`` with your buttons (give them ``data-needs-selection``); the row checkboxes
  belong to that form through the ``form=`` attribute. On the server, ``bulk_selection(request, queryset,
  filterset_class=…)`` returns the selected rows, or every row matching the filter when the user ticked
  "all matching" — validated, never trusting raw ids.
- CSV export of the filtered rows: ``csv_response(rows, filename=…, header=…)`` (streams, neutralises
  spreadsheet formulas).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass

import django_filters
import django_tables2 as tables
from django import forms
from django.db.models import QuerySet
from django.http import QueryDict, StreamingHttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from django_filters.views import FilterView
from django_tables2 import LazyPaginator, SingleTableMixin
from django_tables2.utils import AttributeDict

from .templatetags.ui import STATUS_TONES

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
PER_PAGE_CHOICES = (25, 50, 100, 200)


@dataclass(frozen=True)
class EmptyState:
    """What a table shows when there are no rows at all (filters active: a 'no match' message instead)."""

    title: str = _("Nothing here yet")
    text: str = ""
    icon: str = "inbox"
    action_url_name: str = ""
    action_label: str = ""
    action_icon: str = "plus-lg"

    @property
    def action_url(self) -> str:
        if not self.action_url_name:
            return ""
        try:
            return reverse(self.action_url_name)
        except NoReverseMatch:
            return ""


class HtmxTable(tables.Table):
    """Defaults for every table: our template, Bootstrap classes, lazy pagination, an empty state."""

    empty_state = EmptyState()
    max_per_page = MAX_PER_PAGE
    per_page_choices = PER_PAGE_CHOICES
    bulk_form_id = "bulk-form"
    #: the view's FilterSet (set by HtmxTableView), for filter errors and the "no match" empty state
    filterset = None
    #: URL the table's own links and refreshes go to; default: the current request path. Set it when a
    #: table is embedded in another page (e.g. a campaign's messages on the campaign page).
    base_url: str | None = None

    class Meta:
        template_name = "tables/htmx_table.html"
        attrs = {"class": "table table-hover align-middle"}
        per_page = DEFAULT_PER_PAGE
        empty_text = _("No rows.")

    def paginate(self, paginator_class=LazyPaginator, per_page=None, page=1, *args, **kwargs):
        try:
            per_page = int(per_page or self._meta.per_page or DEFAULT_PER_PAGE)
        except (TypeError, ValueError):
            per_page = DEFAULT_PER_PAGE
        per_page = min(max(per_page, 1), self.max_per_page)
        return super().paginate(paginator_class, per_page, page, *args, **kwargs)

    @property
    def container_id(self) -> str:
        """DOM id of the table's container (unique per table class and prefix on a page)."""
        name = slugify(type(self).__name__.removesuffix("Table")) or "table"
        return f"table-{self.prefix or ''}{name}".replace("_", "-")

    @property
    def url(self) -> str:
        request = getattr(self, "request", None)
        return self.base_url or (request.path if request is not None else "")

    @property
    def is_lazy(self) -> bool:
        return isinstance(getattr(self, "paginator", None), LazyPaginator)

    @property
    def first_row_number(self) -> int:
        """1-based number of the first row on this page (computed without a COUNT)."""
        page = getattr(self, "page", None)
        if page is None:
            return 1
        return (page.number - 1) * page.paginator.per_page + 1

    @property
    def last_row_number(self) -> int:
        page = getattr(self, "page", None)
        if page is None:
            return len(self.rows)
        return self.first_row_number + len(page.object_list) - 1

    @property
    def current_per_page(self) -> int:
        page = getattr(self, "page", None)
        return page.paginator.per_page if page is not None else self._meta.per_page


class SelectionColumn(tables.CheckBoxColumn):
    """Row checkboxes for bulk actions; the header box selects every row on the page (see app.js)."""

    def __init__(self, *, accessor="pk", form_id: str | None = None, **kwargs):
        self.form_id = form_id
        kwargs.setdefault("verbose_name", "")
        kwargs.setdefault("attrs", {"th": {"class": "col-select"}, "td": {"class": "col-select"}})
        super().__init__(accessor=accessor, **kwargs)

    @property
    def header(self):
        return format_html(
            '<input type="checkbox" class="form-check-input" data-select-all aria-label="{}">',
            _("Select all rows on this page"),
        )

    def render(self, value, record, table):
        form_id = self.form_id or getattr(table, "bulk_form_id", "bulk-form")
        attrs = AttributeDict(
            {
                "type": "checkbox",
                "class": "form-check-input",
                "name": "selected",
                "value": value,
                "form": form_id,
                "data-select-row": "",
                "aria-label": _("Select row"),
            }
        )
        return format_html("<input {}>", attrs.as_html())


class StatusColumn(tables.Column):
    """A status rendered as a coloured badge (tone by value, label from ``get_<field>_display``)."""

    def render(self, value, record, bound_column):
        # django-tables2 hands choice fields over as their display label: read the stored value for the tone.
        try:
            raw = bound_column.accessor.resolve(record)
        except (AttributeError, KeyError, TypeError, ValueError):
            raw = value
        label = value
        display = getattr(record, f"get_{bound_column.accessor}_display", None)
        if callable(display):
            label = display()
        return format_html(
            '<span class="badge badge-status tone-{}">{}</span>', STATUS_TONES.get(str(raw), "muted"), label
        )


# --- filters --------------------------------------------------------------------------------------------
class HtmxFilterSet(django_filters.FilterSet):
    """Bootstrap-styled filter widgets; a filter named ``q`` renders as a search box."""

    search_field = "q"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.form.fields.items():
            widget = field.widget
            if isinstance(widget, forms.Select | forms.NullBooleanSelect):
                widget.attrs.setdefault("class", "form-select form-select-sm")
            elif isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            else:
                widget.attrs.setdefault("class", "form-control form-control-sm")
            if name == self.search_field:
                widget.input_type = "search"
                widget.attrs.setdefault("placeholder", field.label or _("Search"))
                widget.attrs.setdefault("autocomplete", "off")
            if isinstance(widget, forms.DateInput | forms.DateTimeInput):
                widget.input_type = "date"

    @property
    def is_active(self) -> bool:
        """True when some filter has a value (the empty state then says 'no match')."""
        if not self.is_bound:
            return False
        return any(self.data.get(name) not in (None, "") for name in self.filters)


# --- view -----------------------------------------------------------------------------------------------
class HtmxTableView(SingleTableMixin, FilterView):
    """A filterable, sortable, paginated table page that answers htmx requests with the table partial."""

    table_partial = "table"
    # MultipleObjectMixin must not paginate: Django's Paginator would COUNT(*) the whole table.
    paginate_by = None
    table_pagination = {"paginator_class": LazyPaginator, "per_page": DEFAULT_PER_PAGE}

    def is_table_request(self) -> bool:
        htmx = getattr(self.request, "htmx", None)
        return bool(htmx) and not htmx.boosted and not htmx.history_restore_request

    def get_template_names(self):
        names = super().get_template_names()
        if self.is_table_request():
            return [f"{name}#{self.table_partial}" for name in names] + ["tables/table_partial.html"]
        return names

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        # the table template renders with only the table in its context: give it the filter (errors, "no match")
        table.filterset = getattr(self, "filterset", None)
        return table

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        patch_vary_headers(response, ("HX-Request",))
        return response


# --- bulk actions ---------------------------------------------------------------------------------------
_INT_RE = re.compile(r"^\d{1,19}$")


def bulk_selection(request, queryset: QuerySet, *, filterset_class=None, field: str = "selected") -> QuerySet:
    """The rows a bulk action applies to.

    ``select_all_matching=1`` plus ``filter_query`` (the table's query string, set by
    ``tables/selection_bar.html``) selects every row the filter matches; otherwise the ticked primary keys.
    Anything that is not a positive integer is ignored, and the result is always a subset of ``queryset``.
    """
    data = request.POST
    if data.get("select_all_matching") == "1" and filterset_class is not None:
        filterset = filterset_class(QueryDict(data.get("filter_query", "")), queryset=queryset, request=request)
        if not filterset.is_valid():
            return queryset.none()
        return filterset.qs
    ids = [int(v) for v in data.getlist(field) if _INT_RE.match(v or "")]
    return queryset.filter(pk__in=ids)


# --- CSV export -----------------------------------------------------------------------------------------
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d[\d ]*(\.\d+)?$")  # "+46701234567", "-5": data, not a formula


def neutralize_formula(value) -> str:
    """Make a cell safe to open in a spreadsheet: a leading = + - @ tab or CR is prefixed with a quote
    (OWASP "CSV injection"), except plain numbers such as E.164 phone numbers."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


class _Echo:
    def write(self, value):
        return value


def csv_response(rows: Iterable[Iterable], *, filename: str, header: Iterable[str]) -> StreamingHttpResponse:
    """Stream rows as a CSV download (UTF-8 with BOM so Excel reads it right), formulas neutralised."""
    writer = csv.writer(_Echo())

    def generate():
        yield "\ufeff"
        yield writer.writerow([neutralize_formula(h) for h in header])
        for row in rows:
            yield writer.writerow([neutralize_formula(v) for v in row])

    response = StreamingHttpResponse(generate(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
