"""Campaign pages: list, composer (htmx, one page), status page (polled partial), messages, exports, inbox.

Thin: reads from ``selectors``, writes through ``services``; roles checked on the server in every view.
"""

from __future__ import annotations

from datetime import UTC

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST
from django.views.generic import RedirectView
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from contacts.models import Contact
from smsportal import roles
from smsportal.roles import RoleRequiredMixin, role_required
from smsportal.tables import EmptyState, HtmxFilterSet, HtmxTable, HtmxTableView, StatusColumn, csv_response
from smsportal.templatetags.ui import STATUS_TONES, url_if

from . import selectors, services
from .forms import CampaignForm, CampaignNewForm, FailedGroupForm, TestNumberForm, TestSendForm
from .models import Campaign, Message, TestNumber
from .rendering import BUILTIN_KEYS, declared_keys
from .segments import GSM_REPLACEMENTS, to_gsm


def _htmx(request) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


def _campaign(pk: int) -> Campaign:
    campaign = selectors.campaign_for_page(pk)
    if campaign is None:
        raise Http404("No such campaign")
    return campaign


# ---------------------------------------------------------------------------------------------------- list
class CampaignTable(HtmxTable):
    name = tables.Column(verbose_name="Campaign", linkify=False)
    status = StatusColumn(verbose_name="Status", orderable=False)
    account = tables.Column(verbose_name="Account", orderable=False, empty_values=())
    recipients_total = tables.Column(
        verbose_name="Recipients", orderable=False, empty_values=(), attrs={"td": {"class": "text-tabular"}}
    )
    delivered_count = tables.Column(
        verbose_name="Delivered", orderable=False, empty_values=(), attrs={"td": {"class": "text-tabular"}}
    )
    failed_count = tables.Column(
        verbose_name="Failed", orderable=False, empty_values=(), attrs={"td": {"class": "text-tabular"}}
    )
    when = tables.Column(verbose_name="When", orderable=False, empty_values=(), accessor="scheduled_at")
    created_at = tables.DateTimeColumn(verbose_name="Created", format="Y-m-d H:i")
    empty_state = EmptyState(
        icon="megaphone",
        title="No campaigns yet",
        text="Write a message, pick groups or lists, test it on your phone and send it now or later.",
        action_url_name="campaigns:create",
        action_label="New campaign",
    )

    class Meta(HtmxTable.Meta):
        model = Campaign
        fields = (
            "name",
            "status",
            "account",
            "recipients_total",
            "delivered_count",
            "failed_count",
            "when",
            "created_at",
        )
        order_by = ("-created_at",)

    def render_name(self, value, record):
        url = (
            reverse("campaigns:edit", args=[record.pk])
            if record.status == Campaign.Status.DRAFT
            else reverse("campaigns:detail", args=[record.pk])
        )
        sub = record.text[:70] + ("…" if len(record.text) > 70 else "")
        return format_html(
            '<a class="fw-medium" href="{}">{}</a><div class="small text-secondary text-truncate" '
            'style="max-width:26rem">{}</div>',
            url,
            value,
            sub or "—",
        )

    def render_account(self, value, record):
        return record.account.name if record.account else "—"

    def render_recipients_total(self, value, record):
        n = record.recipients_total or record.audience_estimate
        return f"{n:,}" if n else "—"

    def render_delivered_count(self, value, record):
        if not record.recipients_total:
            return "—"
        pct = round(100 * value / record.recipients_total)
        return format_html('{} <span class="text-secondary small">({}%)</span>', f"{value:,}", pct)

    def render_failed_count(self, value, record):
        return f"{value:,}" if record.recipients_total else "—"

    def render_when(self, value, record):
        when = record.started_at or record.scheduled_at
        if not when:
            return "—"
        prefix = "Started" if record.started_at else "Scheduled"
        return format_html(
            '<span class="small text-secondary">{}</span><br>{}',
            prefix,
            timezone.localtime(when).strftime("%Y-%m-%d %H:%M"),
        )


