"""What a scheduler relies on besides the exit code: one run at a time per warehouse, and a JSON summary of
every run.

- :class:`WarehouseLock`: a job that writes takes ``<system>/run.lock`` for its whole run (``run all``: all of
  its stages). The lock file says who holds it (run id, command, host, process, since) and is refreshed
  while the run lasts; a second run fails at once with :class:`~c360.errors.WarehouseBusyError` naming the
  holder (exit 1), or waits ``run.lock_wait_seconds`` for it first. A lock left by a run that died is taken
  over: at once when its process is gone from this same machine, else when it was last refreshed
  ``run.lock_stale_seconds`` ago. Delta's own optimistic concurrency still guards every table; the lock
  keeps two runs from interleaving their stages (and the stage records of :mod:`c360.pipelines.state`).
- :class:`RunSummary`: ``<system>/runs/<run_id>.json`` (and a copy at ``run.summary_path``) with the command,
  its arguments, start, end, status, exit code, the error, and per stage its status (ran, skipped,
  failed), seconds, facts and gates.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from c360 import __version__
from c360.errors import C360Error, WarehouseBusyError, exit_code_of
from c360.io import files
from c360.log import get_logger

if TYPE_CHECKING:
    from c360.pipelines import JobContext

log = get_logger("c360.run")


def new_run_id() -> str:
    """``<UTC yyyymmddTHHMMSS>-<6 hex>``: sorts by start time, unique across machines."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WarehouseLock:
    """``<system>/run.lock``, held from :meth:`acquire` to :meth:`release` (see the module's docstring)."""

    def __init__(self, ctx: JobContext, command: str):
        self.ctx, self.command = ctx, command
        self.path = files.join(ctx.cfg.system_path, "run.lock")
        self.held = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.text = json.dumps({"run_id": ctx.run_id, "command": command, "host": socket.gethostname(),
                                "pid": os.getpid(), "since": _now(), "warehouse": ctx.cfg.paths.warehouse})

    def _holder(self) -> dict | None:
        try:
            return json.loads(files.read_text(self.ctx.spark, self.path) or "null")
        except ValueError:
            return None  # being written this moment

    def _stale(self, holder: dict) -> str | None:
        """Why the holder's lock is stale, or None while its run may still be going."""
        if holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", 0))):
            return f"process {holder.get('pid')} is no longer running on this machine"
        modified = files.modified_ms(self.ctx.spark, self.path)
        if modified is not None:
            idle = time.time() - modified / 1000
            if idle > self.ctx.cfg.run.lock_stale_seconds:
                return f"not refreshed for {idle:.0f} s (run.lock_stale_seconds: {self.ctx.cfg.run.lock_stale_seconds:g})"
        return None

    def _take_over(self, holder: dict, why: str) -> None:
        """Move a stale lock aside (one rename: of two runs taking it over at once, one wins)."""
        spark = self.ctx.spark
        aside = f"{self.path}.stale-{self.ctx.run_id}"
        if not files.rename(spark, self.path, aside):
            return
        moved = json.loads(files.read_text(spark, aside) or "null") or {}
        if moved.get("run_id") != holder.get("run_id"):
            # another run took it over between our read and our rename: give its fresh lock back
            files.rename(spark, aside, self.path)
            return
        files.delete(spark, aside, recursive=False)
        log.warning("run lock: taken over", stale_run=holder.get("run_id"), command=holder.get("command"),
                    host=holder.get("host"), why=why)

    def acquire(self) -> None:
        cfg, spark = self.ctx.cfg, self.ctx.spark
        deadline = time.monotonic() + cfg.run.lock_wait_seconds
        waited = False
        while True:
            if files.create_exclusive(spark, self.path, self.text):
                self.held = True
                interval = min(30.0, cfg.run.lock_stale_seconds / 4)
                self._beat = threading.Thread(target=self._heartbeat, args=(interval,), name="c360-run-lock",
                                              daemon=True)
                self._beat.start()
                return
            holder = self._holder()
            if holder is not None:
                why = self._stale(holder)
                if why:
                    self._take_over(holder, why)
                    continue
            if time.monotonic() >= deadline:
                h = holder or {}
                raise WarehouseBusyError(
                    f"warehouse {cfg.paths.warehouse} is in use by run {h.get('run_id', '?')} (`c360 "
                    f"{h.get('command', '?')}`, host {h.get('host', '?')}, process {h.get('pid', '?')}, since "
                    f"{h.get('since', '?')}; lock {self.path}). Runs of one warehouse go one at a time: run again "
                    f"when it has finished, or set run.lock_wait_seconds to wait for it"
                    + (f" (waited {cfg.run.lock_wait_seconds:g} s)" if waited else ""))
            if not waited:
                log.info("run lock: waiting", holder=(holder or {}).get("run_id"), path=self.path)
            waited = True
            time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))

    def _heartbeat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                files.touch(self.ctx.spark, self.path, self.text)
            except Exception as e:  # noqa: BLE001 (a missed beat is retried; the run goes on)
                log.warning("run lock: could not refresh", error=str(e))

    def release(self) -> None:
        if not self.held:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=60)
        holder = self._holder()
        if holder and holder.get("run_id") == self.ctx.run_id:
            files.delete(self.ctx.spark, self.path, recursive=False)
        self.held = False


