"""A user's own sources only, end to end: a person register shaped like no generator of ours, a second
person source with hand-built records for each way foreign data broke identity resolution, and its orders.
No sample source takes part. Expected values are hand-written (who is whom) and the register's truth."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F

from c360.cli import main
from c360.config import load_config
from c360.generate.registry import generate_registry
from c360.io.delta import exists, read_table
from c360.pipelines import JobContext, run_job
from c360.resolve.evaluate import identity_metrics
from c360.tables import bronze_table, table

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]

CLINIC = """
  - name: clinic
    kind: person
    format: csv
    path: clinic/*.csv
    options: {header: true}
    id: cid
    fields:
      first_name: given
      last_name: family
      date_of_birth: "to_date(dob, 'yyyy-MM-dd')"
      street: street
      city: town
      postcode: pc
      state: state
      national_id: nid
  - name: clinic_orders
    kind: order
    format: csv
    path: clinic_orders/*.csv
    options: {header: true}
    fields: {order_id: oid, person_source: "'clinic'", person_ref: cid, order_ts: "to_timestamp(at)",
             amount: "cast(amount as double)"}
"""
COLS = ["cid", "given", "family", "dob", "street", "town", "pc", "state", "nid"]
HAND_BUILT = [
    # a birth date with one digit wrong (03 -> 08), the id missing on one side: one person
    ("K1", "Wilhelmina", "Quartermaine", "1971-03-14", "12 Banksia Road", "Dunmore", "2529", "NSW", "551234987"),
    ("K2", "Wilhelmina", "Quartermaine", "1971-08-14", "12 Banksia Road", "Dunmore", "2529", "NSW", ""),
    # exact names and postcode, one birth date missing: one person
    ("M1", "Ignatius", "Pemberton", "1980-05-05", "3 Larch Close", "Tumut", "2720", "NSW", ""),
    ("M2", "Ignatius", "Pemberton", "", "3 Larch Close", "Tumut", "2720", "NSW", ""),
    # both names misspelt and a new address, the national id agrees: one person
    ("D1", "Rosalind", "Achterberg", "1958-11-02", "40 Tallowwood Way", "Bellingen", "2454", "NSW", "771200345"),
    ("D2", "Rosalynd", "Achterburg", "", "7 Casuarina Place", "Yamba", "2464", "NSW", "771200345"),
    # no key in common but the typo-tolerant names + year of birth (a day typo, a postcode typo, no town
    # or state)
    ("T1", "Bartholomew", "Fenwickgray", "1965-07-19", "88 Quarry Rd", "Orange", "2800", "NSW", ""),
    ("T2", "Bartholomew", "Fenwickgray", "1965-07-10", "88 Quarry Rd", "", "2880", "", ""),
    # same name, another birth year, address and id: two people
    ("P1", "Cornelius", "Vandersloot", "1949-02-27", "5 Myrtle St", "Albany", "6330", "WA", "120004567"),
    ("P2", "Cornelius", "Vandersloot", "1987-10-30", "61 Ironbark Ave", "Cairns", "4870", "QLD", "998877665"),
]
ORDERS = [("O1", "K1", "2024-06-01T10:00:00", "50.0"), ("O2", "K2", "2025-04-01T10:00:00", "70.0"),
          ("O3", "P1", "2025-05-01T10:00:00", "20.0")]


@pytest.fixture(scope="module")
def user(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("foreign")
    landing, conf = root / "landing", root / "conf"
    cfg0 = load_config("test", conf_root=REPO / "conf")
    # the register: its own files, truth and sources.yml; the user's conf adds the clinic to that list
    generate_registry(landing, cfg0.generate.registry, people=250, seed=3)
    conf.mkdir()
    text = (landing / "sources.yml").read_text()
    (conf / "sources.yml").write_text(text.rstrip("\n") + "\n" + CLINIC)
    for name, rows, cols in (("clinic", HAND_BUILT, COLS), ("clinic_orders", ORDERS, ["cid", "oid", "at", "amount"])):
        (landing / name).mkdir()
        data = rows if name == "clinic" else [(c, o, t, a) for o, c, t, a in rows]
        pd.DataFrame(data, columns=cols).to_csv(landing / name / "part-0.csv", index=False)
    cfg = load_config("test", conf, conf_root=REPO / "conf", warehouse=str(root / "warehouse"), landing=str(landing))
    ctx = JobContext(cfg)
    facts = {job: run_job(job, ctx) for job in ("ingest", "standardize", "resolve", "features")}
    xref = read_table(spark, cfg, table("silver.customer_xref")).where("record_type = 'person'")
    ids = {f"{r['source_system']}:{r['source_record_id']}": r["customer_id"] for r in xref.collect()}
    return {"root": root, "landing": landing, "conf": conf, "cfg": cfg, "facts": facts, "ids": ids}


def test_only_the_users_sources_take_part(user, spark):
    cfg = user["cfg"]
    assert [s.name for s in cfg.sources] == ["registry", "clinic", "clinic_orders"]
    assert not exists(spark, cfg, bronze_table("crm"))
    systems = {r[0] for r in read_table(spark, cfg, table("silver.person")).select("source_system").distinct().collect()}
    assert systems == {"registry", "clinic"}


def test_each_foreign_failure_mode_resolves(user, spark):
    c = {k.split(":", 1)[1]: v for k, v in user["ids"].items() if k.startswith("clinic:")}
    assert c["K1"] == c["K2"], "a typo'd birth date is evidence weighed by the model, not a veto"
    assert c["M1"] == c["M2"], "exact names and postcode with one birth date missing"
    assert c["D1"] == c["D2"], "a national id that agrees"
    assert c["T1"] == c["T2"], "a pair only a typo-tolerant key brings together"
    assert c["P1"] != c["P2"], "namesakes with everything else different"
    edges = read_table(spark, user["cfg"], table("silver.identity_edges"))
    pairs = {(r["left_key"], r["right_key"]): r for r in edges.where(F.col("left_key").startswith("clinic:")).collect()}
    k = pairs[("clinic:K1", "clinic:K2")]
    assert k["levels"]["date_of_birth"] == "typo" and list(k["cannot_link_rules"]) == []
    assert list(pairs[("clinic:T1", "clinic:T2")]["blocked_by"]) == ["names_birth_year"]
    assert pairs[("clinic:D1", "clinic:D2")]["levels"]["national_id"] == "exact"


def test_register_quality_against_its_truth(user, spark):
    cfg, landing = user["cfg"], user["landing"]
    truth = spark.read.parquet(str(landing / "_truth" / "person_records_0000.parquet"))
    xref = read_table(spark, cfg, table("silver.customer_xref")).where("source_system = 'registry'")
    m = identity_metrics(xref.join(truth, ["source_system", "source_record_id"]))
    # 250 people and their copies: a small sample for EM; docs/benchmarks.md has the 5,000-people figures
    assert m["pairwise_precision"] >= 0.97 and m["pairwise_recall"] >= 0.95, m
    report = user["facts"]["resolve"]
    assert report["candidate_pairs"] > 0 and 0 < report["pairs_completeness_estimate"] <= 1


def test_orders_reach_the_customers_features(user, spark):
    feats = read_table(spark, user["cfg"], table("gold.customer_features"))
    cid = user["ids"]["clinic:K1"]
    row = feats.where(F.col("customer_id") == cid).first()
    assert row is not None and row["frequency"] == 2
    assert feats.count() == len(set(user["ids"].values()))


def test_nothing_to_compare_fails_and_says_why(tmp_path, spark, capsys):
    landing, conf = tmp_path / "landing", tmp_path / "conf"
    (landing / "people").mkdir(parents=True)
    conf.mkdir()
    pd.DataFrame([("1", "Ann", "Lee", "Perth"), ("2", "Bob", "Ray", "Hobart"), ("3", "Cy", "Oz", "Darwin")],
                 columns=["id", "fn", "ln", "town"]).to_csv(landing / "people" / "p.csv", index=False)
    (conf / "sources.yml").write_text("sources:\n  - {name: people, kind: person, format: csv, path: people/*.csv,"
                                      " options: {header: true}, id: id,"
                                      " fields: {first_name: fn, last_name: ln, city: town}}\n")
    args = ["--env", "test", "--conf", str(conf), "--landing", str(landing), "--warehouse", str(tmp_path / "wh")]
    assert main(["ingest", *args]) == 0 and main(["standardize", *args]) == 0
    capsys.readouterr()
    assert main(["resolve", *args]) == 1
    err = capsys.readouterr().err
    assert "made no candidate pair among 3 records" in err and "names_city" in err


def test_readme_bring_your_own_example_runs_as_written(tmp_path, spark, monkeypatch):
    """The README's own-sources example, command for command, in a copy of the repository's examples."""
    import shlex

    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- own-sources-example -->", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.startswith("c360 ")]
    assert commands, "the README's own-sources example has no c360 command"
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    for line in commands:
        assert main(shlex.split(line)[1:]) == 0, line
    cfg = load_config("local", tmp_path / "examples" / "my_shop" / "conf", conf_root=REPO / "conf",
                      warehouse=str(tmp_path / "data" / "my_shop"))
    xref = read_table(spark, cfg, table("silver.customer_xref")).where("record_type = 'person'")
    ids = {r["source_record_id"]: r["customer_id"] for r in xref.collect()}
    # the shop's eight customer records are five people (hand-checked in examples/my_shop/landing)
    assert ids["1001"] == ids["1002"] and ids["1003"] == ids["1004"] and ids["1006"] == ids["1007"]
    assert len(set(ids.values())) == 5
    feats = {r["customer_id"]: r["frequency"] for r in read_table(spark, cfg, table("gold.customer_features")).collect()}
    assert feats[ids["1001"]] == 3 and feats[ids["1003"]] == 2 and feats[ids["1008"]] == 1
