"""The whole campaign path on PostgreSQL + Redis with real worker processes and a local fake provider
(Mobizon: one HTTP call per message, 30 ms latency). A worker is SIGKILLed in the middle of sending; another
worker (with beat) takes over. Every recipient must get exactly one message: none lost, none sent twice."""

from collections import Counter

from campaigns.models import Campaign, Message
from campaigns.services import campaign_schedule
from contacts.models import Contact, Group, GroupMembership
from providers.fakes.mobizon import MobizonFake
from providers.models import ProviderAccount
from tests.factories import UserFactory

from .conftest import wait_until

KEY = "k" * 40
N = 200


def test_killed_worker_loses_nothing_and_duplicates_nothing(start_worker):
    fake = MobizonFake(api_key=KEY, latency=0.03, step_seconds=0.5).start()
    try:
        account = ProviderAccount.objects.create(
            name="Mobizon (fake)",
            provider="mobizon",
            base_url=fake.base_url,
            credentials={"api_key": KEY},
            default_sender="Shop",
            allowed_senders=["Shop"],
            messages_per_second=40,
        )
        group = Group.objects.create(name="Everyone")
        contacts = Contact.objects.bulk_create(
            [Contact(phone=f"+4670100{i:04d}", first_name=f"C{i}", country="SE") for i in range(N)]
        )
        GroupMembership.objects.bulk_create([GroupMembership(group=group, contact=c) for c in contacts])
        Group.objects.filter(pk=group.pk).update(member_count=N)
        user = UserFactory(username="sender", role="Marketer")
        campaign = Campaign.objects.create(
            name="Kill test", account=account, sender="Shop", text="Big sale today only, see you there!"
        )
        campaign.groups.add(group)

        first = start_worker("w1", concurrency=2)
        campaign_schedule(campaign=campaign, user=user, send_at=None)
        wait_until(lambda: len(fake.messages) >= 40, timeout=60, message="the first worker to hand over 40 messages")
        first.kill()  # SIGKILL mid-campaign: claimed rows and an unacknowledged task are left behind
        handed_before = len(fake.messages)
        assert handed_before < N, "the campaign finished before the kill; the test proves nothing"

        second = start_worker("w2", concurrency=2, beat=True)
        try:
            wait_until(
                lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED,
                timeout=150,
                message="the campaign to complete on the second worker",
            )
        except AssertionError as exc:
            c = Campaign.objects.get(pk=campaign.pk)
            counts = Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
            raise AssertionError(
                f"{exc}\ncampaign {c.status} {c.error_message!r}; messages {dict(counts)}; "
                f"provider got {len(fake.messages)}\n--- w2 log ---\n{second.log()[-3000:]}\n--- beat ---\n"
                + "\n".join(line for line in second.log().splitlines() if "Beat" in line or "beat" in line)[:3000]
            ) from None
        per_number = Counter(m["to"].lstrip("+") for m in fake.messages.values())
        assert len(per_number) == N, f"lost: {N - len(per_number)} recipients never reached the provider"
        duplicates = {k: v for k, v in per_number.items() if v > 1}
        assert not duplicates, f"sent twice: {duplicates}"
        rows = Message.objects.filter(campaign=campaign)
        assert rows.count() == N
        assert not rows.filter(status__in=["pending", "unknown"]).exists()
        assert set(rows.values_list("external_id", flat=True)) == set(fake.messages)
    finally:
        fake.stop()
