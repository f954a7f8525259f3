"""Warehouse and landing given as ``file://`` URIs: every stage reads and writes through the URI (Delta tables,
model files, term frequencies, run reports) and nothing lands anywhere else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from c360.config import load_config
from c360.io import files
from c360.io.delta import exists
from c360.pipelines import JobContext, run_job
from c360.tables import table

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_stages_with_a_file_uri_warehouse_write_only_under_it(spark, tmp_path, monkeypatch):
    work = tmp_path / "work"          # the working directory: a relative path would land here
    work.mkdir()
    monkeypatch.chdir(work)
    landing_uri = (tmp_path / "landing").as_uri()
    warehouse_uri = (tmp_path / "warehouse").as_uri() + "/"
    assert warehouse_uri.startswith("file:///")

    gen = load_config("test", conf_root=REPO / "conf", warehouse=warehouse_uri, landing=landing_uri)
    run_job("generate", JobContext(gen), people=80, seed=5, out=landing_uri)
    repo_before = _tree(REPO / "conf") | _tree(REPO / "c360")

    cfg = load_config("test", str(tmp_path / "landing"), conf_root=REPO / "conf", warehouse=warehouse_uri,
                      landing=landing_uri)
    assert cfg.system_path == (tmp_path / "warehouse").as_uri() + "/_system"
    ctx = JobContext(cfg)
    for stage in ("ingest", "standardize", "resolve", "sessionize"):
        run_job(stage, ctx)

    # every table, the model, its term frequencies and the run reports are under the warehouse URI
    for fqn in ("bronze.crm", "bronze.ingest_log", "silver.person", "silver.customer_xref", "silver.web_sessions"):
        spec = table(fqn)
        assert spec.path(cfg).startswith("file:///"), spec.path(cfg)
        assert exists(spark, cfg, spec), fqn
    system = tmp_path / "warehouse" / "_system"
    assert (system / "resolve" / "model" / "model.json").is_file()
    assert any(p.name.startswith("tf_") for p in (system / "resolve" / "model").iterdir())
    assert (system / "resolve" / "last_run.json").is_file()
    assert (system / "sessionize" / "last_run.json").is_file()
    assert files.read_text(spark, files.join(cfg.system_path, "resolve", "last_run.json")).startswith("{")

    # nothing anywhere else: not in the working directory (no "file:" folder), not beside the warehouse
    assert _tree(work) == set()
    assert {p.name for p in tmp_path.iterdir()} == {"work", "landing", "warehouse"}
    assert _tree(REPO / "conf") | _tree(REPO / "c360") == repo_before
    assert not [d for d in os.listdir(REPO) if d.startswith("file:")]


def test_generator_refuses_an_object_store_uri(tmp_path):
    from c360.errors import UsageError

    cfg = load_config("test", conf_root=REPO / "conf", warehouse=str(tmp_path / "w"))
    with pytest.raises(UsageError, match="s3a://bucket/landing: the generator writes to a local folder"):
        run_job("generate", JobContext(cfg), people=10, out="s3a://bucket/landing")
