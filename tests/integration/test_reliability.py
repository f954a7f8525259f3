"""Nothing lost, nothing corrupted. Every job of `run all` run twice gives identical tables (the second run
really runs: `run.skip_unchanged=false`); a job killed by SIGKILL mid-write (ingest, resolve, publish) leaves
every table readable at its previous version, and its re-run equals a run that was never interrupted.

The jobs run in `run all`'s order on one warehouse (each parameter builds on the ones before); the crash tests
start from copies of it taken after the stage before theirs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from c360.cli import main
from c360.generate.synth import GenParams, generate
from c360.pipelines import RUN_ALL
from tests.warehouse import assert_same, table_rows, tables, versions

pytestmark = [pytest.mark.integration, pytest.mark.slow]
#: tables that keep a record of every run by design: a model version per training, the results of each
#: quality run. A second run must keep every row of the first as it was, and may add its own.
HISTORY = {"gold/model_metrics", "gold/quality_results"}
#: the stage each crash test starts after (None: an empty warehouse)
CRASH_AFTER = {"ingest": None, "resolve": "standardize", "publish": "score"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("reliability")
    landing = root / "landing"
    generate(landing, GenParams(people=60, seed=5, malformed_rate=0.01, chunk_size=30))
    return SimpleNamespace(root=root, landing=landing, warehouse=root / "warehouse", after={})


def _args(store, warehouse: Path, *extra: str) -> list[str]:
    return ["--env", "test", "--conf", str(store.landing), "--landing", str(store.landing), "--warehouse",
            str(warehouse), "--set", "quality.gates=false", *extra]


@pytest.mark.parametrize("job", RUN_ALL)
def test_every_job_run_twice_gives_identical_tables(store, spark, job):
    wh = store.warehouse
    again = ("--set", "run.skip_unchanged=false")
    assert main([job, *_args(store, wh, *again)]) == 0
    first = versions(wh)
    assert main([job, *_args(store, wh, *again)]) == 0
    second = versions(wh)
    assert set(second) == set(first), f"{job}: the second run wrote tables the first did not"
    rewritten = [name for name in first if second[name] != first[name]]
    for name in rewritten:  # the table as the first run left it and as the second did (Delta's time travel)
        path = tables(wh)[name]
        if name in HISTORY:
            assert set(table_rows(spark, path, first[name])) <= set(table_rows(spark, path, second[name])), \
                f"{job}: {name}"
        else:
            assert table_rows(spark, path, second[name]) == table_rows(spark, path, first[name]), f"{job}: {name}"
    if job in CRASH_AFTER.values():
        store.after[job] = store.root / f"after-{job}"
        shutil.copytree(wh, store.after[job], dirs_exist_ok=True)


def _data_files(warehouse: Path) -> set[str]:
    return {os.path.join(d, f) for d, _, fs in os.walk(warehouse) if "_delta_log" not in d and "/_" not in d
            for f in fs if f.endswith(".parquet")}


def _kill_at_first_write(command: list[str], warehouse: Path, log: Path) -> int:
    """Start the job in a process group of its own, SIGKILL the group (the Python driver and its JVM) as soon
    as a data file appears that was not there before; returns the exit status."""
    known = _data_files(warehouse)
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        if _data_files(warehouse) - known:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    return proc.wait(60)


@pytest.mark.parametrize("stage", list(CRASH_AFTER))
def test_a_job_killed_mid_write_loses_nothing_and_its_rerun_equals_an_uninterrupted_one(store, spark, stage,
                                                                                          tmp_path, monkeypatch):
    # one token secret for both warehouses (each would otherwise make its own on its first publish)
    monkeypatch.setenv("C360_TOKEN_SECRET", "the same secret for both runs")
    after = CRASH_AFTER[stage]
    base, ref, crashed = tmp_path / "base", tmp_path / "uninterrupted", tmp_path / "crashed"
    if after is None:
        base.mkdir()
    elif after in store.after:
        shutil.copytree(store.after[after], base)
    else:  # this test alone (-k): the state after the stage before, built here
        assert main(["run", "all", "--to", after, *_args(store, base)]) == 0
    shutil.copytree(base, ref)
    shutil.copytree(base, crashed)
    assert main([stage, *_args(store, ref)]) == 0

    before = versions(crashed)
    status = _kill_at_first_write([sys.executable, "-m", "c360", stage, *_args(store, crashed)], crashed,
                                  tmp_path / "killed.log")
    assert status == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-3000:]
    now, wanted = versions(crashed), versions(ref)
    # killed part way: a table the uninterrupted run wrote is not (yet) written
    assert any(now.get(name, -1) < v for name, v in wanted.items() if v != before.get(name)), (now, wanted)
    # every table that was there reads as before at its previous version, and its newest version reads too
    base_tables, crashed_tables = tables(base), tables(crashed)
    for name, version in before.items():
        assert table_rows(spark, crashed_tables[name], version) == table_rows(spark, base_tables[name]), name
        spark.read.format("delta").load(str(crashed_tables[name])).count()
    assert not (crashed / "_system" / "state" / f"{stage}.json").exists()

    # the re-run (the killed run's lock taken over: its process is gone) equals the uninterrupted run
    assert main([stage, *_args(store, crashed)]) == 0
    assert_same(spark, crashed, ref)


def test_two_runs_of_a_job_at_once_one_is_refused_and_no_table_is_harmed(store, spark, tmp_path):
    """Two `ingest` processes started together on one empty warehouse: one runs, the other exits 1 naming the
    run that holds the warehouse; the tables are those of an ingest that ran alone."""
    wh, ref = tmp_path / "warehouse", tmp_path / "alone"
    command = [sys.executable, "-m", "c360", "ingest", *_args(store, wh)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    said = [p.communicate(timeout=900)[0] for p in procs]
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 1], said
    refused = said[codes.index(1)]
    assert "is in use by run" in refused and "`c360 ingest`" in refused, refused
    assert main(["ingest", *_args(store, ref)]) == 0
    assert_same(spark, wh, ref)
