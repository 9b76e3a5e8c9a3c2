"""Inbox services: what happens to a stored reply, and what teammates do in the inbox.

Processing a reply (``inbound_process``, called by ``campaigns.inbound.inbound_record`` for each new reply)
---------------------------------------------------------------------------------------------------------
1. Claim it (``processed_at`` set by a conditional UPDATE: a reply is acted on once, whoever processes it).
2. Match the WHOLE message against the keyword lists in force (``campaigns.keywords``, workspace lists from
   ``smsportal.KeywordRule`` replacing the built-in ones):
   - opt-out ("STOP", " Stop! ", "STOPP"…): the number is blocklisted with reason *opted out* and a source
     naming the provider, account and campaign; its contact (if any) becomes opted out. Audited with the
     reply's text, by "reply via <account>" (``contacts.services.contact_opt_out``).
   - opt-in ("START", "UNSTOP", "YES"…): reverses an opt-out (blocklist entry with reason opted out removed,
     contact active again, audited). Only when the number IS opted out: "Yes" from an active contact is an
     ordinary answer and is kept as such.
   - help ("HELP", "INFO"…): no change; usually answered by an auto-reply.
   - a longer message that mentions an opt-out/opt-in keyword ("stop sending me this rubbish") changes nothing
     and is flagged for a human (``keyword=flagged``).
   A sender that is not a phone number (an alphanumeric name) cannot be blocklisted: its keyword is flagged.
3. The conversation keeps its assignee: a new reply is assigned to whoever has the number's previous reply.
4. An auto-reply, if the list has one (``KeywordRule.auto_reply``; else the English list's): reserved as an
   ``AutoReply`` row unique per (number, kind, workspace day) *before* sending, and sent after commit by
   ``inbox_tasks.send_auto_reply`` through the SAME account the reply came in on. Never to a blocked or
   opted-out number, with one exception: the confirmation of the opt-out itself (a single "you will get no
   more messages" answer is standard practice, e.g. CTIA; still once per day at most). Replies older than
   ``AUTO_REPLY_MAX_AGE`` (a late poll, the sweeper) are acted on but not answered.

A processing error never loses the reply: it stays stored with ``processed_at`` empty and the beat task
``inbox_tasks.process_pending_replies`` tries again.

Inbox actions (views call these; every one takes the acting user)
---------------------------------------------------------------
``conversation_mark_read / _assign / _close / _reopen / _reply / _block / _unblock / _opt_out / _opt_in``,
keyed by the number. A teammate's reply goes through the account of the number's latest reply, as one
message (``Message`` with ``campaign=None``, ``origin=reply``), checked against the adapter's limits first;
never to a blocked or opted-out number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone

from contacts import services as contact_services
from contacts.models import BlocklistEntry, Contact
from providers.adapters.base import Feature
from providers.adapters.exceptions import ProviderError, ProviderValidationError
from providers.adapters.types import OutboundSMS, SendResult
from smsportal.audit import audit
from smsportal.models import AuditLog, AutoReply, Conversation, KeywordRule, WorkspaceSettings

from . import inbox_selectors as selectors
from . import keywords
from .models import InboundMessage, Message
from .segments import count_segments

logger = logging.getLogger(__name__)

AUTO_REPLY_MAX_AGE = timedelta(hours=24)  # older replies are acted on but not answered
AUTO_REPLY_MAX_ATTEMPTS = 4  # retryable provider errors (429, 5xx, connection) before giving up
SWEEP_AFTER = timedelta(seconds=30)  # the sweeper leaves fresh replies to the inline processing
SWEEP_BATCH = 500


class InboxError(ValidationError):
    """A refused inbox action; ``message_dict`` names the form field when there is one."""


def _is_e164(phone: str) -> bool:
    return phone.startswith("+") and phone[1:].isdigit() and 8 <= len(phone) <= 16


def reply_source(reply: InboundMessage) -> str:
    """Who acted, for the blocklist entry and the audit log: "reply via <account> (<provider>), campaign …"."""
    if reply.account is not None:
        label = f"reply via {reply.account.name}"
        if reply.account.provider_name.casefold() != reply.account.name.casefold():
            label += f" ({reply.account.provider_name})"
    else:
        label = "reply"
    if reply.campaign_id:
        label += f", campaign “{reply.campaign.name}”"
    return label[:200]


def _details(reply: InboundMessage) -> dict:
    received = reply.received_at.astimezone(UTC).isoformat(timespec="seconds") if reply.received_at else ""
    return {
        "reply": reply.text[:160],
        "received_at": received,
        "account": reply.account.name if reply.account else "",
        "campaign": reply.campaign.name if reply.campaign_id else "",
        "reply_id": str(reply.uuid),
    }


# ---------------------------------------------------------------------------------------------- processing
def inbound_process(*, reply: InboundMessage) -> InboundMessage:
    """Act on a newly stored reply once (see the module doc). Never raises: a failure is logged and the reply
    is left for the sweeper."""
    now = timezone.now()
    try:
        with transaction.atomic():
            # the claim: processed once, whoever gets here first (inline, the sweeper, a concurrent worker)
            if InboundMessage.objects.filter(pk=reply.pk, processed_at=None).update(processed_at=now):
                reply.processed_at = now
                _apply(reply, now)
    except Exception:
        reply.processed_at = None
        logger.exception("processing reply %s failed; it is kept and will be retried", reply.pk)
    try:
        conversation_refresh(phone=reply.from_phone)
    except Exception:
        logger.exception("updating the conversation of reply %s failed; the sweeper repairs it", reply.pk)
    return reply


def inbound_process_pending(*, older_than: timedelta = SWEEP_AFTER, limit: int = SWEEP_BATCH) -> int:
    """The sweeper: process stored replies that were not (a failed or interrupted processing)."""
    cutoff = timezone.now() - older_than
    conversations_repair()
    replies = list(
        InboundMessage.objects.filter(processed_at=None, created_at__lte=cutoff)
        .select_related("account", "campaign")
        .order_by("created_at")[:limit]
    )
    done = 0
    for reply in replies:
        if inbound_process(reply=reply).processed_at is not None:
            done += 1
    return done


def _apply(reply: InboundMessage, now) -> None:
    match = keywords.match_keyword(reply.text, selectors.keyword_rules())
    kind, word, language = match.kind, match.keyword, match.language
    phone = reply.from_phone
    if kind in (keywords.OPT_OUT, keywords.OPT_IN) and not _is_e164(phone):
        kind = keywords.FLAGGED  # a sender name cannot be blocklisted: a human decides
    source = reply_source(reply)
    superseded = kind in (keywords.OPT_OUT, keywords.OPT_IN) and _superseded(reply)
    if superseded:
        pass  # a later STOP/START from this number was acted on already: the latest wish stands
    elif kind == keywords.OPT_OUT:
        contact_services.contact_opt_out(phone=phone, source=source, details=_details(reply))
    elif kind == keywords.OPT_IN:
        if not _opt_in(reply, source):
            kind, word, language = keywords.NONE, "", ""  # "yes" from someone who never opted out
    fields = {
        "keyword": kind,
        "matched_keyword": word[: keywords.KEYWORD_MAX_LENGTH],
        "keyword_language": language[:8],
        "processed_at": now,
    }
    previous = (
        InboundMessage.objects.filter(from_phone=phone)
        .exclude(pk=reply.pk)
        .order_by("-received_at", "-pk")
        .values_list("assigned_to", flat=True)
        .first()
    )
    if reply.assigned_to_id is None and previous is not None:
        fields["assigned_to_id"] = previous
    InboundMessage.objects.filter(pk=reply.pk).update(**fields)
    for name, value in fields.items():
        setattr(reply, name, value)
    if kind in (keywords.OPT_OUT, keywords.OPT_IN, keywords.HELP) and not superseded:
        auto_reply_reserve(reply=reply, kind=kind, language=language, now=now)


def _superseded(reply: InboundMessage) -> bool:
    """True when a newer opt-out/opt-in reply from the same number was processed already (replies processed
    out of order: a poll returning them unsorted, the sweeper catching up on an old one)."""
    return (
        InboundMessage.objects.filter(
            from_phone=reply.from_phone,
            keyword__in=(InboundMessage.Keyword.OPT_OUT, InboundMessage.Keyword.OPT_IN),
            received_at__gt=reply.received_at,
            processed_at__isnull=False,
        )
        .exclude(pk=reply.pk)
        .exists()
    )


def _opt_in(reply: InboundMessage, source: str) -> bool:
    """Reverse an opt-out of the reply's number; False when the number was not opted out."""
    phone = reply.from_phone
    if not selectors.is_opted_out(phone):
        return False
    contact = Contact.objects.filter(phone=phone).first()
    if contact is not None:
        contact_services.contact_opt_in(contact=contact, source=source, details=_details(reply))
        return True
    # an unknown number that had opted out: only the opt-out entry goes (a manual block stays)
    deleted, _ = BlocklistEntry.objects.filter(phone=phone, reason=BlocklistEntry.Reason.OPTED_OUT).delete()
    if deleted:
        audit(
            action=AuditLog.Action.OPT_IN,
            object_type="contacts.blocklistentry",
            object_id=phone,
            object_repr=phone,
            changes={"removed": "opted_out", "source": source, **_details(reply)},
            source=source,
        )
    return bool(deleted)


