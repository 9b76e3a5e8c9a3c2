"""Writes of the campaigns app (HackSoft style: keyword-only, ``<entity>_<action>``), called by views and tasks.

The send pipeline itself lives in ``snapshot.py`` (start), ``sending.py`` (lanes, claims, throttle, retries,
reconciliation) and ``polling.py`` (delivery statuses); this module holds what people do: compose and save
drafts, check a campaign is ready, schedule, approve, pause, resume, cancel, test-send, requeue and export
failures. Every state change a person makes is audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import BlocklistEntry, Contact, Group
from contacts.selectors import audience_contacts
from providers.adapters.base import Feature
from providers.adapters.exceptions import ProviderError, ProviderValidationError
from providers.adapters.types import DeliveryReport, MessageStatus, OutboundSMS
from smsportal import roles
from smsportal.audit import audit
from smsportal.models import AuditLog, WorkspaceSettings

from . import sql
from .models import Campaign, Message, MessageEvent, TestNumber
from .rendering import Template, contact_values, declared_keys
from .reports import COUNTER_FIELD, apply_delivery_reports
from .segments import control_characters, count_segments
from .snapshot import campaign_audience

logger = logging.getLogger(__name__)

DRAFT_FIELDS = ("name", "account", "sender", "text", "speed_mode", "speed_value")
AUDIENCE_FIELDS = ("groups", "lists", "segments", "exclude_groups", "exclude_lists")
SCHEDULE_GRACE = timedelta(minutes=1)  # "now" typed a few seconds ago is not in the past
TEMPORARY_FAILURES = ("undelivered", "expired", "failed")
FAILED_STATUSES = ("undelivered", "expired", "rejected", "failed")


class CampaignError(ValidationError):
    """A campaign action that cannot be done now; ``message_dict`` maps form fields to sentences."""


# ---------------------------------------------------------------------------------------------------- drafts
def campaign_create(*, user, name: str = "") -> Campaign:
    """A new, empty draft (the composer saves into it from the first keystroke)."""
    settings_obj = WorkspaceSettings.load()
    from providers.models import ProviderAccount

    account = ProviderAccount.objects.filter(is_active=True).order_by("-is_sandbox", "name").first()
    sender = ""
    if account is not None:
        sender = account.default_sender or (account.allowed_senders[0] if account.allowed_senders else "")
    campaign = Campaign.objects.create(
        name=name or f"Untitled campaign {timezone.localtime():%Y-%m-%d %H:%M}",
        account=account,
        sender=sender or settings_obj.default_sender,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    audit(actor=user, action=AuditLog.Action.CREATE, obj=campaign)
    return campaign


def campaign_save_draft(*, campaign: Campaign, user, data: dict) -> Campaign:
    """Store what the composer holds (lenient: only the keys given). Only drafts are edited; a change to a
    campaign awaiting approval would need approving again, so it goes back to draft first."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in (Campaign.Status.DRAFT,):
            raise CampaignError(
                {
                    "__all__": [
                        f"A {campaign.get_status_display().lower()} campaign cannot be edited; unschedule it first."
                    ]
                }
            )
        changed = []
        for name in DRAFT_FIELDS:
            if name in data:
                value = data[name]
                if name == "text" and value is not None:
                    value = value.replace("\r\n", "\n")
                if getattr(campaign, name) != value:
                    setattr(campaign, name, value)
                    changed.append(name)
        if campaign.approved_by_id and changed:
            campaign.approved_by, campaign.approved_at = None, None
        campaign.save()
        for name in AUDIENCE_FIELDS:
            if name in data and data[name] is not None:
                getattr(campaign, name).set(data[name])
    return campaign


def campaign_delete(*, campaign: Campaign, user) -> None:
    if campaign.status != Campaign.Status.DRAFT:
        raise CampaignError({"__all__": ["Only drafts can be deleted; cancel a scheduled campaign instead."]})
    audit(actor=user, action=AuditLog.Action.DELETE, obj=campaign)
    campaign.delete()


