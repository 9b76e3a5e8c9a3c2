"""``manage.py provider_matrix``: the capability matrix of every registered adapter, as a Markdown table
(pasted into docs/providers.md; derived from each adapter's ``features`` so the docs cannot drift)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from providers.adapters.base import Feature
from providers.adapters.registry import registry

COLUMNS: tuple[tuple[str, tuple[Feature, ...]], ...] = (
    ("send", (Feature.SEND,)),
    ("bulk", (Feature.BATCH_SAME_TEXT, Feature.BATCH_PERSONAL)),
    ("schedule", (Feature.SCHEDULED,)),
    ("cancel", (Feature.CANCEL,)),
    ("pause/resume", (Feature.PAUSE_RESUME,)),
    ("status lookup", (Feature.STATUS_POLL,)),
    ("reconcile", (Feature.RECONCILE,)),
    ("delivery callbacks", (Feature.DELIVERY_WEBHOOK,)),
    ("inbound", (Feature.INBOUND_WEBHOOK, Feature.INBOUND_POLL)),
    ("balance", (Feature.BALANCE,)),
    ("contacts sync", (Feature.CONTACTS_SYNC,)),
    ("groups sync", (Feature.GROUPS_SYNC,)),
    ("blocklist sync", (Feature.BLOCKLIST_SYNC,)),
)


def cell(features: frozenset, wanted: tuple[Feature, ...]) -> str:
    have = [f for f in wanted if f in features]
    if not have:
        return "–"
    if wanted == (Feature.BATCH_SAME_TEXT, Feature.BATCH_PERSONAL):
        return " + ".join({"batch_same_text": "same text", "batch_personal": "per-recipient"}[f.value] for f in have)
    if wanted == (Feature.INBOUND_WEBHOOK, Feature.INBOUND_POLL):
        return " + ".join({"inbound_webhook": "callback", "inbound_poll": "poll"}[f.value] for f in have)
    return "yes"


def matrix() -> str:
    header = ["provider", *(name for name, _ in COLUMNS), "max batch"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for code, cls in registry().items():
        row = [f"{cls.name} (`{code}`)", *(cell(cls.features, wanted) for _, wanted in COLUMNS)]
        row.append(str(cls.max_batch_size))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Print the capability matrix of the registered provider adapters (Markdown)."

    def handle(self, *args, **options):
        self.stdout.write(matrix())
