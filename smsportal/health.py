"""``/healthz``: is the database reachable, is the broker reachable. 200 when both are, else 503.

Unauthenticated (load balancers and the start-up script call it) and cheap: no secrets, no counts.
"""

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def check_broker() -> str:
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return "ok"
    try:
        from smsportal.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            if url.startswith("filesystem://"):
                import os

                folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
                if not os.access(folder, os.W_OK):
                    return "error: broker folder not writable"
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


@never_cache
@require_GET
def healthz(request):
    started = time.perf_counter()
    checks = {"database": check_database(), "broker": check_broker()}
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "error", **checks, "ms": round((time.perf_counter() - started) * 1000, 1)},
        status=200 if ok else 503,
    )
