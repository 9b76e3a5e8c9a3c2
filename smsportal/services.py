"""Writes for the workspace: settings and users. Every change is audited here, in the same transaction."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group as AuthGroup
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from . import roles
from .audit import audit
from .models import AuditLog, WorkspaceSettings
from .selectors import active_operator_count

WORKSPACE_FIELDS = ("name", "timezone", "default_country", "default_sender", "require_approval")


@transaction.atomic
def workspace_settings_update(*, actor, **values) -> WorkspaceSettings:
    """Change workspace settings; audits the fields that changed (old → new). Unknown fields are refused."""
    unknown = set(values) - set(WORKSPACE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown workspace settings: {', '.join(sorted(unknown))}")
    workspace = WorkspaceSettings.load()
    workspace = WorkspaceSettings.objects.select_for_update().get(pk=workspace.pk)
    changes = {}
    for field, new in values.items():
        if field == "default_country":
            new = new.upper()
        old = getattr(workspace, field)
        if old != new:
            changes[field] = [old, new]
            setattr(workspace, field, new)
    if not changes:
        return workspace
    workspace.full_clean()
    workspace.updated_by = actor if getattr(actor, "is_authenticated", False) else None
    workspace.save()
    audit(actor=actor, action=AuditLog.Action.SETTINGS, obj=workspace, changes=changes)
    return workspace


def _set_role_groups(user, role: str) -> None:
    if role not in roles.ROLES:
        raise ValidationError(_("Unknown role %(role)s.") % {"role": role})
    role_groups = AuthGroup.objects.filter(name__in=roles.ROLES)
    user.groups.remove(*role_groups)
    user.groups.add(AuthGroup.objects.get(name=role))
    if hasattr(user, "_smsportal_rank"):
        del user._smsportal_rank


def _current_role(user) -> str:
    names = set(user.groups.filter(name__in=roles.ROLES).values_list("name", flat=True))
    return next((r for r in reversed(roles.ROLES) if r in names), "")


@transaction.atomic
def user_create(
    *, actor, username: str, password: str, role: str, email: str = "", first_name: str = "", last_name: str = ""
):
    User = get_user_model()
    user = User(username=username, email=email, first_name=first_name, last_name=last_name, is_active=True)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    _set_role_groups(user, role)
    audit(
        actor=actor,
        action=AuditLog.Action.CREATE,
        obj=user,
        object_repr=user.get_username(),
        changes={"role": [None, role], "email": [None, email]} if email else {"role": [None, role]},
    )
    return user


def _guard_last_operator(user, *, becoming_operator: bool) -> None:
    """Refuse a change that would leave the workspace without an active Operator."""
    if becoming_operator:
        return
    is_operator = user.is_active and (user.is_superuser or _current_role(user) == roles.OPERATOR)
    if is_operator and active_operator_count(exclude_pk=user.pk) == 0:
        raise ValidationError(
            _("%(name)s is the last active Operator; make someone else an Operator first.")
            % {"name": user.get_username()}
        )


@transaction.atomic
def user_set_role(*, actor, user, role: str):
    old = _current_role(user)
    if old == role:
        return user
    _guard_last_operator(user, becoming_operator=role == roles.OPERATOR)
    _set_role_groups(user, role)
    audit(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        obj=user,
        object_repr=user.get_username(),
        changes={"role": [old or None, role]},
    )
    return user


@transaction.atomic
def user_deactivate(*, actor, user):
    if actor is not None and user.pk == actor.pk:
        raise ValidationError(_("You cannot deactivate your own account."))
    if not user.is_active:
        return user
    _guard_last_operator(user, becoming_operator=False)
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        obj=user,
        object_repr=user.get_username(),
        changes={"is_active": [True, False]},
    )
    return user


@transaction.atomic
def user_reactivate(*, actor, user):
    if user.is_active:
        return user
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        obj=user,
        object_repr=user.get_username(),
        changes={"is_active": [False, True]},
    )
    return user


@transaction.atomic
def user_set_password(*, actor, user, password: str):
    """An Operator sets a new password for someone (the value is never logged or audited)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    audit(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        obj=user,
        object_repr=user.get_username(),
        changes={"password": "changed"},
    )
    return user


def user_login_record(*, user, request=None) -> None:
    """Audit a successful login (connected to ``user_logged_in`` in smsportal.signals)."""
    ip = ""
    if request is not None:
        ip = request.META.get("REMOTE_ADDR", "")
    audit(
        actor=user,
        action=AuditLog.Action.LOGIN,
        obj=user,
        object_repr=user.get_username(),
        changes={"ip": ip} if ip else {},
    )
