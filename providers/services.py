"""Writes for provider accounts: create/update (credentials encrypted, secrets kept when left blank), connection
test and balance, sync runs, reply polling, and applying webhook events. Every change is audited; no secret
value ever reaches the audit log, a message, a page or an exception text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from smsportal.audit import audit
from smsportal.models import AuditLog

from .adapters.base import BaseAdapter, Feature
from .adapters.exceptions import ProviderError
from .adapters.http import register_global_secret, scrub
from .adapters.registry import get_adapter_class
from .adapters.types import DeliveryReport, InboundSMS
from .models import ProviderAccount, SyncRun, new_webhook_token

logger = logging.getLogger("providers.services")

# Plain fields an operator edits on an account (credentials and options are handled separately).
ACCOUNT_FIELDS = (
    "name",
    "base_url",
    "default_sender",
    "allowed_senders",
    "messages_per_second",
    "price_per_segment",
    "currency",
    "is_active",
    "sync_enabled",
    "sync_interval_minutes",
    "poll_interval_seconds",
)
CHECK_FAILED_PREFIX = "Test connection failed: "
REPLY_POLL_OVERLAP = timedelta(minutes=5)  # re-read a little before the last poll; inbound_record de-duplicates
SYNC_STALE_AFTER = timedelta(minutes=30)  # a queued/running sync with no progress this long lost its worker


class SyncNotPossible(Exception):
    """Why a sync cannot start (no sync API, one already running, inactive account)."""


# ---------------------------------------------------------------------------------------------- secrets
def secret_names(adapter_class: type[BaseAdapter]) -> list[str]:
    return [f.name for f in (*adapter_class.credential_fields, *adapter_class.option_fields) if f.secret]


def account_secret_values(account: ProviderAccount) -> list[str]:
    """Every secret value of the account (for scrubbing text before it is shown or stored)."""
    try:
        names = secret_names(account.adapter_class)
    except LookupError:
        names = list(account.credentials or {})
    values = [str((account.credentials or {}).get(n) or "") for n in names]
    values += [str((account.options or {}).get(n) or "") for n in names]
    return [v for v in values if v]


def _merge_values(fields, current: Mapping[str, Any], submitted: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """New values for declared fields: a blank secret keeps the stored one; keys not declared (values an
    adapter learnt, e.g. a regional domain) are kept. Returns (values, changed names)."""
    result = dict(current)
    changed: list[str] = []
    for f in fields:
        old = current.get(f.name)
        if f.name not in submitted:
            continue
        new = submitted.get(f.name)
        new = new.strip() if isinstance(new, str) else new
        if f.secret and new in (None, ""):
            if old is not None:
                result[f.name] = old  # blank = keep
            continue
        if new in (None, ""):
            result.pop(f.name, None)
        else:
            result[f.name] = new
        if (old or "") != (new or ""):
            changed.append(f.name)
    return result, changed


def _check_required(adapter_class: type[BaseAdapter], credentials: Mapping, options: Mapping) -> None:
    errors = {}
    for f in adapter_class.credential_fields:
        if f.required and not credentials.get(f.name):
            errors[f"cred_{f.name}"] = f"{f.label} is required."
    for f in adapter_class.option_fields:
        if f.required and not options.get(f.name):
            errors[f"opt_{f.name}"] = f"{f.label} is required."
    if errors:
        raise ValidationError(errors)


def base_url_required(adapter_class: type[BaseAdapter]) -> bool:
    """No documented address, and no required option that locates the API instead (Mobizon: its domain)."""
    return not adapter_class.default_base_url and not any(f.required for f in adapter_class.option_fields)


def _normalize_base_url(adapter_class: type[BaseAdapter], base_url: str) -> str:
    """Store "" when the operator kept the documented production URL, so it follows the adapter's default."""
    base_url = (base_url or "").strip().rstrip("/")
    if base_url and base_url == adapter_class.default_base_url.rstrip("/"):
        return ""
    if not base_url and base_url_required(adapter_class):
        raise ValidationError({"base_url": f"{adapter_class.name} has no default address: enter the base URL."})
    return base_url


