import pytest
from chispa import assert_df_equality

from c360.errors import MissingColumnError
from c360.io.delta import DuplicateKeyError, commit_info, read_table, table_version, write_table
from c360.tables import TABLES, all_tables, table


def test_registry_covers_the_contract():
    contract = ["bronze.quarantine", "silver.person", "silver.customer_xref", "silver.identity_edges",
                "silver.golden_customer", "silver.events", "silver.web_sessions", "gold.customer_features",
                "gold.cross_sell_rules", "gold.model_metrics", "gold.customer_360"]
    assert set(contract) <= set(TABLES)
    assert TABLES["silver.customer_xref"].columns == {
        "source_system": "string", "source_record_id": "string", "customer_id": "string",
        "match_probability": "double"}
    assert table("bronze.crm").keys == ("_row_hash",)
    with pytest.raises(KeyError):
        table("gold.nope")


def _xref(spark, rows):
    return spark.createDataFrame(rows, "source_system string, source_record_id string, customer_id string, "
                                       "match_probability double")


def test_merge_write_is_idempotent_and_upserts(spark, cfg):
    spec = TABLES["silver.customer_xref"]
    rows = [("crm", "1", "C1", 0.99), ("crm", "2", "C1", 0.98), ("shop", "1", "C2", None)]
    write_table(spark, cfg, spec, _xref(spark, rows))
    write_table(spark, cfg, spec, _xref(spark, rows))
    got = read_table(spark, cfg, spec)
    assert_df_equality(got, _xref(spark, rows), ignore_row_order=True)
    # an update of one key replaces that row only
    write_table(spark, cfg, spec, _xref(spark, [("crm", "2", "C9", 0.5)]))
    expected = _xref(spark, [("crm", "1", "C1", 0.99), ("crm", "2", "C9", 0.5), ("shop", "1", "C2", None)])
    assert_df_equality(read_table(spark, cfg, spec), expected, ignore_row_order=True)
    # registered by name in the catalog
    assert spark.table("silver.customer_xref").count() == 3


def test_commit_metrics_are_deltas_own_history(spark, cfg):
    """write_table's counts come from the commit's JSON file; Delta's history API gives the same."""
    from delta.tables import DeltaTable

    spec = TABLES["silver.customer_xref"]
    path = spec.path(cfg)
    first = write_table(spark, cfg, spec, _xref(spark, [("crm", "1", "C1", 0.9), ("crm", "2", "C1", 0.8)]))
    second = write_table(spark, cfg, spec, _xref(spark, [("crm", "2", "C2", 0.7), ("web", "9", "C3", 0.6)]))
    history = {r["version"]: r for r in DeltaTable.forPath(spark, path).history().collect()}
    for got in (first, second):
        h = history[got["version"]]
        assert got == {"version": h["version"], "operation": h["operation"], **h["operationMetrics"]}
    assert second["operation"] == "MERGE"
    assert (second["numTargetRowsInserted"], second["numTargetRowsUpdated"]) == ("1", "1")
    assert commit_info(spark, path, first["version"]) == first
    with pytest.raises(Exception, match="no Delta table"):
        commit_info(spark, spec.path(cfg) + "_nothing_here")


def test_insert_new_appends_once(spark, cfg):
    spec = table("bronze.crm")
    df = spark.createDataFrame([("a", "h1"), ("b", "h2")], "raw string, _row_hash string") \
        .selectExpr("*", "'crm' as _source_system", "current_timestamp() as _ingested_at", "'f' as _source_file")
    write_table(spark, cfg, spec, df)
    v = table_version(spark, cfg, spec)
    write_table(spark, cfg, spec, df)
    assert read_table(spark, cfg, spec).count() == 2
    assert table_version(spark, cfg, spec) >= v


def test_write_rejects_duplicate_keys_and_missing_columns(spark, cfg):
    spec = TABLES["silver.customer_xref"]
    with pytest.raises(DuplicateKeyError, match="silver.customer_xref.*crm"):
        write_table(spark, cfg, spec, _xref(spark, [("crm", "1", "C1", 1.0), ("crm", "1", "C2", 1.0)]))
    with pytest.raises(MissingColumnError, match="table silver.customer_xref: missing column 'customer_id'"):
        write_table(spark, cfg, spec, spark.createDataFrame([("crm", "1")], "source_system string, source_record_id string"))


def test_all_tables_includes_bronze_per_source(cfg):
    names = {t.fqn for t in all_tables(cfg)}
    assert {f"bronze.{s.name}" for s in cfg.enabled_sources} <= names