# ---------------------------------------------------------------------------------------------------- checks
def sender_problems(account, sender: str) -> list[str]:
    if account is None:
        return []
    sender = (sender or "").strip()
    if not sender:
        if account.default_sender:
            return []
        return ["Choose a sender name or number."]
    allowed = [s for s in (account.allowed_senders or []) if s]
    if allowed and sender not in allowed:
        return [f"“{sender}” is not an allowed sender of {account.name}. Allowed: {', '.join(allowed)}."]
    try:
        adapter = account.get_adapter()
        adapter.validate_message(OutboundSMS(to="+10000000000", text="x", sender=sender, client_ref="check"))
    except ProviderValidationError as exc:
        return [exc.message]
    except LookupError:
        return [f"The provider of {account.name} is not available."]
    return []


def text_problems(text: str, keys: list[str] | None = None) -> list[str]:
    if not (text or "").strip():
        return ["Write the message text."]
    problems = Template(text).problems(declared_keys() if keys is None else keys)
    controls = control_characters(text)
    if controls:
        listed = ", ".join(f"U+{ord(c):04X}" for c in controls)
        problems.append(f"The text contains control characters that cannot be sent ({listed}); remove them.")
    return problems


def sample_texts(campaign: Campaign, limit: int = 50) -> list[str]:
    """Rendered texts of the first recipients (or the template with fallbacks when there are none)."""
    template = Template(campaign.text)
    if template.is_static:
        return [template.static_text]
    contacts = list(
        audience_contacts(**campaign_audience(campaign))
        .order_by("pk")
        .only("first_name", "last_name", "attributes")[:limit]
    )
    if not contacts:
        return [template.render({})]
    return [template.render(contact_values(c)) for c in contacts]


def campaign_problems(
    campaign: Campaign, *, send_at: datetime | None = None, audience: bool = True, now: datetime | None = None
) -> dict[str, list[str]]:
    """Every reason the campaign cannot be scheduled or sent, per form field (empty: ready)."""
    now = now or timezone.now()
    problems: dict[str, list[str]] = {}

    def add(field: str, items: list[str]) -> None:
        if items:
            problems.setdefault(field, []).extend(items)

    if not campaign.name.strip():
        add("name", ["Give the campaign a name."])
    add("text", text_problems(campaign.text))
    account = campaign.account
    if account is None:
        add("account", ["Choose a provider account."])
    elif not account.is_active:
        add("account", [f"The account {account.name} is disabled; choose another or ask an Operator."])
    else:
        add("sender", sender_problems(account, campaign.sender))
        if "text" not in problems:
            try:
                adapter = account.get_adapter()
                longest = max(sample_texts(campaign), key=lambda t: count_segments(t).units)
                adapter.validate_message(
                    OutboundSMS(
                        to="+10000000000",
                        text=longest,
                        sender=campaign.sender or account.default_sender,
                        client_ref="check",
                    )
                )
            except ProviderValidationError as exc:
                add("text" if exc.field != "sender" else "sender", [exc.message])
    if campaign.speed_mode != Campaign.SpeedMode.MAX and not campaign.speed_value:
        add("speed_value", ["Enter the number of hours or messages per minute."])
    if send_at is not None and send_at < now - SCHEDULE_GRACE:
        tz = timezone.get_current_timezone()
        add("send_at", [f"{timezone.localtime(send_at, tz):%Y-%m-%d %H:%M} is in the past; choose a later time."])
    if audience:
        aud = campaign_audience(campaign)
        if not (aud["groups"] or aud["lists"] or aud["segments"]):
            add("groups", ["Choose at least one group, list or saved segment."])
        elif not audience_contacts(**aud).exists():
            add("groups", ["No eligible recipients: everyone selected is blocked, opted out or excluded."])
    return problems


# ---------------------------------------------------------------------------------------------------- schedule
def _dispatch_now() -> None:
    from .tasks import dispatch_due_campaigns

    dispatch_due_campaigns.delay_on_commit()


