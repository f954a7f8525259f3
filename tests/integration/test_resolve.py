"""`c360 resolve` end to end: a generated company plus hand-built records of a user's own source (mapped
only through --conf), checked against hand-written expectations and the generator's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F

from c360.cli import main
from c360.config import load_config
from c360.generate.synth import GenParams, generate
from c360.io.delta import read_table
from c360.pipelines import JobContext, run_job
from c360.tables import table

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
PEOPLE = 300

PARTNER_SOURCE = """
inherit: true   # added to the sample company's sources (the generator's sources.yml, the first --conf)
sources:
  - name: partner
    kind: person
    format: csv
    path: partner/*.csv
    options: {header: true}
    priority: 5
    id: pid
    fields:
      first_name: fname
      last_name: lname
      email: mail
      phone: tel
      date_of_birth: "to_date(birth, 'yyyy-MM-dd')"
      street: addr
      postcode: pc
      updated_at: "to_timestamp(changed)"
resolve:
  blocking: {max_block_size: 20, block_size_skew: 0}   # a fixed cap: no raise from the data's own blocks
  em: {min_pairs: 100}
"""
COLS = ["pid", "fname", "lname", "mail", "tel", "birth", "addr", "pc", "changed"]
HAND_BUILT = [
    # nickname + typo: one person
    ("N1", "Robert", "Quennellworth", "rob.q@example.com", "0412 555 001", "1980-01-02", "12 Smith St", "2000", "2025-01-01"),
    ("N2", "Bob", "Quenellworth", "Rob.Q@example.com ", "0412555001", "1980-01-02", "12 Smith Street", "2000", "2025-02-01"),
    # a household sharing email and address: two people
    ("H1", "Alice", "Fairweather", "fairweathers@example.com", "0412 555 010", "1975-03-04", "5 Hill Rd", "3000", "2025-01-01"),
    ("H2", "Brian", "Fairweather", "fairweathers@example.com", "0412 555 011", "1972-07-08", "5 Hill Rd", "3000", "2025-01-01"),
    # senior and junior of one first name sharing the family email and address, each with his own phone,
    # one without a birth date: two people (cannot_link rule shared_email_household)
    ("J1", "Jerzy", "Kowalczyk", "kowalczyks@example.com", "0412 555 040", "1961-02-03", "8 Elm St", "2600", "2025-01-01"),
    ("J2", "Jerzy", "Kowalczyk", "kowalczyks@example.com", "0498 761 234", "", "8 Elm St", "2600", "2025-01-01"),
    # same name and birth date, everything else different: two people
    ("T1", "Carla", "Montgomery", "carla.m@example.com", "0412 555 020", "1990-05-06", "1 Beach Rd", "4000", "2025-01-01"),
    ("T2", "Carla", "Montgomery", "cm1990@example.org", "0433 902 715", "1990-05-06", "99 Mountain Ave", "6000", "2025-01-01"),
    # a chain: C1-C2 share an email, C2-C3 a phone; C1 and C3 share no blocking key
    ("C1", "Dana", "Whitcombe", "dana.w@example.com", "", "1985-09-10", "7 Lake St", "5000", "2025-01-01"),
    ("C2", "Dana", "Whitcombe", "dana.w@example.com", "0412 555 030", "", "7 Lake St", "5000", "2025-03-01"),
    ("C3", "Dana", "Whitcombe", "dw@work.example.com", "0412 555 030", "", "7 Lake St", "5001", "2025-02-01"),
]
SKEW_NAMES = ["Ava", "Ben", "Cody", "Dora", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jade", "Kai", "Lena", "Milo",
              "Nina", "Otto", "Pia", "Quin", "Rosa", "Sami", "Tara", "Ugo", "Vera", "Wade", "Xena", "Yuri"]
SKEW = [(f"S{i}", n, f"Z{n.lower()}ski", "info@acme-corp.com.au", "", "", "", "", "2025-01-01")
        for i, n in enumerate(SKEW_NAMES)]


def _write_partner(landing: Path, name: str, rows) -> None:
    (landing / "partner").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=COLS).to_csv(landing / "partner" / name, index=False)


def _confs(company) -> list[str]:
    """The sample company's sources.yml (beside its files), then the partner overlay that inherits it."""
    return ["--conf", str(company["landing"]), "--conf", str(company["conf"])]


def _xref(cfg, spark) -> dict[str, str]:
    x = read_table(spark, cfg, table("silver.customer_xref"))
    return {f"{r['source_system']}:{r['source_record_id']}": r["customer_id"] for r in x.collect()}


def _edges(cfg, spark):
    return (read_table(spark, cfg, table("silver.identity_edges")).drop("run_id")
            .select("left_key", "right_key", "decision", "match_weight", "blocked_by"))


@pytest.fixture(scope="module")
def company(tmp_path_factory, spark):
    root = tmp_path_factory.mktemp("resolve")
    landing = root / "landing"
    generate(landing, GenParams(people=PEOPLE, seed=11, malformed_rate=0.0, chunk_size=300))
    _write_partner(landing, "partner_1.csv", HAND_BUILT + SKEW)
    conf = root / "conf"
    conf.mkdir()
    (conf / "sources.yml").write_text(PARTNER_SOURCE)
    cfg = load_config("test", [landing, conf], conf_root=REPO / "conf", warehouse=str(root / "warehouse"),
                      landing=str(landing))
    ctx = JobContext(cfg)
    run_job("ingest", ctx)
    run_job("standardize", ctx)
    first = run_job("resolve", ctx)
    ids_first = _xref(cfg, spark)
    second = run_job("resolve", ctx)
    return {"root": root, "landing": landing, "conf": conf, "cfg": cfg, "ctx": ctx, "first": first,
            "second": second, "ids_first": ids_first, "ids": _xref(cfg, spark)}


def test_hand_built_records_resolve_as_expected(company):
    ids = company["ids"]
    p = {k.split(":", 1)[1]: v for k, v in ids.items() if k.startswith("partner:")}
    assert p["N1"] == p["N2"], "nickname + typo is one person"
    assert p["H1"] != p["H2"], "a household sharing an email is two people"
    assert p["J1"] != p["J2"], "senior and junior sharing an email, each with his own phone, are two people"
    assert p["T1"] != p["T2"], "same name and birth date, nothing else in common, is two people"
    assert p["C1"] == p["C2"] == p["C3"], "a transitive chain is one customer"
    assert len({p[f"S{i}"] for i in range(len(SKEW_NAMES))}) == len(SKEW_NAMES)


def test_chain_has_no_direct_edge_and_household_is_cannot_link(company, spark):
    edges = read_table(spark, company["cfg"], table("silver.identity_edges"))
    pairs = {(r["left_key"], r["right_key"]): r for r in edges.where(F.col("left_key").startswith("partner:")).collect()}
    assert ("partner:C1", "partner:C3") not in pairs
    assert pairs[("partner:C1", "partner:C2")]["decision"] == "match"
    assert pairs[("partner:C2", "partner:C3")]["decision"] == "match"
    hh = pairs[("partner:H1", "partner:H2")]
    assert hh["decision"] in ("cannot_link", "no_match")
    assert hh["levels"]["email"] == "exact" and hh["levels"]["date_of_birth"] == "else"
    jr = pairs[("partner:J1", "partner:J2")]
    assert jr["decision"] in ("cannot_link", "no_match")
    assert list(jr["cannot_link_rules"]) == ["shared_email_household"]


def test_skewed_blocking_key_is_skipped_and_reported(company):
    report = json.loads((Path(company["cfg"].system_path) / "resolve" / "last_run.json").read_text())
    email = next(b for b in report["blocking"] if b["rule"] == "email")
    assert email["skipped_keys"] >= 1
    assert {"key": "info@acme-corp.com.au", "records": len(SKEW_NAMES)} in email["largest_skipped"]


def test_rerun_changes_no_id_and_compares_nothing(company):
    assert company["ids"] == company["ids_first"]
    assert company["second"]["pairs_scored"] == 0
    assert company["second"]["model_retrained"] is False


def test_quality_against_generator_truth(company, capsys):
    cfg = company["cfg"]
    code = main(["evaluate-identity", "--env", "test", *_confs(company), "--warehouse",
                 cfg.paths.warehouse, "--truth", str(company["landing"] / "_truth")])
    assert code == 0
    out = capsys.readouterr().out
    metrics = {line.split(":")[0].strip(): float(line.split(":")[1]) for line in out.splitlines() if ":" in line}
    # 300 people is a small sample for EM; the 100k figures are in the README
    assert metrics["pairwise_precision"] >= 0.97
    assert metrics["pairwise_recall"] >= 0.97
    assert metrics["bcubed_f1"] >= 0.98
    assert metrics["pairs_completeness"] >= 0.97


def test_golden_record_lineage_follows_the_rules(company, spark):
    cfg = company["cfg"]
    cid = company["ids"]["partner:C1"]
    g = read_table(spark, cfg, table("silver.golden_customer")).where(F.col("customer_id") == cid).first()
    assert g["record_count"] == 3
    # email: most recent record that has one (C2, 2025-03-01); date of birth: the only record with one (C1)
    assert g["email"] == "dana.w@example.com" and g["lineage"]["email"]["source_record_id"] == "C2"
    assert g["lineage"]["email"]["rule"] == "most_recent"
    assert str(g["date_of_birth"]) == "1985-09-10" and g["lineage"]["date_of_birth"]["source_record_id"] == "C1"
    # address family comes whole from one record (the most recent: C2)
    assert g["lineage"]["street"]["source_record_id"] == g["lineage"]["postcode"]["source_record_id"] == "C2"


def test_orders_and_cookies_are_rekeyed(company, spark):
    cfg = company["cfg"]
    objs = read_table(spark, cfg, table("silver.object_xref"))
    orders = objs.where("object_type = 'order'")
    assert orders.count() == read_table(spark, cfg, table("silver.orders")).count()
    assert orders.where("customer_id IS NULL").count() == 0
    cookies = read_table(spark, cfg, table("silver.customer_xref")).where("record_type = 'cookie'")
    assert cookies.count() > 0
    # every cookie's customer is the customer of the webshop account it logged into
    ev = read_table(spark, cfg, table("silver.events")).where("person_ref IS NOT NULL") \
        .select("anonymous_id", "person_ref").distinct()
    ids = company["ids"]
    bad = [r for r in ev.collect() if f"webshop:{r['person_ref']}" in ids
           and ids.get(f"clickstream:{r['anonymous_id']}") not in (None, ids[f"webshop:{r['person_ref']}"])]
    assert not bad


def test_explain_match_shows_the_evidence(company, capsys):
    cfg = company["cfg"]
    code = main(["explain-match", "--env", "test", *_confs(company), "--warehouse",
                 cfg.paths.warehouse, "partner:N1", "partner:N2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "first_name" in out and "nickname" in out and "decision now: match" in out
    assert main(["explain-match", "--env", "test", *_confs(company), "--warehouse",
                 cfg.paths.warehouse, "partner:N1", "partner:NOPE"]) == 2


def test_incremental_run_keeps_ids_and_equals_a_full_run(company, spark):
    cfg, ctx, landing = company["cfg"], company["ctx"], company["landing"]
    before = company["ids"]
    _write_partner(landing, "partner_2.csv", [
        ("N3", "Robert", "Quennellworth", "rob.q@example.com", "+61 412 555 001", "1980-01-02", "40 New Rd", "2100",
         "2025-06-01")])
    run_job("ingest", ctx)
    run_job("standardize", ctx)
    inc = run_job("resolve", ctx)
    after = _xref(cfg, spark)
    assert after["partner:N3"] == before["partner:N1"], "a new record of an existing person gets their id"
    assert {k: after[k] for k in before} == before, "no existing record changes customer"
    assert 0 < inc["pairs_scored"] < inc["candidate_pairs"] / 10
    inc_edges = _edges(cfg, spark).collect()
    full = run_job("resolve", ctx, full=True)
    assert full["pairs_scored"] == full["candidate_pairs"]
    assert _xref(cfg, spark) == after
    assert sorted(map(tuple, _edges(cfg, spark).collect())) == sorted(map(tuple, inc_edges))
