"""Housekeeping: old provider request logs and finished import files are removed after a retention period."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone


@shared_task(acks_late=True, ignore_result=True)
def cleanup() -> dict[str, int]:
    from contacts.models import Import
    from providers.models import ProviderRequestLog

    now = timezone.now()
    log_cutoff = now - timedelta(days=settings.REQUEST_LOG_RETENTION_DAYS)
    deleted_logs = 0
    while True:  # in slices, so a large backlog never holds a long lock
        ids = list(ProviderRequestLog.objects.filter(created_at__lt=log_cutoff).values_list("id", flat=True)[:5000])
        if not ids:
            break
        deleted_logs += ProviderRequestLog.objects.filter(id__in=ids).delete()[0]
    file_cutoff = now - timedelta(days=settings.IMPORT_FILE_RETENTION_DAYS)
    removed_files = 0
    for imp in Import.objects.filter(finished_at__lt=file_cutoff).exclude(file="").only("id", "file"):
        imp.file.delete(save=False)
        Import.objects.filter(pk=imp.pk).update(file="")
        removed_files += 1
    return {"request_logs": deleted_logs, "import_files": removed_files}
