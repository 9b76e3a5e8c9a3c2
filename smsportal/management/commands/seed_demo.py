"""``manage.py seed_demo``: a few thousand demo contacts, groups, lists, a finished and a scheduled campaign.

Idempotent: a second run finds the demo data and does nothing. The demo campaigns use the sandbox account,
so nothing leaves the machine.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

DEMO_MARK = "Demo: newsletter"
FIRST = [
    "Anna",
    "Erik",
    "Maria",
    "Johan",
    "Sofia",
    "Lars",
    "Elin",
    "Nikos",
    "Eleni",
    "Dimitra",
    "Carlos",
    "Lucía",
    "Aigerim",
    "Nurlan",
    "Olga",
    "Ivan",
    "Emma",
    "Oscar",
    "Maja",
    "Hugo",
]
LAST = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Papadopoulos",
    "Georgiou",
    "García",
    "López",
    "Ivanova",
    "Petrov",
    "Lindqvist",
    "Berg",
    "Nurlanov",
    "Sadykova",
    "Svensson",
    "Gustafsson",
]
CITIES = ["Stockholm", "Göteborg", "Malmö", "Uppsala", "Athens", "Madrid", "Almaty"]


class Command(BaseCommand):
    help = "Load demo data (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=3000)

    @transaction.atomic
    def handle(self, *args, **opts):
        from campaigns.models import Campaign, Message
        from contacts.models import (
            BlocklistEntry,
            Contact,
            ContactField,
            ContactList,
            Group,
            GroupMembership,
            ListMembership,
        )
        from providers.models import ProviderAccount

        if Group.objects.filter(name=DEMO_MARK).exists():
            self.stdout.write("smsportal: demo data already loaded.")
            return
        rng = random.Random(42)
        ContactField.objects.get_or_create(key="city", defaults={"label": "City", "type": ContactField.Type.TEXT})
        ContactField.objects.get_or_create(
            key="tier",
            defaults={"label": "Tier", "type": ContactField.Type.CHOICE, "choices": ["gold", "silver", "basic"]},
        )
        n = opts["contacts"]
        now = timezone.now()
        n = max(1, min(n, 9999))  # numbers +4670174xxxx: demo campaigns go through the sandbox account only
        contacts = [
            Contact(
                phone=f"+4670174{i:04d}",
                first_name=rng.choice(FIRST),
                last_name=rng.choice(LAST),
                country="SE",
                attributes={"city": rng.choice(CITIES), "tier": rng.choice(["gold", "silver", "basic"])},
                status=Contact.Status.OPTED_OUT if i % 97 == 0 else Contact.Status.ACTIVE,
                opted_out_at=now if i % 97 == 0 else None,
            )
            for i in range(n)
        ]
        Contact.objects.bulk_create(contacts, ignore_conflicts=True, batch_size=500)
        ids = list(Contact.objects.filter(phone__startswith="+4670174").order_by("id").values_list("id", flat=True))
        groups = {
            name: Group.objects.create(name=name, description=desc)
            for name, desc in [
                (DEMO_MARK, "Everyone who signed up for the newsletter"),
                ("Demo: VIP", "Gold tier customers"),
                ("Demo: Stockholm", "Customers in Stockholm"),
            ]
        }
        memberships = [GroupMembership(group=groups[DEMO_MARK], contact_id=i) for i in ids[: int(len(ids) * 0.8)]]
        memberships += [GroupMembership(group=groups["Demo: VIP"], contact_id=i) for i in ids[::7]]
        memberships += [GroupMembership(group=groups["Demo: Stockholm"], contact_id=i) for i in ids[::5]]
        GroupMembership.objects.bulk_create(memberships, ignore_conflicts=True, batch_size=500)
        spring = ContactList.objects.create(name="Demo: spring fair visitors", description="Imported after the fair")
        ListMembership.objects.bulk_create(
            [ListMembership(contact_list=spring, contact_id=i) for i in ids[100:700]], ignore_conflicts=True
        )
        for g in Group.objects.filter(name__startswith="Demo:").annotate(n=Count("groupmembership")):
            Group.objects.filter(pk=g.pk).update(member_count=g.n)
        ContactList.objects.filter(pk=spring.pk).update(
            member_count=ListMembership.objects.filter(contact_list=spring).count()
        )
        for phone in ["+46701740009", "+46701740019"]:
            BlocklistEntry.objects.get_or_create(phone=phone, defaults={"reason": "manual", "source": "demo data"})
        Contact.objects.filter(phone__in=["+46701740009", "+46701740019"]).update(status=Contact.Status.BLOCKED)

        account = ProviderAccount.objects.filter(provider="sandbox").first()
        if account is None:
            account = ProviderAccount.objects.create(
                name="Sandbox",
                provider="sandbox",
                is_sandbox=True,
                default_sender="smsportal",
                allowed_senders=["smsportal"],
                options={"failure_rate": "0.05"},
            )
        sender = account.default_sender or "smsportal"
        finished = Campaign.objects.create(
            name="Demo: spring sale",
            account=account,
            sender=sender,
            text="Hi {first_name|there}! Spring sale: 20% off everything this weekend.",
            status=Campaign.Status.COMPLETED,
            started_at=now - timedelta(days=2),
            finished_at=now - timedelta(days=2) + timedelta(minutes=4),
            scheduled_at=now - timedelta(days=2),
        )
        finished.groups.add(groups["Demo: VIP"])
        recipients = Contact.objects.filter(id__in=ids[::7], status=Contact.Status.ACTIVE)
        msgs, delivered, failed = [], 0, 0
        for c in recipients:
            ok = rng.random() > 0.06
            delivered += ok
            failed += not ok
            sent_at = finished.started_at + timedelta(seconds=rng.randint(1, 200))
            msgs.append(
                Message(
                    campaign=finished,
                    contact=c,
                    account=account,
                    to=c.phone,
                    sender=sender,
                    text=f"Hi {c.first_name}! Spring sale: 20% off everything this weekend.",
                    status=Message.Status.DELIVERED if ok else Message.Status.UNDELIVERED,
                    external_id=f"demo-{c.pk}",
                    handed_over_at=sent_at,
                    sent_at=sent_at,
                    delivered_at=sent_at + timedelta(seconds=5) if ok else None,
                    failed_at=None if ok else sent_at + timedelta(seconds=30),
                    error_code="" if ok else "SBX-UND",
                    error_text="" if ok else "Sandbox: handset unreachable",
                )
            )
        Message.objects.bulk_create(msgs, batch_size=500)
        Campaign.objects.filter(pk=finished.pk).update(
            recipients_total=len(msgs), segments_total=len(msgs), delivered_count=delivered, failed_count=failed
        )
        Message.objects.filter(campaign=finished).update(created_at=finished.started_at)
        Campaign.objects.filter(pk=finished.pk).update(created_at=finished.started_at - timedelta(hours=1))
        self.seed_replies(account, msgs, now)
        scheduled = Campaign.objects.create(
            name="Demo: weekend newsletter",
            account=account,
            sender=sender,
            text="Hello {first_name|there}, this weekend in {city|your city}: new arrivals and a free coffee.",
            status=Campaign.Status.SCHEDULED,
            scheduled_at=now + timedelta(days=1),
        )
        scheduled.groups.add(groups[DEMO_MARK])
        self.stdout.write(f"smsportal: demo data loaded ({len(ids)} contacts, 3 groups, 1 list, 2 campaigns).")

    def seed_replies(self, account, messages, now) -> None:
        """A few replies to the finished campaign, through the real inbound path (keywords, opt-out, audit)."""
        from campaigns.inbound import inbound_record
        from providers.adapters.types import InboundSMS

        texts = [
            "Thanks! Is the sale also in the Malmö store?",
            "STOP",
            "Do you ship to Athens?",
            "stop sending me these please",
        ]
        delivered = [m for m in messages if m.status == "delivered"][: len(texts)]
        items = [
            InboundSMS(
                external_id=f"demo-reply-{i}",
                from_phone=m.to,
                text=text,
                to=m.sender,
                received_at=now - timedelta(hours=40 - i * 3),
                in_reply_to_external_id=m.external_id,
                raw={"demo": True},
            )
            for i, (m, text) in enumerate(zip(delivered, texts, strict=False))
        ]
        inbound_record(account=account, items=items)
