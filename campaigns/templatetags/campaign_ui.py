"""Small formatting helpers for the campaign pages: ``{% load campaign_ui %}``."""

from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def duration_text(value) -> str:
    """A timedelta (or seconds) as "2 h 05 min", "3 min 20 s", "12 s"."""
    if value in (None, ""):
        return ""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else float(value))
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s" if minutes < 10 and sec else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@register.filter
def rate_text(value) -> str:
    """Messages per second, readable at any scale."""
    if not value:
        return "—"
    value = float(value)
    if value >= 10:
        return f"{value:,.0f} / s"
    if value >= 1:
        return f"{value:.1f} / s"
    per_minute = value * 60
    if per_minute >= 1:
        return f"{per_minute:.1f} / min"
    return f"{value * 3600:.1f} / h"
