from django.apps import AppConfig


class SmsportalConfig(AppConfig):
    name = "smsportal"
    verbose_name = "Workspace"

    def ready(self):
        from . import signals  # noqa: F401  (connects the login audit receiver)
