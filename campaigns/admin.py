from django.contrib import admin

from .models import (
    Campaign,
    CampaignLane,
    CampaignMinute,
    InboundMessage,
    Message,
    MessageEvent,
    TestNumber,
    ThrottleBucket,
)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "status",
        "account",
        "scheduled_at",
        "recipients_total",
        "delivered_count",
        "failed_count",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "account")
    search_fields = ("name", "text")
    date_hierarchy = "created_at"
    filter_horizontal = ("groups", "lists", "segments", "exclude_groups", "exclude_lists")
    readonly_fields = (
        "uuid",
        "started_at",
        "finished_at",
        "paused_at",
        "recipients_total",
        "segments_total",
        "pending_count",
        "queued_count",
        "sent_count",
        "delivered_count",
        "failed_count",
        "unknown_count",
        "cancelled_count",
        "created_at",
        "updated_at",
        "approved_by",
        "approved_at",
    )


class MessageEventInline(admin.TabularInline):
    model = MessageEvent
    extra = 0
    max_num = 0
    can_delete = False
    readonly_fields = ("kind", "raw_status", "status", "event_id", "raw", "occurred_at", "received_at")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("to", "campaign", "status", "external_id", "error_code", "attempts", "created_at")
    list_filter = ("status", "is_test")
    search_fields = ("=to", "=external_id", "=uuid")
    raw_id_fields = ("campaign", "contact", "account")
    show_full_result_count = False
    readonly_fields = ("uuid", "created_at", "updated_at", "handed_over_at", "sent_at", "delivered_at", "failed_at")
    inlines = [MessageEventInline]


@admin.register(MessageEvent)
class MessageEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "kind", "external_id", "raw_status", "status", "account")
    list_filter = ("kind", "status")
    search_fields = ("=external_id", "=event_id")
    raw_id_fields = ("message",)
    show_full_result_count = False


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ("received_at", "from_phone", "text", "keyword", "status", "account", "campaign")
    list_filter = ("keyword", "status", "account")
    search_fields = ("=from_phone", "text")
    raw_id_fields = ("contact", "campaign", "in_reply_to", "assigned_to")


@admin.register(TestNumber)
class TestNumberAdmin(admin.ModelAdmin):
    list_display = ("phone", "label", "created_at")
    search_fields = ("phone", "label")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Internal bookkeeping of the send pipeline: visible to operators for diagnosis, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CampaignLane)
class CampaignLaneAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "lane", "holder", "expires_at", "failures", "updated_at")
    list_filter = ("failures",)
    raw_id_fields = ("campaign",)


@admin.register(ThrottleBucket)
class ThrottleBucketAdmin(ReadOnlyAdmin):
    list_display = ("key", "next_free")
    search_fields = ("key",)


@admin.register(CampaignMinute)
class CampaignMinuteAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "minute", "handed_over", "delivered", "failed")
    raw_id_fields = ("campaign",)
    date_hierarchy = "minute"
