"""Reads for contacts. ``audience_contacts`` is THE recipient selector: every campaign, test send and export
of an audience goes through it, so a blocked or opted-out number can never be selected."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet

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
    """Free-text search: a phone number (any format) matches by E.164 or by its digits; words match names and
    attribute values through ``Contact.search_text`` (folded: case and accents ignored; every word must match)."""
    query = (query or "").strip()
    if not query:
        return qs
    digits = phone_digits(query)
    if digits:
        from smsportal.models import WorkspaceSettings

        result = normalize_phone(query, WorkspaceSettings.load().default_country)
        if result.ok and len(digits) >= 7:
            return qs.filter(Q(phone=result.e164) | Q(phone__contains=digits))
        return qs.filter(phone__contains=digits)
    for term in search_terms(query):
        qs = qs.filter(search_text__contains=term)
    return qs


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
