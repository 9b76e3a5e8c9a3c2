import zoneinfo

from django.utils import timezone


class WorkspaceTimezoneMiddleware:
    """Show times in the workspace's time zone (stored in UTC)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from .models import WorkspaceSettings

        try:
            tz = zoneinfo.ZoneInfo(WorkspaceSettings.load().timezone)
        except Exception:  # a broken setting must not take the site down
            tz = None
        if tz is not None:
            timezone.activate(tz)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
