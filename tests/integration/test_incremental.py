"""Nothing new, nothing done: `c360 run all` skips a stage whose inputs, configuration and outputs are as its
last run left them, and runs it again as soon as any of them changes."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from c360.cli import main
from c360.config import load_config
from c360.generate.synth import GenParams, generate
from c360.io import files
from c360.io.delta import read_table, table_version
from c360.tables import TABLES

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def test_unchanged_stage_is_skipped_and_runs_again_when_an_input_changes(spark, tmp_path, capsys, monkeypatch):
    landing, wh = tmp_path / "landing", tmp_path / "wh"
    generate(landing, GenParams(people=60, seed=5, malformed_rate=0.0, chunk_size=60))
    args = ["--env", "test", "--conf", str(landing), "--landing", str(landing), "--warehouse", str(wh),
            "--set", "quality.gates=false", "--set", "logging.level=INFO"]
    cfg = load_config("test", landing, conf_root=REPO / "conf", warehouse=str(wh), landing=str(landing))
    person = TABLES["silver.person"]

    def run(*extra: str) -> str:
        capsys.readouterr()
        assert main(["run", "all", "--to", "standardize", *args, *extra]) == 0
        return capsys.readouterr().err

    run()
    first = table_version(spark, cfg, person)
    record = json.loads(files.read_text(spark, files.join(cfg.system_path, "state", "standardize.json")))
    assert "silver.person" in record["written"] and "silver.person" not in record["tables"]
    assert record["tables"]["bronze.crm"] is not None  # an input, at the version it was read

    # nothing new: the MERGE is not run at all (a MERGE that changes nothing still commits a version)
    out = run()
    assert "nothing new since its last run" in out
    assert table_version(spark, cfg, person) == first

    # a new landing file: ingest takes it, bronze.crm moves, standardize runs and the new rows arrive
    with (landing / "crm" / "crm_contacts_0000.csv").open(newline="") as f:
        header, *rows = list(csv.reader(f))
    with (landing / "crm" / "crm_contacts_9999.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header] + [[f"N-{i}", *row[1:]] for i, row in enumerate(rows[:3])])
    out = run()
    assert "nothing new since its last run" not in out
    second = table_version(spark, cfg, person)
    assert second > first
    ids = {r["source_record_id"] for r in read_table(spark, cfg, person).where("source_system = 'crm'").collect()}
    assert {"N-0", "N-1", "N-2"} <= ids

    # another configuration of the stage: runs
    run("--set", "standardize.default_country=NZ")
    third = table_version(spark, cfg, person)
    assert third > second
    # --force: runs although nothing changed
    run("--set", "standardize.default_country=NZ", "--force")
    assert table_version(spark, cfg, person) > third

    # an output changed behind the stage's back (here: its table removed): runs and writes it again
    shutil.rmtree(wh / "silver" / "orders")
    out = run("--set", "standardize.default_country=NZ")
    assert "nothing new since its last run" not in out
    assert read_table(spark, cfg, TABLES["silver.orders"]).count() > 0

    # a run killed while the stage writes (here: a stand-in stage that looks at the record and then dies)
    # leaves no record of a finished run, so the next run does the stage again instead of skipping it
    seen = {}

    def killed(name, ctx, **options):
        seen["record"] = files.read_text(spark, files.join(cfg.system_path, "state", f"{name}.json"))
        raise SystemExit(137)

    with monkeypatch.context() as m:
        m.setattr("c360.cli.run_job", killed)
        with pytest.raises(SystemExit):
            main(["standardize", *args, "--set", "run.skip_unchanged=false"])
    assert seen["record"] is None
    out = run("--set", "standardize.default_country=NZ")
    assert "nothing new since its last run" not in out
