"""Three roles, as Django groups (created by a data migration), each including the one before:

Marketer  – contacts, imports, campaigns, sending
Approver  – Marketer + approving campaigns when the approval rule is on, reading the audit log
Operator  – Approver + provider accounts, workspace settings, users, the Django admin

Every view checks the role on the server (``RoleRequiredMixin`` / ``role_required``); the navigation only
hides what a role cannot use.
"""

from functools import wraps

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied

MARKETER = "Marketer"
APPROVER = "Approver"
OPERATOR = "Operator"
ROLES = (MARKETER, APPROVER, OPERATOR)
_RANK = {MARKETER: 1, APPROVER: 2, OPERATOR: 3}

# Model permissions given to each role's group (used by the Django admin for Operators).
ROLE_APP_PERMISSIONS = {
    MARKETER: {"contacts": "all", "campaigns": "all", "providers": "view", "smsportal": "view"},
    APPROVER: {"contacts": "all", "campaigns": "all", "providers": "view", "smsportal": "view"},
    OPERATOR: {"contacts": "all", "campaigns": "all", "providers": "all", "smsportal": "all", "auth": "all"},
}


def user_rank(user) -> int:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return 0
    if user.is_superuser:
        return _RANK[OPERATOR]
    cached = getattr(user, "_smsportal_rank", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = max((_RANK[n] for n in names if n in _RANK), default=0)
        user._smsportal_rank = cached
    return cached


def has_role(user, role: str) -> bool:
    """True if the user has ``role`` or a higher one."""
    return user_rank(user) >= _RANK[role]


def role_name(user) -> str:
    rank = user_rank(user)
    return next((name for name, r in _RANK.items() if r == rank), "No role")


class RoleRequiredMixin(LoginRequiredMixin):
    required_role = MARKETER

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not has_role(request.user, self.required_role):
            raise PermissionDenied(f"This page needs the {self.required_role} role.")
        return super().dispatch(request, *args, **kwargs)


def role_required(role: str = MARKETER):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            from django.contrib.auth.views import redirect_to_login

            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, role):
                raise PermissionDenied(f"This page needs the {role} role.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