def campaign_schedule(*, campaign: Campaign, user, send_at: datetime | None = None) -> Campaign:
    """Schedule (``send_at``) or send now (None). With the approval rule on, it waits for an Approver."""
    now = timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(of=("self",)).select_related("account").get(pk=campaign.pk)
        if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED, Campaign.Status.AWAITING_APPROVAL):
            raise CampaignError(
                {"__all__": [f"A {campaign.get_status_display().lower()} campaign cannot be scheduled again."]}
            )
        problems = campaign_problems(campaign, send_at=send_at, now=now)
        if problems:
            raise CampaignError(problems)
        when = send_at or now
        needs_approval = WorkspaceSettings.load().require_approval and campaign.approved_by_id is None
        campaign.scheduled_at = when
        campaign.error_message = ""
        campaign.status = Campaign.Status.AWAITING_APPROVAL if needs_approval else Campaign.Status.SCHEDULED
        campaign.save(update_fields=["scheduled_at", "status", "error_message", "updated_at"])
        audit(
            actor=user,
            action=AuditLog.Action.SCHEDULE,
            obj=campaign,
            changes={
                "scheduled_at": when.isoformat(),
                "send_now": send_at is None,
                "awaiting_approval": needs_approval,
            },
        )
        if not needs_approval and when <= now + timedelta(seconds=5):
            _dispatch_now()
    return campaign


def campaign_unschedule(*, campaign: Campaign, user) -> Campaign:
    with transaction.atomic():
        n = Campaign.objects.filter(
            pk=campaign.pk, status__in=(Campaign.Status.SCHEDULED, Campaign.Status.AWAITING_APPROVAL)
        ).update(status=Campaign.Status.DRAFT, scheduled_at=None, approved_by=None, approved_at=None)
        if not n:
            raise CampaignError({"__all__": ["Only a scheduled campaign that has not started can be unscheduled."]})
        campaign.refresh_from_db()
        audit(actor=user, action=AuditLog.Action.UPDATE, obj=campaign, changes={"unscheduled": True})
    return campaign


def campaign_approve(*, campaign: Campaign, user) -> Campaign:
    if not roles.has_role(user, roles.APPROVER):
        raise CampaignError({"__all__": ["Approving campaigns needs the Approver role."]})
    if campaign.created_by_id and campaign.created_by_id == user.pk:
        raise CampaignError({"__all__": ["A campaign must be approved by someone other than its author."]})
    now = timezone.now()
    with transaction.atomic():
        n = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.AWAITING_APPROVAL).update(
            status=Campaign.Status.SCHEDULED, approved_by=user, approved_at=now
        )
        if not n:
            raise CampaignError({"__all__": ["This campaign is not waiting for approval."]})
        campaign.refresh_from_db()
        audit(actor=user, action=AuditLog.Action.APPROVE, obj=campaign)
        if campaign.scheduled_at is None or campaign.scheduled_at <= now + timedelta(seconds=5):
            _dispatch_now()
    return campaign


# ---------------------------------------------------------------------------------------------------- run control
def campaign_pause(*, campaign: Campaign, user) -> Campaign:
    with transaction.atomic():
        n = Campaign.objects.filter(
            pk=campaign.pk, status__in=(Campaign.Status.STARTING, Campaign.Status.SENDING)
        ).update(status=Campaign.Status.PAUSED, paused_at=timezone.now())
        if not n:
            raise CampaignError({"__all__": ["Only a sending campaign can be paused."]})
        campaign.refresh_from_db()
        audit(actor=user, action=AuditLog.Action.PAUSE, obj=campaign)
    return campaign


def campaign_resume(*, campaign: Campaign, user) -> Campaign:
    from .sending import lanes_kick
    from .tasks import start_campaign

    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(of=("self",)).select_related("account").get(pk=campaign.pk)
        if campaign.status not in (Campaign.Status.PAUSED, Campaign.Status.FAILED):
            raise CampaignError({"__all__": ["Only a paused or failed campaign can be resumed."]})
        if (
            campaign.status == Campaign.Status.FAILED
            and campaign.snapshot_done
            and not campaign.messages.filter(status=Message.Status.PENDING).exists()
        ):
            raise CampaignError({"__all__": ["Nothing is left to send. Requeue temporary failures instead."]})
        if campaign.account is None or not campaign.account.is_active:
            raise CampaignError({"__all__": ["The provider account is disabled; enable it before resuming."]})
        started = bool(campaign.recipients_total or campaign.snapshot_cursor or campaign.snapshot_done)
        campaign.status = Campaign.Status.SENDING if started else Campaign.Status.STARTING
        campaign.error_message = ""
        campaign.finished_at = None
        campaign.paused_at = None
        campaign.save(update_fields=["status", "error_message", "finished_at", "paused_at", "updated_at"])
        audit(actor=user, action=AuditLog.Action.RESUME, obj=campaign)
        if not campaign.snapshot_done:
            start_campaign.delay_on_commit(campaign.pk)
        if campaign.status == Campaign.Status.SENDING:
            lanes_kick(campaign.pk)
    return campaign


