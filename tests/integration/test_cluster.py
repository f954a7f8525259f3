"""A real cluster and a real object store: a Spark standalone master and two workers on this machine
(`scripts/cluster.sh`, as `make cluster-up` starts them) and an S3 store (moto's server, through Hadoop's s3a
connector). `c360 run all` is submitted to the cluster through `make submit` (spark-submit with `--packages`,
`--py-files dist/c360.zip` and the UDF jar) with the landing and the warehouse in the store; its tables equal a
local-mode run of the same sources over local files. The cluster and the store are stopped however the test ends.

One submitted run covers both: the executors on the workers read the landing from the store and write Delta's
log and files to it, as they would on a production cluster (a second submitted run over local files would
exercise nothing more and cost four minutes of CI)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from c360.cli import main
from c360.generate.synth import GenParams, generate
from c360.pipelines import RUN_ALL
from tests.warehouse import assert_same

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
#: ports of their own, away from Spark's defaults (a cluster a developer already runs stays untouched)
PORTS = {"CLUSTER_PORT": "7177", "CLUSTER_UI_PORT": "8180"}
BUCKET = "c360-test"
RUN = ["--to", "publish", "--set", "quality.gates=false"]
COMPARED = ["silver/customer_xref", "silver/identity_edges", "silver/golden_customer", "gold/customer_360"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    env = {**os.environ, **PORTS, "CLUSTER_DIR": str(tmp_path_factory.mktemp("cluster")), "WORKER_MEMORY": "1g"}
    try:
        up = subprocess.run(["bash", "scripts/cluster.sh", "up"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        yield up.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", "scripts/cluster.sh", "down"], cwd=REPO, env=env, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The sources, and the local-mode run every submitted run is compared with."""
    root = tmp_path_factory.mktemp("local")
    landing, warehouse = root / "landing", root / "warehouse"
    generate(landing, GenParams(people=120, seed=17, malformed_rate=0.002, chunk_size=120))
    assert main(["run", "all", "--env", "test", "--conf", str(landing), "--landing", str(landing), "--warehouse",
                 str(warehouse), *RUN]) == 0
    return landing, warehouse


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """An S3 endpoint on this machine (moto's server) with one bucket; yields its URL."""
    import boto3  # noqa: PLC0415

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "server.log"
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                              aws_secret_access_key="test")
        for _ in range(100):
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:  # noqa: BLE001 — not listening yet
                assert server.poll() is None, log.read_text()
                time.sleep(0.2)
        yield url, client
    finally:
        server.terminate()
        server.wait(30)


def _submit(master: str, conf_args: str, args: str) -> None:
    done = subprocess.run(["make", "submit", "JOB=run_all", f"MASTER={master}", "ENV=test", f"CONF_ARGS={conf_args}",
                           f"ARGS={args}"], cwd=REPO, capture_output=True, text=True, timeout=2400)
    # (Spark's INFO lines and Ivy's about repositories it cannot reach are left out of the message)
    said = [ln for ln in (done.stderr + done.stdout).splitlines()
            if ln.strip() and " INFO " not in ln and "not found. url=" not in ln]
    assert done.returncode == 0, "\n".join(said[-80:])
    assert "spark-submit" in done.stdout and "--py-files dist/c360.zip" in done.stdout


def _summary(warehouse: Path) -> dict:
    [summary] = [json.loads(p.read_text()) for p in (warehouse / "_system" / "runs").glob("*.json")]
    return summary


def test_run_all_submitted_to_the_cluster_on_an_object_store_equals_local_mode(cluster, local_run, s3, spark,
                                                                                   tmp_path):
    assert cluster == f"spark://127.0.0.1:{PORTS['CLUSTER_PORT']}"
    landing, local = local_run
    url, client = s3
    for f in landing.rglob("*"):
        if f.is_file():
            client.upload_file(str(f), BUCKET, f"landing/{f.relative_to(landing).as_posix()}")
    conf = tmp_path / "s3conf"
    conf.mkdir()
    (conf / "s3.yml").write_text(
        "spark:\n  conf:\n"
        f"    spark.hadoop.fs.s3a.endpoint: {url}\n"
        "    spark.hadoop.fs.s3a.endpoint.region: us-east-1\n"
        "    spark.hadoop.fs.s3a.path.style.access: true\n"
        "    spark.hadoop.fs.s3a.access.key: test\n"
        "    spark.hadoop.fs.s3a.secret.key: test\n")
    # every stage this time: quality's data docs and the scorecard are written to the store too
    _submit(cluster, f"--conf {landing} --conf {conf} --landing s3a://{BUCKET}/landing "
                     f"--warehouse s3a://{BUCKET}/warehouse", args="--set quality.gates=false")

    # nothing of the run on this machine's disk: the warehouse is brought down from the store to be compared
    copy = tmp_path / "from_s3"
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="warehouse/")
            for o in page.get("Contents", [])]
    for key in keys:
        target = copy / key
        target.parent.mkdir(parents=True, exist_ok=True)
        if not key.endswith("/"):
            client.download_file(BUCKET, key, str(target))
    assert any("/_delta_log/" in k for k in keys)
    assert_same(spark, copy / "warehouse", local, COMPARED)
    # the files beside the tables went to the store too: the run summary, the stages' records, ingest's list
    # of files, the data docs and the scorecard
    summary = _summary(copy / "warehouse")
    assert summary["status"] == "succeeded" and summary["warehouse"] == f"s3a://{BUCKET}/warehouse"
    # it ran on the cluster: spark-submit's --master kept over conf/test's local[2]
    assert summary["spark_master"] == cluster
    assert [s["stage"] for s in summary["stages"] if " " not in s["stage"]] == list(RUN_ALL)
    for prefix in ("warehouse/_system/state/", "warehouse/_system/ingest/seen.json", "warehouse/_reports/quality/",
                   "warehouse/_reports/scorecard.html"):
        assert any(k.startswith(prefix) for k in keys), prefix
    assert "<html" in (copy / "warehouse" / "_reports" / "scorecard.html").read_text().lower()
