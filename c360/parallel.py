"""Independent tables written at once from threads sharing the one Spark session (``run.parallelism``).

A job of c360 is a chain of short Spark jobs with driver-side work between them (query planning, Delta's
commit and state reconstruction, Python round trips); with two tables in flight, one table's driver work
overlaps the other's Spark jobs and the cores stay busy. Spark schedules the threads' jobs side by side
(``spark.scheduler.mode: FAIR`` in conf/base). Each table must be written by one thread only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_concurrently(fn: Callable[[T], R], items: Iterable[T], parallelism: int) -> list[R]:
    """``[fn(x) for x in items]`` with up to ``parallelism`` calls at once, results in the order of ``items``.
    The first exception is raised once the calls already running have ended; calls not yet started are
    cancelled, so a failure never leaves a write running behind the caller's back."""
    items = list(items)
    if parallelism <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(parallelism, len(items)), thread_name_prefix="c360") as pool:
        futures = [pool.submit(fn, x) for x in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            for f in pending:
                f.cancel()
            wait(pending)
            raise failed[0].exception()
        return [f.result() for f in futures]
