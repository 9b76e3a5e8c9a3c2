"""Writes for contacts: contacts, fields, groups and lists (with their member counters), saved segments, the
blocklist (with opt-out / opt-in), imports and exports. Every change is audited here, never in views.

Member counters (``Group.member_count``, ``ContactList.member_count``) move with ``F()`` by the number of rows
the membership statement really inserted or deleted, in the same transaction: pages never ``COUNT(*)``.

Other apps call: ``blocklist_add`` (provider hard failures, STOP replies through ``contact_opt_out``),
``contact_opt_out`` / ``contact_opt_in`` (inbound keywords), ``normalize_or_error``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.text import slugify

from smsportal.audit import audit
from smsportal.models import AuditLog, WorkspaceSettings

from . import bulk
from .importing import (
    FileInfo,
    ImportFileError,
    MappingProblem,
    build_row_spec,
    detect,
    guess_mapping,
    header_signature,
)
from .models import (
    BlocklistEntry,
    Contact,
    ContactField,
    ContactList,
    Group,
    GroupMembership,
    Import,
    ImportPreset,
    ListMembership,
    SavedSegment,
)
from .phone import normalize_phone
from .rows import FIELD_PREFIX, parse_field_value
from .rows import FieldSpec as RowFieldSpec
from .search import build_search_text

AUDIT_PHONES_MAX = 1000  # phones listed in one bulk audit entry (the count is always exact)
DELETE_CHUNK = 2000


def default_country() -> str:
    return WorkspaceSettings.load().default_country


def normalize_or_error(raw, *, country: str = "", field_name: str = "") -> tuple[str, str]:
    """(E.164, region) or ValidationError with the reason (keyed by ``field_name`` when given)."""
    result = normalize_phone(raw, default_country(), country=country)
    if not result.ok:
        raise ValidationError({field_name: result.error} if field_name else result.error, code="invalid_phone")
    return result.e164, result.region


def _ids_sql(qs: QuerySet) -> tuple[str, Sequence]:
    sql, params = qs.order_by().values("id").query.sql_with_params()
    return sql, params


# --- contacts ----------------------------------------------------------------------------------------------


def clean_attributes(values: dict, *, fields: Iterable[ContactField] | None = None) -> dict:
    """Declared fields only, each value read by its type. Raises ValidationError keyed by field key."""
    fields = list(fields if fields is not None else ContactField.objects.all())
    day_first = default_country() not in {"US", "CA", "PH"}
    cleaned, errors = {}, {}
    for f in fields:
        raw = values.get(f.key)
        if raw in (None, ""):
            continue
        if not isinstance(raw, str):
            raw = str(raw)
        try:
            cleaned[f.key] = parse_field_value(
                RowFieldSpec(0, f.key, f.label, f.type, tuple(f.choices or ())), raw.strip(), day_first=day_first
            )
        except ValueError as exc:
            errors[f.key] = str(exc)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _status_for_phone(phone: str) -> tuple[str, object]:
    entry = BlocklistEntry.objects.filter(phone=phone).only("reason").first()
    if entry is None:
        return Contact.Status.ACTIVE, None
    if entry.reason == BlocklistEntry.Reason.OPTED_OUT:
        return Contact.Status.OPTED_OUT, timezone.now()
    return Contact.Status.BLOCKED, None


@transaction.atomic
def contact_create(
    *,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    country: str = "",
    attributes: dict | None = None,
    groups: Iterable[Group] = (),
    lists: Iterable[ContactList] = (),
    actor=None,
) -> Contact:
    e164, region = normalize_or_error(phone, country=country, field_name="phone")
    if Contact.objects.filter(phone=e164).exists():
        raise ValidationError({"phone": f"A contact with {e164} already exists."}, code="duplicate")
    attributes = attributes or {}
    status, opted_out_at = _status_for_phone(e164)
    try:
        with transaction.atomic():
            contact = Contact.objects.create(
                phone=e164,
                first_name=first_name.strip(),
                last_name=last_name.strip(),
                country=region,
                attributes=attributes,
                status=status,
                opted_out_at=opted_out_at,
                search_text=build_search_text(first_name.strip(), last_name.strip(), e164, attributes),
            )
    except IntegrityError:
        raise ValidationError({"phone": f"A contact with {e164} already exists."}, code="duplicate") from None
    audit(actor=actor, action=AuditLog.Action.CREATE, obj=contact, changes={"phone": e164, "status": status})
    for group in groups:
        group_add_contacts(group=group, contacts=Contact.objects.filter(pk=contact.pk), actor=actor, quiet=True)
    for contact_list in lists:
        list_add_contacts(
            contact_list=contact_list, contacts=Contact.objects.filter(pk=contact.pk), actor=actor, quiet=True
        )
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    phone: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    country: str = "",
    attributes: dict | None = None,
    actor=None,
) -> Contact:
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    before = {
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "attributes": dict(contact.attributes),
    }
    if phone is not None:
        e164, region = normalize_or_error(phone, country=country, field_name="phone")
        if e164 != contact.phone:
            if Contact.objects.filter(phone=e164).exclude(pk=contact.pk).exists():
                raise ValidationError({"phone": f"Another contact already has {e164}."}, code="duplicate")
            contact.phone = e164
            contact.country = region
            status, opted_out_at = _status_for_phone(e164)
            if contact.status == Contact.Status.ACTIVE or status != Contact.Status.ACTIVE:
                contact.status, contact.opted_out_at = status, opted_out_at or contact.opted_out_at
    if first_name is not None:
        contact.first_name = first_name.strip()
    if last_name is not None:
        contact.last_name = last_name.strip()
    if attributes is not None:
        contact.attributes = attributes
    contact.search_text = build_search_text(contact.first_name, contact.last_name, contact.phone, contact.attributes)
    contact.save()
    after = {
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "attributes": contact.attributes,
    }
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changes:
        audit(actor=actor, action=AuditLog.Action.UPDATE, obj=contact, changes=changes)
    return contact


def _decrement_counts_for(contact_ids: Sequence[int]) -> None:
    for row in GroupMembership.objects.filter(contact_id__in=contact_ids).values("group_id").annotate(n=Count("id")):
        Group.objects.filter(pk=row["group_id"]).update(member_count=Greatest(F("member_count") - row["n"], 0))
    for row in (
        ListMembership.objects.filter(contact_id__in=contact_ids).values("contact_list_id").annotate(n=Count("id"))
    ):
        ContactList.objects.filter(pk=row["contact_list_id"]).update(
            member_count=Greatest(F("member_count") - row["n"], 0)
        )


def contacts_delete(*, contacts: QuerySet, actor=None) -> int:
    """Delete contacts (their memberships go with them; their messages stay, without the link). In chunks, each
    chunk one transaction with its counter updates."""
    deleted = 0
    sample: list[str] = []
    last_id = 0
    base = contacts.order_by("pk")
    while True:
        ids = list(base.filter(pk__gt=last_id).values_list("pk", flat=True)[:DELETE_CHUNK])
        if not ids:
            break
        last_id = ids[-1]
        with transaction.atomic():
            if len(sample) < AUDIT_PHONES_MAX:
                sample += list(Contact.objects.filter(pk__in=ids).values_list("phone", flat=True))
            _decrement_counts_for(ids)
            Contact.objects.filter(pk__in=ids).delete()
            deleted += len(ids)
    if deleted:
        audit(
            actor=actor,
            action=AuditLog.Action.DELETE,
            object_type="contacts.contact",
            object_repr=f"{deleted} contact(s)",
            changes={"count": deleted, "phones": sample[:AUDIT_PHONES_MAX]},
        )
    return deleted


def contact_delete(*, contact: Contact, actor=None) -> None:
    contacts_delete(contacts=Contact.objects.filter(pk=contact.pk), actor=actor)


# --- blocklist, opt-out ------------------------------------------------------------------------------------


@dataclass
class BlocklistResult:
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)

    @property
    def summary(self) -> str:
        parts = [f"{len(self.added)} number(s) added to the blocklist"]
        if self.already:
            parts.append(f"{len(self.already)} already on it")
        if self.invalid:
            parts.append(f"{len(self.invalid)} not valid")
        return ", ".join(parts) + "."


def _audit_blocklist(*, action: str, phones: Sequence[str], actor, source: str, changes: dict) -> None:
    if len(phones) <= 100:
        for phone in phones:
            audit(
                actor=actor,
                action=action,
                object_type="contacts.blocklistentry",
                object_id=phone,
                object_repr=phone,
                changes=changes,
                source=source,
            )
    else:
        audit(
            actor=actor,
            action=action,
            object_type="contacts.blocklistentry",
            object_repr=f"{len(phones)} numbers",
            changes={**changes, "count": len(phones), "phones": list(phones[:AUDIT_PHONES_MAX])},
            source=source,
        )


@transaction.atomic
def blocklist_add(
    *,
    phones: Iterable[str],
    reason: str = BlocklistEntry.Reason.MANUAL,
    source: str = "",
    note: str = "",
    actor=None,
    normalized: bool = False,
    audit_details: dict | None = None,
) -> BlocklistResult:
    """Put numbers on the blocklist (raw input is normalized; invalid input is reported, not raised). Matching
    contacts become blocked (or opted out for ``reason=opted_out``). Audited (``audit_details`` are added to the
    entry, e.g. the reply that asked for it)."""
    if reason not in BlocklistEntry.Reason.values:
        raise ValidationError(f"Unknown blocklist reason {reason!r}.")
    result = BlocklistResult()
    country = default_country()
    wanted: dict[str, None] = {}
    for raw in phones:
        if normalized:
            wanted[raw] = None
            continue
        if not str(raw or "").strip():
            continue
        norm = normalize_phone(raw, country)
        if norm.ok:
            wanted[norm.e164] = None
        else:
            result.invalid.append((str(raw)[:64], norm.error))
    phones_list = list(wanted)
    user_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    for start in range(0, len(phones_list), 5000):
        part = phones_list[start : start + 5000]
        existing = bulk.existing_blocklist(part)
        new = [p for p in part if p not in existing]
        bulk.insert_blocklist(new, reason=reason, source=source, note=note, user_id=user_id, mark=None)
        now_existing = set(bulk.existing_blocklist(new))
        result.added += [p for p in new if p in now_existing]
        result.already += [p for p in part if p in existing]
        if reason == BlocklistEntry.Reason.OPTED_OUT:
            bulk.set_status_by_phone(
                part,
                status=Contact.Status.OPTED_OUT,
                from_statuses=[Contact.Status.ACTIVE, Contact.Status.BLOCKED],
                opted_out_at=timezone.now(),
            )
        else:
            bulk.set_status_by_phone(part, status=Contact.Status.BLOCKED, from_statuses=[Contact.Status.ACTIVE])
    if result.added:
        _audit_blocklist(
            action=AuditLog.Action.OPT_OUT if reason == BlocklistEntry.Reason.OPTED_OUT else AuditLog.Action.BLOCK,
            phones=result.added,
            actor=actor,
            source=source or "blocklist",
            changes={
                "reason": reason,
                "source": source,
                **({"note": note[:200]} if note else {}),
                **(audit_details or {}),
            },
        )
    return result


@transaction.atomic
def blocklist_remove(*, phones: Iterable[str], actor=None, source: str = "") -> int:
    """Take numbers off the blocklist. Blocked contacts become active again; opted-out contacts stay opted out
    (only ``contact_opt_in`` reverses an opt-out). Audited. Returns how many entries were removed."""
    phones_list = list(dict.fromkeys(p for p in phones if p))
    removed: list[str] = []
    for start in range(0, len(phones_list), 5000):
        part = phones_list[start : start + 5000]
        entries = BlocklistEntry.objects.filter(phone__in=part)
        found = list(entries.values_list("phone", "reason"))
        entries.delete()
        removed += [p for p, _ in found]
        bulk.set_status_by_phone(
            [p for p, _ in found], status=Contact.Status.ACTIVE, from_statuses=[Contact.Status.BLOCKED]
        )
    if removed:
        _audit_blocklist(
            action=AuditLog.Action.UNBLOCK, phones=removed, actor=actor, source=source or "blocklist", changes={}
        )
    return len(removed)


def contacts_block(
    *, contacts: QuerySet, reason: str = BlocklistEntry.Reason.MANUAL, note: str = "", actor=None
) -> BlocklistResult:
    phones = list(contacts.values_list("phone", flat=True).iterator(chunk_size=5000))
    return blocklist_add(phones=phones, reason=reason, source="contacts", note=note, actor=actor, normalized=True)


def contacts_unblock(*, contacts: QuerySet, actor=None) -> int:
    phones = list(contacts.values_list("phone", flat=True).iterator(chunk_size=5000))
    return blocklist_remove(phones=phones, actor=actor, source="contacts")


@transaction.atomic
def contact_opt_out(*, phone: str, source: str = "", actor=None, details: dict | None = None) -> Contact | None:
    """The number asked not to be messaged (a STOP reply, a form): blocklisted with reason 'opted out', the
    contact (if any) becomes opted out. Stays after the contact is deleted and re-imported."""
    e164 = phone if phone.startswith("+") and phone[1:].isdigit() else normalize_or_error(phone)[0]
    existing = BlocklistEntry.objects.filter(phone=e164).first()
    if existing is None:
        blocklist_add(
            phones=[e164],
            reason=BlocklistEntry.Reason.OPTED_OUT,
            source=source,
            actor=actor,
            normalized=True,
            audit_details=details,
        )
    else:
        bulk.set_status_by_phone(
            [e164],
            status=Contact.Status.OPTED_OUT,
            from_statuses=[Contact.Status.ACTIVE, Contact.Status.BLOCKED],
            opted_out_at=timezone.now(),
        )
        if existing.reason != BlocklistEntry.Reason.OPTED_OUT:
            BlocklistEntry.objects.filter(pk=existing.pk).update(
                reason=BlocklistEntry.Reason.OPTED_OUT, source=source[:200] or existing.source
            )
        audit(
            actor=actor,
            action=AuditLog.Action.OPT_OUT,
            object_type="contacts.blocklistentry",
            object_id=e164,
            object_repr=e164,
            changes={"reason": BlocklistEntry.Reason.OPTED_OUT, "source": source, **(details or {})},
            source=source or "opt-out",
        )
    return Contact.objects.filter(phone=e164).first()


@transaction.atomic
def contact_opt_in(*, contact: Contact, actor=None, source: str = "", details: dict | None = None) -> Contact:
    """Reverse an opt-out (the person asked to receive messages again, e.g. START). A manual or provider block on
    the number stays: the contact is then blocked, not active."""
    entry = BlocklistEntry.objects.filter(phone=contact.phone).first()
    if entry is not None and entry.reason == BlocklistEntry.Reason.OPTED_OUT:
        entry.delete()
        entry = None
    status = Contact.Status.ACTIVE if entry is None else Contact.Status.BLOCKED
    Contact.objects.filter(pk=contact.pk).update(status=status, opted_out_at=None, updated_at=timezone.now())
    audit(
        actor=actor,
        action=AuditLog.Action.OPT_IN,
        obj=contact,
        changes={"status": status, **(details or {})},
        source=source or "opt-in",
    )
    contact.refresh_from_db()
    return contact


# --- groups and lists --------------------------------------------------------------------------------------


def _unique_name(model, name: str, exclude_pk=None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give it a name."})
    qs = model.objects.filter(name__iexact=name)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise ValidationError({"name": f"“{name}” is already taken."})
    return name


@transaction.atomic
def group_create(*, name: str, description: str = "", actor=None) -> Group:
    group = Group.objects.create(
        name=_unique_name(Group, name),
        description=description,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit(actor=actor, action=AuditLog.Action.CREATE, obj=group)
    return group


@transaction.atomic
def group_update(*, group: Group, name: str, description: str = "", actor=None) -> Group:
    changes = {}
    name = _unique_name(Group, name, exclude_pk=group.pk)
    if name != group.name:
        changes["name"] = [group.name, name]
    if description != group.description:
        changes["description"] = [group.description, description]
    group.name, group.description = name, description
    group.save(update_fields=["name", "description", "updated_at"])
    if changes:
        audit(actor=actor, action=AuditLog.Action.UPDATE, obj=group, changes=changes)
    return group


@transaction.atomic
def group_delete(*, group: Group, actor=None) -> None:
    """Delete a group (its contacts stay). Memberships go in one statement."""
    GroupMembership.objects.filter(group=group)._raw_delete(GroupMembership.objects.db)
    audit(actor=actor, action=AuditLog.Action.DELETE, obj=group, changes={"members": group.member_count})
    group.delete()


@transaction.atomic
def group_add_contacts(*, group: Group, contacts: QuerySet, actor=None, quiet: bool = False) -> int:
    """Add every contact of the queryset (one INSERT … SELECT); returns how many were new members."""
    added = bulk.add_queryset_to(GroupMembership, "group_id", group.pk, _ids_sql(contacts))
    if added:
        Group.objects.filter(pk=group.pk).update(member_count=F("member_count") + added, updated_at=timezone.now())
    if added and not quiet:
        audit(actor=actor, action=AuditLog.Action.UPDATE, obj=group, changes={"added_members": added})
    return added


@transaction.atomic
def group_remove_contacts(*, group: Group, contacts: QuerySet, actor=None) -> int:
    removed, _ = GroupMembership.objects.filter(group=group, contact_id__in=contacts.order_by().values("pk")).delete()
    if removed:
        Group.objects.filter(pk=group.pk).update(
            member_count=Greatest(F("member_count") - removed, 0), updated_at=timezone.now()
        )
        audit(actor=actor, action=AuditLog.Action.UPDATE, obj=group, changes={"removed_members": removed})
    return removed


@transaction.atomic
def list_create(*, name: str, description: str = "", actor=None) -> ContactList:
    contact_list = ContactList.objects.create(
        name=_unique_name(ContactList, name),
        description=description,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit(actor=actor, action=AuditLog.Action.CREATE, obj=contact_list)
    return contact_list


@transaction.atomic
def list_update(*, contact_list: ContactList, name: str, description: str = "", actor=None) -> ContactList:
    changes = {}
    name = _unique_name(ContactList, name, exclude_pk=contact_list.pk)
    if name != contact_list.name:
        changes["name"] = [contact_list.name, name]
    if description != contact_list.description:
        changes["description"] = [contact_list.description, description]
    contact_list.name, contact_list.description = name, description
    contact_list.save(update_fields=["name", "description", "updated_at"])
    if changes:
        audit(actor=actor, action=AuditLog.Action.UPDATE, obj=contact_list, changes=changes)
    return contact_list


@transaction.atomic
def list_delete(*, contact_list: ContactList, actor=None) -> None:
    ListMembership.objects.filter(contact_list=contact_list)._raw_delete(ListMembership.objects.db)
    audit(actor=actor, action=AuditLog.Action.DELETE, obj=contact_list, changes={"members": contact_list.member_count})
    contact_list.delete()


@transaction.atomic
def list_add_contacts(*, contact_list: ContactList, contacts: QuerySet, actor=None, quiet: bool = False) -> int:
    added = bulk.add_queryset_to(ListMembership, "contact_list_id", contact_list.pk, _ids_sql(contacts))
    if added:
        ContactList.objects.filter(pk=contact_list.pk).update(
            member_count=F("member_count") + added, updated_at=timezone.now()
        )
    if added and not quiet:
        audit(actor=actor, action=AuditLog.Action.UPDATE, obj=contact_list, changes={"added_members": added})
    return added


@transaction.atomic
def list_remove_contacts(*, contact_list: ContactList, contacts: QuerySet, actor=None) -> int:
    removed, _ = ListMembership.objects.filter(
        contact_list=contact_list, contact_id__in=contacts.order_by().values("pk")
    ).delete()
    if removed:
        ContactList.objects.filter(pk=contact_list.pk).update(
            member_count=Greatest(F("member_count") - removed, 0), updated_at=timezone.now()
        )
        audit(actor=actor, action=AuditLog.Action.UPDATE, obj=contact_list, changes={"removed_members": removed})
    return removed


def member_counts_recount() -> dict[str, int]:
    """Repair counters from the membership tables (maintenance; never on a page). Returns how many changed."""
    fixed = Counter()
    for model, membership, fk in (
        (Group, GroupMembership, "group_id"),
        (ContactList, ListMembership, "contact_list_id"),
    ):
        actual = dict(membership.objects.values(fk).annotate(n=Count("id")).values_list(fk, "n"))
        for obj in model.objects.only("pk", "member_count"):
            n = actual.get(obj.pk, 0)
            if obj.member_count != n:
                model.objects.filter(pk=obj.pk).update(member_count=n)
                fixed[model.__name__] += 1
    return dict(fixed)


# --- saved segments ----------------------------------------------------------------------------------------

SEGMENT_KEYS = ("q", "status", "group", "list", "created_after", "created_before", "country")


@transaction.atomic
def segment_create(*, name: str, query: dict, actor=None) -> SavedSegment:
    from .filters import ContactFilter

    cleaned = {k: str(v) for k, v in (query or {}).items() if k in SEGMENT_KEYS and v not in (None, "")}
    if not cleaned:
        raise ValidationError("Set at least one filter before saving a segment (an empty filter is everyone).")
    filterset = ContactFilter(data=cleaned, queryset=Contact.objects.none())
    if not filterset.is_valid():
        raise ValidationError("The current filter is not valid; fix it before saving.")
    segment = SavedSegment.objects.create(
        name=_unique_name(SavedSegment, name),
        query=cleaned,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit(actor=actor, action=AuditLog.Action.CREATE, obj=segment, changes={"query": cleaned})
    return segment


@transaction.atomic
def segment_delete(*, segment: SavedSegment, actor=None) -> None:
    audit(actor=actor, action=AuditLog.Action.DELETE, obj=segment, changes={"query": segment.query})
    segment.delete()


# --- custom fields -----------------------------------------------------------------------------------------

RESERVED_KEYS = {"phone", "first_name", "last_name", "name", "country", "status", "id", "group", "list"}


def _clean_choices(type_: str, choices) -> list[str]:
    if type_ != ContactField.Type.CHOICE:
        return []
    if isinstance(choices, str):
        choices = [c.strip() for c in choices.replace("\n", ",").split(",")]
    values = list(dict.fromkeys(c.strip() for c in choices or [] if c and c.strip()))
    if not values:
        raise ValidationError({"choices": "A choice field needs at least one choice."})
    return values


@transaction.atomic
def field_create(
    *, label: str, type: str = ContactField.Type.TEXT, key: str = "", choices=(), actor=None
) -> ContactField:
    label = (label or "").strip()
    if not label:
        raise ValidationError({"label": "Give the field a name."})
    key = slugify(key or label).replace("-", "_")[:50] or "field"
    if key in RESERVED_KEYS:
        raise ValidationError({"key": f"“{key}” is a built-in column; choose another key."})
    if type not in ContactField.Type.values:
        raise ValidationError({"type": "Choose a type."})
    if ContactField.objects.filter(key=key).exists():
        raise ValidationError({"key": f"A field with the key “{key}” already exists."})
    obj = ContactField.objects.create(key=key, label=label[:100], type=type, choices=_clean_choices(type, choices))
    audit(actor=actor, action=AuditLog.Action.CREATE, obj=obj, changes={"key": key, "type": type})
    return obj


@transaction.atomic
def field_update(*, field_obj: ContactField, label: str, type: str, choices=(), actor=None) -> ContactField:
    changes = {}
    choices = _clean_choices(type, choices)
    for name, value in (("label", label.strip()[:100]), ("type", type), ("choices", choices)):
        if getattr(field_obj, name) != value:
            changes[name] = [getattr(field_obj, name), value]
            setattr(field_obj, name, value)
    field_obj.save()
    if changes:
        audit(actor=actor, action=AuditLog.Action.UPDATE, obj=field_obj, changes=changes)
    return field_obj


@transaction.atomic
def field_delete(*, field_obj: ContactField, actor=None) -> None:
    """Delete a field definition and its values from every contact (one statement)."""
    from django.db import connection

    table = Contact._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET attributes = attributes - %s WHERE attributes ? %s",  # noqa: S608
                [field_obj.key, field_obj.key],
            )
        else:
            path = f'$."{field_obj.key}"'
            cursor.execute(
                f"UPDATE {table} SET attributes = json_remove(attributes, %s) "  # noqa: S608
                "WHERE json_type(attributes, %s) IS NOT NULL",
                [path, path],
            )
    audit(actor=actor, action=AuditLog.Action.DELETE, obj=field_obj, changes={"key": field_obj.key})
    field_obj.delete()


# --- imports -----------------------------------------------------------------------------------------------


def import_max_bytes() -> int:
    return int(settings.IMPORT_MAX_UPLOAD_BYTES)


def _size_label(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def import_check_size(size: int) -> None:
    limit = import_max_bytes()
    if size > limit:
        raise ImportFileError(
            f"The file is {_size_label(size)}; the most this workspace accepts is {_size_label(limit)} "
            "(IMPORT_MAX_UPLOAD_BYTES). Split the file, or ask an operator to raise the limit."
        )


@transaction.atomic
def import_create(*, upload, actor=None) -> tuple[Import, FileInfo]:
    """Store an uploaded file and detect what it is. Raises ImportFileError with a sentence for the user."""
    name = (getattr(upload, "name", "") or "upload").split("/")[-1].split("\\")[-1][:200]
    size = getattr(upload, "size", None) or 0
    import_check_size(size)
    if size == 0:
        raise ImportFileError(f"“{name}” is empty.")
    country = default_country()
    upload.seek(0)
    info = detect(upload, name, default_country=country)
    imp = Import(
        original_name=name,
        file_size=size,
        file_kind=info.kind,
        encoding=info.encoding,
        delimiter=info.delimiter,
        sheet_name=info.sheet_name,
        has_header=info.has_header,
        header=info.header,
        default_country=country,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    upload.seek(0)
    imp.file.save(name, upload, save=False)
    fields = list(ContactField.objects.all())
    preset = None
    if info.has_header:
        preset = ImportPreset.objects.filter(header_signature=header_signature(info.header)).first()
    if preset is not None and len(preset.mapping.get("columns", [])) == len(info.header):
        imp.mapping = {**preset.mapping, "preset": preset.pk, "preset_name": preset.name}
    else:
        imp.mapping = {"columns": guess_mapping(info.header, info.rows, fields, country)}
    imp.save()
    return imp, info


def import_detect(*, imp: Import, sheet_name: str | None = None) -> FileInfo:
    """What the stored file looks like (for the mapping and preview pages)."""
    with imp.file.storage.open(imp.file.name, "rb") as fh:
        raw = getattr(fh, "file", fh)
        info = detect(
            raw,
            imp.original_name,
            sheet_name=sheet_name or imp.sheet_name,
            default_country=imp.default_country or default_country(),
        )
    return info


@transaction.atomic
def import_configure(
    *,
    imp: Import,
    columns: list[str],
    has_header: bool,
    mode: str,
    default_country: str,
    sheet_name: str = "",
    target_group: Group | None = None,
    target_list: ContactList | None = None,
    new_fields: dict[int, tuple[str, str]] | None = None,
    preset_name: str = "",
    actor=None,
) -> Import:
    """Save the mapping (creating the fields asked for), optionally as a preset. Raises ValidationError."""
    if imp.status != Import.Status.UPLOADED:
        raise ValidationError("This import has already started; its mapping can no longer change.")
    columns = list(columns)
    for index, (label, type_) in (new_fields or {}).items():
        f = field_create(label=label, type=type_ or ContactField.Type.TEXT, actor=actor)
        columns[index] = f"{FIELD_PREFIX}{f.key}"
    fields = {f.key: f for f in ContactField.objects.all()}
    try:
        build_row_spec(
            columns, fields, default_country=default_country, day_first=True, phone_only=mode == Import.Mode.BLOCKLIST
        )
    except MappingProblem as exc:
        raise ValidationError(exc.message) from None
    imp.mapping = {"columns": columns}
    imp.has_header = has_header
    imp.mode = mode
    imp.default_country = default_country
    imp.sheet_name = sheet_name or imp.sheet_name
    imp.target_group = target_group if mode != Import.Mode.BLOCKLIST else None
    imp.target_list = target_list if mode != Import.Mode.BLOCKLIST else None
    imp.save()
    if preset_name.strip() and has_header:
        ImportPreset.objects.create(
            name=preset_name.strip()[:100],
            header=imp.header,
            header_signature=header_signature(imp.header),
            mapping={"columns": columns},
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
    return imp


def import_start(*, imp: Import, actor=None) -> Import:
    from .tasks import run_import

    with transaction.atomic():
        updated = Import.objects.filter(pk=imp.pk, status=Import.Status.UPLOADED).update(status=Import.Status.QUEUED)
        if not updated:
            raise ValidationError("This import has already been started.")
        run_import.delay_on_commit(imp.pk)
    imp.refresh_from_db()
    return imp


def import_retry(*, imp: Import, actor=None) -> Import:
    """Continue a failed import after its last saved batch."""
    from .tasks import run_import

    with transaction.atomic():
        updated = Import.objects.filter(pk=imp.pk, status=Import.Status.FAILED).update(
            status=Import.Status.QUEUED, error_message="", finished_at=None
        )
        if not updated:
            raise ValidationError("Only a failed import can be retried.")
        run_import.delay_on_commit(imp.pk)
    imp.refresh_from_db()
    return imp


@transaction.atomic
def import_cancel(*, imp: Import, actor=None) -> Import:
    """Stop an import. Not started yet: cancelled at once. Running: the worker stops before its next batch;
    rows already written stay (and are counted)."""
    Import.objects.filter(pk=imp.pk).update(cancel_requested=True)
    Import.objects.filter(pk=imp.pk, status__in=[Import.Status.UPLOADED, Import.Status.QUEUED]).update(
        status=Import.Status.CANCELLED, finished_at=timezone.now()
    )
    audit(actor=actor, action=AuditLog.Action.CANCEL, obj=imp)
    imp.refresh_from_db()
    return imp


def import_execute(*, import_id: int) -> None:
    """Run an import (the Celery task calls this). Claims it first, so a re-delivered task never runs an import
    twice at once; resumes a RUNNING import whose worker died (no heartbeat for a while)."""
    from .import_runner import STALE_AFTER, ImportRunner

    now = timezone.now()
    claimed = Import.objects.filter(pk=import_id, status=Import.Status.QUEUED, cancel_requested=False).update(
        status=Import.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        stale = now - STALE_AFTER
        claimed = Import.objects.filter(
            pk=import_id, status=Import.Status.RUNNING, heartbeat_at__lt=stale, cancel_requested=False
        ).update(heartbeat_at=now)
    if not claimed:
        Import.objects.filter(pk=import_id, status=Import.Status.QUEUED, cancel_requested=True).update(
            status=Import.Status.CANCELLED, finished_at=now
        )
        return
    imp = Import.objects.select_related("created_by").get(pk=import_id)
    ImportRunner(imp).run()


def contact_search_text_refresh(*, contact_ids: Sequence[int] | None = None) -> int:
    """Recompute ``Contact.search_text`` (for contacts written outside these services, e.g. by a provider sync's
    ``bulk_create``): the given contacts, or every contact whose search text is empty. Returns how many."""
    qs = Contact.objects.all() if contact_ids is not None else Contact.objects.filter(search_text="")
    if contact_ids is not None:
        qs = qs.filter(pk__in=list(contact_ids))
    done, last = 0, 0
    while True:
        batch = list(
            qs.filter(pk__gt=last).order_by("pk").only("pk", "phone", "first_name", "last_name", "attributes")[:2000]
        )
        if not batch:
            return done
        for c in batch:
            c.search_text = build_search_text(c.first_name, c.last_name, c.phone, c.attributes)
        Contact.objects.bulk_update(batch, ["search_text"], batch_size=500)
        done += len(batch)
        last = batch[-1].pk