class RunSummary:
    """The machine-readable account of one run (see the module's docstring)."""

    def __init__(self, ctx: JobContext, command: str, argv: list[str]):
        self.ctx = ctx
        self.data: dict = {"run_id": ctx.run_id, "command": command, "argv": argv, "env": ctx.cfg.env,
                           "warehouse": ctx.cfg.paths.warehouse, "as_of": ctx.as_of.isoformat() if ctx.as_of
                           else None, "c360_version": __version__, "host": socket.gethostname(),
                           "started_at": _now(), "stages": ctx.stages}
        self._t0 = time.perf_counter()

    def finish(self, error: BaseException | None) -> dict:
        code = 0 if error is None else exit_code_of(error)
        status = ("succeeded" if code == 0 else "gate_failed" if code == 3 else "invalid" if code == 2
                  else "busy" if isinstance(error, WarehouseBusyError) else "failed")
        if "spark" in self.ctx.__dict__:  # where it ran: the master and Spark's application id
            sc = self.ctx.spark.sparkContext
            self.data.update(spark_master=sc.master, spark_app_id=sc.applicationId)
        self.data.update(finished_at=_now(), seconds=round(time.perf_counter() - self._t0, 1), status=status,
                         exit_code=code, error=None if error is None else (
                             str(error) if isinstance(error, C360Error) else f"{type(error).__name__}: {error}"))
        return self.data

    def write(self) -> list[str]:
        """Write the summary where it goes; returns the locations written. Through the run's Spark session when it
        started one, else (a run that stopped before Spark) with plain file IO on a local warehouse only."""
        text = json.dumps(self.data, indent=1, default=str)
        targets = [files.join(self.ctx.cfg.system_path, "runs", f"{self.ctx.run_id}.json")]
        if self.ctx.cfg.run.summary_path:
            targets.append(files.location(self.ctx.cfg.run.summary_path))
        spark_started = "spark" in self.ctx.__dict__
        written = []
        for target in targets:
            if spark_started:
                files.write_text(self.ctx.spark, target, text, note=False)
            elif files.is_local(target):
                local = files.local_path(target)
                os.makedirs(os.path.dirname(local), exist_ok=True)
                with open(local, "w", encoding="utf-8") as f:
                    f.write(text)
            else:
                continue
            written.append(target)
        return written


@contextmanager
def recorded(ctx: JobContext, command: str, argv: list[str], lock: bool) -> Iterator[RunSummary]:
    """The run of one command: its lock (``lock`` and ``run.lock``) and its summary, written however it ends."""
    summary = RunSummary(ctx, command, argv)
    held = WarehouseLock(ctx, command) if lock and ctx.cfg.run.lock else None
    error: BaseException | None = None
    try:
        if held is not None:
            held.acquire()
        yield summary
    except BaseException as e:
        error = e
        raise
    finally:
        if held is not None:
            held.release()
        summary.finish(error)
        try:
            where = summary.write()
            if where:
                log.info("run summary", path=where[0], status=summary.data["status"])
        except Exception as e:  # noqa: BLE001 (the run's own outcome matters more than its summary)
            log.warning("run summary: could not write", error=str(e))
