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
