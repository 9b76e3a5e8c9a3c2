"""Reads for the inbox: keyword lists in force, conversations (replies grouped by the sender's number), one
conversation's thread, the state of reply collection per account, and the CSV export rows.

A *conversation* is every ``InboundMessage`` from one number (``from_phone``, E.164 when it parses), summed up
in one ``smsportal.Conversation`` row (kept by ``campaigns.inbox.conversation_refresh``): unread if any reply
is unread, open if any is not closed, closed otherwise; it *waits* since its oldest reply that is neither
closed nor answered by a teammate. The list reads those rows through an index and stops after the page
(``benchmarks/inbox_page.py``); filters on replies (campaign, keyword, account, dates, text) keep the numbers
with at least one matching reply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from contacts.models import BlocklistEntry, Contact
from providers.adapters.base import Feature
from providers.models import ProviderAccount
from smsportal.models import AuditLog, AutoReply, Conversation, KeywordRule

from . import keywords
from .models import InboundMessage, Message

PAGE_SIZE = 30
THREAD_LIMIT = 200
GAP_WARNING = timedelta(hours=24)  # no successful reply poll for this long: replies may be lost
# How long a provider keeps replies for polling. Past it, a reply nobody fetched is gone for good.
REPLY_RETENTION = {"jojka": timedelta(hours=96)}  # Jojka fetch_replies: "a maximum of 96 hours old"
THREAD_EVENT_ACTIONS = (
    AuditLog.Action.OPT_OUT,
    AuditLog.Action.OPT_IN,
    AuditLog.Action.BLOCK,
    AuditLog.Action.UNBLOCK,
)


# ---------------------------------------------------------------------------------------------- keywords
def keyword_rules() -> dict[str, dict[str, tuple[str, ...]]]:
    """The keyword lists in force: the built-in defaults with the workspace's own lists replacing theirs."""
    rows = KeywordRule.objects.values_list("kind", "language", "keywords", "is_active")
    return keywords.merge_rules((k, lang, words or [], active) for k, lang, words, active in rows)


def auto_reply_text(*, kind: str, language: str) -> str:
    """The auto-reply for a keyword of ``kind`` matched in ``language``: that list's text, else the English
    list's (the lingua franca of the defaults), else none."""
    texts = dict(
        KeywordRule.objects.filter(kind=kind, is_active=True, language__in={language, "en"})
        .exclude(auto_reply="")
        .values_list("language", "auto_reply")
    )
    return (texts.get(language) or texts.get("en") or "").strip()


@dataclass
class KeywordListRow:
    kind: str
    language: str
    words: list[str]
    is_active: bool
    auto_reply: str
    rule: KeywordRule | None  # None: the built-in list is in force

    @property
    def kind_label(self) -> str:
        return keywords.KIND_LABELS.get(self.kind, self.kind)

    @property
    def language_name(self) -> str:
        return keywords.LANGUAGE_NAMES.get(self.language, self.language)

    @property
    def is_default(self) -> bool:
        return self.rule is None

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.language}"


def keyword_list_rows() -> list[KeywordListRow]:
    """Every (kind, language) list for the settings page: built-in ones and the workspace's own, in kind order."""
    own = {(r.kind, r.language): r for r in KeywordRule.objects.select_related("updated_by")}
    pairs = {(k, lang) for k, langs in keywords.DEFAULT_KEYWORDS.items() for lang in langs} | set(own)
    kind_order = {k: i for i, k in enumerate(keywords.KIND_LABELS)}
    lang_order = {lang: i for i, lang in enumerate(keywords.LANGUAGE_NAMES)}
    rows = []
    for kind, lang in sorted(pairs, key=lambda p: (kind_order.get(p[0], 9), lang_order.get(p[1], 99), p[1])):
        rule = own.get((kind, lang))
        if rule is not None:
            rows.append(KeywordListRow(kind, lang, list(rule.keywords or []), rule.is_active, rule.auto_reply, rule))
        else:
            words = list(keywords.DEFAULT_KEYWORDS.get(kind, {}).get(lang, ()))
            rows.append(KeywordListRow(kind, lang, words, True, "", None))
    return rows


# ---------------------------------------------------------------------------------------------- numbers
def number_block_reason(phone: str) -> str:
    """Why ``phone`` must not be messaged ("" if it may): on the blocklist, or its contact blocked / opted out."""
    entry = BlocklistEntry.objects.filter(phone=phone).values_list("reason", flat=True).first()
    if entry == BlocklistEntry.Reason.OPTED_OUT:
        return f"{phone} opted out"
    if entry is not None:
        return f"{phone} is on the blocklist"
    status = Contact.objects.filter(phone=phone).values_list("status", flat=True).first()
    if status == Contact.Status.OPTED_OUT:
        return f"{phone} belongs to a contact who opted out"
    if status == Contact.Status.BLOCKED:
        return f"{phone} belongs to a blocked contact"
    return ""


