"""factory-boy factories for every model."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group as AuthGroup
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignLane,
    CampaignMinute,
    InboundMessage,
    Message,
    MessageEvent,
    TestNumber,
    ThrottleBucket,
)
from contacts.models import (
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
from providers.models import ExternalMapping, ProviderAccount, ProviderRequestLog, SyncRun
from smsportal.models import AuditLog, AutoReply, Conversation, KeywordRule, WorkspaceSettings


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            group = AuthGroup.objects.filter(name=extracted).first()
            if group is None:
                # A transactional test flushed the groups the data migration made: make them again.
                from importlib import import_module

                from django.apps import apps

                import_module("smsportal.migrations.0002_roles").create_roles(apps, None)
                group = AuthGroup.objects.get(name=extracted)
            self.groups.add(group)
        if create:
            self.save()


class WorkspaceSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkspaceSettings
        django_get_or_create = ("id",)

    id = 1
    name = "Test workspace"
    timezone = "Europe/Stockholm"
    default_country = "SE"


class AuditLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditLog

    action = AuditLog.Action.CREATE
    actor_label = "system"
    object_type = "contacts.contact"
    object_id = "1"


class ContactFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactField
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.LazyAttribute(lambda o: o.key.replace("_", " ").title())


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    phone = factory.Sequence(lambda n: f"+4670{n:07d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    country = "SE"


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Group {n}")


class ContactListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactList

    name = factory.Sequence(lambda n: f"List {n}")


class GroupMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupMembership

    group = factory.SubFactory(GroupFactory)
    contact = factory.SubFactory(ContactFactory)


class ListMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ListMembership

    contact_list = factory.SubFactory(ContactListFactory)
    contact = factory.SubFactory(ContactFactory)


class SavedSegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavedSegment

    name = factory.Sequence(lambda n: f"Segment {n}")
    query = factory.LazyFunction(lambda: {"status": "active"})


class BlocklistEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BlocklistEntry

    phone = factory.Sequence(lambda n: f"+4673{n:07d}")
    reason = BlocklistEntry.Reason.MANUAL


class ImportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Import

    file = factory.django.FileField(filename="contacts.csv", data=b"phone,first_name\n+46701234567,Anna\n")
    original_name = "contacts.csv"


class ImportRowErrorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportRowError

    import_run = factory.SubFactory(ImportFactory)
    row_number = factory.Sequence(lambda n: n + 2)
    values = factory.LazyFunction(lambda: ["not-a-number"])
    reason = "Not a valid phone number"


class ImportPresetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportPreset

    name = factory.Sequence(lambda n: f"Preset {n}")
    header_signature = "abc"
    header = factory.LazyFunction(lambda: ["Phone", "First name"])
    mapping = factory.LazyFunction(lambda: {"0": "phone", "1": "first_name"})


class ProviderAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderAccount

    name = factory.Sequence(lambda n: f"Account {n}")
    provider = "sandbox"
    credentials = factory.LazyFunction(dict)
    options = factory.LazyFunction(lambda: {"failure_rate": "0", "sent_after": "0", "delivered_after": "0"})
    default_sender = "Shop"
    allowed_senders = factory.LazyFunction(lambda: ["Shop"])
    messages_per_second = 100.0


class ProviderRequestLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderRequestLog

    account = factory.SubFactory(ProviderAccountFactory)
    method = "POST"
    url = "https://example.invalid/api"
    status_code = 200


class SyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncRun

    account = factory.SubFactory(ProviderAccountFactory)


class ExternalMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExternalMapping

    account = factory.SubFactory(ProviderAccountFactory)
    object_type = ExternalMapping.ObjectType.CONTACT
    local_id = factory.Sequence(str)
    external_id = factory.Sequence(lambda n: f"ext-{n}")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    account = factory.SubFactory(ProviderAccountFactory)
    sender = "Shop"
    text = "Hello {first_name|there}!"


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    campaign = factory.SubFactory(CampaignFactory)
    contact = factory.SubFactory(ContactFactory)
    account = factory.LazyAttribute(lambda o: o.campaign.account if o.campaign else None)
    to = factory.LazyAttribute(lambda o: o.contact.phone if o.contact else "+46700000001")
    text = "Hello!"


class MessageEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageEvent

    message = factory.SubFactory(MessageFactory)
    kind = MessageEvent.Kind.STATUS
    raw_status = "DELIVERED"
    status = "delivered"


class InboundMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundMessage

    account = factory.SubFactory(ProviderAccountFactory)
    external_id = factory.Sequence(lambda n: f"in-{n}")
    from_phone = factory.Sequence(lambda n: f"+4670{n:07d}")
    text = "Thanks!"
    received_at = factory.LazyFunction(timezone.now)


class TestNumberFactory(factory.django.DjangoModelFactory):
    __test__ = False

    class Meta:
        model = TestNumber

    phone = factory.Sequence(lambda n: f"+4676{n:07d}")
    label = factory.Sequence(lambda n: f"Phone {n}")


class CampaignLaneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignLane

    campaign = factory.SubFactory(CampaignFactory)
    lane = factory.Sequence(int)
    holder = ""


class ThrottleBucketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ThrottleBucket

    key = factory.Sequence(lambda n: f"account:{n}")


class CampaignMinuteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignMinute

    campaign = factory.SubFactory(CampaignFactory)
    minute = factory.LazyFunction(lambda: timezone.now().replace(second=0, microsecond=0))


class KeywordRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeywordRule

    kind = KeywordRule.Kind.OPT_OUT
    language = "en"
    keywords = factory.LazyFunction(lambda: ["STOP"])
    auto_reply = ""


class AutoReplyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AutoReply

    phone = factory.Sequence(lambda n: f"+4670{n:07d}")
    kind = KeywordRule.Kind.OPT_OUT
    day = factory.LazyFunction(lambda: timezone.localdate())
    text = "You are unsubscribed."


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    phone = factory.Sequence(lambda n: f"+4670{n:07d}")
    last_at = factory.LazyFunction(timezone.now)
