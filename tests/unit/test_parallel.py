"""c360.parallel.map_concurrently and ingest's reconciliation against commit metrics (no Spark)."""

from __future__ import annotations

import threading
import time

import pytest

from c360.errors import C360Error
from c360.parallel import map_concurrently


def test_results_in_input_order_and_calls_overlap():
    running, peak, lock = [0], [0], threading.Lock()

    def slow(x: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05 * (5 - x))  # the first items end last
        with lock:
            running[0] -= 1
        return x * 10

    assert map_concurrently(slow, range(5), parallelism=3) == [0, 10, 20, 30, 40]
    assert peak[0] == 3


def test_one_at_a_time_with_parallelism_one():
    seen = []
    assert map_concurrently(lambda x: seen.append(threading.current_thread().name) or x, [1, 2], 1) == [1, 2]
    assert set(seen) == {threading.current_thread().name}


def test_first_failure_raised_and_later_calls_not_started():
    started = []

    def work(x: int) -> int:
        started.append(x)
        if x == 0:
            raise ValueError("source 0 is broken")
        time.sleep(0.2)
        return x

    with pytest.raises(ValueError, match="source 0 is broken"):
        map_concurrently(work, range(10), parallelism=2)
    assert len(started) < 10


def test_reconciliation_fails_on_a_commit_that_wrote_other_counts():
    from c360.config import SourceConfig
    from c360.io.files import FileInfo
    from c360.pipelines.ingest import Ingested, Plan, reconcile

    src = SourceConfig(name="crm", kind="person", format="csv", path="crm/*.csv")
    files = [FileInfo("file:/l/crm/a.csv", 10, 1), FileInfo("file:/l/crm/b.csv", 10, 1)]
    counts = {"file:/l/crm/a.csv": (100, 3), "file:/l/crm/b.csv": (50, 0)}
    good = Ingested(Plan(src, files, None), counts, written=147, bad=None)
    reconcile([good], quarantined_written=3)  # 150 read = 147 kept + 3 quarantined
    with pytest.raises(C360Error, match="source 'crm': read 150, quarantined 3, but bronze.crm was written 146"):
        reconcile([Ingested(Plan(src, files, None), counts, written=146, bad=None)], quarantined_written=3)
    with pytest.raises(C360Error, match="3 rows were quarantined but bronze.quarantine was written 2"):
        reconcile([good], quarantined_written=2)