def is_opted_out(phone: str) -> bool:
    """Opted out by reply or by hand: a blocklist entry with reason opted_out, or an opted-out contact."""
    return (
        BlocklistEntry.objects.filter(phone=phone, reason=BlocklistEntry.Reason.OPTED_OUT).exists()
        or Contact.objects.filter(phone=phone, status=Contact.Status.OPTED_OUT).exists()
    )


# ---------------------------------------------------------------------------------------------- conversations
@dataclass
class InboxFilters:
    status: str = ""  # "", unread, open, closed
    assigned: str = ""  # "", me, none
    campaign: object = None
    keyword: str = ""
    account: object = None
    matched: str = ""  # "", yes (a known contact), no (unknown number)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str = ""
    sort: str = "waiting"  # waiting (longest first) or newest


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())


def filtered_replies(filters: InboxFilters, *, user=None) -> QuerySet[InboundMessage]:
    """Replies matching the message-level filters (campaign, keyword, account, contact, date, search, assignee)."""
    qs = InboundMessage.objects.all()
    if filters.campaign is not None:
        qs = qs.filter(campaign=filters.campaign)
    if filters.keyword:
        qs = qs.filter(keyword=filters.keyword)
    if filters.account is not None:
        qs = qs.filter(account=filters.account)
    if filters.matched == "yes":
        qs = qs.filter(contact__isnull=False)
    elif filters.matched == "no":
        qs = qs.filter(contact__isnull=True)
    if filters.date_from:
        qs = qs.filter(received_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        qs = qs.filter(received_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    if filters.assigned == "me" and user is not None:
        qs = qs.filter(assigned_to=user)
    elif filters.assigned == "none":
        qs = qs.filter(assigned_to__isnull=True)
    q = (filters.q or "").strip()
    if q:
        digits = "".join(c for c in q if c.isdigit())
        cond = Q(text__icontains=q) | Q(contact__first_name__icontains=q) | Q(contact__last_name__icontains=q)
        if len(digits) >= 3:
            cond |= Q(from_phone__contains=digits)
        qs = qs.filter(cond)
    return qs


@dataclass
class ConversationRow:
    """One line of the conversation list: the summary row, its newest reply and the contact (by phone)."""

    summary: Conversation
    contact: Contact | None = None

    phone = property(lambda self: self.summary.phone)
    last_at = property(lambda self: self.summary.last_at)
    waiting_since = property(lambda self: self.summary.waiting_since)
    unread = property(lambda self: self.summary.unread_count)
    open = property(lambda self: self.summary.open_count)
    messages = property(lambda self: self.summary.reply_count)
    last = property(lambda self: self.summary.last_reply)
    assigned_to = property(lambda self: self.summary.assigned_to)

    @property
    def status(self) -> str:
        if self.unread:
            return InboundMessage.Status.UNREAD
        return InboundMessage.Status.OPEN if self.open else InboundMessage.Status.CLOSED

    @property
    def status_label(self) -> str:
        return InboundMessage.Status(self.status).label

    @property
    def name(self) -> str:
        return self.contact.full_name if self.contact else ""


@dataclass
class ConversationPage:
    conversations: list[ConversationRow]
    page: int
    has_next: bool
    filters: InboxFilters = field(default_factory=InboxFilters)


def _message_filters_used(filters: InboxFilters) -> bool:
    return bool(
        filters.campaign is not None
        or filters.keyword
        or filters.account is not None
        or filters.date_from
        or filters.date_to
        or (filters.q or "").strip()
    )


def filtered_conversations(filters: InboxFilters, *, user=None) -> QuerySet[Conversation]:
    """Conversations matching the filters. Conversation-level ones (state, assignee, known contact) read the
    summary rows; reply-level ones (campaign, keyword, account, dates, text) keep the numbers with at least one
    matching reply."""
    qs = Conversation.objects.all()
    if filters.status == "unread":
        qs = qs.filter(unread_count__gt=0)
    elif filters.status == "open":
        qs = qs.filter(open_count__gt=0)
    elif filters.status == "closed":
        qs = qs.filter(open_count=0)
    if filters.assigned == "me" and user is not None:
        qs = qs.filter(assigned_to=user)
    elif filters.assigned == "none":
        qs = qs.filter(assigned_to__isnull=True)
    known = Exists(Contact.objects.filter(phone=OuterRef("phone")))
    if filters.matched == "yes":
        qs = qs.filter(known)
    elif filters.matched == "no":
        qs = qs.exclude(known)
    if _message_filters_used(filters):
        reply_filters = InboxFilters(
            campaign=filters.campaign,
            keyword=filters.keyword,
            account=filters.account,
            date_from=filters.date_from,
            date_to=filters.date_to,
            q=filters.q,
        )
        qs = qs.filter(phone__in=filtered_replies(reply_filters).order_by().values("from_phone"))
    return qs


def conversation_page(filters: InboxFilters, *, user=None, page: int = 1, size: int = PAGE_SIZE) -> ConversationPage:
    """A page of conversations, longest waiting first (then the rest, newest first) or newest first.

    Both orders read an index (``conv_waiting``, ``conv_last``) and stop after the page: no GROUP BY, no count,
    except the number of waiting conversations once a page reaches past them (a partial-index count of the
    backlog, not of every reply)."""
    page = max(1, page)
    offset = (page - 1) * size
    qs = filtered_conversations(filters, user=user).select_related(
        "last_reply__campaign", "last_reply__account", "assigned_to"
    )
    if filters.sort == "newest":
        rows = list(qs.order_by("-last_at")[offset : offset + size + 1])
    else:
        waiting = qs.filter(waiting_since__isnull=False).order_by("waiting_since", "-last_at", "pk")
        rest = qs.filter(waiting_since__isnull=True).order_by("-last_at")
        rows = list(waiting[offset : offset + size + 1])
        if len(rows) <= size:
            skip = max(0, offset - waiting.count()) if not rows else 0
            rows += list(rest[skip : skip + size + 1 - len(rows)])
    has_next = len(rows) > size
    rows = rows[:size]
    contacts = {c.phone: c for c in Contact.objects.filter(phone__in=[r.phone for r in rows])}
    return ConversationPage([ConversationRow(r, contacts.get(r.phone)) for r in rows], page, has_next, filters)


# ---------------------------------------------------------------------------------------------- thread
@dataclass
class ThreadItem:
    kind: str  # inbound, outbound, event
    at: dt.datetime
    obj: object

    @property
    def is_inbound(self) -> bool:
        return self.kind == "inbound"

    @property
    def is_outbound(self) -> bool:
        return self.kind == "outbound"

    @property
    def is_event(self) -> bool:
        return self.kind == "event"


@dataclass
class Thread:
    phone: str
    contact: Contact | None
    items: list[ThreadItem]
    last_reply: InboundMessage | None  # the newest reply: its account is the one a reply goes through
    assigned_to: object
    unread: int
    open: int
    block_reason: str
    blocklist_entry: BlocklistEntry | None
    truncated: bool

    @property
    def status(self) -> str:
        if self.unread:
            return InboundMessage.Status.UNREAD
        return InboundMessage.Status.OPEN if self.open else InboundMessage.Status.CLOSED

    @property
    def status_label(self) -> str:
        return InboundMessage.Status(self.status).label

    @property
    def reply_account(self):
        return self.last_reply.account if self.last_reply else None

    @property
    def is_opted_out(self) -> bool:
        if self.blocklist_entry is not None:
            return self.blocklist_entry.reason == BlocklistEntry.Reason.OPTED_OUT
        return bool(self.contact and self.contact.status == Contact.Status.OPTED_OUT)

    @property
    def is_blocked(self) -> bool:
        return bool(self.block_reason) and not self.is_opted_out


def has_replies() -> bool:
    return InboundMessage.objects.exists()


def conversation_exists(phone: str) -> bool:
    return InboundMessage.objects.filter(from_phone=phone).exists()


def conversation_thread(phone: str, *, limit: int = THREAD_LIMIT) -> Thread:
    """Replies from ``phone``, what we sent it (campaign messages, inbox replies, auto-replies) and its
    opt-out / opt-in / block events, oldest first (the newest ``limit`` of each)."""
    contact = Contact.objects.filter(phone=phone).first()
    inbound = list(
        InboundMessage.objects.filter(from_phone=phone)
        .select_related("account", "campaign", "assigned_to")
        .order_by("-received_at", "-pk")[:limit]
    )
    outbound_qs = Message.objects.filter(to=phone).exclude(origin=Message.Origin.CAMPAIGN)
    outbound = {m.pk: m for m in outbound_qs.select_related("account", "sent_by").order_by("-created_at")[:limit]}
    if contact is not None:
        for m in (
            Message.objects.filter(contact=contact, is_test=False)
            .select_related("campaign", "account", "sent_by")
            .order_by("-created_at")[:limit]
        ):
            outbound.setdefault(m.pk, m)
    event_cond = Q(object_type="contacts.blocklistentry", object_id=phone)
    if contact is not None:
        event_cond |= Q(object_type="contacts.contact", object_id=str(contact.pk))
    events = list(
        AuditLog.objects.filter(event_cond, action__in=THREAD_EVENT_ACTIONS)
        .select_related("actor")
        .order_by("-created_at")[:limit]
    )
    items = (
        [ThreadItem("inbound", m.received_at, m) for m in inbound]
        + [ThreadItem("outbound", m.handed_over_at or m.created_at, m) for m in outbound.values()]
        + [ThreadItem("event", e.created_at, e) for e in events]
    )
    items.sort(key=lambda i: (i.at, 0 if i.is_inbound else 1 if i.is_event else 2))
    truncated = len(inbound) >= limit or len(outbound) >= limit or len(events) >= limit
    counts = InboundMessage.objects.filter(from_phone=phone).aggregate(
        unread=Count("pk", filter=Q(status=InboundMessage.Status.UNREAD)),
        open=Count("pk", filter=~Q(status=InboundMessage.Status.CLOSED)),
    )
    return Thread(
        phone=phone,
        contact=contact,
        items=items[-limit:],
        last_reply=inbound[0] if inbound else None,
        assigned_to=inbound[0].assigned_to if inbound else None,
        unread=counts["unread"],
        open=counts["open"],
        block_reason=number_block_reason(phone),
        blocklist_entry=BlocklistEntry.objects.filter(phone=phone).first(),
        truncated=truncated,
    )


def assignable_users() -> QuerySet:
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")


# ---------------------------------------------------------------------------------------------- collection
@dataclass
class ReplySource:
    account: ProviderAccount
    polls: bool
    webhook: bool
    last_polled_at: dt.datetime | None
    last_reply_at: dt.datetime | None
    retention: timedelta | None
    level: str  # ok, warning, danger
    message: str

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.account.poll_interval_seconds)


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def reply_sources(*, now: dt.datetime | None = None) -> list[ReplySource]:
    """Every active account that can bring replies in, with the state of their collection.

    Polled accounts (Jojka, JookSMS): the last successful poll (``last_polled_at``; a failed poll puts it
    back) and a warning when no poll succeeded for ``GAP_WARNING`` (24 h) or the interval is too long for the
    provider's retention (Jojka keeps replies 96 h), since replies older than the retention are lost.
    """
    now = now or timezone.now()
    sources = []
    for account in ProviderAccount.objects.filter(is_active=True).order_by("name"):
        try:
            features = account.adapter_class.features
        except LookupError:
            continue
        polls, webhook = Feature.INBOUND_POLL in features, Feature.INBOUND_WEBHOOK in features
        if not (polls or webhook):
            continue
        retention = REPLY_RETENTION.get(account.provider)
        level, message = "ok", ""
        if polls:
            interval = timedelta(seconds=account.poll_interval_seconds)
            since = now - account.last_polled_at if account.last_polled_at else None
            keep = f" {account.provider_name} keeps replies only {_human(retention)}." if retention else ""
            if since is None:
                level, message = "warning", "Replies have not been fetched yet: is the worker (beat) running?"
            elif since > GAP_WARNING or (retention and since > retention):
                lost = retention and since > retention
                level = "danger"
                message = f"No reply poll for {_human(since)}.{keep}" + (
                    " Replies from before the last poll may already be lost." if lost else ""
                )
            elif since > max(3 * interval, timedelta(minutes=10)):
                level, message = "warning", f"The last reply poll was {_human(since)} ago (every {_human(interval)})."
            if retention and interval * 2 > retention:
                level = "danger"
                message = (message + " " if message else "") + (
                    f"The poll interval ({_human(interval)}) is too long:{keep} Set it far shorter."
                )
        sources.append(
            ReplySource(
                account=account,
                polls=polls,
                webhook=webhook,
                last_polled_at=account.last_polled_at,
                last_reply_at=InboundMessage.objects.filter(account=account)
                .order_by("-received_at")
                .values_list("received_at", flat=True)
                .first(),
                retention=retention,
                level=level,
                message=message,
            )
        )
    return sources


# ---------------------------------------------------------------------------------------------- export
EXPORT_HEADER = [
    "received_at",
    "from",
    "contact",
    "text",
    "keyword",
    "matched_keyword",
    "status",
    "assigned_to",
    "account",
    "campaign",
    "to",
    "answered_at",
]


def export_rows(qs: QuerySet[InboundMessage]):
    tz = timezone.get_current_timezone()

    def when(value):
        return timezone.localtime(value, tz).isoformat(timespec="seconds") if value else ""

    qs = qs.select_related("contact", "account", "campaign", "assigned_to").order_by("-received_at", "-pk")
    for m in qs.iterator(chunk_size=2000):
        yield (
            when(m.received_at),
            m.from_phone,
            m.contact.full_name if m.contact else "",
            m.text,
            m.keyword,
            m.matched_keyword,
            m.status,
            m.assigned_to.get_username() if m.assigned_to else "",
            m.account.name if m.account else "",
            m.campaign.name if m.campaign else "",
            m.to,
            when(m.answered_at),
        )


def auto_replies_for(phone: str) -> QuerySet[AutoReply]:
    return AutoReply.objects.filter(phone=phone).order_by("-created_at")
