"""Reads for contacts. ``audience_contacts`` is THE recipient selector: every campaign, test send and export
of an audience goes through it, so a blocked or opted-out number can never be selected."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from .models import BlocklistEntry, Contact, GroupMembership, ListMembership, SavedSegment
from .phone import normalize_phone
from .search import phone_digits, search_terms


def _ids(objs: Iterable) -> list[int]:
    return [o if isinstance(o, int) else o.pk for o in objs]


def segment_contacts(segment: SavedSegment) -> QuerySet[Contact]:
    """Contacts matching a saved segment's filter (the contacts table's filter parameters, applied by the same
    ``ContactFilter``). A filter that is no longer valid (e.g. its group was deleted) selects nobody, never
    everybody."""
    from .filters import ContactFilter

    query = {k: v for k, v in (segment.query or {}).items() if v not in (None, "")}
    filterset = ContactFilter(data=query, queryset=Contact.objects.all())
    if not filterset.is_valid():
        return Contact.objects.none()
    return filterset.qs


def contacts_matching(qs: QuerySet[Contact], query: str) -> QuerySet[Contact]:
    """Free-text search. A phone number, whole or the start of one, in any format, is an index lookup on the
    phone (exact, or a range for a prefix such as "+4670" or "0701"); other digits match anywhere in the phone;
    words match names and attribute values through ``Contact.search_text`` (folded: case and accents ignored;
    every word must match)."""
    query = (query or "").strip()
    if not query:
        return qs
    if phone_digits(query):
        from smsportal.models import WorkspaceSettings

        return qs.filter(phone_lookup(query, WorkspaceSettings.load().default_country))
    for term in search_terms(query):
        qs = qs.filter(search_text__contains=term)
    return qs


def phone_lookup(query: str, country: str) -> Q:
    """The ``Q`` for a phone-like query (see ``contacts_matching``)."""
    digits = phone_digits(query)
    result = normalize_phone(query, country)
    if result.ok:
        return Q(phone=result.e164)
    prefix = None
    if query.lstrip().startswith(("+", "＋")):
        prefix = "+" + digits
    elif digits.startswith("00"):
        prefix = "+" + digits[2:]
    else:
        import phonenumbers

        metadata = phonenumbers.PhoneMetadata.metadata_for_region(country or "", None)
        trunk = getattr(metadata, "national_prefix", None) or ""
        if trunk and digits.startswith(trunk) and metadata is not None:
            prefix = f"+{metadata.country_code}{digits[len(trunk) :]}"
    if prefix and len(prefix) >= 4:
        # A range on the unique phone index: every number starting with the prefix.
        return Q(phone__gte=prefix, phone__lt=prefix[:-1] + chr(ord(prefix[-1]) + 1))
    return Q(phone__contains=digits)


def blocked_phone_exists():
    return Exists(BlocklistEntry.objects.filter(phone=OuterRef("phone")))


def eligible(qs: QuerySet[Contact]) -> QuerySet[Contact]:
    """Only contacts that may receive messages: active and not on the blocklist."""
    return qs.filter(status=Contact.Status.ACTIVE).exclude(blocked_phone_exists())


def audience_selected(
    *,
    groups: Iterable = (),
    lists: Iterable = (),
    segments: Iterable = (),
    exclude_groups: Iterable = (),
    exclude_lists: Iterable = (),
) -> QuerySet[Contact]:
    """Everyone the audience names, before eligibility (blocklist / opt-out) is applied.

    Contacts are rows with a unique phone, so the union is deduplicated by phone by construction.
    """
    group_ids, list_ids = _ids(groups), _ids(lists)
    cond = Q(pk__in=[])
    if group_ids:
        cond |= Q(Exists(GroupMembership.objects.filter(contact=OuterRef("pk"), group_id__in=group_ids)))
    if list_ids:
        cond |= Q(Exists(ListMembership.objects.filter(contact=OuterRef("pk"), contact_list_id__in=list_ids)))
    for segment in segments:
        cond |= Q(pk__in=segment_contacts(segment).values("pk"))
    qs = Contact.objects.filter(cond)
    ex_groups, ex_lists = _ids(exclude_groups), _ids(exclude_lists)
    if ex_groups:
        qs = qs.exclude(Exists(GroupMembership.objects.filter(contact=OuterRef("pk"), group_id__in=ex_groups)))
    if ex_lists:
        qs = qs.exclude(Exists(ListMembership.objects.filter(contact=OuterRef("pk"), contact_list_id__in=ex_lists)))
    return qs


def audience_contacts(**audience) -> QuerySet[Contact]:
    """The recipients of an audience: selected, active, not blocklisted."""
    return eligible(audience_selected(**audience))


def audience_breakdown(**audience) -> dict[str, int]:
    """Counts for the composer: selected, blocklisted, opted out, duplicates (memberships of the same
    contact through several groups/lists count once), eligible."""
    selected = audience_selected(**audience)
    total = selected.count()
    blocklisted = selected.filter(Q(status=Contact.Status.BLOCKED) | Q(blocked_phone_exists())).count()
    opted_out = selected.filter(status=Contact.Status.OPTED_OUT).exclude(blocked_phone_exists()).count()
    memberships = 0
    group_ids, list_ids = _ids(audience.get("groups", ())), _ids(audience.get("lists", ()))
    if group_ids:
        memberships += GroupMembership.objects.filter(group_id__in=group_ids, contact__in=selected).count()
    if list_ids:
        memberships += ListMembership.objects.filter(contact_list_id__in=list_ids, contact__in=selected).count()
    duplicates = max(0, memberships - total) if memberships else 0
    eligible_count = total - blocklisted - opted_out
    return {
        "selected": total,
        "blocklisted": blocklisted,
        "opted_out": opted_out,
        "duplicates": duplicates,
        "eligible": eligible_count,
    }


# --- pages ----------------------------------------------------------------------------------------------


def contact_history(contact: Contact):
    """Opt-out / block history of a contact: audit entries about the contact and about its number on the
    blocklist, newest first."""
    from smsportal.models import AuditLog

    return AuditLog.objects.filter(
        Q(object_type="contacts.contact", object_id=str(contact.pk))
        | Q(object_type="contacts.blocklistentry", object_id=contact.phone)
    ).select_related("actor")


def contact_messages(contact: Contact, *, limit: int = 50):
    from campaigns.models import Message

    return Message.objects.filter(contact=contact).select_related("campaign").order_by("-created_at")[:limit]


def import_error_rows(imp):
    return imp.row_errors.order_by("row_number", "id")


TABLE_FIELDS = ("id", "phone", "first_name", "last_name", "status", "country", "attributes", "created_at")


def contact_queryset() -> QuerySet[Contact]:
    """The contacts table: only the columns it shows (never the search column)."""
    return Contact.objects.only(*TABLE_FIELDS)


MEMBER_ORDER = "member_order"


def in_group(qs: QuerySet[Contact], group) -> QuerySet[Contact]:
    """Contacts of ``qs`` in a group, with ``member_order`` = the membership's contact id: ordering by it walks the
    (group, contact) index backwards and stops after a page, where ordering by the contact's own id would sort every
    member first (400 ms for a 460k-member group on SQLite). See ``ContactTable.order_created_at``."""
    if MEMBER_ORDER in qs.query.annotations:
        return qs.filter(Exists(GroupMembership.objects.filter(contact=OuterRef("pk"), group=group)))
    return qs.filter(groupmembership__group=group).annotate(**{MEMBER_ORDER: F("groupmembership__contact_id")})


def in_list(qs: QuerySet[Contact], contact_list) -> QuerySet[Contact]:
    if MEMBER_ORDER in qs.query.annotations:
        return qs.filter(Exists(ListMembership.objects.filter(contact=OuterRef("pk"), contact_list=contact_list)))
    return qs.filter(listmembership__contact_list=contact_list).annotate(
        **{MEMBER_ORDER: F("listmembership__contact_id")}
    )


def group_members(group) -> QuerySet[Contact]:
    return in_group(Contact.objects.only(*TABLE_FIELDS), group)


def list_members(contact_list) -> QuerySet[Contact]:
    return in_list(Contact.objects.only(*TABLE_FIELDS), contact_list)


def import_preview(imp, info) -> list[dict]:
    """The first rows of an import after normalization, each marked with what the import would do with it:
    new, update, unchanged, skip (add only), blocked, duplicate, or the reason it is refused. Raises
    ValidationError when the mapping is not usable."""
    import json

    from django.core.exceptions import ValidationError

    from . import bulk
    from .importing import MappingProblem, build_row_spec
    from .models import ContactField, Import
    from .rows import normalize_rows

    fields = {f.key: f for f in ContactField.objects.all()}
    try:
        spec = build_row_spec(
            list((imp.mapping or {}).get("columns") or []),
            fields,
            default_country=imp.default_country,
            day_first=imp.default_country not in {"US", "CA", "PH"},
            phone_only=imp.mode == Import.Mode.BLOCKLIST,
        )
    except MappingProblem as exc:
        raise ValidationError(exc.message) from None
    numbered = info.data_rows(imp.has_header)
    results = normalize_rows(spec, [cells for _n, cells in numbered])
    phones = [r[0] for r in results if isinstance(r, tuple)]
    if imp.mode == Import.Mode.BLOCKLIST:
        existing, blocked = {}, bulk.blocked_phones(phones)
    else:
        existing, blocked = bulk.lookup_phones(phones)
    seen: dict[str, int] = {}
    out = []
    for (number, cells), result in zip(numbered, results, strict=True):
        row = {"number": number, "cells": cells, "error": "", "outcome": "", "record": None}
        if result is None:
            continue
        if isinstance(result, str):
            row.update(error=result, outcome="invalid")
        else:
            phone = result[0]
            row["record"] = {
                "phone": phone,
                "first_name": result[1],
                "last_name": result[2],
                "attributes": {fields[k].label if k in fields else k: v for k, v in json.loads(result[3]).items()},
                "country": result[4],
                "groups": result[6] if len(result) > 6 else (),
                "lists": result[7] if len(result) > 7 else (),
            }
            if phone in seen:
                row.update(outcome="duplicate", error=f"Same number as row {seen[phone]}.")
            elif imp.mode == Import.Mode.BLOCKLIST:
                row["outcome"] = "unchanged" if phone in blocked else "new"
            elif phone in blocked:
                row.update(outcome="blocked", error="On the blocklist: will not be imported.")
            elif phone in existing:
                row["outcome"] = "skip" if imp.mode == Import.Mode.ADD_ONLY else "update"
            else:
                row["outcome"] = "new"
            seen.setdefault(phone, number)
        out.append(row)
    return out
