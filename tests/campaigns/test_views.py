"""Campaign pages through the real URL map, templates and forms (HTTP mocked nowhere: the sandbox sends)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Message
from contacts.models import Contact
from smsportal.models import AuditLog, WorkspaceSettings
from tests.factories import (
    BlocklistEntryFactory,
    CampaignFactory,
    ProviderAccountFactory,
    TestNumberFactory,
)

from .conftest import start_and_send

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def draft(workspace, audience, fast_account, marketer):
    group, _ = audience
    c = CampaignFactory(account=fast_account, text="Hello {first_name|there}!", created_by=marketer, name="Spring")
    c.groups.add(group)
    return c


def form_data(campaign, **over):
    data = {
        "name": campaign.name,
        "account": campaign.account_id,
        "sender": campaign.sender,
        "text": campaign.text,
        "groups": [g.pk for g in campaign.groups.all()],
        "when": "now",
        "speed_mode": "max",
    }
    data.update(over)
    return data


def test_pages_need_a_signed_in_user(client, draft):
    for url in (reverse("campaigns:list"), reverse("campaigns:edit", args=[draft.pk]), reverse("campaigns:inbox")):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_list_shows_campaigns_with_status_and_filters(marketer_client, draft):
    other = CampaignFactory(name="Autumn", status=Campaign.Status.COMPLETED, recipients_total=10, delivered_count=9)
    page = marketer_client.get(reverse("campaigns:list")).content.decode()
    assert "Spring" in page and "Autumn" in page and "90%" in page
    page = marketer_client.get(reverse("campaigns:list") + "?status=completed", **HX).content.decode()
    assert "Autumn" in page and "Spring" not in page
    assert reverse("campaigns:detail", args=[other.pk]) in page


def test_new_campaign_starts_a_draft_and_opens_the_composer(marketer_client, workspace, fast_account):
    response = marketer_client.post(reverse("campaigns:create"), {"name": "Weekend"})
    campaign = Campaign.objects.get(name="Weekend")
    assert response["Location"] == reverse("campaigns:edit", args=[campaign.pk])
    assert campaign.status == Campaign.Status.DRAFT and campaign.account == fast_account
    page = marketer_client.get(response["Location"]).content.decode()
    assert 'id="compose-form"' in page and 'id="test-send"' in page
    assert AuditLog.objects.filter(action="create", object_id=str(campaign.pk)).exists()


def test_live_autosave_returns_every_panel_and_names_ucs2_characters(marketer_client, draft):
    url = reverse("campaigns:live", args=[draft.pk])
    response = marketer_client.post(url, form_data(draft, text="Hi {first_name}, it’s on – now…"), **HX)
    body = response.content.decode()
    draft.refresh_from_db()
    assert draft.text == "Hi {first_name}, it’s on – now…"  # saved as typed
    for part in ("autosave-state", "counter", "breakdown", "preview", "totals", "schedule-hint"):
        assert f'id="{part}"' in body
    assert 'hx-swap-oob="true"' in body
    assert "UCS-2" in body and "Right Single Quotation Mark" in body and "En Dash" in body
    assert 'data-testid="fixup"' in body

    response = marketer_client.post(url, {**form_data(draft, text=draft.text), "fixup": "1"}, **HX)
    draft.refresh_from_db()
    assert draft.text == "Hi {first_name}, it's on - now..."
    body = response.content.decode()
    assert 'id="text-field" hx-swap-oob="true"' in body and "GSM-7" in body


def test_live_shows_unknown_placeholders_and_keeps_the_text(marketer_client, draft):
    response = marketer_client.post(
        reverse("campaigns:live", args=[draft.pk]), form_data(draft, text="Hi {frist_name}"), **HX
    )
    assert "Unknown placeholder {frist_name}" in response.content.decode()
    draft.refresh_from_db()
    assert draft.text == "Hi {frist_name}"


@pytest.mark.parametrize(
    ("over", "field", "words"),
    [
        ({"text": ""}, "text", "Write the message text"),
        ({"text": "Hi {frist_name}"}, "text", "Unknown placeholder"),
        ({"sender": "Nope"}, "sender", "not an allowed sender"),
        ({"when": "later", "send_at": "2020-01-01T10:00"}, "send_at", "in the past"),
        ({"when": "later", "send_at": ""}, "send_at", "Choose the date and time"),
        ({"groups": []}, "groups", "at least one group"),
    ],
)
def test_bad_input_gives_field_errors_and_keeps_the_draft(marketer_client, draft, over, field, words):
    data = {**form_data(draft), **over, "action": "schedule"}
    response = marketer_client.post(reverse("campaigns:edit", args=[draft.pk]), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="id_{field}_errors"' in body and words in body
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.DRAFT
    if "text" in over:
        assert draft.text == over["text"]  # what was typed is kept


def test_sender_too_long_and_account_disabled(marketer_client, draft):
    jojka = ProviderAccountFactory(provider="jojka", credentials={"api_key": "x" * 16}, allowed_senders=[])
    body = marketer_client.post(
        reverse("campaigns:edit", args=[draft.pk]),
        {**form_data(draft, account=jojka.pk, sender="MuchTooLongSender"), "action": "schedule"},
    ).content.decode()
    assert "at most 11 characters" in body
    jojka.is_active = False
    jojka.save()
    body = marketer_client.post(
        reverse("campaigns:edit", args=[draft.pk]),
        {**form_data(draft, account=jojka.pk, sender="Shop"), "action": "schedule"},
    ).content.decode()
    assert 'id="id_account_errors"' in body and "disabled" in body


def test_schedule_shows_the_workspace_time_and_utc(marketer_client, draft):
    when = (timezone.localtime(timezone.now(), timezone=_stockholm()) + timedelta(days=1)).replace(
        hour=9, minute=30, second=0, microsecond=0
    )
    data = {**form_data(draft), "when": "later", "send_at": when.strftime("%Y-%m-%dT%H:%M")}
    body = marketer_client.post(reverse("campaigns:live", args=[draft.pk]), data, **HX).content.decode()
    utc = when.astimezone(UTC)
    hint = body[body.index('id="schedule-hint"') :][:600]
    assert "Europe/Stockholm" in hint and f"{utc:%Y-%m-%d %H:%M} UTC" in hint, hint
    response = marketer_client.post(reverse("campaigns:edit", args=[draft.pk]), {**data, "action": "schedule"})
    assert response["Location"] == reverse("campaigns:detail", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.SCHEDULED and draft.scheduled_at == when


def _stockholm():
    import zoneinfo

    return zoneinfo.ZoneInfo("Europe/Stockholm")


def test_send_now_with_approval_waits_for_an_approver(marketer_client, client, draft, approver):
    ws = WorkspaceSettings.load()
    ws.require_approval = True
    ws.save()
    marketer_client.post(reverse("campaigns:edit", args=[draft.pk]), {**form_data(draft), "action": "schedule"})
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.AWAITING_APPROVAL
    assert marketer_client.post(reverse("campaigns:action", args=[draft.pk, "approve"])).status_code == 403
    client.force_login(approver)
    page = client.get(reverse("campaigns:detail", args=[draft.pk])).content.decode()
    assert 'data-testid="approve"' in page
    client.post(reverse("campaigns:action", args=[draft.pk, "approve"]))
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.SCHEDULED and draft.approved_by == approver


def test_preview_steps_through_real_recipients_and_lists_missing_values(marketer_client, draft, audience):
    _group, contacts = audience
    Contact.objects.filter(pk=contacts[1].pk).update(first_name="")
    draft.text = "Hi {first_name}, from {last_name|us}"
    draft.save()
    first = marketer_client.get(reverse("campaigns:preview", args=[draft.pk]) + "?i=0", **HX).content.decode()
    assert f"Hi {contacts[0].first_name}, from {contacts[0].last_name}" in first and "1 / 20" in first
    second = marketer_client.get(reverse("campaigns:preview", args=[draft.pk]) + "?i=1", **HX).content.decode()
    assert "2 / 20" in second and "No value for" in second
    page = marketer_client.get(reverse("campaigns:edit", args=[draft.pk])).content.decode()
    assert 'data-testid="missing"' in page and contacts[1].phone in page


def test_breakdown_numbers_open_the_contacts_they_count(marketer_client, draft, audience):
    _group, contacts = audience
    Contact.objects.filter(pk=contacts[0].pk).update(status=Contact.Status.OPTED_OUT)
    BlocklistEntryFactory(phone=contacts[1].phone)
    page = marketer_client.get(reverse("campaigns:edit", args=[draft.pk])).content.decode()
    assert reverse("campaigns:audience", args=[draft.pk, "opted_out"]) in page
    body = marketer_client.get(reverse("campaigns:audience", args=[draft.pk, "blocklisted"])).content.decode()
    assert contacts[1].phone in body and contacts[2].phone not in body
    body = marketer_client.get(reverse("campaigns:audience", args=[draft.pk, "eligible"])).content.decode()
    assert contacts[2].phone in body and contacts[0].phone not in body


def test_test_send_panel(marketer_client, draft, audience):
    _group, contacts = audience
    add = marketer_client.post(
        reverse("campaigns:testnumber_add", args=[draft.pk]), {"phone": "070-111 99 01", "label": "Anna"}, **HX
    ).content.decode()
    assert "+46701119901" in add
    bad = marketer_client.post(
        reverse("campaigns:testnumber_add", args=[draft.pk]), {"phone": "12", "label": ""}, **HX
    ).content.decode()
    assert "not a valid phone number" in bad or "not a phone number" in bad
    blocked = TestNumberFactory(phone="+46701119902", label="Blocked")
    BlocklistEntryFactory(phone=blocked.phone)
    from campaigns.models import TestNumber

    ids = list(TestNumber.objects.values_list("pk", flat=True))
    body = marketer_client.post(
        reverse("campaigns:test_send", args=[draft.pk]), {"numbers": ids, "contact": contacts[0].pk}, **HX
    ).content.decode()
    assert "+46701119901: handed over" in body
    assert "+46701119902 is on the blocklist: not sent." in body
    sent = Message.objects.get(is_test=True)
    assert sent.text == f"Hello {contacts[0].first_name}!" and sent.to == "+46701119901"


def test_status_partial_polls_until_settled_then_stops(marketer_client, campaign):
    url = reverse("campaigns:status", args=[campaign.pk])
    assert marketer_client.get(url, **HX).status_code == 200
    campaign = start_and_send(campaign)
    body = marketer_client.get(url, **HX)
    assert body.status_code == 200  # completed, but 30 messages still await a delivery report
    Message.objects.filter(campaign=campaign).update(status="delivered")
    Campaign.objects.filter(pk=campaign.pk).update(queued_count=0, delivered_count=30)
    response = marketer_client.get(url, **HX)
    assert response.status_code == 286
    body = response.content.decode()
    assert 'data-testid="tile-delivered"' in body and 'hx-trigger="every 2s"' not in body
    assert reverse("campaigns:messages", args=[campaign.pk]) + "?status=delivered" in body


def test_detail_page_tiles_chart_and_failure_reasons(marketer_client, campaign):
    campaign = start_and_send(campaign)
    Message.objects.filter(pk=Message.objects.filter(campaign=campaign).first().pk).update(
        status="undelivered", error_code="SBX-UND", error_text="Handset unreachable"
    )
    Campaign.objects.filter(pk=campaign.pk).update(failed_count=1, queued_count=29)
    page = marketer_client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert 'id="campaign-chart"' in page and 'id="chart-data"' in page
    assert "Handset unreachable" in page and "reason=SBX-UND" in page
    assert 'data-testid="requeue"' in page and 'data-testid="failed-group"' in page


def test_messages_table_filters_by_tile(marketer_client, campaign):
    campaign = start_and_send(campaign)
    failed = Message.objects.filter(campaign=campaign).first()
    Message.objects.filter(pk=failed.pk).update(status="rejected", error_code="X1", error_text="Bad number")
    url = reverse("campaigns:messages", args=[campaign.pk])
    body = marketer_client.get(url + "?status=failed_any", **HX).content.decode()
    assert failed.to in body and "Bad number" in body
    other = Message.objects.filter(campaign=campaign, status="queued").first()
    assert other.to not in body


def test_export_csv_all_and_failed(marketer_client, campaign):
    campaign = start_and_send(campaign)
    m = Message.objects.filter(campaign=campaign).first()
    Message.objects.filter(pk=m.pk).update(status="undelivered", error_text='=HYPERLINK("x")')
    response = marketer_client.get(reverse("campaigns:export", args=[campaign.pk]) + "?kind=failed")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:4] == ["phone", "first_name", "last_name", "status"]
    assert len(rows) == 2 and rows[1][0] == m.to and rows[1][5].startswith("'=")
    response = marketer_client.get(reverse("campaigns:export", args=[campaign.pk]) + "?kind=all")
    assert len(list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))) == 31
    assert AuditLog.objects.filter(action="export", object_id=str(campaign.pk)).count() == 2


def test_actions_pause_resume_cancel_requeue_and_group(marketer_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "pause"]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "resume"]))
    campaign.refresh_from_db()
    assert campaign.status in (Campaign.Status.STARTING, Campaign.Status.SENDING)
    campaign = start_and_send(campaign)
    Message.objects.filter(pk=Message.objects.filter(campaign=campaign).first().pk).update(status="expired")
    Campaign.objects.filter(pk=campaign.pk).update(failed_count=1, queued_count=29)
    response = marketer_client.post(reverse("campaigns:failed_group", args=[campaign.pk]), {"name": "Follow up"})
    assert response.status_code == 302
    from contacts.models import Group

    assert Group.objects.get(name="Follow up").member_count == 1
    marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "requeue"]))
    campaign.refresh_from_db()
    assert campaign.pending_count == 1 and campaign.status == Campaign.Status.SENDING
    marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "cancel"]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED and campaign.cancelled_count == 1
    assert marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "explode"])).status_code == 404


def test_edit_of_a_scheduled_campaign_redirects_to_its_page(marketer_client, draft):
    Campaign.objects.filter(pk=draft.pk).update(
        status=Campaign.Status.SCHEDULED, scheduled_at=timezone.now() + timedelta(hours=1)
    )
    response = marketer_client.get(reverse("campaigns:edit", args=[draft.pk]))
    assert response["Location"] == reverse("campaigns:detail", args=[draft.pk])
    marketer_client.post(reverse("campaigns:action", args=[draft.pk, "unschedule"]))
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.DRAFT


def test_old_replies_link_redirects_to_the_inbox_with_its_filter(marketer_client, campaign):
    response = marketer_client.get(reverse("campaigns:inbox") + f"?campaign={campaign.pk}")
    assert response.status_code == 302
    assert response["Location"] == reverse("inbox:index") + f"?campaign={campaign.pk}"