def campaign_cancel(*, campaign: Campaign, user) -> Campaign:
    """Stop for good: pending messages are cancelled; what the provider still holds is cancelled there too
    where its API allows (queued in ``cancel_at_provider``)."""
    from .sending import cancel_pending
    from .tasks import cancel_at_provider

    cancellable = (
        Campaign.Status.SCHEDULED,
        Campaign.Status.AWAITING_APPROVAL,
        Campaign.Status.STARTING,
        Campaign.Status.SENDING,
        Campaign.Status.PAUSED,
        Campaign.Status.FAILED,
    )
    with transaction.atomic():
        n = Campaign.objects.filter(pk=campaign.pk, status__in=cancellable).update(
            status=Campaign.Status.CANCELLED, finished_at=timezone.now()
        )
        if not n:
            raise CampaignError({"__all__": ["This campaign can no longer be cancelled."]})
        cancelled = cancel_pending(campaign.pk)
        campaign.refresh_from_db()
        audit(actor=user, action=AuditLog.Action.CANCEL, obj=campaign, changes={"pending_cancelled": cancelled})
        account = campaign.account
        if (
            account is not None
            and _supports(account, Feature.CANCEL)
            and campaign.messages.filter(status=Message.Status.QUEUED).exclude(external_id="").exists()
        ):
            cancel_at_provider.delay_on_commit(campaign.pk)
    return campaign


def _supports(account, feature) -> bool:
    try:
        return account.adapter_class.supports(feature)
    except LookupError:
        return False


def campaign_cancel_at_provider(*, campaign_id: int) -> int:
    """Ask the provider to drop the campaign's messages it still holds; mark those it confirms cancelled."""
    campaign = Campaign.objects.select_related("account").filter(pk=campaign_id).first()
    if campaign is None or campaign.account is None or not _supports(campaign.account, Feature.CANCEL):
        return 0
    adapter = campaign.account.get_adapter()
    held = Message.objects.filter(campaign_id=campaign_id, status=Message.Status.QUEUED).exclude(external_id="")
    cancelled = 0
    last = 0
    while True:
        rows = list(held.filter(id__gt=last).order_by("id").values_list("id", "external_id")[:1000])
        if not rows:
            break
        last = rows[-1][0]
        external_ids = list(dict.fromkeys(ext for _id, ext in rows))
        try:
            results = adapter.cancel(external_ids)
        except ProviderError as exc:
            logger.warning("campaign %s: provider cancel failed: %s", campaign_id, exc)
            Campaign.objects.filter(pk=campaign_id).update(
                error_message=f"Could not cancel the messages the provider holds: {exc}"[:2000]
            )
            break
        reports = [
            DeliveryReport(
                external_id=r.external_id,
                status=MessageStatus.CANCELLED,
                raw_status="cancelled",
                raw={"cancelled": True, "detail": r.detail},
            )
            for r in results
            if r.cancelled
        ]
        cancelled += apply_delivery_reports(
            account=campaign.account, reports=reports, kind=MessageEvent.Kind.STATUS
        ).updated
    return cancelled


