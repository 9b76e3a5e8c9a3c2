"""Settings for the contacts benchmarks: the production settings with DEBUG off (no query log), plain static files
(no collectstatic needed) and a real broker. The database and broker come from the environment, set by
``benchmarks/import_benchmark.py`` to scratch ones."""

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

# Import tuning knobs (contacts.import_runner reads them from settings; defaults apply when unset).
if os.environ.get("IMPORT_WORKERS"):
    IMPORT_WORKERS = int(os.environ["IMPORT_WORKERS"])
if os.environ.get("IMPORT_PARALLEL_MIN_BYTES"):
    IMPORT_PARALLEL_MIN_BYTES = int(os.environ["IMPORT_PARALLEL_MIN_BYTES"])
