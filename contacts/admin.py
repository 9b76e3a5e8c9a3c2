from django.contrib import admin

from .models import (
    BlocklistEntry,
    Contact,
    ContactField,
    ContactList,
    Group,
    GroupMembership,
    Import,
    ImportPreset,
    ImportRowError,
    ListMembership,
    SavedSegment,
)


@admin.register(ContactField)
class ContactFieldAdmin(admin.ModelAdmin):
    list_display = ("key", "label", "type", "created_at")
    list_filter = ("type",)
    search_fields = ("key", "label")


class GroupMembershipInline(admin.TabularInline):
    model = GroupMembership
    extra = 0
    raw_id_fields = ("group",)


class ListMembershipInline(admin.TabularInline):
    model = ListMembership
    extra = 0
    raw_id_fields = ("contact_list",)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("phone", "first_name", "last_name", "status", "country", "created_at")
    list_filter = ("status", "country", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=phone", "first_name", "last_name")
    show_full_result_count = False  # no COUNT(*) over a million rows
    inlines = [GroupMembershipInline, ListMembershipInline]
    readonly_fields = ("created_at", "updated_at", "opted_out_at")


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name", "member_count", "created_by", "created_at")
    search_fields = ("name",)
    readonly_fields = ("member_count", "created_at", "updated_at")


@admin.register(ContactList)
class ContactListAdmin(admin.ModelAdmin):
    list_display = ("name", "member_count", "created_by", "created_at")
    search_fields = ("name",)
    readonly_fields = ("member_count", "created_at", "updated_at")


@admin.register(SavedSegment)
class SavedSegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "created_by", "created_at")
    search_fields = ("name",)


@admin.register(BlocklistEntry)
class BlocklistEntryAdmin(admin.ModelAdmin):
    list_display = ("phone", "reason", "source", "created_by", "created_at")
    list_filter = ("reason", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=phone", "source", "note")
    show_full_result_count = False


@admin.register(ImportPreset)
class ImportPresetAdmin(admin.ModelAdmin):
    list_display = ("name", "header_signature", "created_by", "created_at")
    search_fields = ("name",)


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    extra = 0
    max_num = 0
    readonly_fields = ("row_number", "values", "reason")
    can_delete = False


@admin.register(Import)
class ImportAdmin(admin.ModelAdmin):
    list_display = (
        "original_name",
        "status",
        "mode",
        "total_rows",
        "created_count",
        "updated_count",
        "invalid_count",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "mode", "file_kind")
    search_fields = ("original_name",)
    readonly_fields = [f.name for f in Import._meta.fields if f.name not in ("mode",)]
    inlines = [ImportRowErrorInline]


@admin.register(ImportRowError)
class ImportRowErrorAdmin(admin.ModelAdmin):
    list_display = ("import_run", "row_number", "reason")
    search_fields = ("reason",)
    raw_id_fields = ("import_run",)


@admin.register(GroupMembership)
class GroupMembershipAdmin(admin.ModelAdmin):
    list_display = ("group", "contact", "added_at")
    list_filter = ("group",)
    raw_id_fields = ("group", "contact")
    show_full_result_count = False


@admin.register(ListMembership)
class ListMembershipAdmin(admin.ModelAdmin):
    list_display = ("contact_list", "contact", "added_at")
    list_filter = ("contact_list",)
    raw_id_fields = ("contact_list", "contact")
    show_full_result_count = False