class CampaignFilter(HtmxFilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    status = django_filters.ChoiceFilter(choices=Campaign.Status.choices, empty_label="Any status")
    account = django_filters.ModelChoiceFilter(queryset=lambda request: _account_qs(), empty_label="Any account")

    class Meta:
        model = Campaign
        fields = ["q", "status", "account"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(name__icontains=value) | Q(text__icontains=value)) if value else queryset


def _account_qs():
    from providers.models import ProviderAccount

    return ProviderAccount.objects.order_by("name")


class CampaignListView(RoleRequiredMixin, HtmxTableView):
    required_role = roles.MARKETER
    table_class = CampaignTable
    filterset_class = CampaignFilter
    template_name = "campaigns/campaign_list.html"

    def get_queryset(self):
        return selectors.campaign_list()


# ---------------------------------------------------------------------------------------------------- compose
@role_required(roles.MARKETER)
def campaign_create(request):
    form = CampaignNewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        campaign = services.campaign_create(user=request.user, name=form.cleaned_data["name"])
        return redirect("campaigns:edit", pk=campaign.pk)
    return render(request, "campaigns/campaign_new.html", {"form": form})


def _compose_context(request, campaign: Campaign, form: CampaignForm, *, preview_index: int = 0) -> dict:
    bd = selectors.breakdown(campaign)
    preview = selectors.preview(campaign, preview_index)
    start = None
    if form.is_bound and form.is_valid() and not form.send_now and form.cleaned_data.get("send_at"):
        start = form.cleaned_data["send_at"]
    elif campaign.scheduled_at:
        start = campaign.scheduled_at
    account = campaign.account
    return {
        "campaign": campaign,
        "form": form,
        "breakdown": bd,
        "breakdown_kinds": selectors.BREAKDOWN_KINDS,
        "preview": preview,
        "counter": selectors.text_counter(campaign.text),
        "text_problems": services.text_problems(campaign.text) if campaign.text.strip() else [],
        "describe": {c: selectors.describe_char(c) for c in selectors.text_counter(campaign.text).info.non_gsm},
        "missing": selectors.missing_values(campaign),
        "totals": selectors.totals(campaign, bd["eligible"], start=start),
        "placeholder_keys": [*BUILTIN_KEYS, *declared_keys()],
        "gsm_replacements": GSM_REPLACEMENTS,
        "allowed_senders": (account.allowed_senders or []) if account else [],
        "sender_problems": services.sender_problems(account, campaign.sender) if account else [],
        "test_form": TestSendForm(contacts=_sample_contacts(campaign)),
        "number_form": TestNumberForm(),
        "test_numbers": TestNumber.objects.order_by("label", "phone"),
        "schedule": _schedule_hint(start),
        "editable": campaign.status == Campaign.Status.DRAFT,
        "saved_at": campaign.updated_at,
    }


def _sample_contacts(campaign: Campaign) -> list[Contact]:
    return selectors.preview_recipients(campaign)


def _schedule_hint(when) -> dict | None:
    if when is None:
        return None
    local = timezone.localtime(when)
    utc = when.astimezone(UTC)
    # Pre-formatted: the ``date`` filter would convert an aware datetime back to the workspace time zone.
    return {
        "local": local,
        "utc": utc,
        "utc_text": f"{utc:%Y-%m-%d %H:%M}",
        "utc_time": f"{utc:%H:%M}",
        "tz": timezone.get_current_timezone_name(),
        "offset": local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:],
    }


def _save_from_form(request, campaign: Campaign, form: CampaignForm) -> Campaign:
    """Autosave: store every field that parsed, even when others did not (nothing typed is lost)."""
    form.is_valid()
    data = form.draft_data()
    if "send_at" in form.cleaned_data:
        data_when = None if form.send_now else form.cleaned_data.get("send_at")
        campaign.scheduled_at = data_when
        Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.DRAFT).update(scheduled_at=data_when)
    return services.campaign_save_draft(campaign=campaign, user=request.user, data=data)


