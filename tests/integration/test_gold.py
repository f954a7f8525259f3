"""The gold stage end to end on a generated company through `c360 run all`: gold.customer_360 (one row per
golden customer, documented columns and comments, idempotent publish, time travel), the quality gates (results
stored, data docs, exit 3 naming the table and expectation when a gold invariant is broken), the scorecard
rendered in headless Chromium, `c360 profile` by id, email and phone, and every notebook executed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from c360 import privacy
from c360.cli import main
from c360.config import load_config
from c360.generate.synth import GenParams, generate
from c360.io.delta import read_table
from c360.pipelines import JobContext, run_job
from c360.tables import column_doc, table

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "build" / "test-artifacts"


def _args(store, warehouse=None) -> list[str]:
    return ["--env", "test", "--conf", str(store["landing"]), "--landing", str(store["landing"]),
            "--warehouse", str(warehouse or store["warehouse"])]


@pytest.fixture(scope="module")
def store(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("gold")
    landing, warehouse = root / "landing", root / "warehouse"
    generate(landing, GenParams(people=300, seed=23, malformed_rate=0.002, chunk_size=300))
    s = {"root": root, "landing": landing, "warehouse": warehouse}
    assert main(["run", "all", *_args(s)]) == 0
    s["cfg"] = load_config("test", landing, conf_root=REPO / "conf", warehouse=str(warehouse), landing=str(landing))
    return s


def test_customer_360_has_one_row_per_golden_customer_with_documented_columns(store, spark):
    cfg = store["cfg"]
    gold = read_table(spark, cfg, table("gold.customer_360"))
    golden = read_table(spark, cfg, table("silver.golden_customer"))
    assert gold.count() == golden.count() == gold.select("customer_id").distinct().count()
    assert gold.join(golden, "customer_id", "left_anti").count() == 0
    # the five data types and the actions are there
    for col in ("email", "lineage", "monetary", "clv", "occupation", "sessions_30d", "social_followers",
                "rfm_segment", "value_tier", "churn_probability", "next_best_offers", "open_alerts",
                "marketing_consent", "source_records", "updated_at"):
        assert col in gold.columns, col
    # every column is in the data dictionary with the type it really has, and carries its comment
    for field in gold.schema.fields:
        doc = column_doc("gold.customer_360", field.name)
        assert doc is not None, f"{field.name} is not in c360/resources/dictionary.yml"
        assert field.dataType.simpleString() == doc.type, field.name
    described = {r["col_name"]: r["comment"] for r in spark.sql("DESCRIBE TABLE gold.customer_360").collect()}
    assert "survivorship" in described["first_name"] and described["clv"].startswith("[transactional]")
    # record counts agree with the cross-reference, counted independently
    xref = read_table(spark, cfg, table("silver.customer_xref")).where("record_type = 'person'")
    expected = {r["customer_id"]: r["n"] for r in xref.groupBy("customer_id").agg(F.count("*").alias("n")).collect()}
    got = {r["customer_id"]: sum(r["source_records"].values()) for r in gold.select("customer_id", "source_records").collect()}
    assert got == expected


def test_every_gold_table_matches_the_data_dictionary(store, spark):
    cfg = store["cfg"]
    for fqn in ("gold.customer_features", "gold.customer_scores", "gold.next_best_offers", "gold.customer_alerts",
                "gold.cross_sell_rules", "gold.model_metrics", "gold.quality_results", "gold.audience_members",
                "gold.audience_runs"):
        for field in read_table(spark, cfg, table(fqn)).schema.fields:
            doc = column_doc(fqn, field.name)
            assert doc is not None and doc.type == field.dataType.simpleString(), (fqn, field.name)


def test_publish_again_changes_nothing_and_yesterday_stays_readable(store, spark):
    cfg = store["cfg"]
    spec = table("gold.customer_360")
    before = read_table(spark, cfg, spec).localCheckpoint()
    version = DeltaTable.forPath(spark, spec.path(cfg)).history(1).first()["version"]
    facts = run_job("publish", JobContext(cfg))
    assert (facts["inserted"], facts["updated"], facts["deleted"]) == (0, 0, 0)
    after = read_table(spark, cfg, spec)
    assert after.count() == before.count()
    def rows(df):  # every column, updated_at included (set operations refuse maps: compare as JSON)
        return {r[0] for r in df.select(F.to_json(F.struct(*before.columns))).collect()}

    assert rows(before) == rows(after)
    # a customer that changed is updated (its updated_at moves), one that disappeared is deleted
    gone = before.orderBy("customer_id").first()["customer_id"]
    changed = before.orderBy(F.desc("customer_id")).first()["customer_id"]
    golden = table("silver.golden_customer")
    kept = read_table(spark, cfg, golden).localCheckpoint()
    try:
        edited = (kept.where(F.col("customer_id") != gone)
                  .withColumn("city", F.when(F.col("customer_id") == changed, F.lit("Newtown")).otherwise(F.col("city"))))
        edited.write.format("delta").mode("overwrite").save(golden.path(cfg))
        facts = run_job("publish", JobContext(cfg))
        assert (facts["inserted"], facts["updated"], facts["deleted"]) == (0, 1, 1)
        now = read_table(spark, cfg, spec)
        assert now.where(F.col("customer_id") == gone).count() == 0
        row = now.where(F.col("customer_id") == changed).first()
        assert row["city"] == "Newtown" and row["updated_at"] > before.where(F.col("customer_id") == changed).first()["updated_at"]
        # time travel: the version before these publishes is intact
        old = spark.sql(f"SELECT * FROM gold.customer_360 VERSION AS OF {version}")
        assert old.count() == before.count() and old.where(F.col("customer_id") == gone).count() == 1
    finally:
        kept.write.format("delta").mode("overwrite").save(golden.path(cfg))
        run_job("publish", JobContext(cfg))


def test_gates_stored_their_results_and_wrote_the_data_docs(store, spark):
    cfg = store["cfg"]
    results = read_table(spark, cfg, table("gold.quality_results"))
    first_run = results.orderBy("checked_at").first()["run_id"]
    run = results.where(F.col("run_id") == first_run)
    tables = {r[0] for r in run.select("table_name").distinct().collect()}
    assert {"bronze.ingest_log", "silver.customer_xref", "silver.golden_customer", "gold.customer_features",
            "gold.customer_360"} <= tables
    assert any(t.startswith("bronze.") and t not in ("bronze.ingest_log", "bronze.quarantine") for t in tables)
    assert run.where("severity = 'critical' AND NOT success").count() == 0
    stages = {r[0] for r in run.select("stage").distinct().collect()}
    assert {"ingest", "resolve", "publish"} <= stages  # each gate ran after the stage that wrote the table
    docs = Path(cfg.reports_path) / "quality" / "index.html"
    assert docs.exists() and "gold.customer_360" in "".join(
        p.read_text(errors="ignore") for p in docs.parent.rglob("*.html"))


@pytest.mark.parametrize("breakage", ["duplicate", "orphan"])
def test_run_all_stops_with_exit_3_when_a_gold_invariant_breaks(store, spark, tmp_path, capsys, breakage):
    warehouse = tmp_path / "warehouse"
    shutil.copytree(store["warehouse"], warehouse)
    cfg = load_config("test", store["landing"], conf_root=REPO / "conf", warehouse=str(warehouse),
                      landing=str(store["landing"]))
    path = table("gold.customer_360").path(cfg)
    rows = spark.read.format("delta").load(path)
    bad = rows.limit(1)
    if breakage == "orphan":
        bad = bad.withColumn("customer_id", F.lit("c-ghost"))
    bad.localCheckpoint().write.format("delta").mode("append").save(path)
    capsys.readouterr()
    # publish keeps a duplicate it did not write (it updates changed rows only) and deletes rows not in the golden
    # record, so the duplicate is checked from publish on and the orphan by the quality stage itself
    start = "publish" if breakage == "duplicate" else "quality"
    code = main(["run", "all", "--from", start, *_args(store, warehouse)])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "gold.customer_360" in err
    expected = ("column_values_to_be_unique(customer_id)" if breakage == "duplicate"
                else "every customer_360 row is in silver.golden_customer")
    assert expected in err
    results = read_table(spark, cfg, table("gold.quality_results"))
    failed = results.where("NOT success AND table_name = 'gold.customer_360'").select("expectation").collect()
    assert any(expected in r[0] for r in failed)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_scorecard_renders_its_plots_in_headless_chromium(store, tmp_path):
    report = Path(store["cfg"].reports_path) / "scorecard.html"
    html = report.read_text()
    assert "<script" in html and not re.search(r"<script[^>]*\ssrc=", html)  # plotly.js embedded: opens offline
    browser = _chromium()
    assert browser, "headless Chromium is needed for this test: apt-get install chromium (see .ci/run)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=15000",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", report.as_uri()], capture_output=True, text=True,
                         timeout=180, check=True).stdout
    figures = len(re.findall(r'class="plotly-graph-div', dom))
    drawn = len(re.findall(r'class="main-svg"', dom))
    assert figures >= 10, f"{figures} plot containers"
    assert drawn >= figures, f"{drawn} drawn plots for {figures} containers: plotly did not render"
    for section in ("scorecard", "lifecycle", "churn", "cross-sell", "campaigns", "web", "identity", "quality"):
        assert f'id="{section}"' in dom, section
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "scorecard.png"
    subprocess.run([browser, *flags, "--hide-scrollbars", "--window-size=1400,4000", f"--screenshot={shot}",
                    report.as_uri()], capture_output=True, timeout=180, check=True)
    assert shot.exists() and shot.stat().st_size > 50_000


def _profile(store, key: str, capsys) -> tuple[int, dict | str]:
    capsys.readouterr()
    code = main(["profile", key, "--json", *_args(store)])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if code == 0 else out.err)


def test_profile_by_id_email_and_phone(store, spark, capsys):
    cfg = store["cfg"]
    person = read_table(spark, cfg, table("silver.person"))
    xref = read_table(spark, cfg, table("silver.customer_xref")).where("record_type = 'person'")
    linked = person.join(xref, ["source_system", "source_record_id"])
    # a customer whose email and phone belong to them alone
    unique_email = linked.groupBy("email").agg(F.countDistinct("customer_id").alias("n")).where("n = 1 AND email IS NOT NULL")
    unique_phone = linked.groupBy("phone").agg(F.countDistinct("customer_id").alias("n")).where("n = 1 AND phone IS NOT NULL")
    pick = (linked.join(unique_email.select("email"), "email").join(unique_phone.select("phone"), "phone")
            .orderBy("customer_id").first())
    cid = pick["customer_id"]
    code, by_id = _profile(store, cid, capsys)
    assert code == 0 and by_id["customer_id"] == cid
    expected_records = {(r["source_system"], r["source_record_id"]) for r in xref.where(F.col("customer_id") == cid).collect()}
    assert {(r["source_system"], r["source_record_id"]) for r in by_id["source_records"]} == expected_records
    assert by_id["golden_record"] and all("source_system" in v for v in by_id["golden_record"].values())
    for key in ("segments", "scores", "next_best_offers", "alerts", "recent_orders", "tickets", "recent_sessions"):
        assert key in by_id, key
    # the email typed with capitals and spaces, the phone in its national form: the same customer
    code, by_email = _profile(store, "  " + pick["email"].upper() + " ", capsys)
    assert code == 0 and by_email["customer_id"] == cid
    national = "0" + pick["phone"][3:] if pick["phone"].startswith("+61") else pick["phone"]
    code, by_phone = _profile(store, national, capsys)
    assert code == 0 and by_phone["customer_id"] == cid
    code, err = _profile(store, "nobody@example.invalid", capsys)
    assert code == 2 and "no customer with the email" in err
    code, err = _profile(store, "not a key", capsys)
    assert code == 2 and "not a customer_id" in err


def test_every_notebook_runs_against_the_warehouse(store):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 4
    for path in notebooks:  # committed without outputs
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), path
        assert not any(re.search(r"^\s*(def|class) ", c.source, re.M) for c in nb.cells if c.cell_type == "code"), path
    os.environ.update(C360_WAREHOUSE=str(store["warehouse"]), C360_LANDING=str(store["landing"]), C360_ENV="test")
    try:
        # one kernel (one Spark driver) runs every notebook in turn, each from its first cell
        first = nbformat.read(notebooks[0], as_version=4)
        client = NotebookClient(first, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(REPO / "notebooks")}})
        with client.setup_kernel():
            for path in notebooks:
                nb = nbformat.read(path, as_version=4)
                client.nb = nb
                for i, cell in enumerate(nb.cells):
                    client.execute_cell(cell, i)
                errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
                assert not errors, (path.name, errors)
    finally:
        for k in ("C360_WAREHOUSE", "C360_LANDING", "C360_ENV"):
            os.environ.pop(k, None)


def test_the_analysts_table_masks_and_tokenises_pii(store, spark):
    import hashlib
    import hmac

    cfg = store["cfg"]
    clear = read_table(spark, cfg, table("gold.customer_360"))
    analyst = read_table(spark, cfg, table("gold.customer_360_analyst"))
    assert analyst.count() == clear.count()
    assert not {"street", "national_id"} & set(analyst.columns)
    secret = (Path(cfg.system_path) / "privacy" / "token.key").read_text().strip()
    pairs = clear.join(analyst.select("customer_id", *[F.col(c).alias(f"a_{c}") for c in
                                                       ("email", "phone", "first_name", "date_of_birth",
                                                        "postcode", "lineage")]), "customer_id").collect()
    emails = {r["email"] for r in pairs if r["email"]}
    assert emails
    for r in pairs:
        for col in ("email", "phone"):
            expected = None if r[col] is None else "tok_" + hmac.new(
                secret.encode(), r[col].encode(), hashlib.sha256).hexdigest()[:16]
            assert r[f"a_{col}"] == expected, (r["customer_id"], col)
        assert r["a_first_name"] == (r["first_name"][0] + "***" if r["first_name"] else None)
        if r["date_of_birth"]:
            assert (r["a_date_of_birth"].year, r["a_date_of_birth"].month, r["a_date_of_birth"].day) == \
                (r["date_of_birth"].year, 1, 1)
        assert r["a_postcode"] == (r["postcode"][:3] if r["postcode"] else None)
        for attr in r["lineage"] or {}:
            assert r["a_lineage"][attr]["source_record_id"].startswith("tok_")
    text = " ".join(r[0] for r in analyst.select(F.to_json(F.struct(*analyst.columns))).collect())
    assert not any(e in text for e in emails)


def test_marketing_never_reaches_a_customer_without_consent(store, spark):
    cfg = store["cfg"]
    no = read_table(spark, cfg, table("gold.customer_360")).where("marketing_consent = false").select("customer_id")
    assert no.count() > 0
    assert read_table(spark, cfg, table("gold.next_best_offers")).join(no, "customer_id").count() == 0
    marketing = [a.name for a in cfg.alerts if a.purpose == "marketing"]
    assert marketing
    alerts = read_table(spark, cfg, table("gold.customer_alerts")).where(F.col("alert").isin(marketing))
    assert alerts.join(no, "customer_id").count() == 0


def _delta_tables(warehouse: Path) -> list[Path]:
    return sorted(p.parent for p in warehouse.rglob("_delta_log") if p.is_dir())


def test_forget_erases_a_person_everywhere_and_a_rerun_does_not_bring_them_back(store, spark, capsys):
    """Last in this module: it erases a person from the module's warehouse and landing files."""
    from c360.io.delta import write_table

    cfg = store["cfg"]
    warehouse, landing = Path(store["warehouse"]), Path(store["landing"])
    person = read_table(spark, cfg, table("silver.person"))
    xref = read_table(spark, cfg, table("silver.customer_xref"))
    linked = person.join(xref.where("record_type = 'person'"), ["source_system", "source_record_id"])
    unique = linked.groupBy("email").agg(F.countDistinct("customer_id").alias("n")).where("n = 1")
    objects = read_table(spark, cfg, table("silver.object_xref")).where("object_type = 'order'")
    cookies = xref.where("record_type = 'cookie'").groupBy("customer_id").count()
    pick = (linked.join(unique.select("email"), "email").join(objects.select("customer_id").distinct(), "customer_id")
            .join(cookies.select("customer_id"), "customer_id").orderBy("customer_id").first())
    cid, email = pick["customer_id"], pick["email"]
    mine = xref.where(F.col("customer_id") == cid).collect()
    records = [(r["source_system"], r["source_record_id"]) for r in mine]
    phones = {r["phone"] for r in linked.where(F.col("customer_id") == cid).collect() if r["phone"]}
    order_ids = {r["object_id"] for r in objects.where(F.col("customer_id") == cid).collect()}
    quoted = {f'"{v}"' for v in {cid, *phones, *order_ids, *(i for _, i in records), *(f"{s}:{i}" for s, i in records)}}
    others = {r[0] for r in read_table(spark, cfg, table("gold.customer_360")).select("customer_id").collect()} - {cid}
    # a quarantined row and a quality example naming them; a quarantined row of someone else stays
    q = table("bronze.quarantine")
    write_table(spark, cfg, q, spark.createDataFrame(
        [("crm", f'broken,"{email.upper()}",,', "planted", "f", "h-mine"),
         ("crm", 'broken,"someone.else@example.org",,', "planted", "f", "h-other")],
        "source_system string, raw string, reason string, _source_file string, _row_hash string")
        .withColumn("_ingested_at", F.current_timestamp()))
    assert main(["forget", f" {email.upper()} ", "--reference", "REQ-7", "--retention-hours", "0",
                 "--ignore-retention-check", *_args(store)]) == 0

    def leaks(text: str) -> list[str]:
        return [t for t in quoted if t in text] + ([email] if email in text.lower() else [])

    # no data file left on disk holds anything of the person: no version of any table can show them, whatever
    # time travel asks for (a version reads only files that are there; a row a deletion vector merely hides
    # would be found here too)
    for path in _delta_tables(warehouse):
        for f in path.rglob("*.parquet"):
            if "_delta_log" not in f.parts:
                text = json.dumps(pq.ParquetFile(f).read().to_pylist(), default=str)  # the file alone
                assert not leaks(text), (str(f), leaks(text)[:3])
    assert read_table(spark, cfg, q).where("_row_hash = 'h-other'").count() == 1
    # nor do the files c360 wrote: landing (the generator's, ground truth included), reports, run summaries
    for folder in (landing, warehouse / "_system", Path(cfg.reports_path), warehouse / "exports"):
        for f in (p for p in folder.rglob("*") if p.is_file() and p.suffix in (".csv", ".json", ".jsonl", ".html")):
            assert not leaks(f.read_text(errors="ignore")), (str(f), leaks(f.read_text(errors="ignore"))[:3])
    for f in (warehouse / "exports").rglob("*.parquet"):  # the audience files, Parquet too
        assert cid not in pq.read_table(f).column("customer_id").to_pylist(), str(f)
    log = read_table(spark, cfg, table("gold.erasure_log")).collect()
    assert len(log) == 1 and log[0]["key_type"] == "email" and log[0]["reference"] == "REQ-7"
    assert log[0]["customers"] >= 1 and log[0]["rows_erased"]["silver.person"] >= 1
    # keyed hashes, not values, keep the person out of later audiences
    from c360.pipelines import publish
    secret = publish.token_secret(JobContext(cfg=cfg))
    assert privacy.token_value(email, secret) in log[0]["suppression_tokens"]
    assert privacy.token_value(cid, secret) in log[0]["suppression_tokens"]
    assert not any(email in t or cid in t for t in log[0]["suppression_tokens"])
    # the next run takes in the rewritten landing files; the person does not come back, nobody else goes
    assert main(["run", "all", *_args(store)]) == 0
    gold = read_table(spark, cfg, table("gold.customer_360"))
    assert gold.where(F.lower("email") == email).count() == 0
    assert {r[0] for r in gold.select("customer_id").collect()} == others
