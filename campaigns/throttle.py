"""A rate limit per provider account (and per campaign speed) shared by every worker process.

Virtual scheduling (GCRA): a bucket keeps ``next_free``, the epoch second from which its next message may go.
``reserve(key, n, rate)`` atomically moves it to ``max(next_free, now, not_before) + n / rate`` and returns the
window start, so concurrent workers get consecutive, non-overlapping windows; each then paces its n messages
through its window. One ``UPDATE … RETURNING`` per reservation, on SQLite and PostgreSQL alike (a reservation
covers a whole chunk of messages, never one message). ``hold(key, seconds)`` pushes the window back for every
worker, e.g. when a provider answers 429 with Retry-After.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection, transaction

from .models import ThrottleBucket


@dataclass(frozen=True)
class Window:
    start: float  # epoch seconds
    rate: float  # messages per second inside the window
    size: int

    def slot(self, index: int) -> float:
        """When message ``index`` (0-based) of this window may go."""
        return self.start + index / self.rate if self.rate > 0 else self.start

    @property
    def end(self) -> float:
        return self.slot(self.size)


def _greatest() -> str:
    return "MAX" if connection.vendor == "sqlite" else "GREATEST"


def _ensure(key: str) -> None:
    ThrottleBucket.objects.get_or_create(key=key)


def reserve(key: str, n: int, rate: float, *, not_before: float | None = None, now: float | None = None) -> Window:
    """Reserve ``n`` messages at ``rate``/s on the bucket ``key``; return the window to send them in."""
    now = time.time() if now is None else now
    earliest = max(now, not_before or 0.0)
    if rate <= 0 or n <= 0:
        return Window(earliest, 0.0, max(n, 0))
    duration = n / rate
    table = ThrottleBucket._meta.db_table
    sql = (
        f"UPDATE {table} SET next_free = {_greatest()}(next_free, %s) + %s WHERE key = %s "  # noqa: S608
        "RETURNING next_free"
    )
    for _attempt in range(2):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [earliest, duration, key])
            row = cur.fetchone()
        if row is not None:
            return Window(float(row[0]) - duration, rate, n)
        _ensure(key)
    raise RuntimeError(f"throttle bucket {key!r} could not be created")


def hold(key: str, seconds: float, *, now: float | None = None) -> None:
    """Nobody sends on ``key`` for ``seconds`` from now (a provider's Retry-After, honoured by every worker)."""
    now = time.time() if now is None else now
    _ensure(key)
    table = ThrottleBucket._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {table} SET next_free = {_greatest()}(next_free, %s) WHERE key = %s",  # noqa: S608
            [now + seconds, key],
        )


def peek(key: str) -> float:
    """``next_free`` of the bucket (0 when it was never used)."""
    return ThrottleBucket.objects.filter(key=key).values_list("next_free", flat=True).first() or 0.0


def account_key(account_id: int) -> str:
    return f"account:{account_id}"


def campaign_key(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"