@role_required(roles.MARKETER)
def campaign_edit(request, pk: int):
    campaign = _campaign(pk)
    if campaign.status != Campaign.Status.DRAFT and request.method == "GET":
        if campaign.status in (Campaign.Status.SCHEDULED, Campaign.Status.AWAITING_APPROVAL):
            messages.info(request, "This campaign is scheduled. Unschedule it to edit it.")
        return redirect("campaigns:detail", pk=campaign.pk)
    try:
        preview_index = int(request.GET.get("i", 0))
    except ValueError:
        preview_index = 0
    if request.method == "POST":
        form = CampaignForm(request.POST, instance=campaign)
        try:
            campaign = _save_from_form(request, campaign, form)
        except services.CampaignError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("campaigns:detail", pk=campaign.pk)
        action = request.POST.get("action", "save")
        if action == "save":
            if form.is_valid():
                messages.success(request, "Draft saved.")
                return redirect("campaigns:edit", pk=campaign.pk)
        elif form.is_valid():
            send_at = None if form.send_now else form.cleaned_data.get("send_at")
            if not form.send_now and send_at is None:
                form.add_error("send_at", "Choose the date and time to send at.")
            else:
                try:
                    campaign = services.campaign_schedule(campaign=campaign, user=request.user, send_at=send_at)
                except services.CampaignError as exc:
                    for field, errors in exc.message_dict.items():
                        target = field if field in form.fields else None
                        for e in errors:
                            form.add_error(target, e)
                    messages.error(
                        request, "The campaign is not ready yet: see the highlighted fields. Your draft is saved."
                    )
                else:
                    if campaign.status == Campaign.Status.AWAITING_APPROVAL:
                        messages.success(request, "Saved and sent for approval. An Approver must approve it.")
                    elif send_at is None:
                        messages.success(request, "Sending has started.")
                    else:
                        local = timezone.localtime(send_at)
                        messages.success(request, f"Scheduled for {local:%Y-%m-%d %H:%M}.")
                    return redirect("campaigns:detail", pk=campaign.pk)
        campaign.refresh_from_db()
    else:
        form = CampaignForm(instance=campaign)
    return render(
        request, "campaigns/compose.html", _compose_context(request, campaign, form, preview_index=preview_index)
    )


@require_POST
@role_required(roles.MARKETER)
def campaign_live(request, pk: int):
    """htmx: autosave what the composer holds and return every live panel (out-of-band swaps)."""
    campaign = _campaign(pk)
    if campaign.status != Campaign.Status.DRAFT:
        return HttpResponseClientRedirect(reverse("campaigns:detail", args=[campaign.pk]))
    data = request.POST.copy()
    fixup = request.POST.get("fixup") == "1"
    if fixup:
        data["text"] = to_gsm(data.get("text", ""))
    form = CampaignForm(data, instance=campaign)
    campaign = _save_from_form(request, campaign, form)
    campaign.refresh_from_db()
    ctx = _compose_context(request, campaign, form)
    ctx["fixup"] = fixup
    return render(request, "campaigns/compose.html#live", ctx)


@role_required(roles.MARKETER)
def campaign_preview(request, pk: int):
    campaign = _campaign(pk)
    try:
        index = int(request.GET.get("i", 0))
    except ValueError:
        index = 0
    if not _htmx(request):
        return redirect(reverse("campaigns:edit", args=[pk]) + f"?i={index}#preview")
    return render(
        request, "campaigns/compose.html#preview", {"campaign": campaign, "preview": selectors.preview(campaign, index)}
    )


def _test_panel(request, campaign, *, results=None, form=None, number_form=None, status=200):
    ctx = {
        "campaign": campaign,
        "test_form": form or TestSendForm(contacts=_sample_contacts(campaign)),
        "number_form": number_form or TestNumberForm(),
        "test_numbers": TestNumber.objects.order_by("label", "phone"),
        "test_results": results,
    }
    return render(request, "campaigns/compose.html#test_panel", ctx, status=status)


@require_POST
@role_required(roles.MARKETER)
def campaign_test_send(request, pk: int):
    campaign = _campaign(pk)
    form = TestSendForm(request.POST, contacts=_sample_contacts(campaign))
    results = None
    if form.is_valid():
        try:
            results = services.campaign_test_send(
                campaign=campaign,
                user=request.user,
                numbers=list(form.cleaned_data["numbers"]),
                contact=form.cleaned_data.get("contact"),
            )
        except services.CampaignError as exc:
            for field, errors in exc.message_dict.items():
                for e in errors:
                    form.add_error("numbers" if field == "numbers" else None, e)
    if not _htmx(request):
        for r in results or []:
            (messages.success if r.ok else messages.error)(request, r.detail)
        return redirect(reverse("campaigns:edit", args=[pk]) + "#test-send")
    return _test_panel(request, campaign, results=results, form=form)