# ---------------------------------------------------------------------------------------------------- after sending
def campaign_requeue_failed(*, campaign: Campaign, user) -> int:
    """Send temporary failures (undelivered, expired, failed — never rejections, blocks or unconfirmed
    hand-overs) again, each under a new reference so providers do not drop it as a duplicate."""
    from .sending import PERMANENT_CODES, lanes_kick

    if campaign.status in (
        Campaign.Status.CANCELLED,
        Campaign.Status.DRAFT,
        Campaign.Status.SCHEDULED,
        Campaign.Status.AWAITING_APPROVAL,
    ):
        raise CampaignError({"__all__": ["Only a started campaign can requeue failures."]})
    now = timezone.now()
    with transaction.atomic():
        rows = Message.objects.filter(campaign_id=campaign.pk, is_test=False, status__in=TEMPORARY_FAILURES).exclude(
            error_code__in=PERMANENT_CODES
        )
        per_status = {s: rows.filter(status=s).count() for s in TEMPORARY_FAILURES}
        total = sum(per_status.values())
        if not total:
            raise CampaignError({"__all__": ["There are no temporary failures to requeue."]})
        ids_sql, ids_params = rows.values("id").query.sql_with_params()
        ts = sql.db_datetime(now)
        with connection.cursor() as cur:
            cur.execute(
                f"UPDATE {sql.table()} SET {sql.qn('uuid')} = {sql.uuid_sql()}, status = %s, external_id = '', "  # noqa: S608
                "error_code = '', error_text = '', failed_at = NULL, next_poll_at = NULL, handed_over_at = NULL, "
                f"sent_at = NULL, delivered_at = NULL, reconcile_after = NULL, updated_at = %s "
                f"WHERE {sql.qn('id')} IN ({ids_sql})",
                [sql.uuid_ms(), Message.Status.PENDING, ts, *ids_params],
            )
        changes = {"pending_count": F("pending_count") + total}
        for status, n in per_status.items():
            if n:
                f = COUNTER_FIELD[status]
                changes[f] = changes.get(f, F(f)) - n
        changes["claim_floor"] = 0  # requeued rows sit anywhere below the lanes' floor
        Campaign.objects.filter(pk=campaign.pk).update(**changes)
        Campaign.objects.filter(pk=campaign.pk, status__in=(Campaign.Status.COMPLETED, Campaign.Status.FAILED)).update(
            status=Campaign.Status.SENDING, finished_at=None, error_message=""
        )
        audit(actor=user, action=AuditLog.Action.UPDATE, obj=campaign, changes={"requeued": total})
        if Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SENDING).exists():
            lanes_kick(campaign.pk)
    return total


def campaign_failed_to_group(*, campaign: Campaign, user, name: str) -> tuple[Group, int]:
    """A new group of the contacts whose message failed (any failure status), for a follow-up."""
    name = (name or "").strip()
    if not name:
        raise CampaignError({"name": ["Give the group a name."]})
    now = timezone.now()
    try:
        with transaction.atomic():
            group = Group.objects.create(
                name=name[:100],
                description=f"Failed recipients of the campaign “{campaign.name}”.",
                created_by=user if getattr(user, "is_authenticated", False) else None,
            )
            from contacts.models import GroupMembership

            source = (
                Message.objects.filter(
                    campaign_id=campaign.pk, is_test=False, status__in=FAILED_STATUSES, contact__isnull=False
                )
                .values("contact_id")
                .distinct()
            )
            src_sql, src_params = source.query.sql_with_params()
            gm = sql.qn(GroupMembership._meta.db_table)
            with connection.cursor() as cur:
                cur.execute(
                    f"INSERT INTO {gm} (group_id, contact_id, added_at) "  # noqa: S608
                    f"SELECT %s, src.contact_id, %s FROM ({src_sql}) src WHERE 1 = 1 ON CONFLICT DO NOTHING",
                    [group.pk, sql.db_datetime(now), *src_params],
                )
                added = max(cur.rowcount, 0)
            Group.objects.filter(pk=group.pk).update(member_count=added)
            group.member_count = added
            audit(
                actor=user,
                action=AuditLog.Action.CREATE,
                obj=group,
                changes={"from_campaign": campaign.pk, "members": added},
            )
    except IntegrityError:
        raise CampaignError({"name": [f"A group called “{name}” exists already; choose another name."]}) from None
    return group, added


# ---------------------------------------------------------------------------------------------------- test sends
@dataclass
class TestSendResult:
    __test__ = False

    phone: str
    ok: bool
    detail: str
    message: Message | None = None


