"""Inbox pages: three panes (filters, conversations, thread), the conversation actions, the CSV export and the
keyword lists. Thin: reads come from ``inbox_selectors``, writes from ``inbox`` (services).

htmx: the page is one template (``inbox/inbox.html``) with partials; ``HX-Target`` picks what a request
renders: ``inbox-list`` the conversation list, ``inbox-more`` the next rows, ``inbox-thread`` the thread (with
the list swapped out-of-band, so unread marks and the selection follow). Every link and form also works as a
plain request (full page or redirect). Actions answer htmx with the fresh thread; flash messages become toasts.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from smsportal import roles
from smsportal.audit import audit
from smsportal.models import AuditLog
from smsportal.roles import role_required
from smsportal.tables import csv_response

from . import inbox as services
from . import inbox_selectors as selectors
from .inbox_forms import AssignForm, InboxFilterForm, KeywordRuleForm, ReplyForm

TEMPLATE = "inbox/inbox.html"
FILTER_KEYS = ("status", "assigned", "keyword", "campaign", "account", "matched", "date_from", "date_to", "q", "sort")


def _htmx_target(request) -> str:
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.boosted or htmx.history_restore_request:
        return ""
    return htmx.target or ""


def _filter_query(data) -> str:
    return urlencode([(k, data.get(k)) for k in FILTER_KEYS if data.get(k)])


def _filter_form(request, data=None) -> InboxFilterForm:
    source = data if data is not None else request.GET
    bound = {k: source.get(k) for k in FILTER_KEYS if source.get(k)}
    form = InboxFilterForm(bound or None)
    if bound:
        form.is_valid()  # cleans; invalid fields are left out of the filters and shown at the field
    return form


def _page_number(request) -> int:
    try:
        return max(1, min(int(request.GET.get("page") or 1), 10_000))
    except ValueError:
        return 1


def _list_context(request, form: InboxFilterForm, *, selected: str = "", page: int = 1) -> dict:
    query = _filter_query(form.data if form.is_bound else {})
    filters = form.filters()
    base = reverse("inbox:conversation", args=[selected]) if selected else reverse("inbox:index")
    return {
        "filter_form": form,
        "filter_query": query,
        "sort": filters.sort,
        "conversations": selectors.conversation_page(filters, user=request.user, page=page),
        "selected": selected,
        "list_base": base,
        "list_refresh_url": base + (f"?{query}" if query else ""),
    }


def _thread_context(request, phone: str, *, reply_form=None, assign_form=None) -> dict:
    thread = selectors.conversation_thread(phone)
    return {
        "thread": thread,
        "reply_form": reply_form or ReplyForm(),
        "assign_form": assign_form or AssignForm(initial={"assignee": thread.assigned_to}),
        "conversation_url": reverse("inbox:conversation", args=[phone]),
    }


def _page_context(request, form, *, selected="", page=1) -> dict:
    return {
        **_list_context(request, form, selected=selected, page=page),
        "sources": selectors.reply_sources(),
        "any_replies": selectors.has_replies(),
    }


# ---------------------------------------------------------------------------------------------- pages
@role_required(roles.MARKETER)
def inbox_index(request):
    form = _filter_form(request)
    target = _htmx_target(request)
    page = _page_number(request)
    if target == "inbox-more":
        return render(request, f"{TEMPLATE}#conversation_rows", _list_context(request, form, page=page))
    if target == "inbox-list":
        return render(request, f"{TEMPLATE}#conversations", _list_context(request, form, page=page))
    return render(request, TEMPLATE, _page_context(request, form, page=page))


@role_required(roles.MARKETER)
def conversation(request, phone: str):
    if not selectors.conversation_exists(phone):
        raise Http404("No conversation with this number")
    form = _filter_form(request)
    target = _htmx_target(request)
    if target == "inbox-list":  # a refresh of the list while this conversation is open: no side effects
        return render(request, f"{TEMPLATE}#conversations", _list_context(request, form, selected=phone))
    if target == "inbox-more":
        return render(
            request,
            f"{TEMPLATE}#conversation_rows",
            _list_context(request, form, selected=phone, page=_page_number(request)),
        )
    services.conversation_mark_read(phone=phone, actor=request.user)
    if target == "inbox-thread":
        return _thread_response(request, phone, form)
    context = {**_page_context(request, form, selected=phone), **_thread_context(request, phone)}
    return render(request, TEMPLATE, context)


def _thread_response(request, phone: str, form=None, *, status: int = 200, **forms_) -> HttpResponse:
    form = form or _filter_form(request)
    context = {
        **_list_context(request, form, selected=phone),
        **_thread_context(request, phone, **forms_),
        "oob_list": True,
    }
    return render(request, f"{TEMPLATE}#thread_with_list", context, status=status)


# ---------------------------------------------------------------------------------------------- actions
def _after_action(request, phone: str, **forms_) -> HttpResponse:
    if _htmx_target(request):
        response = _thread_response(request, phone, _filter_form(request, request.GET), **forms_)
        return trigger_client_event(response, "inboxChanged", {})
    url = reverse("inbox:conversation", args=[phone])
    query = _filter_query(request.GET)
    return redirect(f"{url}?{query}" if query else url)


def _run(request, phone: str, action, success: str) -> HttpResponse:
    if not selectors.conversation_exists(phone):
        raise Http404("No conversation with this number")
    try:
        action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success)
    return _after_action(request, phone)


@require_POST
@role_required(roles.MARKETER)
def conversation_reply(request, phone: str):
    if not selectors.conversation_exists(phone):
        raise Http404("No conversation with this number")
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            message = services.conversation_reply(phone=phone, text=form.cleaned_data["text"], actor=request.user)
        except ValidationError as exc:
            for error in exc.message_dict.get("text", exc.messages) if hasattr(exc, "error_dict") else exc.messages:
                form.add_error("text", error)
        else:
            messages.success(
                request,
                f"Reply sent to {phone} through {message.account.name} "
                f"({message.segments} segment{'s' if message.segments != 1 else ''}).",
            )
            return _after_action(request, phone)
    if _htmx_target(request):
        return _thread_response(request, phone, _filter_form(request, request.GET), reply_form=form)
    context = {
        **_page_context(request, _filter_form(request, request.GET), selected=phone),
        **_thread_context(request, phone, reply_form=form),
    }
    return render(request, TEMPLATE, context, status=400)


@require_POST
@role_required(roles.MARKETER)
def conversation_assign(request, phone: str):
    form = AssignForm(request.POST)
    if not form.is_valid():
        if not selectors.conversation_exists(phone):
            raise Http404("No conversation with this number")
        messages.error(request, "Choose a teammate from the list.")
        return _after_action(request, phone)
    assignee = form.cleaned_data["assignee"]
    label = f"Assigned to {assignee.get_full_name() or assignee.get_username()}." if assignee else "Unassigned."
    return _run(
        request, phone, lambda: services.conversation_assign(phone=phone, assignee=assignee, actor=request.user), label
    )


@require_POST
@role_required(roles.MARKETER)
def conversation_close(request, phone: str):
    return _run(
        request, phone, lambda: services.conversation_close(phone=phone, actor=request.user), "Conversation closed."
    )


@require_POST
@role_required(roles.MARKETER)
def conversation_reopen(request, phone: str):
    return _run(
        request, phone, lambda: services.conversation_reopen(phone=phone, actor=request.user), "Conversation reopened."
    )


@require_POST
@role_required(roles.MARKETER)
def conversation_block(request, phone: str):
    return _run(
        request,
        phone,
        lambda: services.conversation_block(phone=phone, actor=request.user),
        f"{phone} is on the blocklist: it gets no more messages.",
    )


@require_POST
@role_required(roles.MARKETER)
def conversation_unblock(request, phone: str):
    return _run(
        request,
        phone,
        lambda: services.conversation_unblock(phone=phone, actor=request.user),
        f"{phone} is off the blocklist.",
    )


@require_POST
@role_required(roles.MARKETER)
def conversation_opt_out(request, phone: str):
    return _run(
        request,
        phone,
        lambda: services.conversation_opt_out(phone=phone, actor=request.user),
        f"{phone} is unsubscribed: it gets no more campaigns.",
    )


@require_POST
@role_required(roles.MARKETER)
def conversation_opt_in(request, phone: str):
    return _run(
        request,
        phone,
        lambda: services.conversation_opt_in(phone=phone, actor=request.user),
        f"{phone} is subscribed again.",
    )


# ---------------------------------------------------------------------------------------------- export
@role_required(roles.MARKETER)
def export_csv(request):
    form = _filter_form(request)
    if form.is_bound and form.errors:
        messages.error(request, "Fix the filters before exporting.")
        query = _filter_query(request.GET)
        return redirect(reverse("inbox:index") + (f"?{query}" if query else ""))
    filters = form.filters()
    qs = selectors.filtered_replies(filters, user=request.user)
    if filters.status:
        qs = qs.filter(status=filters.status) if filters.status != "open" else qs.exclude(status="closed")
    audit(
        actor=request.user,
        action=AuditLog.Action.EXPORT,
        object_type="campaigns.inboundmessage",
        object_repr="Replies CSV",
        changes={"filter": {k: v for k, v in request.GET.items() if k in FILTER_KEYS and v}},
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return csv_response(selectors.export_rows(qs), filename=f"replies-{stamp}.csv", header=selectors.EXPORT_HEADER)


# ---------------------------------------------------------------------------------------------- keyword lists
@role_required(roles.MARKETER)
def keyword_lists(request):
    can_edit = roles.has_role(request.user, roles.OPERATOR)
    return render(
        request,
        "inbox/keywords.html",
        {"rows": selectors.keyword_list_rows(), "can_edit": can_edit, "new_form": KeywordRuleForm()},
    )


@role_required(roles.OPERATOR)
def keyword_list_edit(request, kind: str = "", language: str = ""):
    rows = {(r.kind, r.language): r for r in selectors.keyword_list_rows()}
    row = rows.get((kind, language)) if kind else None
    if kind and row is None:
        raise Http404("No such keyword list")
    if request.method == "POST":
        form = KeywordRuleForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.keyword_rule_save(
                    kind=data["kind"],
                    language=data["language"],
                    words=data["keywords"],
                    is_active=data["is_active"],
                    auto_reply=data["auto_reply"],
                    actor=request.user,
                )
            except ValidationError as exc:
                form.apply_errors(exc)
            else:
                messages.success(request, "Keyword list saved. New replies are matched against it from now on.")
                return redirect("inbox:keywords")
    elif row is not None:
        form = KeywordRuleForm(
            initial={
                "kind": row.kind,
                "language": row.language,
                "keywords": ", ".join(row.words),
                "is_active": row.is_active,
                "auto_reply": row.auto_reply,
            }
        )
    else:
        form = KeywordRuleForm(initial={"kind": request.GET.get("kind") or "opt_out", "is_active": True})
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "inbox/keyword_form.html", {"form": form, "row": row}, status=status)


@require_POST
@role_required(roles.OPERATOR)
def keyword_list_reset(request, kind: str, language: str):
    if services.keyword_rule_reset(kind=kind, language=language, actor=request.user):
        messages.success(request, "Back to the built-in list.")
    return redirect("inbox:keywords")