@require_POST
@role_required(roles.MARKETER)
def testnumber_add(request, pk: int):
    campaign = _campaign(pk)
    number_form = TestNumberForm(request.POST)
    if number_form.is_valid():
        try:
            services.testnumber_add(
                user=request.user, phone=number_form.cleaned_data["phone"], label=number_form.cleaned_data["label"]
            )
            number_form = TestNumberForm()
        except services.CampaignError as exc:
            for e in exc.message_dict.get("phone", exc.messages):
                number_form.add_error("phone", e)
    if not _htmx(request):
        return redirect(reverse("campaigns:edit", args=[pk]) + "#test-send")
    return _test_panel(request, campaign, number_form=number_form)


@require_POST
@role_required(roles.MARKETER)
def testnumber_delete(request, pk: int, number_pk: int):
    campaign = _campaign(pk)
    number = get_object_or_404(TestNumber, pk=number_pk)
    services.testnumber_delete(user=request.user, number=number)
    if not _htmx(request):
        return redirect(reverse("campaigns:edit", args=[pk]) + "#test-send")
    return _test_panel(request, campaign)


# ---------------------------------------------------------------------------------------------------- status page
def _status_context(campaign: Campaign) -> dict:
    st = selectors.status(campaign)
    return {
        "campaign": campaign,
        "st": st,
        "chart": selectors.chart(campaign),
        "schedule": _schedule_hint(campaign.scheduled_at),
    }


@role_required(roles.MARKETER)
def campaign_detail(request, pk: int):
    campaign = _campaign(pk)
    ctx = _status_context(campaign)
    ctx.update(
        group_form=FailedGroupForm(initial={"name": f"Failed: {campaign.name}"[:100]}),
        can_approve=_can_approve(request.user, campaign),
        audience={
            "groups": list(campaign.groups.all()),
            "lists": list(campaign.lists.all()),
            "segments": list(campaign.segments.all()),
            "exclude_groups": list(campaign.exclude_groups.all()),
            "exclude_lists": list(campaign.exclude_lists.all()),
        },
    )
    return render(request, "campaigns/detail.html", ctx)


def _can_approve(user, campaign: Campaign) -> bool:
    return roles.has_role(user, roles.APPROVER) and campaign.created_by_id != user.pk


@role_required(roles.MARKETER)
def campaign_status(request, pk: int):
    """The polled partial: counters, tiles, progress, rate, ETA, chart data. 286 stops polling once settled."""
    campaign = _campaign(pk)
    if not _htmx(request):
        return redirect("campaigns:detail", pk=pk)
    ctx = _status_context(campaign)
    ctx.update(polled=True, can_approve=_can_approve(request.user, campaign))
    response = render(request, "campaigns/detail.html#status", ctx)
    if ctx["st"].settled:
        stop = HttpResponseStopPolling(response.content)
        for header, value in response.items():
            stop[header] = value
        return stop
    return response


ACTIONS = {
    "pause": (services.campaign_pause, "Paused: no new messages will be handed over."),
    "resume": (services.campaign_resume, "Resumed."),
    "cancel": (services.campaign_cancel, "Cancelled: pending messages will not be sent."),
    "approve": (services.campaign_approve, "Approved."),
    "unschedule": (services.campaign_unschedule, "Unscheduled: the campaign is a draft again."),
    "requeue": (services.campaign_requeue_failed, None),
    "delete": (services.campaign_delete, "Draft deleted."),
}


@require_POST
@role_required(roles.MARKETER)
def campaign_action(request, pk: int, action: str):
    campaign = _campaign(pk)
    if action not in ACTIONS:
        raise Http404("Unknown action")
    if action == "approve" and not roles.has_role(request.user, roles.APPROVER):
        raise PermissionDenied("Approving campaigns needs the Approver role.")
    func, done = ACTIONS[action]
    try:
        result = func(campaign=campaign, user=request.user)
    except services.CampaignError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if action == "requeue":
            done = f"{result:,} temporary failure{'s' if result != 1 else ''} requeued."
        messages.success(request, done)
        if action == "delete":
            url = reverse("campaigns:list")
            return HttpResponseClientRedirect(url) if _htmx(request) else redirect(url)
        if action == "unschedule":
            url = reverse("campaigns:edit", args=[pk])
            return HttpResponseClientRedirect(url) if _htmx(request) else redirect(url)
    url = reverse("campaigns:detail", args=[pk])
    return HttpResponseClientRedirect(url) if _htmx(request) else redirect(url)


