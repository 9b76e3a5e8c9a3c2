"""A real worker process on PostgreSQL + Redis picks up a task and writes to the same database."""

from datetime import timedelta

from django.utils import timezone

from providers.models import ProviderRequestLog
from tests.factories import ProviderRequestLogFactory

from .conftest import wait_until


def test_worker_runs_a_task_against_postgres(start_worker):
    old = ProviderRequestLogFactory.create_batch(3)
    ProviderRequestLog.objects.filter(pk__in=[o.pk for o in old]).update(created_at=timezone.now() - timedelta(days=90))
    fresh = ProviderRequestLogFactory()
    start_worker()
    from smsportal.tasks import cleanup

    cleanup.delay()
    wait_until(lambda: ProviderRequestLog.objects.count() == 1, message="old request logs removed by the worker")
    assert ProviderRequestLog.objects.get().pk == fresh.pk
