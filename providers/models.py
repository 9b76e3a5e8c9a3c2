"""Provider accounts (encrypted credentials), their redacted HTTP log, sync runs and id mappings."""

import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from .fields import EncryptedJSONField


def validate_provider_code(value: str) -> None:
    from .adapters.registry import adapter_codes

    if value not in adapter_codes():
        raise ValidationError(_("Unknown provider %(code)s."), params={"code": value})


def new_webhook_token() -> str:
    return secrets.token_urlsafe(24)


class ProviderAccount(models.Model):
    """One account at one provider. ``provider`` is a code from the adapter registry."""

    class CheckStatus(models.TextChoices):
        NEVER = "never", _("Not tested yet")  # no connection test has run
        OK = "ok", _("Connected")  # the last authenticated read-only call succeeded
        FAILED = "failed", _("Failed")  # the last test failed; see last_check_detail

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    provider = models.CharField(max_length=30, validators=[validate_provider_code])
    credentials = EncryptedJSONField()
    base_url = models.URLField(blank=True, help_text=_("Leave empty for the provider's documented production URL."))
    options = models.JSONField(default=dict, blank=True, help_text=_("Provider-specific non-secret settings."))
    default_sender = models.CharField(max_length=32, blank=True)
    allowed_senders = models.JSONField(default=list, blank=True)
    messages_per_second = models.FloatField(default=10.0, help_text=_("Throttle across all workers."))
    price_per_segment = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    is_active = models.BooleanField(default=True)
    is_sandbox = models.BooleanField(default=False, editable=False)
    webhook_token = models.CharField(max_length=64, default=new_webhook_token, editable=False)
    last_check_status = models.CharField(max_length=10, choices=CheckStatus.choices, default=CheckStatus.NEVER)
    last_check_detail = models.CharField(max_length=500, blank=True)
    last_check_at = models.DateTimeField(null=True, blank=True)
    balance = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    balance_currency = models.CharField(max_length=3, blank=True)
    balance_at = models.DateTimeField(null=True, blank=True)
    sync_enabled = models.BooleanField(default=False, help_text=_("Sync contacts/groups/blocklist on a schedule."))
    sync_interval_minutes = models.PositiveIntegerField(default=60)
    poll_interval_seconds = models.PositiveIntegerField(
        default=60, help_text=_("How often to poll statuses and replies where the provider has no callbacks.")
    )
    last_polled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["provider", "is_active"], name="account_provider")]

    def __str__(self) -> str:
        return self.name

    @property
    def adapter_class(self):
        from .adapters.registry import get_adapter_class

        return get_adapter_class(self.provider)

    def get_adapter(self, **kwargs):
        from .adapters.registry import adapter_for

        return adapter_for(self, **kwargs)

    @property
    def provider_name(self) -> str:
        try:
            return self.adapter_class.name
        except LookupError:
            return self.provider


class ProviderRequestLog(models.Model):
    """One HTTP call to a provider, redacted: no secret, token or signature is ever stored here."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="request_logs")
    created_at = models.DateTimeField(auto_now_add=True)
    operation = models.CharField(max_length=50, blank=True)
    method = models.CharField(max_length=10)
    url = models.TextField()
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="reqlog_account"),
            models.Index(fields=["account", "status_code", "-created_at"], name="reqlog_status"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.url} → {self.status_code or self.error}"


class SyncRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")  # waiting for a worker
        RUNNING = "running", _("Running")  # pushing / pulling in batches
        DONE = "done", _("Done")  # finished; see summary
        FAILED = "failed", _("Failed")  # stopped by an error; what was synced so far is kept

    class Direction(models.TextChoices):
        PUSH = "push", _("Push ours to the provider")
        PULL = "pull", _("Pull the provider's into ours")
        BOTH = "both", _("Both ways")

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="sync_runs")
    direction = models.CharField(max_length=4, choices=Direction.choices, default=Direction.BOTH)
    scope = models.JSONField(default=list, blank=True, help_text=_("contacts, groups, blocklist"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["account", "-created_at"], name="syncrun_account")]

    def __str__(self) -> str:
        return f"{self.account} {self.direction} {self.status}"


class ExternalMapping(models.Model):
    """Our id ↔ the provider's id for a synced object, so sync is idempotent."""

    class ObjectType(models.TextChoices):
        CONTACT = "contact", _("Contact")
        GROUP = "group", _("Group")
        LIST = "list", _("List")
        FIELD = "field", _("Field")
        BLOCK = "block", _("Blocklist entry")

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="mappings")
    object_type = models.CharField(max_length=10, choices=ObjectType.choices)
    local_id = models.CharField(max_length=64)
    external_id = models.CharField(max_length=128)
    fingerprint = models.CharField(max_length=64, blank=True, help_text=_("Hash of what was last synced."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "object_type", "local_id"], name="uniq_mapping_local"),
            models.UniqueConstraint(fields=["account", "object_type", "external_id"], name="uniq_mapping_external"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.local_id} ↔ {self.external_id}"