# ---------------------------------------------------------------------------------------------- auto-replies
def _workspace_day(now):
    tz = timezone.get_current_timezone()
    try:
        import zoneinfo

        tz = zoneinfo.ZoneInfo(WorkspaceSettings.load().timezone)
    except (LookupError, ValueError):
        pass
    return timezone.localtime(now, tz).date()


def auto_reply_reserve(*, reply: InboundMessage, kind: str, language: str, now=None) -> AutoReply | None:
    """Reserve this number's auto-reply of ``kind`` for today and queue its sending after commit; None when
    there is nothing to send (no text, stale reply, no usable account, blocked number) or it was sent today."""
    now = now or timezone.now()
    text = selectors.auto_reply_text(kind=kind, language=language)
    account = reply.account
    if not text or account is None or not account.is_active or not _is_e164(reply.from_phone):
        return None
    if reply.received_at and now - reply.received_at > AUTO_REPLY_MAX_AGE:
        return None
    try:
        if Feature.SEND not in account.adapter_class.features:
            return None
    except LookupError:
        return None
    if kind != KeywordRule.Kind.OPT_OUT and selectors.number_block_reason(reply.from_phone):
        return None
    try:
        with transaction.atomic():
            auto = AutoReply.objects.create(
                phone=reply.from_phone,
                kind=kind,
                day=_workspace_day(now),
                account=account,
                inbound=reply,
                text=text,
            )
    except IntegrityError:
        return None  # this number already had its answer of this kind today
    from .inbox_tasks import send_auto_reply

    send_auto_reply.delay_on_commit(auto.pk)
    return auto


