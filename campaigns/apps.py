from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self):
        from . import inbox_tasks  # noqa: F401 - registers the inbox tasks with Celery (autodiscovery finds tasks.py only)
