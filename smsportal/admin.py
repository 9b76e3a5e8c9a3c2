from django.contrib import admin

from .models import AuditLog, AutoReply, Conversation, KeywordRule, WorkspaceSettings

admin.site.site_header = "smsportal administration"
admin.site.site_title = "smsportal admin"


@admin.register(WorkspaceSettings)
class WorkspaceSettingsAdmin(admin.ModelAdmin):
    list_display = ("name", "timezone", "default_country", "default_sender", "require_approval", "updated_at")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request):
        return not WorkspaceSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "action", "object_type", "object_repr")
    list_filter = ("action", "object_type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("actor_label", "object_repr", "object_id")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditLog._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- inbox (campaigns/inbox.py) ---------------------------------------------------------------------------
@admin.register(KeywordRule)
class KeywordRuleAdmin(admin.ModelAdmin):
    """Prefer the inbox's Keywords page, which checks clashes between kinds and audits every change."""

    list_display = ("kind", "language", "is_active", "auto_reply", "updated_by", "updated_at")
    list_filter = ("kind", "is_active")
    readonly_fields = ("updated_at", "updated_by")


@admin.register(AutoReply)
class AutoReplyAdmin(admin.ModelAdmin):
    list_display = ("created_at", "phone", "kind", "day", "status", "account", "error")
    list_filter = ("status", "kind")
    search_fields = ("phone",)
    date_hierarchy = "created_at"
    list_select_related = ("account",)
    readonly_fields = [f.name for f in AutoReply._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Summaries derived from the replies (recomputed by the inbox services): read-only here."""

    list_display = ("phone", "last_at", "reply_count", "unread_count", "open_count", "waiting_since", "assigned_to")
    search_fields = ("phone",)
    list_select_related = ("assigned_to",)
    readonly_fields = [f.name for f in Conversation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
