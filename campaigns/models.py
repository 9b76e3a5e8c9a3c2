"""Campaigns, their messages (one per recipient), raw provider events and inbound replies.

``Message`` is unique per (campaign, contact) and carries its own uuid, used as the provider-side reference:
fan-out and retries are idempotent. Status changes are monotonic (see ``MessageStatus.RANK``).
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")  # being composed; nothing is sent
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")  # approval rule on, not yet approved
        SCHEDULED = "scheduled", _("Scheduled")  # will be started by the beat task at scheduled_at
        STARTING = "starting", _("Starting")  # audience snapshot into Message rows in progress
        SENDING = "sending", _("Sending")  # batches are being handed over to the provider
        PAUSED = "paused", _("Paused")  # no new batches; resume continues with pending messages
        COMPLETED = "completed", _("Completed")  # every message handed over (reports may still arrive)
        CANCELLED = "cancelled", _("Cancelled")  # stopped by a user; pending messages will never be sent
        FAILED = "failed", _("Failed")  # stopped by an error that needs a human (e.g. bad credentials)

    ACTIVE_STATUSES = (Status.STARTING, Status.SENDING)
    FINISHED_STATUSES = (Status.COMPLETED, Status.CANCELLED, Status.FAILED)

    class SpeedMode(models.TextChoices):
        MAX = "max", _("As fast as the account allows")
        SPREAD = "spread", _("Spread over N hours")
        PER_MINUTE = "per_minute", _("At most N per minute")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=150)
    account = models.ForeignKey(
        "providers.ProviderAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    sender = models.CharField(max_length=32, blank=True)
    text = models.TextField(blank=True)
    groups = models.ManyToManyField("contacts.Group", blank=True, related_name="campaigns")
    lists = models.ManyToManyField("contacts.ContactList", blank=True, related_name="campaigns")
    segments = models.ManyToManyField("contacts.SavedSegment", blank=True, related_name="campaigns")
    exclude_groups = models.ManyToManyField("contacts.Group", blank=True, related_name="excluded_from_campaigns")
    exclude_lists = models.ManyToManyField("contacts.ContactList", blank=True, related_name="excluded_from_campaigns")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    speed_mode = models.CharField(max_length=10, choices=SpeedMode.choices, default=SpeedMode.MAX)
    speed_value = models.PositiveIntegerField(null=True, blank=True, help_text=_("Hours or messages per minute."))
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    # Counters, kept by the services with F() updates so status pages never COUNT(*) a million rows.
    recipients_total = models.PositiveIntegerField(default=0)
    segments_total = models.PositiveIntegerField(default=0)
    pending_count = models.PositiveIntegerField(default=0)
    queued_count = models.PositiveIntegerField(default=0)
    sent_count = models.PositiveIntegerField(default=0)
    delivered_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    unknown_count = models.PositiveIntegerField(default=0)
    cancelled_count = models.PositiveIntegerField(default=0)
    cost_estimate = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    error_message = models.TextField(blank=True)
    # Send pipeline state (see campaigns/sending.py): the audience estimate and the campaign's own rate are
    # fixed at start; the snapshot copies the audience in contact-id chunks up to ``snapshot_cursor``.
    audience_estimate = models.PositiveIntegerField(default=0)
    send_rate = models.FloatField(null=True, blank=True, help_text=_("Messages per second set by the speed mode."))
    snapshot_cursor = models.BigIntegerField(default=0)
    snapshot_done = models.BooleanField(default=False)
    # Every pending message has an id ≥ this (send lanes claim lowest ids first and raise it; giving rows back
    # lowers it). On PostgreSQL it keeps each claim from wading through the dead index entries a million
    # "pending" → "queued" updates leave behind until vacuum.
    claim_floor = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "scheduled_at"], name="campaign_due"),
            models.Index(fields=["-created_at"], name="campaign_created"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED_STATUSES

    @property
    def is_editable(self) -> bool:
        return self.status in {self.Status.DRAFT, self.Status.SCHEDULED, self.Status.AWAITING_APPROVAL}


class Message(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")  # created, not yet handed to the provider
        QUEUED = "queued", _("Queued")  # accepted by the provider, not yet sent to the network
        SENT = "sent", _("Sent")  # sent to the operator network, no delivery report yet
        DELIVERED = "delivered", _("Delivered")  # handset confirmed (final)
        UNDELIVERED = "undelivered", _("Undelivered")  # network could not deliver (final)
        EXPIRED = "expired", _("Expired")  # validity period ran out (final)
        REJECTED = "rejected", _("Rejected")  # refused by the provider or us before sending (final)
        FAILED = "failed", _("Failed")  # failed for another reason (final)
        UNKNOWN = "unknown", _("Unknown")  # hand-over outcome unclear (e.g. timeout); reconciled later
        CANCELLED = "cancelled", _("Cancelled")  # campaign cancelled before this was sent (final)

    class Origin(models.TextChoices):
        CAMPAIGN = "campaign", _("Campaign")  # one recipient of a campaign (or a test send of it)
        REPLY = "reply", _("Inbox reply")  # typed by a teammate in the inbox (sent_by)
        AUTO_REPLY = "auto_reply", _("Auto-reply")  # answer to an opt-out/opt-in/help keyword

    FINAL = frozenset({"delivered", "undelivered", "expired", "rejected", "failed", "cancelled"})
    # Higher rank wins; a lower-ranked update never overwrites a higher one (late "sent" after "delivered").
    RANK = {
        "pending": 0,
        "unknown": 1,
        "queued": 2,
        "sent": 3,
        "undelivered": 4,
        "expired": 4,
        "rejected": 4,
        "failed": 4,
        "cancelled": 4,
        "delivered": 5,
    }

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No single-column indexes on these keys: the composite indexes below lead with them, and every index
    # costs a write per message on a million-recipient start.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="messages", null=True, blank=True, db_index=False
    )
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages", db_index=False
    )
    account = models.ForeignKey(
        "providers.ProviderAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,
    )
    to = models.CharField(max_length=16)
    sender = models.CharField(max_length=32, blank=True)
    text = models.TextField()
    segments = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    external_id = models.CharField(max_length=128, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_text = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cost = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    is_test = models.BooleanField(default=False)
    # Outside campaigns (campaign=None): replies typed in the inbox and keyword auto-replies (campaigns/inbox.py).
    origin = models.CharField(
        max_length=10, choices=Origin.choices, default=Origin.CAMPAIGN, db_default=Origin.CAMPAIGN
    )  # db_default: campaigns/sql.py inserts rows with raw SQL
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    # A pending message is "claimed" while one batch run hands it over: claim_token names that run. A claim
    # left behind by a killed worker is reconciled with the provider, never blindly resent.
    claim_token = models.CharField(max_length=32, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Set when the hand-over outcome is unclear (timeout, lost worker): look it up at the provider after this.
    reconcile_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact"],
                condition=models.Q(contact__isnull=False, is_test=False),
                name="uniq_campaign_contact",
            )
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "id"], name="message_campaign_status"),
            # Partial: a pending message has no provider id and no poll time yet, so a million-row snapshot
            # writes nothing to these two; queries add the matching condition (e.g. ``.exclude(external_id="")``).
            models.Index(
                fields=["account", "external_id"], name="message_external", condition=~models.Q(external_id="")
            ),
            models.Index(
                fields=["status", "next_poll_at"], name="message_poll", condition=models.Q(next_poll_at__isnull=False)
            ),
            # The messages table of a campaign in id order (and its tiles) without sorting a million rows.
            models.Index(fields=["campaign", "id"], name="message_campaign_id"),
            models.Index(fields=["contact", "-created_at"], name="message_contact"),
            models.Index(fields=["-created_at"], name="message_created"),
            models.Index(
                fields=["claim_token", "claimed_at"], name="message_claimed", condition=~models.Q(claim_token="")
            ),
            models.Index(
                fields=["reconcile_after"], name="message_reconcile", condition=models.Q(reconcile_after__isnull=False)
            ),
            # The inbox thread of a number: replies and auto-replies (few rows; campaign rows are not indexed).
            models.Index(fields=["to", "-created_at"], name="message_inbox_to", condition=~models.Q(origin="campaign")),
        ]

    def __str__(self) -> str:
        return f"{self.to} ({self.status})"


class MessageEvent(models.Model):
    """One raw provider event (delivery report, send answer, poll result), kept as received."""

    class Kind(models.TextChoices):
        SEND = "send", _("Send answer")
        STATUS = "status", _("Status report")
        POLL = "poll", _("Polled status")

    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    account = models.ForeignKey(
        "providers.ProviderAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    event_id = models.CharField(max_length=128, blank=True, help_text=_("Provider's event id, for de-duplication."))
    external_id = models.CharField(max_length=128, blank=True)
    raw_status = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=12, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "event_id"], condition=~models.Q(event_id=""), name="uniq_event_id"
            )
        ]
        indexes = [
            models.Index(fields=["message", "received_at"], name="event_message"),
            models.Index(fields=["received_at"], name="event_received"),
            # Reports that arrived before the send answer was stored (matched later by external id).
            models.Index(
                fields=["account", "external_id"], name="event_orphan", condition=models.Q(message__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.raw_status}"


class InboundMessage(models.Model):
    """A reply or other inbound SMS, stored once per provider id."""

    class Keyword(models.TextChoices):
        NONE = "none", _("No keyword")  # ordinary reply
        OPT_OUT = "opt_out", _("Opt-out")  # STOP and equivalents: contact opted out
        OPT_IN = "opt_in", _("Opt-in")  # START and equivalents: opt-out reversed
        HELP = "help", _("Help")  # HELP / INFO
        FLAGGED = "flagged", _("Needs a human")  # mentions a keyword but is not only the keyword

    class Status(models.TextChoices):
        UNREAD = "unread", _("Unread")  # nobody opened the conversation yet
        OPEN = "open", _("Open")  # read, waiting for a reply or a decision
        CLOSED = "closed", _("Closed")  # handled

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        "providers.ProviderAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_messages"
    )
    external_id = models.CharField(max_length=128, blank=True)
    from_phone = models.CharField(max_length=32)
    to = models.CharField(max_length=32, blank=True)
    text = models.TextField(blank=True)
    received_at = models.DateTimeField()
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_messages"
    )
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    in_reply_to = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    keyword = models.CharField(max_length=10, choices=Keyword.choices, default=Keyword.NONE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UNREAD)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by campaigns/inbox.py: the keyword matched (or mentioned, for FLAGGED) and its list's language; when
    # the keyword was acted on (a beat task retries replies stored but not processed); when a teammate answered.
    matched_keyword = models.CharField(max_length=50, blank=True)
    keyword_language = models.CharField(max_length=8, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"], condition=~models.Q(external_id=""), name="uniq_inbound_external"
            )
        ]
        indexes = [
            models.Index(fields=["status", "-received_at"], name="inbound_status"),
            models.Index(fields=["contact", "-received_at"], name="inbound_contact"),
            models.Index(fields=["from_phone", "-received_at"], name="inbound_from"),
            models.Index(fields=["-received_at"], name="inbound_received"),
            models.Index(fields=["created_at"], name="inbound_unprocessed", condition=models.Q(processed_at=None)),
        ]

    def __str__(self) -> str:
        return f"{self.from_phone}: {self.text[:40]}"


class TestNumber(models.Model):
    """A team phone used for test sends."""

    __test__ = False  # not a pytest test class

    phone = models.CharField(max_length=16, unique=True)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label", "phone"]

    def __str__(self) -> str:
        return f"{self.label} ({self.phone})" if self.label else self.phone


class CampaignLane(models.Model):
    """One of a campaign's parallel send loops. The holder token is a lease: a loop whose task is duplicated
    or replayed finds another holder and stops; a loop whose worker died is restarted once the lease expires."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="lanes")
    lane = models.PositiveSmallIntegerField()
    holder = models.CharField(max_length=32, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField(default=0, help_text=_("Consecutive retryable errors."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "lane"], name="uniq_campaign_lane")]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.lane}"


class ThrottleBucket(models.Model):
    """A rate limit shared by every worker process (virtual-scheduling token bucket, GCRA).

    ``next_free`` is the epoch second from which the next message may go; reserving n messages at r/s moves
    it by n/r in one atomic UPDATE, so two workers never get the same slot, on SQLite and PostgreSQL alike.
    """

    key = models.CharField(max_length=64, unique=True)
    next_free = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return self.key


class CampaignMinute(models.Model):
    """Per-minute counts of one campaign, for the status chart and the achieved rate without a COUNT(*)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="minutes")
    minute = models.DateTimeField()
    handed_over = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["minute"]
        constraints = [models.UniqueConstraint(fields=["campaign", "minute"], name="uniq_campaign_minute")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.minute:%H:%M}"
