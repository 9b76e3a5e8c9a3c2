"""Contacts, groups/lists and blocklist sync between us and a provider whose API keeps them.

One ``SyncRun`` = up to six phases, in this order (each only if the run's scope names it and the adapter has the
feature):

    groups.push → groups.pull → contacts.push → contacts.pull → blocklist.push → blocklist.pull

Groups go first so contacts can carry their external group ids; pushes go before pulls so a pull sees what we
just pushed and changes nothing.

Rules (also in docs/providers.md):

- **Idempotent.** ``ExternalMapping`` links our id and theirs per object, with the fingerprint (sha256) of what
  was last in sync. A push sends only objects whose fingerprint changed; a pull changes only what differs. A
  second run in a row changes nothing and makes no write call to the provider.
- **Ours wins on conflicts.** A pull creates what we lack and fills our blank fields (names, declared
  attributes), adds group memberships, and adds blocklist entries; it never overwrites a value we have.
- **Nothing is deleted by a pull**, and nothing we deleted comes back: a contact or blocklist entry that was
  mapped and then deleted here is skipped by pulls (and a blocklist entry is removed at the provider by the
  next push, where the API can).
- **Only active, non-blocklisted contacts are pushed** (blocklisted numbers go to the provider's blocklist).
- **Batched**: ``sync_batch_size`` objects per provider call and per transaction (a failed run keeps what was
  synced before it failed); group member counts are recomputed once at the end.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import phonenumbers
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from contacts.models import (
    BlocklistEntry,
    Contact,
    ContactField,
    ContactList,
    Group,
    GroupMembership,
    ListMembership,
)
from smsportal.models import WorkspaceSettings

from .adapters.base import BaseAdapter, Feature
from .adapters.exceptions import ProviderAuthError, ProviderError, ProviderNotSupported
from .adapters.http import scrub
from .adapters.types import SyncBlockEntry, SyncContact, SyncGroup
from .models import ExternalMapping, ProviderAccount, SyncRun

logger = logging.getLogger("providers.sync")

DEFAULT_BATCH_SIZE = 500
MAX_ERRORS_KEPT = 20

SCOPE_FEATURES: dict[str, Feature] = {
    "groups": Feature.GROUPS_SYNC,
    "contacts": Feature.CONTACTS_SYNC,
    "blocklist": Feature.BLOCKLIST_SYNC,
}
SCOPE_LABELS = {"groups": "groups/lists", "contacts": "contacts", "blocklist": "blocklist"}
PHASES: tuple[tuple[str, str, str], ...] = (
    ("groups", "push", "Pushing groups and lists"),
    ("groups", "pull", "Pulling groups"),
    ("contacts", "push", "Pushing contacts"),
    ("contacts", "pull", "Pulling contacts"),
    ("blocklist", "push", "Pushing the blocklist"),
    ("blocklist", "pull", "Pulling the blocklist"),
)
STEP_LABELS = {f"{scope}.{direction}": label for scope, direction, label in PHASES} | {
    scope: f"{label.capitalize()}" for scope, label in SCOPE_LABELS.items()
}
MappingType = ExternalMapping.ObjectType


def offered_scopes(adapter_class: type[BaseAdapter]) -> list[str]:
    """The sync scopes this provider's API supports, in phase order."""
    return [scope for scope, feature in SCOPE_FEATURES.items() if feature in adapter_class.features]


class SyncAborted(Exception):
    """A phase failed in a way that stops the whole run (auth, connection, throttling...)."""


@dataclass
class PhaseStats:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    linked: int = 0  # an object that existed on both sides, now mapped
    removed: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    note: str = ""

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message[:300])

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.linked + self.removed


# ---------------------------------------------------------------------------------------------- fingerprints
def fingerprint(value: Any) -> str:
    data = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def contact_fingerprint(c: SyncContact) -> str:
    return fingerprint([c.phone, c.first_name, c.last_name, dict(c.attributes), sorted(c.groups)])


def group_fingerprint(g: SyncGroup) -> str:
    return fingerprint([g.name])


