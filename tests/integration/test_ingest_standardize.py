"""generate -> ingest -> standardize on a small sample; expected values from the generator's ground truth."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F

from c360.cli import main
from c360.config import load_config
from c360.generate.synth import SAMPLE_SOURCES, GenParams, generate
from c360.io.delta import read_table, table_version
from c360.pipelines import JobContext, run_job
from c360.tables import TABLES, bronze_table

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
PEOPLE = 300


def _cfg(tmp: Path, landing: Path, conf: Path | list[Path] | None = None):
    """The test configuration; without ``conf``, the sources.yml the generator wrote beside its files."""
    return load_config("test", conf or landing, conf_root=REPO / "conf", warehouse=str(tmp / "warehouse"),
                       landing=str(landing))


@pytest.fixture(scope="module")
def sample(tmp_path_factory, spark):
    """A generated company, ingested and standardised once for the module."""
    root = tmp_path_factory.mktemp("sample")
    landing = root / "landing"
    generate(landing, GenParams(people=PEOPLE, seed=7, malformed_rate=0.03, chunk_size=200))
    cfg = _cfg(root, landing)
    ctx = JobContext(cfg)
    first = run_job("ingest", ctx)
    run_job("standardize", ctx)
    return {"root": root, "landing": landing, "cfg": cfg, "first": first}


def test_generator_is_deterministic(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        generate(out, GenParams(people=120, seed=seed, chunk_size=50))
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.name != "_SUCCESS")
    assert len(files) > 20
    match, mismatch, errors = filecmp.cmpfiles(a, b, [str(f) for f in files], shallow=False)
    assert not mismatch and not errors
    assert not filecmp.cmp(a / "crm" / "crm_contacts_0000.csv", c / "crm" / "crm_contacts_0000.csv", shallow=False)


def test_generator_truth_covers_every_person_record(sample):
    truth = pd.concat(
        pd.read_parquet(p) for p in (sample["landing"] / "_truth").glob("person_records_*.parquet"))
    assert set(truth["source_system"]) == {"crm", "webshop", "loyalty"}
    assert truth["person_id"].nunique() == PEOPLE  # everyone is known to at least one system
    assert truth.groupby("source_system")["source_record_id"].apply(lambda s: s.is_unique).all()


def test_reconciliation_matches_generator_truth(spark, sample):
    cfg, landing = sample["cfg"], sample["landing"]
    manifest = json.loads((landing / "_truth" / "manifest.json").read_text())
    malformed = pd.read_csv(landing / "_truth" / "malformed.csv")
    log = read_table(spark, cfg, TABLES["bronze.ingest_log"]).toPandas()
    per_source = log.groupby("source_system")[["rows_read", "rows_kept", "rows_quarantined"]].sum()
    # rows read = rows written by the generator; read = kept + quarantined; quarantined = planted malformed
    assert per_source["rows_read"].to_dict() == manifest["rows"]
    assert (per_source["rows_read"] == per_source["rows_kept"] + per_source["rows_quarantined"]).all()
    planted = malformed.groupby("source").size()
    assert per_source["rows_quarantined"][per_source["rows_quarantined"] > 0].to_dict() == planted.to_dict()
    for source in manifest["rows"]:
        kept = read_table(spark, cfg, bronze_table(source)).count()
        assert kept == per_source.loc[source, "rows_kept"]


def test_each_malformed_kind_lands_in_quarantine_with_its_reason(spark, sample):
    q = read_table(spark, sample["cfg"], TABLES["bronze.quarantine"])
    reasons = {(r["source_system"], r["reason"].split(":")[0]) for r in q.select("source_system", "reason").collect()}
    kinds = pd.read_csv(sample["landing"] / "_truth" / "malformed.csv")
    expected_reason = {"wrong_column_count": "unparseable CSV row (malformed or wrong number of columns)",
                       "broken_json": "unparseable JSON row (malformed or wrong number of columns)",
                       "impossible_date": "column 'dob'", "bad_type": None}
    for source, kind in set(zip(kinds["source"], kinds["kind"], strict=True)):
        want = expected_reason[kind] or {"support": "column 'created'", "clickstream": "column 'event_ts'"}[source]
        assert (source, want) in reasons, (source, kind, sorted(reasons))
    if ((kinds["source"] == "crm") & (kinds["kind"] == "impossible_date")).any():
        raw = q.where("reason like \"column 'dob'%\"").select("raw").first()
        assert raw is not None and "31/02/1990" in raw["raw"]
    assert q.where(F.col("raw").isNull() | F.col("_source_file").isNull()).count() == 0


def test_ingest_twice_adds_nothing(spark, sample):
    cfg = sample["cfg"]
    versions = {s.name: table_version(spark, cfg, bronze_table(s.name)) for s in cfg.enabled_sources}
    again = run_job("ingest", JobContext(cfg))
    assert again["files"] == 0 and again["rows_read"] == 0
    assert versions == {s.name: table_version(spark, cfg, bronze_table(s.name)) for s in cfg.enabled_sources}


def test_new_file_is_picked_up_alone(spark, tmp_path):
    landing = tmp_path / "landing"
    generate(landing, GenParams(people=60, seed=11, malformed_rate=0.0, chunk_size=60))
    cfg = _cfg(tmp_path, landing)
    run_job("ingest", JobContext(cfg))
    before = read_table(spark, cfg, bronze_table("crm")).count()
    extra = landing / "crm" / "crm_contacts_9999.csv"
    shutil.copy(landing / "crm" / "crm_contacts_0000.csv", extra)
    lines = extra.read_text().splitlines()
    extra.write_text("\n".join(lines[:6]) + "\n")  # header + 5 rows
    second = run_job("ingest", JobContext(cfg))
    assert second["files"] == 1 and second["rows_read"] == 5
    assert read_table(spark, cfg, bronze_table("crm")).count() == before + 5
    files = read_table(spark, cfg, TABLES["bronze.ingest_log"]).where("source_system = 'crm'") \
        .groupBy("run_id").agg(F.collect_list("_source_file").alias("f")).collect()
    assert sorted(len(r["f"]) for r in files) == [1, 1]


def test_silver_person_matches_truth_and_is_deduplicated(spark, sample):
    cfg, landing = sample["cfg"], sample["landing"]
    person = read_table(spark, cfg, TABLES["silver.person"])
    truth = pd.concat(pd.read_parquet(p) for p in (landing / "_truth").glob("person_records_*.parquet"))
    q = read_table(spark, cfg, TABLES["bronze.quarantine"]).where("source_system in ('crm','webshop','loyalty')").count()
    got = {(r[0], r[1]) for r in person.select("source_system", "source_record_id").collect()}
    want = set(zip(truth["source_system"], truth["source_record_id"], strict=True))
    # every truth record is in silver unless its row was quarantined; nothing else is
    assert got <= want and len(want - got) <= q
    assert person.count() == len(got)
    # phones are E.164, emails lower case
    bad_phone = person.where("phone is not null and not phone rlike '^\\\\+[1-9][0-9]{7,14}$'").count()
    assert bad_phone == 0
    assert person.where("email != lower(email)").count() == 0
    # the names in silver equal the truth person's names for most records (typos/nicknames aside)
    people = pd.read_parquet(landing / "_truth" / "people.parquet")
    joined = person.toPandas().merge(truth, on=["source_system", "source_record_id"]).merge(people, on="person_id",
                                                                                           suffixes=("", "_true"))
    same_last = (joined["last_name_key"] == joined["last_name_true"].str.lower().str.replace(r"[^a-z]", "", regex=True)
                 .str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii"))
    assert same_last.mean() > 0.85


def test_events_replays_removed(spark, sample):
    cfg = sample["cfg"]
    bronze = read_table(spark, cfg, bronze_table("clickstream"))
    silver = read_table(spark, cfg, TABLES["silver.events"])
    assert silver.count() == bronze.select("event_id").distinct().count() < bronze.count()
    assert silver.where("event_ts is null").count() == 0


def test_standardize_is_idempotent(spark, sample):
    cfg = sample["cfg"]
    before = {t: read_table(spark, cfg, TABLES[t]).drop("_ingested_at").toPandas().sort_values(
        list(TABLES[t].keys)).reset_index(drop=True) for t in ("silver.person", "silver.orders")}
    run_job("standardize", JobContext(cfg))
    for t, df in before.items():
        after = read_table(spark, cfg, TABLES[t]).drop("_ingested_at").toPandas().sort_values(
            list(TABLES[t].keys)).reset_index(drop=True)
        pd.testing.assert_frame_equal(df, after)


def test_late_update_replaces_older_version_but_old_replay_does_not(spark, tmp_path):
    landing = tmp_path / "landing"
    (landing / "crm").mkdir(parents=True)
    header = ("contact_id,given_name,surname,email_address,phone,dob,street_number,address_1,suburb,postcode,"
              "state,last_modified,marketing_opt_in\n")
    (landing / "crm" / "a.csv").write_text(header + "C1,Ann,Lee,ann@x.com,0412345678,01/02/1980,1,King St,Bondi,2026,"
                                                    "NSW,01/01/2025 10:00,Y\n")
    # the sample company's mapping, and an overlay that inherits it and switches off all but the CRM
    samples, conf = tmp_path / "samples", tmp_path / "conf"
    samples.mkdir()
    conf.mkdir()
    shutil.copy(SAMPLE_SOURCES, samples / "sources.yml")
    (conf / "sources.yml").write_text("inherit: true\nsources:\n" + "".join(
        f"  - {{name: {n}, enabled: false, kind: person, format: csv, path: x}}\n"
        for n in ("webshop", "loyalty", "orders", "order_lines", "products", "clickstream", "support", "enrichment",
                  "social", "campaign_responses")))
    cfg = _cfg(tmp_path, landing, [samples, conf])
    assert [s.name for s in cfg.enabled_sources] == ["crm"]
    for name, row in (("b.csv", "C1,Ann,Lee,ann@new.com,0412345678,01/02/1980,9,Queen St,Manly,2095,NSW,01/06/2025 10:00,Y"),
                      ("c.csv", "C1,Ann,Lee,ann@old.com,0412345678,01/02/1980,1,King St,Bondi,2026,NSW,01/01/2024 10:00,Y")):
        if name == "b.csv":
            run_job("ingest", JobContext(cfg))
            run_job("standardize", JobContext(cfg))
        (landing / "crm" / name).write_text(header + row + "\n")
        run_job("ingest", JobContext(cfg))
        run_job("standardize", JobContext(cfg))
    row = read_table(spark, cfg, TABLES["silver.person"]).where("source_record_id = 'C1'").collect()
    assert len(row) == 1 and row[0]["email"] == "ann@new.com" and row[0]["postcode"] == "2095"


def test_user_source_mapped_only_through_conf(spark, tmp_path, capsys):
    """A partner system with its own column names reaches silver.person with no code change."""
    landing = tmp_path / "landing"
    (landing / "partners").mkdir(parents=True)
    (landing / "partners" / "p1.csv").write_text(
        "pid;fname;lname;mail;mob;born\nX1;Zoë;O'Brien;ZOE@EXAMPLE.COM;0412 345 678;19900102\n"
        "X2;bob;smith;bob@example;;not-a-date\n")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "sources.yml").write_text("""sources:
  - name: partners
    kind: person
    format: csv
    path: partners/*.csv
    options: {header: true, delimiter: ";"}
    id: pid
    fields: {first_name: fname, last_name: lname, email: mail, phone: mob, date_of_birth: "to_date(born, 'yyyyMMdd')"}
""")
    args = ["--env", "test", "--conf", str(conf), "--landing", str(landing), "--warehouse", str(tmp_path / "wh")]
    assert main(["ingest", *args]) == 0
    assert main(["standardize", *args]) == 0
    cfg = load_config("test", conf, conf_root=REPO / "conf", warehouse=str(tmp_path / "wh"), landing=str(landing))
    rows = {r["source_record_id"]: r for r in read_table(spark, cfg, TABLES["silver.person"]).collect()}
    assert rows["X1"]["source_system"] == "partners"
    assert (rows["X1"]["first_name"], rows["X1"]["last_name"], rows["X1"]["email"], rows["X1"]["phone"]) == (
        "Zoë", "O'brien", "zoe@example.com", "+61412345678")
    assert str(rows["X1"]["date_of_birth"]) == "1990-01-02"
    assert rows["X2"]["first_name_canonical"] == "robert" and rows["X2"]["email_valid"] is False
    assert rows["X2"]["date_of_birth"] is None


def test_misconfigured_sources_fail_before_writing(tmp_path, capsys):
    landing = tmp_path / "landing"
    (landing / "crm").mkdir(parents=True)
    (landing / "crm" / "a.csv").write_text("contact_id,given_name\nC1,Ann\n")
    wh = tmp_path / "wh"
    cases = {
        "missing path": ("path: nowhere/*.csv", "fields: {first_name: given_name}", "key 'path': no files match"),
        "missing column": ("path: crm/*.csv", "fields: {first_name: givenname}", "key 'fields.first_name'"),
        "unknown format": ("path: crm/*.csv\n    format: xml", "fields: {first_name: given_name}", "key 'format'"),
    }
    for label, (path, fields, message) in cases.items():
        conf = tmp_path / label.replace(" ", "_")
        conf.mkdir()
        fmt = "" if "format:" in path else "\n    format: csv"
        (conf / "sources.yml").write_text(
            "sources:\n"
            f"  - name: crm\n    kind: person{fmt}\n    {path}\n    options: {{header: true}}\n    {fields}\n")
        code = main(["ingest", "--env", "test", "--conf", str(conf), "--landing", str(landing), "--warehouse", str(wh)])
        err = capsys.readouterr().err
        assert code == 2, (label, err)
        assert "source 'crm'" in err and message in err, (label, err)
        assert not (wh / "bronze").exists(), label


def _only(conf: Path, extra: str) -> None:
    """A sources.yml of the user's own: the run's whole list of sources."""
    conf.mkdir(exist_ok=True)
    (conf / "sources.yml").write_text("sources:\n" + extra)


def test_delta_source_is_ingested_once_per_version(spark, tmp_path):
    src = tmp_path / "landing" / "members_delta"
    spark.createDataFrame([("M1", "Ann", "Lee"), ("M2", "Bob", "Ray")], "mid string, fn string, ln string") \
        .write.format("delta").save(str(src))
    conf = tmp_path / "conf"
    _only(conf, "  - {name: members, kind: person, format: delta, path: members_delta, id: mid, "
                "fields: {first_name: fn, last_name: ln}}\n")
    cfg = _cfg(tmp_path, tmp_path / "landing", conf)
    assert run_job("ingest", JobContext(cfg))["rows_read"] == 2
    assert run_job("ingest", JobContext(cfg))["files"] == 0
    run_job("standardize", JobContext(cfg))
    names = {r["first_name_canonical"] for r in read_table(spark, cfg, TABLES["silver.person"]).collect()}
    assert names == {"anne", "robert"}  # nicknames.csv: ann -> anne, bob -> robert


PARTNERS = """  - name: partners
    kind: person
    format: csv
    path: partners/*.csv
    options: {header: true}
    id: pid
    fields: {first_name: fname, last_name: lname, email: mail}
"""


def test_a_source_that_adds_and_moves_columns_is_read_by_header(spark, tmp_path, capsys):
    """Files of one source with different headers, in one run and across runs: each file's values land under
    its own header's names (Spark alone reads CSV columns by position), a new column is kept in bronze, and
    standardize goes on; a file that drops a mapped column stops the run before anything is written."""
    landing, conf, wh = tmp_path / "landing", tmp_path / "conf", tmp_path / "wh"
    (landing / "partners").mkdir(parents=True)
    _only(conf, PARTNERS)
    (landing / "partners" / "a.csv").write_text("pid,fname,lname,mail\nP1,Ann,Lee,ann@example.com\n")
    args = ["--env", "test", "--conf", str(conf), "--landing", str(landing), "--warehouse", str(wh)]
    assert main(["ingest", *args]) == 0
    # the next run sees two new files: one adds `tier` and moves `mail` first, one adds `tier` at the end
    (landing / "partners" / "b.csv").write_text("mail,pid,tier,fname,lname\nbo@example.com,P2,gold,Bo,Ng\n")
    (landing / "partners" / "c.csv").write_text("pid,fname,lname,mail,tier\nP3,Cy,Ode,cy@example.com,silver\n")
    assert main(["ingest", *args]) == 0
    cfg = load_config("test", conf, conf_root=REPO / "conf", warehouse=str(wh), landing=str(landing))
    bronze = {r["pid"]: r.asDict() for r in read_table(spark, cfg, bronze_table("partners")).collect()}
    assert {p: (r["fname"], r["lname"], r["mail"], r["tier"]) for p, r in bronze.items()} == {
        "P1": ("Ann", "Lee", "ann@example.com", None), "P2": ("Bo", "Ng", "bo@example.com", "gold"),
        "P3": ("Cy", "Ode", "cy@example.com", "silver")}
    assert read_table(spark, cfg, TABLES["bronze.quarantine"]).count() == 0
    assert main(["standardize", *args]) == 0
    person = {r["source_record_id"]: r["email"] for r in read_table(spark, cfg, TABLES["silver.person"]).collect()}
    assert person == {"P1": "ann@example.com", "P2": "bo@example.com", "P3": "cy@example.com"}

    version = table_version(spark, cfg, bronze_table("partners"))
    (landing / "partners" / "d.csv").write_text("pid,fname,lname,tier\nP4,Di,Ray,gold\n")
    capsys.readouterr()
    assert main(["ingest", *args]) == 2
    err = capsys.readouterr().err
    assert "source 'partners', key 'fields.email'" in err and "d.csv" in err, err
    assert table_version(spark, cfg, bronze_table("partners")) == version
