"""Storing inbound SMS (replies) once per provider id, linked to the contact, campaign and message."""

from __future__ import annotations

from collections.abc import Sequence

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Contact
from providers.adapters.types import InboundSMS
from smsportal.models import WorkspaceSettings

from .inbox import inbound_process
from .models import InboundMessage, Message


def normalize_sender(raw: str, default_country: str) -> str:
    """E.164 when the number parses (with or without "+"), else the raw value (short codes, names)."""
    raw = (raw or "").strip()
    for candidate in (raw, "+" + raw.lstrip("+0") if raw.isdigit() else None):
        if not candidate:
            continue
        try:
            num = phonenumbers.parse(candidate, None if candidate.startswith("+") else default_country)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(num):
            return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return raw[:32]


def inbound_record(*, account, items: Sequence[InboundSMS]) -> list[InboundMessage]:
    """Store new replies; return only the ones not seen before (replays are ignored)."""
    country = WorkspaceSettings.load().default_country
    created: list[InboundMessage] = []
    for item in items:
        phone = normalize_sender(item.from_phone, country)
        received = item.received_at or timezone.now()
        external_id = str(item.external_id or "")[:128]
        if not external_id:
            # No provider id: the same sender, text and time is the same reply.
            if InboundMessage.objects.filter(
                account=account, from_phone=phone, text=item.text, received_at=received
            ).exists():
                continue
        elif InboundMessage.objects.filter(account=account, external_id=external_id).exists():
            continue
        contact = Contact.objects.filter(phone=phone).first()
        reply_to = None
        if item.in_reply_to_external_id:
            reply_to = (
                Message.objects.filter(account=account, external_id=item.in_reply_to_external_id)
                .exclude(external_id="")  # the partial index message_external
                .first()
            )
        if reply_to is None and contact is not None:
            # The latest campaign message to this contact on this account: looked up by contact (the
            # message_contact index), never by number across the account's millions of rows; inbox replies and
            # auto-replies are not what a reply "answers" for the campaign link.
            reply_to = (
                Message.objects.filter(
                    contact=contact,
                    account=account,
                    is_test=False,
                    origin=Message.Origin.CAMPAIGN,
                    handed_over_at__lte=received,
                )
                .order_by("-handed_over_at")
                .first()
            )
        try:
            with transaction.atomic():
                obj = InboundMessage.objects.create(
                    account=account,
                    external_id=external_id,
                    from_phone=phone,
                    to=str(item.to or "")[:32],
                    text=item.text or "",
                    received_at=received,
                    contact=contact,
                    in_reply_to=reply_to,
                    campaign_id=reply_to.campaign_id if reply_to else None,
                    raw=item.raw if isinstance(item.raw, (dict, list)) else {"raw": str(item.raw or "")},
                )
        except IntegrityError:
            continue  # a concurrent delivery of the same reply won
        inbound_process(reply=obj)  # keywords, opt-out/in, auto-reply (campaigns/inbox.py); never raises
        created.append(obj)
    return created