def normalize_phone(raw: str, country: str) -> str | None:
    """E.164, or None when the value is not a valid number."""
    raw = str(raw or "").strip()
    if not raw:
        return None
    candidates = [raw] if raw.startswith("+") else [raw, "+" + raw.lstrip("0")]
    for candidate in candidates:
        try:
            num = phonenumbers.parse(candidate, None if candidate.startswith("+") else country)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return None


def _batches(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


class SyncEngine:
    """Runs one SyncRun. ``progress`` is called after every batch (the task saves it for the UI)."""

    def __init__(
        self,
        account: ProviderAccount,
        *,
        adapter: BaseAdapter | None = None,
        direction: str = SyncRun.Direction.BOTH,
        scope: Iterable[str] = (),
        batch_size: int | None = None,
        progress: Callable[[dict, dict], None] | None = None,
    ):
        self.account = account
        self.adapter = adapter or account.get_adapter()
        self.direction = direction
        offered = offered_scopes(type(self.adapter))
        wanted = list(scope) or offered
        self.scope = [s for s in offered if s in wanted]
        self.unsupported_scope = [s for s in SCOPE_FEATURES if s in wanted and s not in offered]
        self.batch_size = batch_size or getattr(self.adapter, "sync_batch_size", None) or DEFAULT_BATCH_SIZE
        self._progress_cb = progress
        self.summary: dict[str, dict] = {}
        self.country = WorkspaceSettings.load().default_country
        self.touched_groups: set[int] = set()
        self.touched_lists: set[int] = set()
        self._field_keys: set[str] | None = None

    # ---------------------------------------------------------------------------------------- driver
    def phases(self) -> list[tuple[str, str, str]]:
        directions = {"push", "pull"} if self.direction == SyncRun.Direction.BOTH else {self.direction}
        return [p for p in PHASES if p[0] in self.scope and p[1] in directions]

    def run(self) -> dict[str, dict]:
        phases = self.phases()
        for scope in self.unsupported_scope:
            self.summary[scope] = asdict(PhaseStats(note=f"{self.adapter.name}'s API keeps no {SCOPE_LABELS[scope]}"))
        try:
            for index, (scope, direction, label) in enumerate(phases):
                key = f"{scope}.{direction}"
                self._phase = {"phase": key, "label": label, "index": index + 1, "of": len(phases), "done": 0}
                self._phase["total"] = self._phase_total(scope, direction)
                stats = PhaseStats()
                self._report(stats)
                try:
                    getattr(self, f"{scope}_{direction}")(stats)
                except ProviderNotSupported as exc:
                    stats.note = f"Not offered by {self.adapter.name}: {exc.message}"
                except ProviderError as exc:
                    stats.error(self._clean(str(exc)))
                    self.summary[key] = asdict(stats)
                    raise SyncAborted(f"{label} failed: {self._clean(str(exc))}") from exc
                self.summary[key] = asdict(stats)
                self._report(stats)
        finally:
            self.recount_members()
        return self.summary

    def _phase_total(self, scope: str, direction: str) -> int | None:
        if direction != "push":
            return None  # the provider does not say how many it holds before we read them all
        if scope == "groups":
            return Group.objects.count() + ContactList.objects.count()
        if scope == "contacts":
            return self._pushable_contacts().count()
        return None

    def _report(self, stats: PhaseStats) -> None:
        self.summary[self._phase["phase"]] = asdict(stats)
        if self._progress_cb is not None:
            self._progress_cb(dict(self._phase), self.summary)

    def _advance(self, stats: PhaseStats, n: int) -> None:
        self._phase["done"] += n
        self._report(stats)

    def _clean(self, text: str) -> str:
        return scrub(text, getattr(self.adapter.http, "secrets", ()))

    def _batch_failed(self, stats: PhaseStats, exc: ProviderError, n: int, what: str) -> None:
        """A non-retryable rejection of one batch: count it and go on; anything else stops the run."""
        if exc.retryable or isinstance(exc, ProviderAuthError):
            raise exc
        stats.failed += n
        stats.error(f"{what}: {self._clean(str(exc))}")

    # ---------------------------------------------------------------------------------------- mappings
    def _mappings(self, object_type: str, *, local_ids=None, external_ids=None) -> list[ExternalMapping]:
        qs = ExternalMapping.objects.filter(account=self.account, object_type=object_type)
        if local_ids is not None:
            qs = qs.filter(local_id__in=[str(i) for i in local_ids])
        if external_ids is not None:
            qs = qs.filter(external_id__in=[str(i) for i in external_ids])
        return list(qs)

    def _save_mappings(self, object_type: str, rows: list[tuple[str, str, str]]) -> None:
        """Upsert (local_id, external_id, fingerprint) rows; an external id moves to its new local id."""
        unique: dict[str, tuple[str, str, str]] = {}
        for row in rows:
            unique.setdefault(row[1], row)  # one local object per external id: the first wins
        rows = list(unique.values())
        if not rows:
            return
        local_ids = [r[0] for r in rows]
        # An external id held by another local object (deleted and re-created here) moves to the new one.
        ExternalMapping.objects.filter(
            account=self.account, object_type=object_type, external_id__in=list(unique)
        ).exclude(local_id__in=local_ids).delete()
        existing = {m.local_id: m for m in self._mappings(object_type, local_ids=local_ids)}
        to_update, to_create, moved = [], [], []
        now = timezone.now()
        for local_id, ext_id, fp in rows:
            m = existing.get(local_id)
            if m is None:
                to_create.append(
                    ExternalMapping(
                        account=self.account,
                        object_type=object_type,
                        local_id=local_id,
                        external_id=ext_id,
                        fingerprint=fp,
                    )
                )
            elif m.external_id != ext_id or m.fingerprint != fp:
                if m.external_id != ext_id:
                    moved.append(m.pk)
                m.external_id, m.fingerprint, m.updated_at = ext_id, fp, now
                to_update.append(m)
        for pk in moved:  # park moved ids first, so ids swapped within a batch never collide
            ExternalMapping.objects.filter(pk=pk).update(external_id=f"~moving~{pk}")
        if to_update:
            ExternalMapping.objects.bulk_update(to_update, ["external_id", "fingerprint", "updated_at"])
        if to_create:
            ExternalMapping.objects.bulk_create(to_create)

    def _group_maps(self) -> tuple[dict[int, str], dict[int, str], dict[str, tuple[str, int]]]:
        """local group pk → ext, local list pk → ext, ext → (type, local pk)."""
        by_group: dict[int, str] = {}
        by_list: dict[int, str] = {}
        by_ext: dict[str, tuple[str, int]] = {}
        for m in ExternalMapping.objects.filter(
            account=self.account, object_type__in=[MappingType.GROUP, MappingType.LIST]
        ).order_by("object_type"):
            try:
                pk = int(m.local_id)
            except ValueError:
                continue
            if m.object_type == MappingType.GROUP:
                by_group[pk] = m.external_id
            else:
                by_list[pk] = m.external_id
            by_ext.setdefault(m.external_id, (m.object_type, pk))  # groups sort before lists: a group wins
        return by_group, by_list, by_ext

    # ---------------------------------------------------------------------------------------- groups
    def groups_push(self, stats: PhaseStats) -> None:
        for model, object_type in ((Group, MappingType.GROUP), (ContactList, MappingType.LIST)):
            last = 0
            while True:
                objs = list(model.objects.filter(pk__gt=last).order_by("pk")[: self.batch_size])
                if not objs:
                    break
                last = objs[-1].pk
                mappings = {m.local_id: m for m in self._mappings(object_type, local_ids=[o.pk for o in objs])}
                rows = []
                for obj in objs:
                    m = mappings.get(str(obj.pk))
                    record = SyncGroup(name=obj.name, external_id=m.external_id if m else "", local_id=str(obj.pk))
                    fp = group_fingerprint(record)
                    if m is not None and m.fingerprint == fp:
                        stats.unchanged += 1
                        continue
                    try:
                        ext_id = str(self.adapter.push_group(record))
                    except ProviderNotSupported as exc:
                        # e.g. JookSMS cannot create a group: the ones that exist there are still linked
                        stats.skipped += 1
                        stats.note = exc.message
                        continue
                    except ProviderError as exc:
                        self._batch_failed(stats, exc, 1, f"Group {obj.name!r}")
                        continue
                    rows.append((str(obj.pk), ext_id, fp))
                    if m is None:
                        stats.created += 1
                    else:
                        stats.updated += 1
                with transaction.atomic():
                    self._save_mappings(object_type, rows)
                self._advance(stats, len(objs))

    def groups_pull(self, stats: PhaseStats) -> None:
        for batch in _batches(self.adapter.pull_groups(), self.batch_size):
            _, _, by_ext = self._group_maps()
            local_by_name = {g.name.lower(): g for g in Group.objects.all()}  # groups are few
            mapped_group_pks = set(
                ExternalMapping.objects.filter(account=self.account, object_type=MappingType.GROUP).values_list(
                    "local_id", flat=True
                )
            )
            rows = []
            seen: set[str] = set()
            with transaction.atomic():
                for g in batch:
                    ext_id = str(g.external_id or g.name)
                    name = (g.name or "").strip()[:100]
                    if not name or ext_id in seen:
                        stats.skipped += 1
                        continue
                    seen.add(ext_id)
                    if ext_id in by_ext:
                        stats.unchanged += 1
                        continue
                    local = local_by_name.get(name.lower())
                    if local is not None and str(local.pk) not in mapped_group_pks:
                        stats.linked += 1
                    else:
                        if local is not None:  # that name is already linked to another of their groups
                            name = _unique_name(Group, f"{name} ({self.account.name})"[:100])
                        local = Group.objects.create(name=name, description=f"From {self.account.name}")
                        local_by_name[name.lower()] = local
                        stats.created += 1
                    mapped_group_pks.add(str(local.pk))
                    rows.append((str(local.pk), ext_id, group_fingerprint(SyncGroup(name=local.name))))
                self._save_mappings(MappingType.GROUP, rows)
            self._advance(stats, len(batch))

    # ---------------------------------------------------------------------------------------- contacts
    def _pushable_contacts(self):
        return Contact.objects.filter(status=Contact.Status.ACTIVE).exclude(
            phone__in=BlocklistEntry.objects.values("phone")
        )

    def _memberships(self, contact_ids: list[int]) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
        groups: dict[int, set[int]] = {}
        lists: dict[int, set[int]] = {}
        for cid, gid in GroupMembership.objects.filter(contact_id__in=contact_ids).values_list(
            "contact_id", "group_id"
        ):
            groups.setdefault(cid, set()).add(gid)
        for cid, lid in ListMembership.objects.filter(contact_id__in=contact_ids).values_list(
            "contact_id", "contact_list_id"
        ):
            lists.setdefault(cid, set()).add(lid)
        return groups, lists

    def _contact_record(
        self, contact: Contact, group_ids: set[int], list_ids: set[int], maps, external_id: str = ""
    ) -> SyncContact:
        by_group, by_list, _ = maps
        ext_groups = {by_group[g] for g in group_ids if g in by_group} | {by_list[x] for x in list_ids if x in by_list}
        return SyncContact(
            phone=contact.phone,
            first_name=contact.first_name,
            last_name=contact.last_name,
            attributes=dict(sorted((contact.attributes or {}).items())),
            groups=tuple(sorted(ext_groups)),
            external_id=external_id,
            local_id=str(contact.pk),
        )

    def contacts_push(self, stats: PhaseStats) -> None:
        maps = self._group_maps()
        qs = self._pushable_contacts().order_by("pk")
        last = 0
        while True:
            contacts = list(qs.filter(pk__gt=last)[: self.batch_size])
            if not contacts:
                break
            last = contacts[-1].pk
            ids = [c.pk for c in contacts]
            groups, lists = self._memberships(ids)
            mappings = {m.local_id: m for m in self._mappings(MappingType.CONTACT, local_ids=ids)}
            changed: list[tuple[SyncContact, str, bool]] = []
            for c in contacts:
                m = mappings.get(str(c.pk))
                record = self._contact_record(
                    c, groups.get(c.pk, set()), lists.get(c.pk, set()), maps, m.external_id if m else ""
                )
                fp = contact_fingerprint(record)
                if m is not None and m.fingerprint == fp:
                    stats.unchanged += 1
                else:
                    changed.append((record, fp, m is None))
            if changed:
                try:
                    ext_ids = list(self.adapter.push_contacts([r for r, _, _ in changed]))
                except ProviderNotSupported:
                    raise
                except ProviderError as exc:
                    self._batch_failed(stats, exc, len(changed), f"Contacts {changed[0][0].phone}…")
                    ext_ids = None
                if ext_ids is not None:
                    if len(ext_ids) != len(changed):
                        stats.failed += len(changed)
                        stats.error(
                            f"The provider answered {len(ext_ids)} ids for {len(changed)} contacts; batch not mapped"
                        )
                    else:
                        rows = []
                        for (record, fp, is_new), ext_id in zip(changed, ext_ids, strict=True):
                            if not ext_id:
                                stats.failed += 1
                                stats.error(f"Contact {record.phone}: the provider did not accept it")
                                continue
                            rows.append((record.local_id, str(ext_id), fp))
                            if is_new:
                                stats.created += 1
                            else:
                                stats.updated += 1
                        with transaction.atomic():
                            self._save_mappings(MappingType.CONTACT, rows)
            self._advance(stats, len(contacts))

    def _declared_fields(self) -> set[str]:
        if self._field_keys is None:
            self._field_keys = set(ContactField.objects.values_list("key", flat=True))
        return self._field_keys

    def contacts_pull(self, stats: PhaseStats) -> None:
        for batch in _batches(self.adapter.pull_contacts(), self.batch_size):
            with transaction.atomic():
                self._pull_contact_batch(batch, stats)
            self._advance(stats, len(batch))

    def _pull_contact_batch(self, batch: list[SyncContact], stats: PhaseStats) -> None:
        maps = self._group_maps()
        _, _, group_by_ext = maps
        declared = self._declared_fields()
        records: dict[str, SyncContact] = {}
        ext_of: dict[str, str] = {}
        for rec in batch:
            phone = normalize_phone(rec.phone, self.country)
            if phone is None:
                stats.failed += 1
                stats.error(f"Contact {rec.external_id or rec.phone!r}: {rec.phone!r} is not a valid phone number")
                continue
            if phone in records:
                stats.skipped += 1  # the provider holds the same number twice: the first one wins
                continue
            records[phone] = rec
            ext_of[phone] = str(rec.external_id or phone)
        if not records:
            return
        by_ext = {m.external_id: m for m in self._mappings(MappingType.CONTACT, external_ids=ext_of.values())}
        local = {c.phone: c for c in Contact.objects.filter(phone__in=list(records))}
        by_local_id = {
            m.local_id: m for m in self._mappings(MappingType.CONTACT, local_ids=[c.pk for c in local.values()])
        }
        existing_groups, existing_lists = self._memberships([c.pk for c in local.values()])

        to_create: list[Contact] = []
        for phone, rec in records.items():
            contact = local.get(phone)
            mapping = by_ext.get(ext_of[phone])
            if contact is None and mapping is not None:
                stats.skipped += 1  # mapped before and deleted here since: a deletion here wins
                continue
            if contact is None:
                attrs = {k: v for k, v in (rec.attributes or {}).items() if k in declared}
                to_create.append(
                    Contact(
                        phone=phone,
                        first_name=(rec.first_name or "")[:100],
                        last_name=(rec.last_name or "")[:100],
                        attributes=attrs,
                        country=_region(phone),
                    )
                )
        created_phones = set()
        if to_create:
            Contact.objects.bulk_create(to_create, ignore_conflicts=True)
            created_phones = {c.phone for c in to_create}
            for c in Contact.objects.filter(phone__in=list(created_phones)):
                local[c.phone] = c

        to_update: list[Contact] = []
        update_fields: set[str] = set()
        new_group_links: list[GroupMembership] = []
        new_list_links: list[ListMembership] = []
        mapping_rows: list[tuple[str, str, str]] = []
        for phone, rec in records.items():
            contact = local.get(phone)
            if contact is None:
                continue
            created = phone in created_phones
            before_groups = existing_groups.get(contact.pk, set())
            before_lists = existing_lists.get(contact.pk, set())
            before = self._contact_record(contact, before_groups, before_lists, maps)
            changed = False
            if not created:
                if not contact.first_name and rec.first_name:
                    contact.first_name = rec.first_name[:100]
                    update_fields.add("first_name")
                    changed = True
                if not contact.last_name and rec.last_name:
                    contact.last_name = rec.last_name[:100]
                    update_fields.add("last_name")
                    changed = True
                attrs = dict(contact.attributes or {})
                for k, v in (rec.attributes or {}).items():
                    if k in declared and attrs.get(k) in (None, "") and v not in (None, ""):
                        attrs[k] = v
                        changed = True
                if attrs != (contact.attributes or {}):
                    contact.attributes = attrs
                    update_fields.add("attributes")
                if changed:
                    to_update.append(contact)
            after_groups, after_lists = set(before_groups), set(before_lists)
            for ext_group in rec.groups:
                target = group_by_ext.get(str(ext_group))
                if target is None:
                    continue  # a group we have not pulled (groups not in scope): membership not kept
                kind, pk = target
                if kind == MappingType.GROUP and pk not in after_groups:
                    after_groups.add(pk)
                    new_group_links.append(GroupMembership(group_id=pk, contact_id=contact.pk))
                    self.touched_groups.add(pk)
                    changed = True
                elif kind == MappingType.LIST and pk not in after_lists:
                    after_lists.add(pk)
                    new_list_links.append(ListMembership(contact_list_id=pk, contact_id=contact.pk))
                    self.touched_lists.add(pk)
                    changed = True
            if created:
                stats.created += 1
            elif changed:
                stats.updated += 1
            mapping = by_local_id.get(str(contact.pk))
            after_fp = contact_fingerprint(self._contact_record(contact, after_groups, after_lists, maps))
            if mapping is None:
                # New on our side: it equals theirs. Found by phone: ours has not been pushed, so leave the
                # fingerprint empty and let the next push send our version (ours wins).
                if not created:
                    stats.linked += 1
                mapping_rows.append((str(contact.pk), ext_of[phone], after_fp if created else ""))
            else:
                if not created and not changed:
                    stats.unchanged += 1
                in_sync = mapping.fingerprint == contact_fingerprint(before)
                fp = after_fp if in_sync else mapping.fingerprint
                if mapping.external_id != ext_of[phone] or fp != mapping.fingerprint:
                    mapping_rows.append((str(contact.pk), ext_of[phone], fp))
        if to_update:
            now = timezone.now()
            for c in to_update:
                c.updated_at = now
            Contact.objects.bulk_update(to_update, sorted(update_fields | {"updated_at"}))
        touched = [local[p].pk for p in created_phones if p in local] + [c.pk for c in to_update]
        if touched:
            # rows written in bulk bypass the contacts services: keep free-text search right
            from contacts.services import contact_search_text_refresh

            contact_search_text_refresh(contact_ids=touched)
        if new_group_links:
            GroupMembership.objects.bulk_create(new_group_links, ignore_conflicts=True)
        if new_list_links:
            ListMembership.objects.bulk_create(new_list_links, ignore_conflicts=True)
        self._save_mappings(MappingType.CONTACT, mapping_rows)

    # ---------------------------------------------------------------------------------------- blocklist
    def blocklist_push(self, stats: PhaseStats) -> None:
        mapped = ExternalMapping.objects.filter(account=self.account, object_type=MappingType.BLOCK)
        # 1. entries in sync before and deleted here since: remove them at the provider
        gone = mapped.exclude(local_id__in=BlocklistEntry.objects.values("phone")).order_by("pk")
        last = 0
        while True:
            batch = list(gone.filter(pk__gt=last)[: self.batch_size])
            if not batch:
                break
            last = batch[-1].pk
            try:
                self.adapter.remove_from_blocklist([m.local_id for m in batch])
            except ProviderNotSupported:
                # The mappings stay, so a pull does not bring the numbers back here.
                stats.note = f"{self.adapter.name} cannot remove numbers from its blocklist through the API"
                stats.skipped += gone.count()
                break
            except ProviderError as exc:
                self._batch_failed(stats, exc, len(batch), "Removing from the blocklist")
                continue
            ExternalMapping.objects.filter(pk__in=[m.pk for m in batch]).delete()
            stats.removed += len(batch)
            self._advance(stats, len(batch))
        # 2. entries the provider does not have yet
        stats.unchanged = BlocklistEntry.objects.filter(phone__in=mapped.values("local_id")).count()
        new = BlocklistEntry.objects.exclude(phone__in=mapped.values("local_id")).order_by("pk")
        last = 0
        while True:
            entries = list(new.filter(pk__gt=last)[: self.batch_size])
            if not entries:
                break
            last = entries[-1].pk
            records = [SyncBlockEntry(phone=e.phone, reason=e.get_reason_display()) for e in entries]
            try:
                self.adapter.push_blocklist(records)
            except ProviderNotSupported:
                raise
            except ProviderError as exc:
                self._batch_failed(stats, exc, len(entries), f"Blocklist {entries[0].phone}…")
                self._advance(stats, len(entries))
                continue
            with transaction.atomic():
                self._save_mappings(MappingType.BLOCK, [(e.phone, e.phone, fingerprint([e.phone])) for e in entries])
            stats.created += len(entries)
            self._advance(stats, len(entries))

    def blocklist_pull(self, stats: PhaseStats) -> None:
        source = f"{self.adapter.name} sync ({self.account.name})"[:200]
        for batch in _batches(self.adapter.pull_blocklist(), self.batch_size):
            records: dict[str, SyncBlockEntry] = {}
            for rec in batch:
                phone = normalize_phone(rec.phone, self.country)
                if phone is None:
                    stats.failed += 1
                    stats.error(f"Blocklist entry {rec.phone!r} is not a valid phone number")
                    continue
                if phone in records:
                    stats.skipped += 1
                    continue
                records[phone] = rec
            with transaction.atomic():
                mapped = set(
                    ExternalMapping.objects.filter(
                        account=self.account, object_type=MappingType.BLOCK, local_id__in=list(records)
                    ).values_list("local_id", flat=True)
                )
                local = set(BlocklistEntry.objects.filter(phone__in=list(records)).values_list("phone", flat=True))
                to_create, rows = [], []
                for phone, rec in records.items():
                    ext_id = str(rec.external_id or phone)
                    if phone in local:
                        if phone in mapped:
                            stats.unchanged += 1
                        else:
                            stats.linked += 1
                            rows.append((phone, ext_id, fingerprint([phone])))
                    elif phone in mapped:
                        stats.skipped += 1  # removed here since the last sync; the next push removes it there
                    else:
                        to_create.append(
                            BlocklistEntry(
                                phone=phone,
                                reason=BlocklistEntry.Reason.PROVIDER,
                                source=source,
                                note=(rec.reason or "")[:1000],
                            )
                        )
                        rows.append((phone, ext_id, fingerprint([phone])))
                        stats.created += 1
                if to_create:
                    BlocklistEntry.objects.bulk_create(to_create, ignore_conflicts=True)
                    Contact.objects.filter(phone__in=[e.phone for e in to_create], status=Contact.Status.ACTIVE).update(
                        status=Contact.Status.BLOCKED, updated_at=timezone.now()
                    )
                self._save_mappings(MappingType.BLOCK, rows)
            self._advance(stats, len(batch))

    # ---------------------------------------------------------------------------------------- counters
    def recount_members(self) -> None:
        """One UPDATE with an aggregate per touched group/list, so counts stay exact after memberships change."""
        if self.touched_groups:
            Group.objects.filter(pk__in=self.touched_groups).update(
                member_count=Coalesce(
                    Subquery(
                        GroupMembership.objects.filter(group_id=OuterRef("pk"))
                        .values("group_id")
                        .annotate(n=Count("pk"))
                        .values("n"),
                        output_field=IntegerField(),
                    ),
                    0,
                )
            )
        if self.touched_lists:
            ContactList.objects.filter(pk__in=self.touched_lists).update(
                member_count=Coalesce(
                    Subquery(
                        ListMembership.objects.filter(contact_list_id=OuterRef("pk"))
                        .values("contact_list_id")
                        .annotate(n=Count("pk"))
                        .values("n"),
                        output_field=IntegerField(),
                    ),
                    0,
                )
            )


def _unique_name(model, name: str) -> str:
    candidate, n = name, 2
    while model.objects.filter(name__iexact=candidate).exists():
        suffix = f" {n}"
        candidate = name[: 100 - len(suffix)] + suffix
        n += 1
    return candidate


def _region(phone: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(phone)) or ""
    except phonenumbers.NumberParseException:
        return ""
