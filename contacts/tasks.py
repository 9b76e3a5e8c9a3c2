"""Celery tasks for contacts: thin wrappers over services (ids in, state re-read from the database)."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def run_import(import_id: int) -> None:
    """Run one import. Several imports may run at once (each is its own task); a re-delivered task resumes
    after the last committed batch or does nothing (see ``services.import_execute``)."""
    services.import_execute(import_id=import_id)
