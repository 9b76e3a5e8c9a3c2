"""Contacts pages: contacts, custom fields, groups, lists, saved segments, the blocklist, imports and exports.

Views stay thin: forms validate, services write, selectors read. Every view needs the Marketer role (or higher),
checked on the server. htmx requests get the page's partial (``request.htmx``); every htmx link keeps a real href.
"""

from __future__ import annotations

from urllib.parse import urlencode

import django_filters
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from smsportal import roles
from smsportal.audit import audit
from smsportal.htmx import refresh_tables
from smsportal.models import AuditLog, WorkspaceSettings
from smsportal.roles import RoleRequiredMixin, role_required
from smsportal.tables import HtmxFilterSet, HtmxTableView, bulk_selection, csv_response

from . import selectors, services
from .filters import ContactFilter
from .forms import (
    NEW_FIELD,
    BlocklistAddForm,
    ContactForm,
    FieldForm,
    MappingForm,
    NamedForm,
    SegmentForm,
    UploadForm,
)
from .importing import DELIMITER_NAMES, ENCODING_LABELS, ImportFileError, column_label
from .models import BlocklistEntry, Contact, ContactField, ContactList, Group, Import, SavedSegment
from .tables import (
    BlocklistTable,
    ContactListTable,
    ContactTable,
    FieldTable,
    GroupTable,
    ImportTable,
    SegmentTable,
)

MARKETER = roles.MARKETER
marketer_required = role_required(MARKETER)


def _done(request, default_url: str, *, refresh: bool = True) -> HttpResponse:
    """After a POST: htmx gets 204 + a table refresh (messages travel as toasts); a plain form a redirect back."""
    if request.htmx:
        response = HttpResponse(status=204)
        return refresh_tables(response) if refresh else response
    target = request.POST.get("next") or default_url
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = default_url
    return HttpResponseRedirect(target)