@dataclass
class AutoReplyOutcome:
    auto_reply: AutoReply | None
    retry_in: float | None = None  # seconds: a retryable provider error, try again then


def auto_reply_send(*, auto_reply_id: int, attempt: int = 1) -> AutoReplyOutcome:
    """Send a reserved auto-reply (the task). Re-checks the number and the account at send time."""
    auto = AutoReply.objects.select_related("account", "message").filter(pk=auto_reply_id).first()
    if auto is None or auto.status != AutoReply.Status.PENDING:
        return AutoReplyOutcome(auto)
    if auto.message is not None and auto.message.status != Message.Status.PENDING:
        return AutoReplyOutcome(auto)  # handed over by an earlier run: never twice
    account = auto.account
    reason = ""
    if account is None or not account.is_active:
        reason = "The account the reply came in on is no longer active."
    elif auto.kind != KeywordRule.Kind.OPT_OUT:
        reason = selectors.number_block_reason(auto.phone)
        reason = f"Not sent: {reason}." if reason else ""
    if reason:
        AutoReply.objects.filter(pk=auto.pk).update(status=AutoReply.Status.SKIPPED, error=reason[:500])
        auto.refresh_from_db()
        return AutoReplyOutcome(auto)
    message = auto.message
    if message is None:
        reply = auto.inbound
        message = Message.objects.create(
            campaign=None,
            contact=Contact.objects.filter(phone=auto.phone).first(),
            account=account,
            to=auto.phone,
            sender=_reply_sender(reply, account),
            text=auto.text,
            segments=count_segments(auto.text).segments,
            origin=Message.Origin.AUTO_REPLY,
            attempts=0,
        )
        AutoReply.objects.filter(pk=auto.pk).update(message=message)
    try:
        result = _hand_over(message=message, account=account)
    except ProviderError as exc:
        if exc.retryable and attempt < AUTO_REPLY_MAX_ATTEMPTS:
            delay = exc.retry_after or min(300.0, 15.0 * 2 ** (attempt - 1))
            return AutoReplyOutcome(auto, retry_in=float(delay))
        _fail(message, exc)
        AutoReply.objects.filter(pk=auto.pk).update(status=AutoReply.Status.FAILED, error=str(exc)[:500])
    else:
        ok = result.ok
        AutoReply.objects.filter(pk=auto.pk).update(
            status=AutoReply.Status.SENT if ok else AutoReply.Status.FAILED,
            error="" if ok else (result.error_message or str(result.status))[:500],
        )
    auto.refresh_from_db()
    return AutoReplyOutcome(auto)


