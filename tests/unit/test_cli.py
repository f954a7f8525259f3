import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from c360.cli import main
from c360.pipelines import JOBS, RUN_ALL

REPO = Path(__file__).resolve().parents[2]


def test_every_contract_job_has_a_subcommand_and_a_submit_entry(capsys):
    contract = ["generate", "ingest", "standardize", "resolve", "sessionize", "features", "train", "score",
                "publish", "quality", "report", "profile", "evaluate-identity", "explain-match", "forget"]
    assert set(contract) <= set(JOBS)
    for name in contract:
        assert main([name, "--help"]) == 0
        assert (REPO / "jobs" / f"{name.replace('-', '_')}.py").is_file()
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--warehouse" in out and "--as-of" in out
    assert RUN_ALL[0] == "ingest"


def test_bad_conf_dir_exits_2(capsys):
    assert main(["resolve", "--conf", "/nonexistent"]) == 2
    assert "--conf /nonexistent: directory does not exist" in capsys.readouterr().err


def test_misspelt_key_exits_2(tmp_path, capsys):
    (tmp_path / "p.yml").write_text("spark:\n  mastr: local[1]\n")
    assert main(["ingest", "--conf", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "spark.mastr" in err and str(tmp_path / "p.yml") in err


def test_not_built_job_exits_2(capsys, monkeypatch, tmp_path):
    from c360.pipelines import Job

    monkeypatch.setitem(JOBS, "forget", Job("forget", "Erase a person.", None, "a later release"))
    assert main(["forget", "c-1", "--env", "test", "--warehouse", str(tmp_path / "w")]) == 2
    assert "not built yet (planned with a later release)" in capsys.readouterr().err


def test_bad_usage_exits_2(capsys):
    assert main(["features", "--as-of", "yesterday"]) == 2
    assert main(["no-such-job"]) == 2


def test_python_m_c360_runs():
    r = subprocess.run([sys.executable, "-m", "c360", "--help"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0 and "evaluate-identity" in r.stdout


@pytest.mark.slow
def test_package_then_spark_submit_help(tmp_path):
    """`make package` output works with spark-submit: the job's --help comes from the zipped code."""
    r = subprocess.run(["make", "package"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    archive = REPO / "dist" / "c360.zip"
    assert "c360/cli.py" in zipfile.ZipFile(archive).namelist()
    assert list((REPO / "dist").glob("c360-*.whl"))
    submit = Path(sys.executable).parent / "spark-submit"
    r = subprocess.run([str(submit), "--master", "local[1]", "--py-files", str(archive),
                        str(REPO / "jobs" / "resolve.py"), "--help"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300,
                       env={**os.environ, "PATH": f"{submit.parent}:{os.environ['PATH']}",
                            "PYSPARK_PYTHON": sys.executable})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Usage: c360 resolve" in r.stdout


def test_generate_never_deletes_what_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "landing"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ["generate", "--people", "40", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "not written by `c360 generate`" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main([*args, "--overwrite"]) == 0
    assert (out / "sources.yml").is_file() and (out / "_truth" / "manifest.json").is_file()
    # its own folder again: its entries are replaced, the user's file stays
    (out / "crm" / "stray.csv").write_text("x")
    assert main(args) == 0
    assert (out / "notes.txt").read_text() == "mine" and not (out / "crm" / "stray.csv").exists()


def test_registry_profile_is_deterministic_with_truth_and_its_own_sources(tmp_path):
    from c360.config import load_config  # noqa: PLC0415

    for name in ("a", "b"):
        assert main(["generate", "--profile", "registry", "--people", "300", "--seed", "5",
                     "--out", str(tmp_path / name)]) == 0
    a, b = tmp_path / "a", tmp_path / "b"
    assert (a / "registry" / "registry_0000.csv").read_bytes() == (b / "registry" / "registry_0000.csv").read_bytes()
    import pandas as pd  # noqa: PLC0415

    rows = pd.read_csv(a / "registry" / "registry_0000.csv", dtype=str)
    truth = pd.read_parquet(a / "_truth" / "person_records_0000.parquet")
    assert list(rows["record_id"]) == list(truth["source_record_id"]) and truth["person_id"].nunique() == 300
    assert len(rows) > 300 and not {"email", "phone"} & set(rows.columns)
    cfg = load_config("local", a, conf_root=REPO / "conf")
    assert [s.name for s in cfg.sources] == ["registry"]
    assert {"first_name", "date_of_birth", "national_id"} <= set(cfg.sources[0].fields)


def test_config_show_names_where_each_key_came_from(capsys, monkeypatch):
    monkeypatch.setenv("C360__LOGGING__LEVEL", "ERROR")
    assert main(["config", "show", "--origins", "--set", "graph.backend=local"]) == 0
    out = capsys.readouterr().out
    assert "graph.backend: --set graph.backend" in out
    assert "logging.level: environment C360__LOGGING__LEVEL" in out
    assert main(["config", "show", "--set", "graph.backend=local"]) == 0
    assert "backend: local" in capsys.readouterr().out
    assert main(["config", "packages", "--set", "graph.backend=local"]) == 0
    assert capsys.readouterr().out.strip() == "io.delta:delta-spark_4.1_2.13:4.4.0"
    assert main(["config", "show", "--set", "graph.backend=nope"]) == 2
    assert "--set graph.backend: key 'graph.backend'" in capsys.readouterr().err