@require_POST
@role_required(roles.MARKETER)
def campaign_failed_group(request, pk: int):
    campaign = _campaign(pk)
    form = FailedGroupForm(request.POST)
    if form.is_valid():
        try:
            group, added = services.campaign_failed_to_group(
                campaign=campaign, user=request.user, name=form.cleaned_data["name"]
            )
        except services.CampaignError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request, f"Group “{group.name}” created with {added:,} contact{'s' if added != 1 else ''}."
            )
    else:
        messages.error(request, "Give the group a name.")
    return redirect("campaigns:detail", pk=pk)


# ---------------------------------------------------------------------------------------------------- messages
MESSAGE_STATUS_CHOICES = [("failed_any", "Failed (any reason)"), *Message.Status.choices]


class MessageTable(HtmxTable):
    """One row per recipient. Rows are rendered in one pass (``rows_html``, template
    ``campaigns/_message_table.html``): a campaign's tiles open this table at a million messages."""

    id = tables.Column(verbose_name="#", attrs={"td": {"class": "text-secondary small"}})
    to = tables.Column(verbose_name="To", orderable=False)
    status = StatusColumn(verbose_name="Status", orderable=False)
    error_text = tables.Column(verbose_name="Reason", orderable=False, empty_values=())
    segments = tables.Column(verbose_name="Parts", orderable=False, attrs={"td": {"class": "text-tabular"}})
    handed_over_at = tables.DateTimeColumn(verbose_name="Handed over", format="Y-m-d H:i:s", orderable=False)
    delivered_at = tables.DateTimeColumn(verbose_name="Delivered", format="Y-m-d H:i:s", orderable=False)
    external_id = tables.Column(
        verbose_name="Provider id", orderable=False, attrs={"td": {"class": "small text-secondary text-break"}}
    )
    empty_state = EmptyState(
        icon="chat-square-text", title="No messages", text="Messages appear here when the campaign starts."
    )

    class Meta(HtmxTable.Meta):
        model = Message
        fields = ("id", "to", "status", "error_text", "segments", "handed_over_at", "delivered_at", "external_id")
        order_by = ("id",)
        template_name = "campaigns/_message_table.html"

    def rows_html(self):
        """Every row of the current page as HTML, each value escaped by ``format_html``."""
        page = getattr(self, "page", None)
        records = [row.record for row in (page.object_list if page is not None else self.rows)]
        if not records:
            return ""
        tz = timezone.get_current_timezone()
        labels = dict(Message.Status.choices)
        contact_url = url_if("contacts:detail", 0)
        contact_url = contact_url[: -len("0/")] if contact_url.endswith("/0/") else ""

        def when(value):
            return timezone.localtime(value, tz).strftime("%Y-%m-%d %H:%M:%S") if value else "—"

        html = []
        for m in records:
            name = m.contact.full_name if m.contact_id and m.contact else ""
            to = (
                format_html('<a href="{}{}/">{}</a>', contact_url, m.contact_id, m.to)
                if contact_url and m.contact_id
                else m.to
            )
            reason = (
                format_html('<span class="small">{}</span> <code class="small">{}</code>', m.error_text, m.error_code)
                if (m.error_text or m.error_code)
                else "—"
            )
            html.append(
                format_html(
                    '<tr><td class="text-secondary small">{}</td><td>{}<div class="small text-secondary">{}</div></td>'
                    '<td><span class="badge badge-status tone-{}">{}</span></td><td>{}</td>'
                    '<td class="text-tabular">{}</td><td>{}</td><td>{}</td>'
                    '<td class="small text-secondary text-break">{}</td></tr>',
                    m.pk,
                    to,
                    name,
                    STATUS_TONES.get(m.status, "muted"),
                    labels.get(m.status, m.status),
                    reason,
                    m.segments,
                    when(m.handed_over_at),
                    when(m.delivered_at),
                    m.external_id or "—",
                )
            )
        return mark_safe("".join(html))  # noqa: S308 - every part above went through format_html