def _shown(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


# ---------------------------------------------------------------------------------------------- accounts
@transaction.atomic
def account_create(
    *,
    actor,
    provider: str,
    fields: Mapping[str, Any],
    credentials: Mapping[str, Any],
    options: Mapping[str, Any],
) -> ProviderAccount:
    adapter_class = get_adapter_class(provider)
    creds, _ = _merge_values(adapter_class.credential_fields, {}, credentials)
    opts, _ = _merge_values(adapter_class.option_fields, {}, options)
    _check_required(adapter_class, creds, opts)
    account = ProviderAccount(provider=provider, credentials=creds, options=opts)
    for name in ACCOUNT_FIELDS:
        if name in fields:
            setattr(account, name, fields[name])
    account.base_url = _normalize_base_url(adapter_class, account.base_url)
    account.full_clean()
    account.save()
    for value in account_secret_values(account):
        register_global_secret(value)
    audit(
        actor=actor,
        action=AuditLog.Action.CREATE,
        obj=account,
        changes={
            "provider": provider,
            **{n: _shown(getattr(account, n)) for n in ACCOUNT_FIELDS},
            "options": {k: v for k, v in opts.items() if k not in secret_names(adapter_class)},
            "credentials set": sorted(creds),
        },
    )
    return account


@transaction.atomic
def account_update(
    *,
    actor,
    account: ProviderAccount,
    fields: Mapping[str, Any],
    credentials: Mapping[str, Any],
    options: Mapping[str, Any],
) -> ProviderAccount:
    """Update an account; a blank secret keeps the stored value. Credentials changes reset the last test."""
    account = ProviderAccount.objects.select_for_update().get(pk=account.pk)
    adapter_class = account.adapter_class
    creds, cred_changed = _merge_values(adapter_class.credential_fields, account.credentials or {}, credentials)
    opts, opt_changed = _merge_values(adapter_class.option_fields, account.options or {}, options)
    _check_required(adapter_class, creds, opts)
    changes: dict[str, Any] = {}
    for name in ACCOUNT_FIELDS:
        if name not in fields:
            continue
        new = fields[name]
        if name == "base_url":
            new = _normalize_base_url(adapter_class, new)
        old = getattr(account, name)
        if old != new:
            changes[name] = [_shown(old), _shown(new)]
            setattr(account, name, new)
    secrets = set(secret_names(adapter_class))
    if cred_changed:
        # names only: values of credentials never go to the audit log
        changes["credentials changed"] = sorted(cred_changed)
        account.credentials = creds
    if opt_changed:
        changes["options"] = {
            n: ("(secret changed)" if n in secrets else [account.options.get(n), opts.get(n)]) for n in opt_changed
        }
        account.options = opts
    if not changes:
        return account
    if cred_changed or "base_url" in changes or opt_changed:
        account.last_check_status = ProviderAccount.CheckStatus.NEVER
        account.last_check_detail = "Settings changed since the last test"
    account.full_clean()
    account.save()
    for value in account_secret_values(account):
        register_global_secret(value)
    audit(actor=actor, action=AuditLog.Action.UPDATE, obj=account, changes=changes)
    return account


@transaction.atomic
def account_rotate_webhook_token(*, actor, account: ProviderAccount) -> ProviderAccount:
    """A new secret for the callback URLs (the old ones stop working at once)."""
    ProviderAccount.objects.filter(pk=account.pk).update(webhook_token=new_webhook_token(), updated_at=timezone.now())
    account.refresh_from_db()
    audit(actor=actor, action=AuditLog.Action.UPDATE, obj=account, changes={"webhook token": "rotated"})
    return account


def provider_error_text(exc: Exception, secrets: Iterable[str] = ()) -> str:
    """What the provider said, for people: its message and code, never our secrets or a traceback."""
    if isinstance(exc, ProviderError):
        text = exc.provider_message or exc.message
        if exc.code and exc.code not in text:
            text = f"{text} (code {exc.code})"
    else:
        text = "unexpected error while talking to the provider (details are in the server log)"
    return scrub(" ".join(str(text).split()), secrets)


def account_check(*, account: ProviderAccount, actor=None) -> ProviderAccount:
    """Test connection: the adapter's authenticated read-only call. Stores the result and the balance with
    the time they were taken. Never raises for a provider failure: the result is on the account."""
    secrets = account_secret_values(account)
    now = timezone.now()
    update: dict[str, Any] = {"last_check_at": now}
    adapter = None
    try:
        adapter = account.get_adapter()
        result = adapter.check()
    except Exception as exc:
        if not isinstance(exc, ProviderError):
            logger.exception("connection test of account %s crashed", account.pk)
        update["last_check_status"] = ProviderAccount.CheckStatus.FAILED
        update["last_check_detail"] = (CHECK_FAILED_PREFIX + provider_error_text(exc, secrets))[:500]
    else:
        if result.ok:
            update["last_check_status"] = ProviderAccount.CheckStatus.OK
            update["last_check_detail"] = scrub(result.detail or "Connected", secrets)[:500]
        else:
            update["last_check_status"] = ProviderAccount.CheckStatus.FAILED
            update["last_check_detail"] = (
                CHECK_FAILED_PREFIX + scrub(result.detail or "the provider refused the check", secrets)
            )[:500]
        if result.balance is not None:
            update.update(balance=result.balance, balance_currency=(result.currency or "")[:3], balance_at=now)
    moved_to = str(getattr(adapter, "redirected_domain", "") or "")
    if moved_to:
        update.update(_learned_domain(account, moved_to))
    ProviderAccount.objects.filter(pk=account.pk).update(**update)
    for k, v in update.items():
        setattr(account, k, v)
    if moved_to:
        audit(
            actor=None,
            source="provider",
            action=AuditLog.Action.UPDATE,
            obj=account,
            changes={"API server": f"moved to {moved_to} as the provider asked"},
        )
    return account


def _learned_domain(account: ProviderAccount, domain: str) -> dict[str, Any]:
    """The provider said the account lives on another API server (Mobizon code 13): remember it, so every
    later call goes there directly."""
    if account.base_url:
        return {"base_url": f"https://{domain}"}
    return {"options": {**(account.options or {}), "domain": domain}}


# ---------------------------------------------------------------------------------------------- sync
def sync_start(
    *,
    account: ProviderAccount,
    actor=None,
    direction: str = SyncRun.Direction.BOTH,
    scope: Sequence[str] = (),
    source: str = "",
) -> SyncRun:
    """Queue a sync run (the worker runs ``providers.tasks.run_sync``). One run per account at a time."""
    from .sync import SCOPE_LABELS, offered_scopes
    from .tasks import run_sync

    offered = offered_scopes(account.adapter_class)
    if not offered:
        raise SyncNotPossible(f"{account.provider_name}'s API keeps no contacts, groups or blocklist.")
    if not account.is_active:
        raise SyncNotPossible("The account is inactive.")
    wanted = [s for s in offered if not scope or s in scope]
    if not wanted:
        names = ", ".join(SCOPE_LABELS.get(s, s) for s in scope)
        raise SyncNotPossible(f"{account.provider_name}'s API keeps no {names}.")
    if direction not in SyncRun.Direction.values:
        raise SyncNotPossible(f"Unknown direction {direction!r}.")
    with transaction.atomic():
        ProviderAccount.objects.select_for_update().filter(pk=account.pk).first()
        sync_expire_stale(account=account)
        if SyncRun.objects.filter(account=account, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]).exists():
            raise SyncNotPossible("A sync of this account is already queued or running.")
        run = SyncRun.objects.create(
            account=account,
            direction=direction,
            scope=wanted,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            progress={"label": "Waiting for a worker"},
        )
        audit(
            actor=actor,
            source=source or "system",
            action=AuditLog.Action.SYNC,
            obj=account,
            changes={"sync run": run.pk, "direction": direction, "scope": wanted},
        )
        run_sync.delay_on_commit(run.pk)
    return run


