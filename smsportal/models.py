"""Workspace-wide models: settings editable by Operators, and the audit trail."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone (e.g. Europe/Stockholm)."), params={"value": value})


def validate_region(value: str) -> None:
    import phonenumbers

    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(_("%(value)s is not a two-letter country code (e.g. SE, GR)."), params={"value": value})


class WorkspaceSettings(models.Model):
    """A single row (pk=1). Defaults come from the environment; Operators edit it in the UI."""

    name = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    default_country = models.CharField(
        max_length=2, validators=[validate_region], help_text=_("Used to read national phone numbers.")
    )
    default_sender = models.CharField(max_length=32, blank=True)
    require_approval = models.BooleanField(
        default=False, help_text=_("Campaigns must be approved by an Approver before they can be sent.")
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        verbose_name = _("workspace settings")
        verbose_name_plural = _("workspace settings")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.pk = 1
        self.default_country = self.default_country.upper()
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> "WorkspaceSettings":
        obj = cls.objects.filter(pk=1).first()
        if obj is None:
            obj, _created = cls.objects.get_or_create(
                pk=1,
                defaults={
                    "name": settings.WORKSPACE_NAME,
                    "timezone": settings.TIME_ZONE,
                    "default_country": settings.DEFAULT_COUNTRY,
                },
            )
        return obj


class AuditLog(models.Model):
    """Who did what, when. Written by services (never by views directly); never edited."""

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Updated")
        DELETE = "delete", _("Deleted")
        IMPORT = "import", _("Imported")
        EXPORT = "export", _("Exported")
        BLOCK = "block", _("Blocked")
        UNBLOCK = "unblock", _("Unblocked")
        OPT_OUT = "opt_out", _("Opted out")
        OPT_IN = "opt_in", _("Opted in")
        SCHEDULE = "schedule", _("Scheduled")
        START = "start", _("Started")
        PAUSE = "pause", _("Paused")
        RESUME = "resume", _("Resumed")
        CANCEL = "cancel", _("Cancelled")
        APPROVE = "approve", _("Approved")
        SEND = "send", _("Sent")
        SYNC = "sync", _("Synced")
        LOGIN = "login", _("Logged in")
        SETTINGS = "settings", _("Changed settings")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True, help_text=_("User name or system source."))
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["action", "-created_at"]),
            models.Index(fields=["actor", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label or 'system'} {self.get_action_display()} {self.object_repr}"


class KeywordRule(models.Model):
    """The workspace's own keyword list for one kind and language (inbound replies, ``campaigns/inbox.py``).

    A row replaces the built-in list of ``campaigns.keywords.DEFAULT_KEYWORDS`` for its (kind, language); pairs
    without a row keep the built-in list, so a fresh workspace (and a flushed test database) works unconfigured.
    ``auto_reply`` is sent through the account the reply came in on, at most once per number, kind and day.
    """

    class Kind(models.TextChoices):
        OPT_OUT = "opt_out", _("Opt-out")  # the number is blocklisted and its contact opted out
        OPT_IN = "opt_in", _("Opt-in")  # an opt-out by reply (or by hand) is reversed
        HELP = "help", _("Help")  # the sender asks what this is; usually answered with an auto-reply

    kind = models.CharField(max_length=10, choices=Kind.choices)
    language = models.CharField(max_length=8, help_text=_("ISO 639-1 code, e.g. en, sv, el."))
    keywords = models.JSONField(default=list, blank=True, help_text=_("Whole-message keywords, as people type them."))
    is_active = models.BooleanField(default=True, help_text=_("Off: none of these keywords is acted on."))
    auto_reply = models.TextField(
        blank=True, help_text=_("Optional answer, sent at most once per number and day. Empty: no answer.")
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["kind", "language"]
        constraints = [models.UniqueConstraint(fields=["kind", "language"], name="uniq_keyword_rule")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.language})"


class AutoReply(models.Model):
    """One keyword auto-reply. The unique (phone, kind, day) row is reserved *before* anything is sent, so a
    number gets at most one answer per keyword kind per workspace day, however many replies or workers race."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")  # reserved; the send task has not finished yet
        SENT = "sent", _("Sent")  # handed over to the provider (see ``message`` for delivery)
        FAILED = "failed", _("Failed")  # the provider refused it or the account could not send
        SKIPPED = "skipped", _("Skipped")  # not sent: the number became blocked, the account inactive, …

    phone = models.CharField(max_length=32)
    kind = models.CharField(max_length=10, choices=KeywordRule.Kind.choices)
    day = models.DateField(help_text=_("The day in the workspace time zone."))
    account = models.ForeignKey("providers.ProviderAccount", null=True, blank=True, on_delete=models.SET_NULL)
    inbound = models.ForeignKey(
        "campaigns.InboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey("campaigns.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = _("auto-replies")
        constraints = [models.UniqueConstraint(fields=["phone", "kind", "day"], name="uniq_auto_reply_per_day")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.phone} ({self.day})"


class Conversation(models.Model):
    """The inbox's summary of every reply from one number (``campaigns.InboundMessage.from_phone``).

    Recomputed from that number's replies by ``campaigns.inbox.conversation_refresh`` (under a row lock) after
    every change to them, so the inbox list is an indexed ORDER BY … LIMIT instead of a GROUP BY over all
    replies. The contact is looked up by phone when shown (a contact imported later is found at once).
    """

    phone = models.CharField(max_length=32, unique=True)
    last_reply = models.ForeignKey(
        "campaigns.InboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_account = models.ForeignKey(
        "providers.ProviderAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_at = models.DateTimeField(help_text=_("When the newest reply was received."))
    waiting_since = models.DateTimeField(
        null=True, blank=True, help_text=_("Oldest reply neither closed nor answered; empty: nothing waits.")
    )
    reply_count = models.PositiveIntegerField(default=0)
    unread_count = models.PositiveIntegerField(default=0)
    open_count = models.PositiveIntegerField(default=0, help_text=_("Replies not closed (unread included)."))
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_at"]
        indexes = [
            models.Index(fields=["-last_at"], name="conv_last"),
            models.Index(
                fields=["waiting_since", "-last_at"],
                name="conv_waiting",
                condition=models.Q(waiting_since__isnull=False),
            ),
            models.Index(fields=["assigned_to", "-last_at"], name="conv_assigned"),
            models.Index(fields=["-last_at"], name="conv_unread", condition=models.Q(unread_count__gt=0)),
        ]

    def __str__(self) -> str:
        return self.phone
