"""Signal receivers of the workspace app (connected in ``SmsportalConfig.ready``)."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver


@receiver(user_logged_in, dispatch_uid="smsportal.audit_login")
def audit_login(sender, request, user, **kwargs):
    from .services import user_login_record

    user_login_record(user=user, request=request)
