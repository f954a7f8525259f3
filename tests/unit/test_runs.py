"""One run at a time per warehouse, and the run summary a scheduler reads (c360.runs)."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from c360.cli import main
from c360.errors import WarehouseBusyError
from c360.pipelines import JobContext
from c360.runs import WarehouseLock


def _ctx(spark, cfg, **run) -> JobContext:
    if run:
        cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update=run)})
    ctx = JobContext(cfg=cfg)
    ctx.__dict__["spark"] = spark  # the test session (JobContext.spark is a cached property)
    return ctx


def _lock_file(cfg) -> Path:
    return Path(cfg.system_path) / "run.lock"


def test_a_second_run_fails_naming_the_first_then_runs_after_it(spark, cfg):
    first, second = _ctx(spark, cfg), _ctx(spark, cfg)
    held = WarehouseLock(first, "resolve")
    held.acquire()
    try:
        with pytest.raises(WarehouseBusyError, match=rf"in use by run {first.run_id} \(`c360 resolve`.*process "
                                                     rf"{os.getpid()}"):
            WarehouseLock(second, "publish").acquire()
        assert json.loads(_lock_file(cfg).read_text())["run_id"] == first.run_id
    finally:
        held.release()
    assert not _lock_file(cfg).exists()
    later = WarehouseLock(second, "publish")
    later.acquire()
    later.release()


def test_a_waiting_run_gets_the_lock_when_the_holder_finishes(spark, cfg):
    first, second = _ctx(spark, cfg), _ctx(spark, cfg, lock_wait_seconds=30)
    held = WarehouseLock(first, "ingest")
    held.acquire()
    threading.Timer(1.5, held.release).start()
    t0 = time.monotonic()
    waiting = WarehouseLock(second, "ingest")
    waiting.acquire()
    assert 1.0 < time.monotonic() - t0 < 30
    assert json.loads(_lock_file(cfg).read_text())["run_id"] == second.run_id
    waiting.release()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_lock_left_by_a_dead_or_silent_run_is_taken_over(spark, cfg):
    import socket

    lock = _lock_file(cfg)
    lock.parent.mkdir(parents=True, exist_ok=True)
    # a killed process on this machine: taken over at once
    lock.write_text(json.dumps({"run_id": "killed", "command": "resolve", "host": socket.gethostname(),
                                "pid": _dead_pid(), "since": "2026-01-01T00:00:00+00:00"}))
    ctx = _ctx(spark, cfg)
    taker = WarehouseLock(ctx, "resolve")
    taker.acquire()
    assert json.loads(lock.read_text())["run_id"] == ctx.run_id
    taker.release()
    # a run on another machine: held while it refreshes the lock, taken over once it stopped long enough
    lock.write_text(json.dumps({"run_id": "elsewhere", "command": "features", "host": "another-host", "pid": 1}))
    with pytest.raises(WarehouseBusyError, match="run elsewhere .*host another-host"):
        WarehouseLock(_ctx(spark, cfg, lock_stale_seconds=60), "features").acquire()
    old = time.time() - 120
    os.utime(lock, (old, old))
    ctx = _ctx(spark, cfg, lock_stale_seconds=60)
    taker = WarehouseLock(ctx, "features")
    taker.acquire()
    assert json.loads(lock.read_text())["run_id"] == ctx.run_id
    taker.release()


def test_the_holder_refreshes_its_lock(spark, cfg):
    ctx = _ctx(spark, cfg, lock_stale_seconds=30)  # refreshed every 7.5 s
    held = WarehouseLock(ctx, "train")
    held.acquire()
    try:
        old = time.time() - 25
        os.utime(_lock_file(cfg), (old, old))
        time.sleep(8.5)
        assert time.time() - _lock_file(cfg).stat().st_mtime < 5
    finally:
        held.release()


def _summaries(cfg) -> list[dict]:
    folder = Path(cfg.system_path) / "runs"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def test_every_run_leaves_a_summary_with_its_exit_code(spark, cfg, tmp_path):
    args = ["--env", "test", "--warehouse", cfg.paths.warehouse, "--landing", str(tmp_path / "landing")]
    # publish before anything was built: a failure, exit 1, the stage and the error named
    assert main(["publish", *args, "--set", f"run.summary_path={tmp_path / 'last_run.json'}"]) == 1
    [failed] = _summaries(cfg)
    assert failed["command"] == "publish" and failed["status"] == "failed" and failed["exit_code"] == 1
    assert "run `c360 standardize` first" in failed["error"] or "does not exist" in failed["error"]
    assert [(s["stage"], s["status"]) for s in failed["stages"]] == [("publish", "failed")]
    assert json.loads((tmp_path / "last_run.json").read_text())["run_id"] == failed["run_id"]
    assert not _lock_file(cfg).exists()  # released however the run ended
    # another run holds the warehouse: this one is refused, exit 1, status busy, nothing run
    other = WarehouseLock(_ctx(spark, cfg), "run all")
    other.acquire()
    try:
        assert main(["features", *args]) == 1
    finally:
        other.release()
    busy = [s for s in _summaries(cfg) if s["command"] == "features"]
    assert busy[0]["status"] == "busy" and busy[0]["stages"] == [] and other.ctx.run_id in busy[0]["error"]