def sync_expire_stale(*, account: ProviderAccount, now: datetime | None = None) -> int:
    """Fail runs that stopped moving (their worker died and the task was lost), so a new sync can start."""
    now = now or timezone.now()
    expired = 0
    for run in SyncRun.objects.filter(account=account, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]):
        last_move = run.started_at or run.created_at
        moved_at = (run.progress or {}).get("at")
        if moved_at:
            try:
                last_move = max(last_move, datetime.fromisoformat(moved_at))
            except (TypeError, ValueError):
                pass
        if now - last_move > SYNC_STALE_AFTER:
            minutes = int(SYNC_STALE_AFTER.total_seconds() // 60)
            _finish_run(
                run,
                SyncRun.Status.FAILED,
                run.summary or {},
                f"Stopped: no progress for {minutes} minutes "
                "(the worker was probably restarted). What was synced before is kept; sync again.",
            )
            expired += 1
    return expired


def sync_execute(*, run_id: int) -> SyncRun | None:
    """Run a queued sync (called by the task). Safe to call again after a worker died mid-run."""
    from .sync import SyncAborted, SyncEngine

    with transaction.atomic():
        run = SyncRun.objects.select_for_update().select_related("account").filter(pk=run_id).first()
        if run is None or run.status in (SyncRun.Status.DONE, SyncRun.Status.FAILED):
            return run
        run.status = SyncRun.Status.RUNNING
        run.started_at = run.started_at or timezone.now()
        run.save(update_fields=["status", "started_at"])

    def progress(phase: dict, summary: dict) -> None:
        SyncRun.objects.filter(pk=run.pk).update(progress={**phase, "at": timezone.now().isoformat()}, summary=summary)

    secrets = account_secret_values(run.account)
    engine = None
    try:
        engine = SyncEngine(run.account, direction=run.direction, scope=run.scope or (), progress=progress)
        summary = engine.run()
    except SyncAborted as exc:
        _finish_run(run, SyncRun.Status.FAILED, engine.summary if engine else {}, scrub(str(exc), secrets))
    except Exception as exc:
        logger.exception("sync run %s crashed", run.pk)
        message = provider_error_text(exc, secrets)
        _finish_run(run, SyncRun.Status.FAILED, engine.summary if engine else {}, f"Sync failed: {message}")
    else:
        _finish_run(run, SyncRun.Status.DONE, summary, "")
    return run


def _finish_run(run: SyncRun, status: str, summary: dict, error: str) -> None:
    run.status, run.summary, run.error, run.finished_at = status, summary, error[:2000], timezone.now()
    run.progress = {**(run.progress or {}), "label": "Finished" if status == SyncRun.Status.DONE else "Stopped"}
    SyncRun.objects.filter(pk=run.pk).update(
        status=status, summary=summary, error=run.error, finished_at=run.finished_at, progress=run.progress
    )


def sync_due_accounts(*, now: datetime | None = None) -> list[SyncRun]:
    """Queue a run for every account whose scheduled sync is due (beat calls this every minute)."""
    from .sync import offered_scopes

    now = now or timezone.now()
    started = []
    for account in ProviderAccount.objects.filter(sync_enabled=True, is_active=True):
        try:
            if not offered_scopes(account.adapter_class):
                continue
        except LookupError:
            continue
        sync_expire_stale(account=account, now=now)
        last = SyncRun.objects.filter(account=account).order_by("-created_at").first()
        if last is not None:
            if last.status in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
                continue
            if last.created_at + timedelta(minutes=max(1, account.sync_interval_minutes)) > now:
                continue
        try:
            started.append(sync_start(account=account, source="schedule"))
        except SyncNotPossible:
            continue
    return started


# ---------------------------------------------------------------------------------------------- replies
def poll_due_accounts(*, now: datetime | None = None) -> list[tuple[int, str | None]]:
    """Claim every account whose reply poll is due; return (account id, previous last_polled_at ISO).

    The claim is a conditional UPDATE on ``last_polled_at``, so two beats never poll one account twice.
    """
    now = now or timezone.now()
    claimed = []
    for account in ProviderAccount.objects.filter(is_active=True).only(
        "pk", "provider", "poll_interval_seconds", "last_polled_at"
    ):
        try:
            if Feature.INBOUND_POLL not in account.adapter_class.features:
                continue
        except LookupError:
            continue
        prev = account.last_polled_at
        if prev is not None and prev + timedelta(seconds=max(5, account.poll_interval_seconds)) > now:
            continue
        if ProviderAccount.objects.filter(pk=account.pk, last_polled_at=prev).update(last_polled_at=now):
            claimed.append((account.pk, prev.isoformat() if prev else None))
    return claimed


def replies_poll(*, account: ProviderAccount, previous: datetime | None, claimed_at: datetime | None = None) -> int:
    """Fetch replies since the previous poll (minus an overlap) and store the new ones. On failure the claim
    is undone, so the next poll covers the same window again."""
    from campaigns.inbound import inbound_record

    since = previous - REPLY_POLL_OVERLAP if previous else None
    try:
        items = account.get_adapter().fetch_replies(since=since)
    except ProviderError as exc:
        if claimed_at is not None:
            ProviderAccount.objects.filter(pk=account.pk, last_polled_at=claimed_at).update(last_polled_at=previous)
        logger.warning(
            "reply poll of account %s failed: %s", account.pk, provider_error_text(exc, account_secret_values(account))
        )
        raise
    return len(inbound_record(account=account, items=items))


# ---------------------------------------------------------------------------------------------- webhooks
def webhook_events_apply(*, account: ProviderAccount, items: Sequence[DeliveryReport | InboundSMS]) -> dict:
    """Hand parsed callback events to the campaigns services (both de-duplicate replays)."""
    from campaigns.inbound import inbound_record
    from campaigns.models import MessageEvent
    from campaigns.reports import apply_delivery_reports

    reports = [i for i in items if isinstance(i, DeliveryReport)]
    inbound = [i for i in items if isinstance(i, InboundSMS)]
    result: dict[str, int] = {"reports": len(reports), "inbound": len(inbound)}
    with transaction.atomic():
        if reports:
            applied = apply_delivery_reports(account=account, reports=reports, kind=MessageEvent.Kind.STATUS)
            result.update(updated=applied.updated, duplicates=applied.duplicates, unmatched=applied.unmatched)
        if inbound:
            result["inbound_new"] = len(inbound_record(account=account, items=inbound))
    return result