def normalize_test_phone(raw: str) -> str:
    country = WorkspaceSettings.load().default_country
    try:
        num = phonenumbers.parse((raw or "").strip(), None if (raw or "").strip().startswith("+") else country)
    except phonenumbers.NumberParseException:
        raise CampaignError({"phone": [f"“{raw}” is not a phone number."]}) from None
    if not phonenumbers.is_valid_number(num):
        raise CampaignError({"phone": [f"“{raw}” is not a valid phone number."]})
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def testnumber_add(*, user, phone: str, label: str = "") -> TestNumber:
    e164 = normalize_test_phone(phone)
    obj, created = TestNumber.objects.get_or_create(phone=e164, defaults={"label": label.strip()[:100]})
    if not created and label and obj.label != label.strip():
        obj.label = label.strip()[:100]
        obj.save(update_fields=["label"])
    if created:
        audit(actor=user, action=AuditLog.Action.CREATE, obj=obj)
    return obj


def testnumber_delete(*, user, number: TestNumber) -> None:
    audit(actor=user, action=AuditLog.Action.DELETE, obj=number)
    number.delete()


def _refusal(phone: str) -> str | None:
    if BlocklistEntry.objects.filter(phone=phone).exists():
        return f"{phone} is on the blocklist: not sent."
    status = Contact.objects.filter(phone=phone).values_list("status", flat=True).first()
    if status == Contact.Status.BLOCKED:
        return f"{phone} belongs to a blocked contact: not sent."
    if status == Contact.Status.OPTED_OUT:
        return f"{phone} belongs to a contact who opted out: not sent."
    return None


def campaign_test_send(
    *, campaign: Campaign, user, numbers: list[TestNumber], contact: Contact | None = None
) -> list[TestSendResult]:
    """Send the campaign's text, rendered for ``contact``, to the ticked test numbers through the real
    account. Test messages are marked ``is_test`` and never count in the campaign's figures."""
    problems = campaign_problems(campaign, audience=False)
    problems.pop("speed_value", None)
    if problems:
        raise CampaignError(problems)
    if not numbers:
        raise CampaignError({"numbers": ["Tick at least one test number."]})
    account = campaign.account
    text = Template(campaign.text).render(contact_values(contact) if contact else {})
    sender = campaign.sender or account.default_sender
    results: list[TestSendResult] = []
    to_send: list[Message] = []
    for number in numbers:
        refusal = _refusal(number.phone)
        if refusal:
            results.append(TestSendResult(number.phone, False, refusal))
            continue
        to_send.append(
            Message.objects.create(
                campaign=campaign,
                account=account,
                to=number.phone,
                sender=sender,
                text=text,
                segments=count_segments(text).segments,
                is_test=True,
                attempts=1,
            )
        )
    if to_send:
        adapter = account.get_adapter()
        outbound = [OutboundSMS(to=m.to, text=m.text, sender=m.sender, client_ref=m.uuid.hex) for m in to_send]
        now = timezone.now()
        try:
            answers = adapter.send(outbound)
        except ProviderError as exc:
            for m in to_send:
                Message.objects.filter(pk=m.pk).update(
                    status=Message.Status.FAILED,
                    error_code=str(exc.code or type(exc).__name__)[:50],
                    error_text=str(exc)[:500],
                    failed_at=now,
                )
                results.append(TestSendResult(m.to, False, f"{m.to}: not sent — {exc}", m))
        else:
            from .sending import single_send_record

            for m, r in zip(to_send, answers, strict=True):
                status = single_send_record(message=m, account=account, adapter_cls=type(adapter), result=r, now=now)
                if r.ok:
                    results.append(TestSendResult(m.to, True, f"{m.to}: handed over ({status}).", m))
                else:
                    results.append(TestSendResult(m.to, False, f"{m.to}: {r.error_message or status}", m))
    audit(
        actor=user,
        action=AuditLog.Action.SEND,
        obj=campaign,
        changes={
            "test": True,
            "to": [n.phone for n in numbers],
            "sample_contact": contact.pk if contact else None,
            "handed_over": sum(r.ok for r in results),
        },
    )
    return results