# ---------------------------------------------------------------------------------------------- sending one
def _reply_sender(reply: InboundMessage | None, account) -> str:
    """The sender of an answer: what the person replied to (the campaign message's sender), else the
    account's default sender, else the workspace's, else the number they wrote to."""
    if reply is not None and reply.in_reply_to_id and reply.in_reply_to.sender:
        return reply.in_reply_to.sender
    if account is not None and account.default_sender:
        return account.default_sender
    default = WorkspaceSettings.load().default_sender
    if default:
        return default
    return (reply.to if reply is not None else "")[:32]


def _fail(message: Message, exc: ProviderError) -> None:
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.FAILED,
        error_code=str(exc.code or type(exc).__name__)[:50],
        error_text=str(exc)[:500],
        failed_at=timezone.now(),
    )


def _hand_over(*, message: Message, account) -> SendResult:
    """Send one stored message through ``account`` and store the answer (as the campaign pipeline does: status,
    provider id, cost, first status poll, the raw answer as a MessageEvent). Raises ProviderError."""
    from .sending import single_send_record

    adapter = account.get_adapter()
    Message.objects.filter(pk=message.pk).update(attempts=message.attempts + 1)
    outbound = OutboundSMS(to=message.to, text=message.text, sender=message.sender, client_ref=message.uuid.hex)
    result = adapter.send([outbound])[0]
    single_send_record(message=message, account=account, adapter_cls=type(adapter), result=result, now=timezone.now())
    message.refresh_from_db()
    return result


# ---------------------------------------------------------------------------------------------- conversations
def _latest_values(phone: str) -> dict | None:
    return (
        InboundMessage.objects.filter(from_phone=phone)
        .order_by("-received_at", "-pk")
        .values("pk", "received_at", "account_id", "assigned_to_id")
        .first()
    )


@transaction.atomic
def conversation_refresh(*, phone: str) -> Conversation | None:
    """Recompute the number's summary row from its replies. The row is locked first, so concurrent refreshes
    of one number run one after the other and the last one sees every committed reply."""
    latest = _latest_values(phone)
    if latest is None:
        Conversation.objects.filter(phone=phone).delete()
        return None
    Conversation.objects.get_or_create(phone=phone, defaults={"last_at": latest["received_at"]})
    conversation = Conversation.objects.select_for_update().get(phone=phone)
    latest = _latest_values(phone) or latest  # again, under the lock
    closed = InboundMessage.Status.CLOSED
    counts = InboundMessage.objects.filter(from_phone=phone).aggregate(
        reply_count=Count("pk"),
        unread_count=Count("pk", filter=Q(status=InboundMessage.Status.UNREAD)),
        open_count=Count("pk", filter=~Q(status=closed)),
        waiting_since=Min("received_at", filter=~Q(status=closed) & Q(answered_at__isnull=True)),
    )
    values = {
        "last_reply_id": latest["pk"],
        "last_account_id": latest["account_id"],
        "last_at": latest["received_at"],
        "assigned_to_id": latest["assigned_to_id"],
        **counts,
    }
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now(), **values)
    for name, value in values.items():
        setattr(conversation, name, value)
    return conversation


def conversations_repair(*, since=None, limit: int = SWEEP_BATCH) -> int:
    """Refresh the summary of numbers with replies received since ``since`` (default: the last two days) whose
    row is missing or older than their newest reply (a failed refresh). Part of the sweeper."""
    since = since or timezone.now() - timedelta(days=2)
    current = Conversation.objects.filter(phone=OuterRef("from_phone"), last_at__gte=OuterRef("received_at"))
    phones = list(
        InboundMessage.objects.filter(received_at__gte=since)
        .exclude(Exists(current))
        .order_by()
        .values_list("from_phone", flat=True)
        .distinct()[:limit]
    )
    for phone in phones:
        conversation_refresh(phone=phone)
    return len(phones)


# ---------------------------------------------------------------------------------------------- inbox actions
def _conversation(phone: str):
    qs = InboundMessage.objects.filter(from_phone=phone)
    if not qs.exists():
        raise InboxError(f"There is no conversation with {phone}.")
    return qs


