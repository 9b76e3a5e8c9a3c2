"""Settings for the campaign benchmarks (snapshot, hand-over, pages): production settings with DEBUG off (no
query log), plain static files, and a broker/database from the environment. The filesystem broker gets a private
folder (``HANDOVER_BROKER_DIR``) so a benchmark never shares a queue with a dev server on the same checkout."""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")  # lets base.py derive dev keys; DEBUG is turned off below

from smsportal.settings.base import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["*"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
CELERY_TASK_ALWAYS_EAGER = False
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

_broker_dir = os.environ.get("HANDOVER_BROKER_DIR")
if _broker_dir and CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    for _sub in ("out", "processed", "control"):
        os.makedirs(os.path.join(_broker_dir, _sub), exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": os.path.join(_broker_dir, "out"),
        "data_folder_out": os.path.join(_broker_dir, "out"),
        "processed_folder": os.path.join(_broker_dir, "processed"),
        "control_folder": os.path.join(_broker_dir, "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
CAMPAIGN_SEND_LANES = int(os.environ.get("CAMPAIGN_SEND_LANES", "2"))
CAMPAIGN_SEND_THREADS = int(os.environ.get("CAMPAIGN_SEND_THREADS", "16"))
