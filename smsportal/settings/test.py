"""Test settings: the same code paths, with fast hashing and an eager-capable Celery.

``DATABASE_URL`` still decides the database, so the suite runs on SQLite by default and on PostgreSQL when
CI (or you) point it there.
"""

import os
from pathlib import Path

os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
# Eager by default; integration tests switch eagerness off and talk to TEST_BROKER_URL (Redis) for real.
os.environ.setdefault("CELERY_BROKER_URL", os.environ.get("TEST_BROKER_URL", "memory://"))

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
MEDIA_ROOT = VAR_DIR / "test-media"  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# WhiteNoise warns on every request when STATIC_ROOT does not exist (a fresh clone that never ran collectstatic).
Path(str(STATIC_ROOT)).mkdir(parents=True, exist_ok=True)  # noqa: F405