@transaction.atomic
def conversation_mark_read(*, phone: str, actor) -> int:
    """Opening a conversation: its unread replies become open."""
    changed = InboundMessage.objects.filter(from_phone=phone, status=InboundMessage.Status.UNREAD).update(
        status=InboundMessage.Status.OPEN
    )
    if changed:
        conversation_refresh(phone=phone)
    return changed


@transaction.atomic
def conversation_assign(*, phone: str, assignee, actor) -> int:
    """Give the conversation (all its replies, and the next ones) to ``assignee`` (None: nobody)."""
    if assignee is not None and not assignee.is_active:
        raise InboxError({"assignee": [f"{assignee.get_username()} is deactivated."]})
    changed = _conversation(phone).update(assigned_to=assignee)
    conversation_refresh(phone=phone)
    return changed


@transaction.atomic
def conversation_close(*, phone: str, actor) -> int:
    """Handled: every reply closed. A new reply opens the conversation again (it arrives unread)."""
    closed = InboundMessage.Status.CLOSED
    changed = _conversation(phone).exclude(status=closed).update(status=closed)
    conversation_refresh(phone=phone)
    return changed


@transaction.atomic
def conversation_reopen(*, phone: str, actor) -> int:
    """Open again: the newest reply becomes open and waiting."""
    qs = _conversation(phone)
    latest = qs.order_by("-received_at", "-pk").values_list("pk", flat=True).first()
    changed = InboundMessage.objects.filter(pk=latest).update(status=InboundMessage.Status.OPEN, answered_at=None)
    conversation_refresh(phone=phone)
    return changed