def _redirect(request, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _field_labels() -> dict[str, str]:
    return dict(ContactField.objects.values_list("key", "label"))


class TablePage(RoleRequiredMixin, HtmxTableView):
    """A table page of this app (Marketer and up). ``prepare()`` sets up the filter and rows for POST handlers
    that re-render the page with a form's errors."""

    required_role = MARKETER

    def prepare(self) -> None:
        self.filterset = self.get_filterset(self.get_filterset_class())
        valid = not self.filterset.is_bound or self.filterset.is_valid()
        self.object_list = self.filterset.qs if valid else self.filterset.queryset.none()


class LabelFilter(HtmxFilterSet):
    q = django_filters.CharFilter(field_name="label", lookup_expr="icontains", label="Search")

    class Meta:
        model = ContactField
        fields: list[str] = []


class SegmentFilter(HtmxFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")

    class Meta:
        model = SavedSegment
        fields: list[str] = []


class ImportFilter(HtmxFilterSet):
    status = django_filters.ChoiceFilter(choices=Import.Status.choices, empty_label="Any status")
    mode = django_filters.ChoiceFilter(choices=Import.Mode.choices, empty_label="Any mode")

    class Meta:
        model = Import
        fields: list[str] = []


# --- contacts ----------------------------------------------------------------------------------------------


EXPORT_HEADER = ["phone", "first_name", "last_name", "status", "country", "created_at"]


def export_contacts(request, qs, *, filename: str, what: str) -> HttpResponse:
    """Stream contacts as CSV (formulas neutralised), with every declared field as a column. Audited."""
    fields = list(ContactField.objects.values_list("key", flat=True))
    tz = timezone.get_current_timezone()

    def rows():
        for c in (
            qs.order_by("pk")
            .only("phone", "first_name", "last_name", "status", "country", "created_at", "attributes")
            .iterator(chunk_size=2000)
        ):
            attrs = c.attributes or {}
            yield (
                c.phone,
                c.first_name,
                c.last_name,
                c.status,
                c.country,
                timezone.localtime(c.created_at, tz).isoformat(timespec="seconds"),
                *(attrs.get(k, "") for k in fields),
            )

    audit(
        actor=request.user,
        action=AuditLog.Action.EXPORT,
        object_type="contacts.contact",
        object_repr=what,
        changes={"filter": {k: v for k, v in request.GET.items() if k != "export" and v}},
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return csv_response(rows(), filename=f"{filename}-{stamp}.csv", header=[*EXPORT_HEADER, *fields])


class ContactListView(TablePage):
    table_class = ContactTable
    filterset_class = ContactFilter
    template_name = "contacts/contact_list.html"

    def get_queryset(self):
        return selectors.contact_queryset()

    def get_table_kwargs(self):
        return {"field_labels": _field_labels()}

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            filterset = self.filterset_class(request.GET, queryset=self.get_queryset(), request=request)
            if not filterset.is_valid():
                messages.error(request, "Fix the filters before exporting.")
                return redirect(reverse("contacts:list"))
            return export_contacts(request, filterset.qs, filename="contacts", what="Contacts CSV")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = QueryDict(mutable=True)
        for key in services.SEGMENT_KEYS:
            if self.request.GET.get(key):
                query[key] = self.request.GET[key]
        context.update(
            groups=Group.objects.only("pk", "name"),
            lists=ContactList.objects.only("pk", "name"),
            segment_form=SegmentForm(initial={"query": query.urlencode()}),
            filter_query=query.urlencode(),
            has_filter=bool(query),
            reasons=BlocklistEntry.Reason.choices,
        )
        return context


@marketer_required
@require_POST
def contact_bulk(request):
    """Bulk actions on the selected contacts (or every contact matching the filter)."""
    qs = bulk_selection(request, Contact.objects.all(), filterset_class=ContactFilter)
    action = request.POST.get("action", "")
    user = request.user
    default = reverse("contacts:list")
    try:
        if action in {"add_group", "remove_group"}:
            group = _get_target(request, Group, "group")
            if action == "add_group":
                n = services.group_add_contacts(group=group, contacts=qs, actor=user)
                messages.success(request, f"{n:,} contact(s) added to {group.name}.")
            else:
                n = services.group_remove_contacts(group=group, contacts=qs, actor=user)
                messages.success(request, f"{n:,} contact(s) removed from {group.name}.")
        elif action in {"add_list", "remove_list"}:
            contact_list = _get_target(request, ContactList, "list")
            if action == "add_list":
                n = services.list_add_contacts(contact_list=contact_list, contacts=qs, actor=user)
                messages.success(request, f"{n:,} contact(s) added to {contact_list.name}.")
            else:
                n = services.list_remove_contacts(contact_list=contact_list, contacts=qs, actor=user)
                messages.success(request, f"{n:,} contact(s) removed from {contact_list.name}.")
        elif action == "block":
            result = services.contacts_block(contacts=qs, actor=user, note=request.POST.get("note", "")[:500])
            messages.success(request, result.summary)
        elif action == "unblock":
            n = services.contacts_unblock(contacts=qs, actor=user)
            messages.success(request, f"{n:,} number(s) taken off the blocklist.")
        elif action == "delete":
            n = services.contacts_delete(contacts=qs, actor=user)
            messages.success(request, f"{n:,} contact(s) deleted.")
        else:
            messages.error(request, "Choose an action.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _done(request, default)


def _get_target(request, model, name: str):
    raw = request.POST.get(name, "")
    if not raw.isdigit():
        label = "group" if model is Group else "list"
        raise ValidationError(f"Choose a {label}.")
    obj = model.objects.filter(pk=int(raw)).first()
    if obj is None:
        raise ValidationError("That group or list no longer exists.")
    return obj


def _contact_form_page(request, *, contact: Contact | None):
    settings_obj = WorkspaceSettings.load()
    fields = list(ContactField.objects.all())
    initial = {}
    if contact is not None:
        initial = {"phone": contact.phone, "first_name": contact.first_name, "last_name": contact.last_name}
        initial.update({f"field_{k}": v for k, v in (contact.attributes or {}).items()})
    form = ContactForm(
        request.POST or None,
        initial=initial,
        fields=fields,
        default_country=settings_obj.default_country,
        with_memberships=contact is None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            attributes = form.cleaned_data["attributes"]
            if contact is None:
                contact = services.contact_create(
                    phone=form.cleaned_data["phone"],
                    country=form.cleaned_data["country"],
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                    attributes=attributes,
                    groups=form.cleaned_data.get("groups") or (),
                    lists=form.cleaned_data.get("lists") or (),
                    actor=request.user,
                )
                messages.success(request, f"Contact {contact.phone} added.")
            else:
                if contact.attributes:  # keep values of fields that are not declared (anymore)
                    attributes = {
                        **{k: v for k, v in contact.attributes.items() if k not in {f.key for f in fields}},
                        **attributes,
                    }
                contact = services.contact_update(
                    contact=contact,
                    phone=form.cleaned_data["phone"],
                    country=form.cleaned_data["country"],
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                    attributes=attributes,
                    actor=request.user,
                )
                messages.success(request, "Changes saved.")
            return _redirect(request, contact.get_absolute_url())
        except ValidationError as exc:
            form.add_service_errors(exc)
    template = "contacts/contact_form.html"
    if request.htmx and request.method == "POST":
        template += "#form"
    return render(request, template, {"form": form, "contact": contact, "settings_obj": settings_obj})


@marketer_required
@require_http_methods(["GET", "POST"])
def contact_create(request):
    return _contact_form_page(request, contact=None)


@marketer_required
@require_http_methods(["GET", "POST"])
def contact_edit(request, pk: int):
    return _contact_form_page(request, contact=get_object_or_404(Contact, pk=pk))


@marketer_required
def contact_detail(request, pk: int):
    contact = get_object_or_404(Contact, pk=pk)
    partial = "memberships" if request.htmx and request.GET.get("part") == "memberships" else ""
    return _render_contact(request, contact, partial=partial)


def _render_contact(request, contact: Contact, *, partial: str = "") -> HttpResponse:
    groups = list(contact.groups.order_by("name"))
    lists = list(contact.lists.order_by("name"))
    context = {
        "contact": contact,
        "groups": groups,
        "lists": lists,
        "other_groups": Group.objects.exclude(pk__in=[g.pk for g in groups]).only("pk", "name"),
        "other_lists": ContactList.objects.exclude(pk__in=[li.pk for li in lists]).only("pk", "name"),
        "field_values": _field_values(contact),
        "messages_sent": selectors.contact_messages(contact),
        "history": selectors.contact_history(contact)[:50],
        "block_entry": BlocklistEntry.objects.filter(phone=contact.phone).first(),
        "reasons": [c for c in BlocklistEntry.Reason.choices if c[0] != BlocklistEntry.Reason.OPTED_OUT],
    }
    template = "contacts/contact_detail.html" + (f"#{partial}" if partial else "")
    return render(request, template, context)


def _field_values(contact: Contact) -> list[tuple[str, object]]:
    labels = _field_labels()
    attrs = contact.attributes or {}
    values = [(labels[k], attrs.get(k)) for k in labels if attrs.get(k) not in (None, "")]
    values += [(f"{k} (not a declared field)", v) for k, v in attrs.items() if k not in labels]
    return values


@marketer_required
@require_POST
def contact_memberships(request, pk: int):
    contact = get_object_or_404(Contact, pk=pk)
    one = Contact.objects.filter(pk=contact.pk)
    action = request.POST.get("action", "")
    try:
        if action in {"add_group", "remove_group"}:
            group = _get_target(request, Group, "group")
            fn = services.group_add_contacts if action == "add_group" else services.group_remove_contacts
            fn(group=group, contacts=one, actor=request.user)
        elif action in {"add_list", "remove_list"}:
            contact_list = _get_target(request, ContactList, "list")
            fn = services.list_add_contacts if action == "add_list" else services.list_remove_contacts
            fn(contact_list=contact_list, contacts=one, actor=request.user)
        else:
            messages.error(request, "Choose an action.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    if request.htmx:
        return _render_contact(request, contact, partial="memberships")
    return redirect(contact.get_absolute_url())


@marketer_required
@require_POST
def contact_status(request, pk: int):
    """Block, unblock, opt out or opt back in (each audited by its service)."""
    contact = get_object_or_404(Contact, pk=pk)
    action = request.POST.get("action", "")
    user = request.user
    if action == "block":
        reason = request.POST.get("reason") or BlocklistEntry.Reason.MANUAL
        if reason not in BlocklistEntry.Reason.values or reason == BlocklistEntry.Reason.OPTED_OUT:
            reason = BlocklistEntry.Reason.MANUAL
        services.blocklist_add(
            phones=[contact.phone],
            reason=reason,
            source="contact page",
            note=request.POST.get("note", "")[:500],
            actor=user,
            normalized=True,
        )
        messages.success(request, f"{contact.phone} is blocked: it will not receive messages.")
    elif action == "unblock":
        services.blocklist_remove(phones=[contact.phone], actor=user, source="contact page")
        contact.refresh_from_db()
        if contact.status == Contact.Status.OPTED_OUT:
            messages.warning(request, "Taken off the blocklist, but the contact opted out: it stays excluded.")
        else:
            messages.success(request, f"{contact.phone} can receive messages again.")
    elif action == "opt_out":
        services.contact_opt_out(phone=contact.phone, source="contact page", actor=user)
        messages.success(request, f"{contact.phone} is marked as opted out.")
    elif action == "opt_in":
        contact = services.contact_opt_in(contact=contact, actor=user, source="contact page")
        if contact.status == Contact.Status.BLOCKED:
            messages.warning(request, "The opt-out is reversed, but the number is still on the blocklist.")
        else:
            messages.success(request, f"{contact.phone} opted back in.")
    else:
        messages.error(request, "Choose an action.")
    return _redirect(request, contact.get_absolute_url())


@marketer_required
@require_POST
def contact_delete(request, pk: int):
    contact = get_object_or_404(Contact, pk=pk)
    services.contact_delete(contact=contact, actor=request.user)
    messages.success(request, f"Contact {contact.phone} deleted.")
    return _redirect(request, reverse("contacts:list"))


# --- saved segments ---------------------------------------------------------------------------------------


@marketer_required
@require_POST
def segment_create(request):
    form = SegmentForm(request.POST)
    query = {}
    if form.is_valid():
        # filter_query follows the table's current filter (app.js updates it as the filter changes)
        qd = QueryDict(request.POST.get("filter_query") or form.cleaned_data.get("query") or "")
        query = {k: qd.get(k) for k in services.SEGMENT_KEYS if qd.get(k)}
        try:
            segment = services.segment_create(name=form.cleaned_data["name"], query=query, actor=request.user)
            messages.success(request, f"Segment “{segment.name}” saved: choose it as an audience in a campaign.")
            return _redirect(request, reverse("contacts:segments"))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Give the segment a name.")
    back = reverse("contacts:list") + ("?" + urlencode(query) if query else "")
    return _redirect(request, back)


@marketer_required
@require_POST
def segment_delete(request, pk: int):
    segment = get_object_or_404(SavedSegment, pk=pk)
    services.segment_delete(segment=segment, actor=request.user)
    messages.success(request, f"Segment “{segment.name}” deleted.")
    return _done(request, reverse("contacts:segments"))


class SegmentListView(TablePage):
    table_class = SegmentTable
    template_name = "contacts/segment_list.html"
    filterset_class = SegmentFilter

    def get_queryset(self):
        return SavedSegment.objects.all()


# --- custom fields -----------------------------------------------------------------------------------------


class FieldListView(TablePage):
    table_class = FieldTable
    template_name = "contacts/field_list.html"
    filterset_class = LabelFilter

    def get_queryset(self):
        return ContactField.objects.all()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["form"] = kwargs.get("form") or FieldForm()
        return context

    def post(self, request, *args, **kwargs):
        form = FieldForm(request.POST)
        if form.is_valid():
            try:
                f = services.field_create(
                    label=form.cleaned_data["label"],
                    key=form.cleaned_data.get("key") or "",
                    type=form.cleaned_data["type"],
                    choices=form.cleaned_data.get("choices") or "",
                    actor=request.user,
                )
                messages.success(request, f"Field “{f.label}” added: use {{{f.key}}} in messages.")
                return _redirect(request, reverse("contacts:fields"))
            except ValidationError as exc:
                _add_errors(form, exc)
        self.prepare()
        context = self.get_context_data(form=form)
        template = "contacts/field_list.html" + ("#field_form" if request.htmx else "")
        return render(request, template, context)


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for key, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(key if key in form.fields else None, error)
    else:
        form.add_error(None, exc)


@marketer_required
@require_http_methods(["GET", "POST"])
def field_edit(request, pk: int):
    field_obj = get_object_or_404(ContactField, pk=pk)
    initial = {"label": field_obj.label, "type": field_obj.type, "choices": "\n".join(field_obj.choices or [])}
    form = FieldForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.field_update(
                field_obj=field_obj,
                label=form.cleaned_data["label"],
                type=form.cleaned_data["type"],
                choices=form.cleaned_data.get("choices") or "",
                actor=request.user,
            )
            messages.success(request, "Field saved.")
            return _redirect(request, reverse("contacts:fields"))
        except ValidationError as exc:
            _add_errors(form, exc)
    return render(request, "contacts/field_form.html", {"form": form, "field_obj": field_obj})


@marketer_required
@require_POST
def field_delete(request, pk: int):
    field_obj = get_object_or_404(ContactField, pk=pk)
    services.field_delete(field_obj=field_obj, actor=request.user)
    messages.success(request, f"Field “{field_obj.label}” and its values deleted.")
    return _done(request, reverse("contacts:fields"))


# --- groups and lists --------------------------------------------------------------------------------------


class NameFilter(HtmxFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")

    class Meta:
        model = Group
        fields: list[str] = []


class ListNameFilter(NameFilter):
    class Meta:
        model = ContactList
        fields: list[str] = []


class GroupListView(TablePage):
    table_class = GroupTable
    filterset_class = NameFilter
    template_name = "contacts/group_list.html"
    kind = "group"

    def get_queryset(self):
        return Group.objects.all()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(kind=self.kind, form=kwargs.get("form") or NamedForm())
        return context

    def post(self, request, *args, **kwargs):
        form = NamedForm(request.POST)
        if form.is_valid():
            try:
                create = services.group_create if self.kind == "group" else services.list_create
                obj = create(
                    name=form.cleaned_data["name"], description=form.cleaned_data["description"], actor=request.user
                )
                messages.success(request, f"“{obj.name}” created. Add contacts from the contacts table.")
                return _redirect(request, obj.get_absolute_url())
            except ValidationError as exc:
                _add_errors(form, exc)
        self.prepare()
        context = self.get_context_data(form=form)
        template = self.template_name + ("#create_form" if request.htmx else "")
        return render(request, template, context)


class ContactListListView(GroupListView):
    table_class = ContactListTable
    filterset_class = ListNameFilter
    kind = "list"

    def get_queryset(self):
        return ContactList.objects.all()


class MembersView(ContactListView):
    """The contacts of one group or list: the contacts table, filtered to its members."""

    template_name = "contacts/members.html"
    model = Group

    def dispatch(self, request, *args, **kwargs):
        self.owner = get_object_or_404(self.model, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        if self.model is Group:
            return selectors.group_members(self.owner)
        return selectors.list_members(self.owner)

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            filterset = self.filterset_class(request.GET, queryset=self.get_queryset(), request=request)
            if not filterset.is_valid():
                messages.error(request, "Fix the filters before exporting.")
                return redirect(request.path)
            kind = "group" if self.model is Group else "list"
            return export_contacts(
                request,
                filterset.qs,
                filename=f"{kind}-{self.owner.pk}",
                what=f"{kind.title()} “{self.owner.name}” CSV",
            )
        return super(ContactListView, self).get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            owner=self.owner,
            kind="group" if self.model is Group else "list",
            edit_form=NamedForm(initial={"name": self.owner.name, "description": self.owner.description}),
        )
        return context


class ListMembersView(MembersView):
    model = ContactList


@marketer_required
@require_POST
def group_edit(request, pk: int):
    return _named_edit(request, get_object_or_404(Group, pk=pk))


@marketer_required
@require_POST
def list_edit(request, pk: int):
    return _named_edit(request, get_object_or_404(ContactList, pk=pk))


def _named_edit(request, obj):
    form = NamedForm(request.POST)
    if form.is_valid():
        try:
            if isinstance(obj, Group):
                services.group_update(
                    group=obj,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    actor=request.user,
                )
            else:
                services.list_update(
                    contact_list=obj,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    actor=request.user,
                )
            messages.success(request, "Saved.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Give it a name.")
    return _redirect(request, obj.get_absolute_url())


@marketer_required
@require_POST
def group_delete(request, pk: int):
    group = get_object_or_404(Group, pk=pk)
    services.group_delete(group=group, actor=request.user)
    messages.success(request, f"Group “{group.name}” deleted; its contacts were kept.")
    return _redirect(request, reverse("contacts:groups"))


@marketer_required
@require_POST
def list_delete(request, pk: int):
    contact_list = get_object_or_404(ContactList, pk=pk)
    services.list_delete(contact_list=contact_list, actor=request.user)
    messages.success(request, f"List “{contact_list.name}” deleted; its contacts were kept.")
    return _redirect(request, reverse("contacts:lists"))


# --- blocklist -----------------------------------------------------------------------------------------------


class BlocklistFilter(HtmxFilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search number, source or note")
    reason = django_filters.ChoiceFilter(choices=BlocklistEntry.Reason.choices, empty_label="Any reason")

    class Meta:
        model = BlocklistEntry
        fields: list[str] = []

    def filter_q(self, queryset, name, value):
        from .search import phone_digits

        digits = phone_digits(value)
        if digits:
            return queryset.filter(phone__contains=digits)
        return queryset.filter(Q(source__icontains=value) | Q(note__icontains=value))


class BlocklistView(TablePage):
    table_class = BlocklistTable
    filterset_class = BlocklistFilter
    template_name = "contacts/blocklist.html"

    def get_queryset(self):
        return BlocklistEntry.objects.select_related("created_by")

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            filterset = self.filterset_class(request.GET, queryset=self.get_queryset(), request=request)
            if not filterset.is_valid():
                messages.error(request, "Fix the filters before exporting.")
                return redirect(reverse("contacts:blocklist"))
            tz = timezone.get_current_timezone()
            rows = (
                (
                    e.phone,
                    e.reason,
                    e.source,
                    e.note,
                    e.created_by.get_username() if e.created_by else "",
                    timezone.localtime(e.created_at, tz).isoformat(timespec="seconds"),
                )
                for e in filterset.qs.order_by("pk").iterator(chunk_size=2000)
            )
            audit(
                actor=request.user,
                action=AuditLog.Action.EXPORT,
                object_type="contacts.blocklistentry",
                object_repr="Blocklist CSV",
            )
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
            return csv_response(
                rows,
                filename=f"blocklist-{stamp}.csv",
                header=["phone", "reason", "source", "note", "added_by", "added_at"],
            )
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["form"] = kwargs.get("form") or BlocklistAddForm()
        return context

    def post(self, request, *args, **kwargs):
        form = BlocklistAddForm(request.POST)
        if form.is_valid():
            result = services.blocklist_add(
                phones=form.cleaned_data["phones"],
                reason=form.cleaned_data["reason"],
                source="blocklist page",
                note=form.cleaned_data["note"],
                actor=request.user,
            )
            if result.invalid:
                shown = "; ".join(f"“{raw}”: {why}" for raw, why in result.invalid[:10])
                more = f" (and {len(result.invalid) - 10} more)" if len(result.invalid) > 10 else ""
                messages.warning(request, f"{result.summary} Not added: {shown}{more}")
            else:
                messages.success(request, result.summary)
            if request.htmx:
                context = {"form": BlocklistAddForm(), "request": request}
                return refresh_tables(render(request, "contacts/blocklist.html#add_form", context))
            return redirect(reverse("contacts:blocklist"))
        if request.htmx:
            return render(request, "contacts/blocklist.html#add_form", {"form": form})
        self.prepare()
        return render(request, self.template_name, self.get_context_data(form=form))


@marketer_required
@require_POST
def blocklist_remove(request):
    qs = bulk_selection(request, BlocklistEntry.objects.all(), filterset_class=BlocklistFilter)
    phones = list(qs.values_list("phone", flat=True)[:200_000])
    n = services.blocklist_remove(phones=phones, actor=request.user, source="blocklist page")
    messages.success(request, f"{n:,} number(s) taken off the blocklist. Opted-out contacts stay excluded.")
    return _done(request, reverse("contacts:blocklist"))


# --- imports -----------------------------------------------------------------------------------------------


class ImportListView(TablePage):
    table_class = ImportTable
    template_name = "contacts/import_list.html"
    filterset_class = ImportFilter

    def get_queryset(self):
        return Import.objects.select_related("created_by")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        mode = self.request.GET.get("mode")
        context["upload_form"] = kwargs.get("upload_form") or UploadForm(
            initial={"mode": mode if mode in Import.Mode.values else Import.Mode.ADD_UPDATE}
        )
        context["max_bytes"] = services.import_max_bytes()
        context["running"] = Import.objects.filter(status__in=[Import.Status.QUEUED, Import.Status.RUNNING]).count()
        return context


class _UploadLimit(FileUploadHandler):
    """Stops reading an upload as soon as it is bigger than IMPORT_MAX_UPLOAD_BYTES (instead of storing it all
    first), and leaves a note for the view to say so."""

    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.content_length = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.content_length = content_length

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.content_length and self.content_length > self.limit + 64 * 1024:  # room for the other fields
            self.request.upload_too_large = self.content_length
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.upload_too_large = self.received
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


@csrf_exempt  # CSRF is checked below, once the size limit is in place (reading POST would read the whole body)
def import_upload(request):
    request.upload_handlers.insert(0, _UploadLimit(request, services.import_max_bytes()))
    return _import_upload(request)


@csrf_protect
@marketer_required
@require_POST
def _import_upload(request):
    form = UploadForm(request.POST, request.FILES)
    too_large = getattr(request, "upload_too_large", None)
    if too_large:
        form.is_valid()
        try:
            services.import_check_size(too_large)
        except ImportFileError as exc:
            form.errors.pop("file", None)
            form.add_error("file", str(exc))
    elif form.is_valid():
        try:
            imp, _info = services.import_create(upload=form.cleaned_data["file"], actor=request.user)
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            if form.cleaned_data["mode"] != imp.mode:
                Import.objects.filter(pk=imp.pk).update(mode=form.cleaned_data["mode"])
            return _redirect(request, reverse("contacts:import", args=[imp.pk]))
    if request.htmx:
        context = {"upload_form": form, "max_bytes": services.import_max_bytes()}
        return render(request, "contacts/import_list.html#upload_form", context)
    view = ImportListView()
    view.setup(request)
    view.prepare()
    return render(request, "contacts/import_list.html", view.get_context_data(upload_form=form), status=400)


def _mapping_form(imp: Import, info, data=None) -> MappingForm:
    columns = (imp.mapping or {}).get("columns") or []
    if (info.sheet_name and info.sheet_name != imp.sheet_name) or len(columns) != len(info.header):
        from .importing import guess_mapping

        columns = guess_mapping(info.header, info.rows, list(ContactField.objects.all()), imp.default_country)
    initial = {
        "has_header": imp.has_header,
        "mode": imp.mode,
        "default_country": imp.default_country or WorkspaceSettings.load().default_country,
        "target_group": imp.target_group_id,
        "target_list": imp.target_list_id,
    }
    if info.sheet_names and len(info.sheet_names) > 1:
        initial["sheet_name"] = info.sheet_name or imp.sheet_name
    for i in range(len(info.header)):
        initial[f"col_{i}"] = columns[i] if i < len(columns) else ""
        initial[f"col_{i}_label"] = info.header[i] if not info.header[i].startswith("Column ") else ""
    return MappingForm(
        data,
        initial=initial,
        header=info.header,
        samples=info.rows,
        fields=list(ContactField.objects.all()),
        sheet_names=info.sheet_names,
    )


def _import_info(imp: Import, sheet_name: str | None = None):
    try:
        return services.import_detect(imp=imp, sheet_name=sheet_name), ""
    except ImportFileError as exc:
        return None, str(exc)
    except OSError:
        return None, "The uploaded file is no longer available; upload it again."


@marketer_required
@require_http_methods(["GET", "POST"])
def import_detail(request, pk: int):
    """One page per import, by state: mapping (uploaded), progress (queued/running), summary (finished)."""
    imp = get_object_or_404(Import.objects.select_related("target_group", "target_list", "created_by"), pk=pk)
    if imp.status != Import.Status.UPLOADED:
        if request.method == "POST":
            messages.info(request, "This import has already started.")
        return render(request, "contacts/import_detail.html", _progress_context(imp))
    sheet = request.POST.get("sheet_name") or request.GET.get("sheet") or None
    info, problem = _import_info(imp, sheet)
    if info is None:
        return render(request, "contacts/import_detail.html", {"imp": imp, "problem": problem})
    if request.method == "POST":
        form = _mapping_form(imp, info, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                target_group = data.get("target_group")
                if data.get("new_group") and data["mode"] != Import.Mode.BLOCKLIST:
                    target_group = services.group_create(name=data["new_group"], actor=request.user)
                if data.get("sheet_name") and data["sheet_name"] != imp.sheet_name:
                    info = services.import_detect(imp=imp, sheet_name=data["sheet_name"])
                    imp.header = info.header
                services.import_configure(
                    imp=imp,
                    columns=data["columns"],
                    has_header=data["has_header"],
                    mode=data["mode"],
                    default_country=data["default_country"],
                    sheet_name=data.get("sheet_name") or "",
                    target_group=target_group,
                    target_list=data.get("target_list"),
                    new_fields=data["new_fields"],
                    preset_name=data.get("preset_name") or "",
                    actor=request.user,
                )
                return _redirect(request, reverse("contacts:import_preview", args=[imp.pk]))
            except (ValidationError, ImportFileError) as exc:
                form.add_error(None, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        form = _mapping_form(imp, info)
    context = {
        "imp": imp,
        "info": info,
        "form": form,
        "encoding_label": ENCODING_LABELS.get(imp.encoding, imp.encoding),
        "delimiter_label": DELIMITER_NAMES.get(imp.delimiter, imp.delimiter),
        "new_field": NEW_FIELD,
    }
    template = "contacts/import_mapping.html" + ("#mapping" if request.htmx and request.method == "POST" else "")
    return render(request, template, context)


@marketer_required
@require_http_methods(["GET"])
def import_preview(request, pk: int):
    imp = get_object_or_404(Import, pk=pk)
    if imp.status != Import.Status.UPLOADED:
        return redirect(reverse("contacts:import", args=[imp.pk]))
    info, problem = _import_info(imp)
    if info is None:
        return render(request, "contacts/import_detail.html", {"imp": imp, "problem": problem})
    try:
        preview = selectors.import_preview(imp, info)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(reverse("contacts:import", args=[imp.pk]))
    return render(
        request,
        "contacts/import_preview.html",
        {"imp": imp, "info": info, "preview": preview, "column_label": column_label},
    )


@marketer_required
@require_POST
def import_start(request, pk: int):
    imp = get_object_or_404(Import, pk=pk)
    try:
        services.import_start(imp=imp, actor=request.user)
        messages.success(request, "Import started. You can leave this page: it keeps running.")
    except ValidationError as exc:
        messages.info(request, " ".join(exc.messages))
    return _redirect(request, reverse("contacts:import", args=[imp.pk]))


def _progress_context(imp: Import) -> dict:
    errors = list(selectors.import_error_rows(imp)[:20]) if imp.is_finished else []
    elapsed = None
    rate = None
    if imp.started_at:
        end = imp.finished_at or timezone.now()
        elapsed = max((end - imp.started_at).total_seconds(), 0.001)
        rate = int(imp.processed_rows / elapsed) if imp.processed_rows else None
    return {
        "imp": imp,
        "errors": errors,
        "error_count": imp.invalid_count + imp.duplicate_count + imp.blocked_count,
        "elapsed": elapsed,
        "rate": rate,
        "header": imp.header,
    }


@marketer_required
def import_progress(request, pk: int):
    """The polled progress partial; answers 286 (stop polling) with the summary once the import has ended."""
    imp = get_object_or_404(Import, pk=pk)
    context = _progress_context(imp)
    if imp.is_finished or imp.status == Import.Status.UPLOADED:
        html = render(request, "contacts/import_detail.html#status", context).content
        return HttpResponseStopPolling(html)
    return render(request, "contacts/import_detail.html#status", context)


@marketer_required
@require_POST
def import_cancel(request, pk: int):
    imp = get_object_or_404(Import, pk=pk)
    if imp.is_finished:
        messages.info(request, "This import has already ended.")
    else:
        services.import_cancel(imp=imp, actor=request.user)
        messages.success(request, "Cancelling: rows already written stay.")
    return _redirect(request, reverse("contacts:import", args=[imp.pk]))


@marketer_required
@require_POST
def import_retry(request, pk: int):
    imp = get_object_or_404(Import, pk=pk)
    try:
        services.import_retry(imp=imp, actor=request.user)
        messages.success(request, f"Continuing after row {imp.processed_rows:,}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _redirect(request, reverse("contacts:import", args=[imp.pk]))


@marketer_required
def import_errors_csv(request, pk: int):
    """The rows an import did not take, with their original values and the reason."""
    imp = get_object_or_404(Import, pk=pk)
    if not imp.is_finished and imp.status != Import.Status.RUNNING:
        raise Http404("No report yet.")
    header = imp.header or []
    width = len(header)

    def rows():
        for e in selectors.import_error_rows(imp).iterator(chunk_size=2000):
            values = list(e.values or [])
            yield (e.row_number, e.reason, *values, *([""] * max(0, width - len(values))))

    return csv_response(rows(), filename=f"import-{imp.pk}-rows-not-imported.csv", header=["row", "reason", *header])
