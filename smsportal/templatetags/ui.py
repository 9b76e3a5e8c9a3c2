"""Template tags shared by every page: ``{% load ui %}``.

Navigation
    ``{% sidebar_nav %}`` renders the left navigation from ``NAV`` below: items whose URL name does not exist
    (yet) render disabled instead of crashing, items above the user's role are hidden, and the active item is
    the one whose URL is the longest prefix of the current path.
    ``{% nav_link "contacts:list" "Contacts" "people" %}`` renders one such item anywhere else.

Tolerant links
    ``{% url_if "contacts:list" status="blocked" as url %}`` gives ``/contacts/?status=blocked`` or ``""``
    when the URL name does not exist, so pages can link to sections other engineers are still building.
    Positional arguments are URL arguments, keyword arguments become the query string.

Statuses
    ``{% status_badge obj.status obj.get_status_display %}``: one colour per meaning across all apps
    (see ``STATUS_TONES``). ``{{ value|status_tone }}`` gives only the tone name.

Roles
    ``{% if request.user|has_role:"Operator" %}`` and ``{{ request.user|role_name }}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from smsportal import roles

register = template.Library()


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str
    icon: str
    role: str = roles.MARKETER
    badge: str = ""  # name of a callable in BADGES


@dataclass(frozen=True)
class NavSection:
    label: str
    items: tuple[NavItem, ...]


NAV: tuple[NavSection, ...] = (
    NavSection("", (NavItem("dashboard", _("Dashboard"), "speedometer2"),)),
    NavSection(
        _("Audience"),
        (
            NavItem("contacts:list", _("Contacts"), "people"),
            NavItem("contacts:groups", _("Groups & lists"), "collection"),
            NavItem("contacts:blocklist", _("Blocklist"), "slash-circle"),
            NavItem("contacts:imports", _("Imports"), "cloud-arrow-up"),
        ),
    ),
    NavSection(
        _("Messaging"),
        (
            NavItem("campaigns:list", _("Campaigns"), "megaphone"),
            NavItem("inbox:index", _("Inbox"), "inbox", badge="inbox_unread"),
        ),
    ),
    NavSection(
        _("Administration"),
        (
            NavItem("providers:accounts", _("Providers"), "broadcast-pin", role=roles.OPERATOR),
            NavItem("smsportal:audit", _("Audit log"), "journal-text", role=roles.APPROVER),
            NavItem("smsportal:users", _("Users"), "person-gear", role=roles.OPERATOR),
            NavItem("smsportal:settings", _("Settings"), "gear", role=roles.OPERATOR),
        ),
    ),
)


def _badge_inbox_unread() -> str:
    from smsportal.selectors import inbox_unread_count

    count = inbox_unread_count(limit=100)
    if not count:
        return ""
    return "99+" if count >= 100 else str(count)


BADGES = {"inbox_unread": _badge_inbox_unread}


def safe_reverse(url_name: str, *args, **kwargs) -> str | None:
    try:
        return reverse(url_name, args=args or None, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def _is_prefix(url: str, path: str) -> bool:
    if url == "/":
        return path == "/"
    return path == url or path.startswith(url if url.endswith("/") else url + "/")


def build_nav(request) -> list[dict]:
    """The navigation for ``request.user``: sections of items with url (or None), active flag and badge."""
    user = getattr(request, "user", None)
    path = getattr(request, "path", "")
    sections = []
    for section in NAV:
        items = []
        for item in section.items:
            if user is None or not roles.has_role(user, item.role):
                continue
            url = safe_reverse(item.url_name)
            items.append({"item": item, "url": url, "active": False, "badge": ""})
        if items:
            sections.append({"label": section.label, "items": items})
    candidates = [i for s in sections for i in s["items"] if i["url"] and _is_prefix(i["url"], path)]
    if candidates:
        max(candidates, key=lambda i: len(i["url"]))["active"] = True
    for section in sections:
        for entry in section["items"]:
            if entry["url"] and entry["item"].badge:
                try:
                    entry["badge"] = BADGES[entry["item"].badge]()
                except Exception:  # a badge must never take the page down
                    entry["badge"] = ""
    return sections


@register.inclusion_tag("includes/sidebar_nav.html", takes_context=True)
def sidebar_nav(context):
    return {"sections": build_nav(context.get("request")), "request": context.get("request")}


@register.simple_tag(takes_context=True)
def nav_link(context, url_name: str, label: str, icon: str = "", role: str = roles.MARKETER):
    """One navigation link; disabled (not a crash) while the URL name does not exist."""
    request = context.get("request")
    if request is not None and not roles.has_role(request.user, role):
        return ""
    url = safe_reverse(url_name)
    icon_html = format_html('<i class="bi bi-{}" aria-hidden="true"></i>', icon) if icon else ""
    if url is None:
        return format_html(
            '<span class="nav-link disabled" aria-disabled="true" title="{}">{}<span>{}</span></span>',
            _("Not available yet"),
            icon_html,
            label,
        )
    active = request is not None and _is_prefix(url, request.path)
    return format_html(
        '<a class="nav-link{}" href="{}"{}>{}<span>{}</span></a>',
        " active" if active else "",
        url,
        mark_safe(' aria-current="page"') if active else "",
        icon_html,
        label,
    )


@register.simple_tag
def url_if(url_name: str, *args, **query) -> str:
    """``reverse(url_name, args)`` plus ``?query``; ``""`` if the URL name does not exist."""
    url = safe_reverse(url_name, *args)
    if url is None:
        return ""
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{url}?{urlencode(query)}" if query else url


# --- statuses -----------------------------------------------------------------------------------------
STATUS_TONES = {
    # finished well
    "active": "success",
    "done": "success",
    "completed": "success",
    "delivered": "success",
    "ok": "success",
    # in progress
    "sending": "primary",
    "starting": "primary",
    "running": "primary",
    "queued": "info",
    "sent": "info",
    "scheduled": "info",
    "uploaded": "info",
    "open": "info",
    "unread": "primary",
    # needs attention
    "paused": "warning",
    "awaiting_approval": "warning",
    "unknown": "warning",
    "pending": "muted",
    # went wrong
    "failed": "danger",
    "undelivered": "danger",
    "rejected": "danger",
    "expired": "danger",
    "blocked": "danger",
    # neutral
    "draft": "muted",
    "cancelled": "muted",
    "closed": "muted",
    "never": "muted",
    "opted_out": "warning",
}


@register.filter
def status_tone(value) -> str:
    return STATUS_TONES.get(str(value), "muted")


@register.simple_tag
def status_badge(value, label=None):
    return format_html(
        '<span class="badge badge-status tone-{}">{}</span>',
        STATUS_TONES.get(str(value), "muted"),
        label if label not in (None, "") else str(value).replace("_", " ").capitalize(),
    )


# --- roles --------------------------------------------------------------------------------------------
@register.filter
def has_role(user, role: str) -> bool:
    return roles.has_role(user, role)


@register.filter
def role_name(user) -> str:
    return roles.role_name(user)


@register.filter
def initials(user) -> str:
    full = f"{getattr(user, 'first_name', '')} {getattr(user, 'last_name', '')}".split()
    if full:
        return "".join(part[0] for part in full[:2]).upper()
    return (user.get_username()[:2] if hasattr(user, "get_username") else "?").upper()


@register.filter
def percent(part, whole) -> int:
    """Whole-number percentage, 0 when ``whole`` is 0."""
    try:
        return round(100 * float(part) / float(whole)) if whole else 0
    except (TypeError, ValueError):
        return 0


# --- forms --------------------------------------------------------------------------------------------
@register.filter
def widget(bound_field):
    """Render a form field's widget with ``is-invalid`` and ``aria-describedby`` when it has errors."""
    attrs = {}
    described = []
    if bound_field.errors:
        classes = bound_field.field.widget.attrs.get("class", "")
        attrs["class"] = f"{classes} is-invalid".strip()
        attrs["aria-invalid"] = "true"
        described.append(f"{bound_field.auto_id}_errors")
    if bound_field.help_text:
        described.append(f"{bound_field.auto_id}_help")
    if described:
        attrs["aria-describedby"] = " ".join(described)
    return bound_field.as_widget(attrs=attrs)


@register.filter
def get_item(mapping, key):
    """``{{ dict|get_item:key }}``; None when missing."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None