class MessageFilter(HtmxFilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Phone")
    status = django_filters.ChoiceFilter(
        choices=MESSAGE_STATUS_CHOICES, method="filter_status", empty_label="Any status"
    )
    reason = django_filters.CharFilter(field_name="error_code", label="Reason code")
    test = django_filters.BooleanFilter(
        field_name="is_test", label="Test sends", widget=django_filters.widgets.BooleanWidget()
    )

    class Meta:
        model = Message
        fields = ["q", "status", "reason"]

    def filter_q(self, queryset, name, value):
        value = value.strip().replace(" ", "")
        return queryset.filter(to__contains=value) if value else queryset

    def filter_status(self, queryset, name, value):
        if value == "failed_any":
            return queryset.filter(status__in=selectors.FAILED_STATUSES)
        return queryset.filter(status=value) if value else queryset


class CampaignMessagesView(RoleRequiredMixin, HtmxTableView):
    required_role = roles.MARKETER
    table_class = MessageTable
    filterset_class = MessageFilter
    template_name = "campaigns/messages.html"

    def dispatch(self, request, *args, **kwargs):
        self.campaign = _campaign(kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        qs = selectors.campaign_messages(self.campaign)
        if self.request.GET.get("test") not in ("true", "1"):
            qs = qs.filter(is_test=False)
        return qs

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["campaign"] = self.campaign
        return ctx


@role_required(roles.MARKETER)
def campaign_export(request, pk: int):
    campaign = _campaign(pk)
    kind = request.GET.get("kind", "all")
    qs = Message.objects.filter(campaign=campaign, is_test=False).order_by("id")
    if kind == "failed":
        qs = qs.filter(status__in=selectors.FAILED_STATUSES)
    rows = qs.values_list(
        "to",
        "contact__first_name",
        "contact__last_name",
        "status",
        "error_code",
        "error_text",
        "segments",
        "external_id",
        "handed_over_at",
        "delivered_at",
    ).iterator(chunk_size=2000)

    def fmt(rows):
        for row in rows:
            row = list(row)
            for i in (8, 9):
                row[i] = timezone.localtime(row[i]).strftime("%Y-%m-%d %H:%M:%S") if row[i] else ""
            yield row

    from django.utils.text import slugify

    from smsportal.audit import audit
    from smsportal.models import AuditLog

    audit(actor=request.user, action=AuditLog.Action.EXPORT, obj=campaign, changes={"kind": kind})
    return csv_response(
        fmt(rows),
        filename=f"{slugify(campaign.name) or 'campaign'}-{kind}.csv",
        header=[
            "phone",
            "first_name",
            "last_name",
            "status",
            "error_code",
            "error_text",
            "segments",
            "provider_id",
            "handed_over_at",
            "delivered_at",
        ],
    )


# ---------------------------------------------------------------------------------------------------- audience
class AudienceContactTable(HtmxTable):
    phone = tables.Column(verbose_name="Phone")
    first_name = tables.Column(verbose_name="First name", orderable=False)
    last_name = tables.Column(verbose_name="Last name", orderable=False)
    status = StatusColumn(verbose_name="Status", orderable=False)

    class Meta(HtmxTable.Meta):
        model = Contact
        fields = ("phone", "first_name", "last_name", "status")
        order_by = ("phone",)

    def render_phone(self, value, record):
        link = url_if("contacts:detail", record.pk)
        return format_html('<a href="{}">{}</a>', link, value) if link else value


@role_required(roles.MARKETER)
def campaign_audience(request, pk: int, kind: str):
    campaign = _campaign(pk)
    if kind not in selectors.BREAKDOWN_KINDS:
        raise Http404("Unknown audience figure")
    table = AudienceContactTable(selectors.breakdown_contacts(campaign, kind).order_by("phone"))
    tables.RequestConfig(request, paginate={"per_page": 50}).configure(table)
    template = "campaigns/audience.html#table" if _htmx(request) else "campaigns/audience.html"
    return render(
        request,
        template,
        {"campaign": campaign, "table": table, "kind": kind, "kind_label": selectors.BREAKDOWN_KINDS[kind]},
    )


# ---------------------------------------------------------------------------------------------------- inbox
class RepliesRedirectView(RoleRequiredMixin, RedirectView):
    """Replies live in the inbox (``inbox:index``); keep old links (``?campaign=…``) working."""

    required_role = roles.MARKETER
    pattern_name = "inbox:index"
    query_string = True
    permanent = False
