"""Contacts and the audience building blocks: fields, groups, lists, segments, blocklist, imports.

Member counts on groups and lists are kept by the services that change memberships (never a COUNT(*) over
the contacts table on a page).
"""

import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class ContactField(models.Model):
    """A declared custom attribute; values live in ``Contact.attributes[key]``."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")

    key = models.SlugField(max_length=50, unique=True, help_text=_("Used in placeholders: {key}."))
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.TEXT)
    choices = models.JSONField(default=list, blank=True, help_text=_("Allowed values for a choice field."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class Contact(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")  # may receive campaigns
        BLOCKED = "blocked", _("Blocked")  # on the blocklist by an operator or a provider report
        OPTED_OUT = "opted_out", _("Opted out")  # asked not to receive messages (reply STOP or manual)

    phone = models.CharField(max_length=16, unique=True, help_text=_("E.164, e.g. +46701234567."))
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    country = models.CharField(max_length=2, blank=True, help_text=_("Region of the number (ISO 3166)."))
    opted_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    search_text = models.TextField(
        blank=True,
        default="",
        editable=False,
        help_text=_("Names, phone digits and attribute values, lower-cased without accents (contacts.search)."),
    )
    import_mark = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "Id of the last import that touched this contact: finds repeats of a number within one file "
            "without keeping every number of the file in memory."
        ),
    )
    groups = models.ManyToManyField("Group", through="GroupMembership", related_name="contacts", blank=True)
    lists = models.ManyToManyField("ContactList", through="ListMembership", related_name="contacts", blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "-id"], name="contact_status_id"),
            models.Index(fields=["created_at"], name="contact_created"),
            models.Index(fields=["last_name", "first_name"], name="contact_name"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.phone})" if name else self.phone

    def get_absolute_url(self) -> str:
        return reverse("contacts:detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Group(models.Model):
    """A named set of contacts, e.g. 'VIP customers'. Contacts may be in many groups."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    member_count = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("contacts:group", args=[self.pk])


class ContactList(models.Model):
    """A static list, typically what one import or one export produced."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    member_count = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("contact list")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("contacts:contactlist", args=[self.pk])


class GroupMembership(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "contact"], name="uniq_group_contact")]
        indexes = [models.Index(fields=["contact"], name="groupmember_contact")]

    def __str__(self) -> str:
        return f"{self.contact_id} in group {self.group_id}"


class ListMembership(models.Model):
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact_list", "contact"], name="uniq_list_contact")]
        indexes = [models.Index(fields=["contact"], name="listmember_contact")]

    def __str__(self) -> str:
        return f"{self.contact_id} in list {self.contact_list_id}"


class SavedSegment(models.Model):
    """A saved contacts filter (the query string of the contacts table), usable as a campaign audience."""

    name = models.CharField(max_length=100, unique=True)
    query = models.JSONField(default=dict, help_text=_("Filter parameters of the contacts table."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        """The contacts table with this segment's filter."""
        return reverse("contacts:list") + "?" + urlencode({k: v for k, v in (self.query or {}).items() if v})


class BlocklistEntry(models.Model):
    """A number that must never receive a message, whatever its contact's state."""

    class Reason(models.TextChoices):
        MANUAL = "manual", _("Added manually")
        OPTED_OUT = "opted_out", _("Opted out by reply")
        PROVIDER = "provider", _("Reported by provider")
        HARD_FAILURE = "hard_failure", _("Hard delivery failure")
        IMPORTED = "imported", _("Imported")

    phone = models.CharField(max_length=16, unique=True)
    reason = models.CharField(max_length=20, choices=Reason.choices, default=Reason.MANUAL)
    source = models.CharField(max_length=200, blank=True, help_text=_("Where it came from: provider, campaign, file."))
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    import_mark = models.PositiveBigIntegerField(
        null=True, blank=True, editable=False, help_text=_("Id of the last import that listed this number.")
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("blocklist entry")
        verbose_name_plural = _("blocklist entries")
        indexes = [models.Index(fields=["reason", "-created_at"], name="block_reason")]

    def __str__(self) -> str:
        return self.phone


class ImportPreset(models.Model):
    """A remembered column mapping, offered again for files with the same header."""

    name = models.CharField(max_length=100)
    header_signature = models.CharField(max_length=64, db_index=True)
    header = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


def import_upload_to(instance: "Import", filename: str) -> str:
    return f"imports/{instance.uuid}/{filename[-100:]}"


class Import(models.Model):
    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")  # file stored, format detected, waiting for a mapping
        QUEUED = "queued", _("Queued")  # mapping confirmed, waiting for a worker
        RUNNING = "running", _("Running")  # a worker is reading rows
        DONE = "done", _("Done")  # every row counted in the summary
        FAILED = "failed", _("Failed")  # stopped by an error; rows written so far are kept and counted
        CANCELLED = "cancelled", _("Cancelled")  # stopped by a user; rows written so far are kept

    class Mode(models.TextChoices):
        ADD_UPDATE = "add_update", _("Add new and update existing contacts")
        ADD_ONLY = "add_only", _("Add new contacts, skip existing ones")
        BLOCKLIST = "blocklist", _("Add the numbers to the blocklist")

    class FileKind(models.TextChoices):
        CSV = "csv", _("CSV / text")
        XLSX = "xlsx", _("Excel (XLSX)")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file = models.FileField(upload_to=import_upload_to, max_length=255)
    original_name = models.CharField(max_length=255)
    file_size = models.PositiveBigIntegerField(default=0)
    file_kind = models.CharField(max_length=4, choices=FileKind.choices, default=FileKind.CSV)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    sheet_name = models.CharField(max_length=100, blank=True)
    has_header = models.BooleanField(default=True)
    header = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.ADD_UPDATE)
    default_country = models.CharField(max_length=2, blank=True)
    target_group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    target_list = models.ForeignKey(ContactList, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    cancel_requested = models.BooleanField(default=False)
    # processed_rows = records read so far (the resume point); total_rows = the non-empty ones, always equal to
    # created + updated + unchanged + skipped + duplicate + invalid + blocked; processed = total + empty.
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    blocked_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    empty_count = models.PositiveIntegerField(default=0, help_text=_("Rows with no value at all, ignored."))
    progress = models.PositiveSmallIntegerField(default=0, help_text=_("Per cent of the file read."))
    resume_offset = models.PositiveBigIntegerField(
        default=0, help_text=_("Byte offset after the last saved batch of a CSV file (where a retry continues).")
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text=_("Last batch written by the worker."))
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "-created_at"], name="import_status")]

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED}

    @property
    def is_active(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}

    @property
    def counted_rows(self) -> int:
        return (
            self.created_count
            + self.updated_count
            + self.unchanged_count
            + self.skipped_count
            + self.duplicate_count
            + self.invalid_count
            + self.blocked_count
        )


class ImportRowError(models.Model):
    """One rejected or noteworthy row of an import, downloadable as the error CSV."""

    import_run = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.PositiveIntegerField(help_text=_("1-based, as a spreadsheet shows it."))
    values = models.JSONField(default=list)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["row_number"]
        indexes = [models.Index(fields=["import_run", "row_number"], name="importerror_row")]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.reason}"