def conversation_reply(*, phone: str, text: str, actor) -> Message:
    """Send one message to ``phone`` through the account of its latest reply. Refused (InboxError naming the
    field) for an empty text, a text or sender the adapter's limits reject, a blocked or opted-out number, or
    an inactive account; a provider error is stored on the message and raised as InboxError too."""
    text = (text or "").strip()
    if not text:
        raise InboxError({"text": ["Write a reply."]})
    reply = _conversation(phone).select_related("account", "in_reply_to").order_by("-received_at", "-pk").first()
    account = reply.account
    if account is None or not account.is_active:
        raise InboxError({"text": ["The account this number wrote to is gone or inactive: the reply cannot be sent."]})
    refusal = selectors.number_block_reason(phone)
    if refusal:
        raise InboxError({"text": [f"Not sent: {refusal}."]})
    if not _is_e164(phone):
        raise InboxError({"text": [f"{phone} is not a phone number: it cannot be answered by SMS."]})
    sender = _reply_sender(reply, account)
    try:
        adapter = account.get_adapter()
        adapter.require(Feature.SEND)
        adapter.validate_message(OutboundSMS(to=phone, text=text, sender=sender, client_ref="check"))
    except ProviderValidationError as exc:
        raise InboxError({"text": [exc.message]}) from None
    except (ProviderError, LookupError) as exc:
        raise InboxError({"text": [f"{account.name} cannot send: {exc}"]}) from None
    with transaction.atomic():
        message = Message.objects.create(
            campaign=None,
            contact=Contact.objects.filter(phone=phone).first(),
            account=account,
            to=phone,
            sender=sender,
            text=text,
            segments=count_segments(text).segments,
            origin=Message.Origin.REPLY,
            sent_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
    try:
        result = _hand_over(message=message, account=account)
    except ProviderError as exc:
        _fail(message, exc)
        _audit_reply(actor, message, account, f"failed: {exc}")
        raise InboxError({"text": [f"{account.name} did not take the reply: {exc}"]}) from None
    now = timezone.now()
    with transaction.atomic():
        InboundMessage.objects.filter(from_phone=phone, answered_at=None).update(answered_at=now)
        InboundMessage.objects.filter(from_phone=phone, status=InboundMessage.Status.UNREAD).update(
            status=InboundMessage.Status.OPEN
        )
        conversation_refresh(phone=phone)
    _audit_reply(actor, message, account, str(message.status))
    if not result.ok:
        raise InboxError({"text": [f"{account.name} refused the reply: {result.error_message or result.status}"]})
    return message


def _audit_reply(actor, message: Message, account, outcome: str) -> None:
    audit(
        actor=actor,
        action=AuditLog.Action.SEND,
        obj=message,
        object_repr=f"Reply to {message.to}",
        changes={"account": account.name, "segments": message.segments, "outcome": outcome[:200]},
        source="inbox",
    )


def _by(actor) -> str:
    return f"inbox, by {actor.get_username()}" if getattr(actor, "is_authenticated", False) else "inbox"


def conversation_block(*, phone: str, actor, note: str = "") -> None:
    if not _is_e164(phone):
        raise InboxError(f"{phone} is not a phone number: it cannot be blocklisted.")
    contact_services.blocklist_add(
        phones=[phone], reason=BlocklistEntry.Reason.MANUAL, source=_by(actor), note=note, actor=actor, normalized=True
    )


def conversation_unblock(*, phone: str, actor) -> int:
    """Take a manual/provider block off the number (an opt-out stays: only an opt-in reverses it)."""
    entry = BlocklistEntry.objects.filter(phone=phone).first()
    if entry is not None and entry.reason == BlocklistEntry.Reason.OPTED_OUT:
        raise InboxError(f"{phone} opted out: opt it back in only if the person asked for it.")
    return contact_services.blocklist_remove(phones=[phone], actor=actor, source=_by(actor))


def conversation_opt_out(*, phone: str, actor) -> None:
    """Unsubscribe the number by hand (the person asked in other words, e.g. a flagged reply)."""
    if not _is_e164(phone):
        raise InboxError(f"{phone} is not a phone number: it cannot be unsubscribed.")
    contact_services.contact_opt_out(phone=phone, source=_by(actor), actor=actor)


def conversation_opt_in(*, phone: str, actor) -> None:
    """Reverse an opt-out by hand (the person asked to receive messages again)."""
    if not selectors.is_opted_out(phone):
        raise InboxError(f"{phone} has not opted out.")
    contact = Contact.objects.filter(phone=phone).first()
    with transaction.atomic():
        if contact is not None:
            contact_services.contact_opt_in(contact=contact, actor=actor, source=_by(actor))
        else:
            BlocklistEntry.objects.filter(phone=phone, reason=BlocklistEntry.Reason.OPTED_OUT).delete()
            audit(
                actor=actor,
                action=AuditLog.Action.OPT_IN,
                object_type="contacts.blocklistentry",
                object_id=phone,
                object_repr=phone,
                changes={"removed": "opted_out"},
                source=_by(actor),
            )


# ---------------------------------------------------------------------------------------------- keyword lists
def keyword_rule_save(
    *, kind: str, language: str, words: list[str], is_active: bool, auto_reply: str, actor
) -> KeywordRule:
    """Replace the (kind, language) list with the workspace's own. A keyword may belong to one kind only."""
    if kind not in KeywordRule.Kind.values:
        raise InboxError({"kind": [f"Unknown keyword kind {kind!r}."]})
    language = (language or "").strip().lower()
    if not (2 <= len(language) <= 8 and language.replace("-", "").isalpha()):
        raise InboxError({"language": ["Use a language code such as en, sv or el."]})
    if is_active and not words:
        raise InboxError({"keywords": ["Give at least one keyword, or switch the list off."]})
    taken = {}
    for other_kind, langs in selectors.keyword_rules().items():
        if other_kind == kind:
            continue
        for lang, other_words in langs.items():
            for w in other_words:
                taken[keywords.normalize(w)] = (other_kind, lang)
    clashes = [
        f"“{w}” is already in the {keywords.KIND_LABELS[taken[n][0]].lower()} list ({taken[n][1]})"
        for w in words
        if (n := keywords.normalize(w)) in taken
    ]
    if is_active and clashes:
        raise InboxError({"keywords": ["; ".join(clashes) + ". A keyword can mean one thing only."]})
    auto_reply = (auto_reply or "").strip()
    with transaction.atomic():
        rule, created = KeywordRule.objects.update_or_create(
            kind=kind,
            language=language,
            defaults={
                "keywords": list(words),
                "is_active": is_active,
                "auto_reply": auto_reply,
                "updated_by": actor if getattr(actor, "is_authenticated", False) else None,
            },
        )
        audit(
            actor=actor,
            action=AuditLog.Action.SETTINGS,
            obj=rule,
            changes={
                "keywords": ", ".join(words)[:300],
                "active": is_active,
                "auto_reply": auto_reply[:160],
                "new": created,
            },
        )
    return rule


def keyword_rule_reset(*, kind: str, language: str, actor) -> bool:
    """Back to the built-in list for (kind, language) (or no list, for a language without one)."""
    rule = KeywordRule.objects.filter(kind=kind, language=language).first()
    if rule is None:
        return False
    with transaction.atomic():
        audit(actor=actor, action=AuditLog.Action.SETTINGS, obj=rule, changes={"reset": "built-in list"})
        rule.delete()
    return True
