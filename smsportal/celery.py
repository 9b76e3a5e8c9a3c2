"""The Celery app. Broker from settings (filesystem:// by default: no server needed)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsportal.settings.base")

app = Celery("smsportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic work lives in the database (due campaigns, polls); beat only ticks these scanners.
app.conf.beat_schedule = {
    "campaigns-dispatch-due": {"task": "campaigns.tasks.dispatch_due_campaigns", "schedule": 5.0},
    "campaigns-poll-statuses": {"task": "campaigns.tasks.poll_statuses", "schedule": 10.0},
    "providers-poll": {"task": "providers.tasks.poll_accounts", "schedule": 15.0},
    "campaigns-inbox-sweep": {"task": "campaigns.inbox_tasks.process_pending_replies", "schedule": 60.0},
    "providers-scheduled-sync": {"task": "providers.tasks.run_scheduled_syncs", "schedule": 60.0},
    "smsportal-cleanup": {"task": "smsportal.tasks.cleanup", "schedule": 3600.0},
}
