"""Transforms ``DataFrame -> DataFrame`` from one source's bronze rows to its silver table.

``map_source`` applies the ``sources.yml`` mapping and casts to canonical types; ``standardize_person``
cleans person fields; ``dedupe_latest`` keeps one row per key (the latest version, deterministically).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from c360.activation.audiences import parse_response_code
from c360.canonical import CANONICAL_FIELDS
from c360.config import SourceConfig, StandardizeConfig
from c360.standardize import columns as C

#: kind -> (silver table, natural key field or None for source_record_id)
KIND_TABLE: dict[str, tuple[str, str | None]] = {
    "person": ("silver.person", None),
    "order": ("silver.orders", "order_id"),
    "order_line": ("silver.order_lines", None),
    "product": ("silver.products", "product_id"),
    "event": ("silver.events", "event_id"),
    "ticket": ("silver.tickets", "ticket_id"),
    "enrichment": ("silver.enrichment", None),
    "social": ("silver.social", None),
    "campaign_response": ("silver.campaign_responses", "response_id"),
}
LINEAGE = ["_ingested_at", "_row_hash", "_source_file"]


def map_source(bronze_df: DataFrame, source: SourceConfig) -> DataFrame:
    """Canonical fields from the mapping (raw types), plus ``source_system``, ``source_record_id``, lineage."""
    record_id = F.expr(source.id).cast("string") if source.id else F.col("_row_hash")
    cols = [F.lit(source.name).alias("source_system"), record_id.alias("source_record_id"),
            F.lit(source.priority).alias("source_priority")]
    cols += [F.expr(expr).alias(field) for field, expr in source.fields.items()]
    cols += [F.col(c) for c in LINEAGE]
    return bronze_df.select(*cols)


def with_canonical_types(mapped_df: DataFrame, kind: str, std: StandardizeConfig) -> DataFrame:
    """Every canonical field of the kind, cast to its type (unmapped ones as typed nulls)."""
    types = dict(mapped_df.dtypes)
    schema = {f.name: f.dataType for f in mapped_df.schema.fields}
    out = mapped_df
    for field, typ in CANONICAL_FIELDS[kind].items():
        if field not in types:
            out = out.withColumn(field, F.lit(None).cast(typ))
        elif typ == "date":
            out = out.withColumn(field, C.parse_date(F.col(field), schema[field], std.date_formats))
        elif typ == "timestamp":
            out = out.withColumn(field, C.parse_timestamp(F.col(field), schema[field], std.timestamp_formats))
        elif typ == "boolean" and types[field] == "string":
            v = F.lower(F.trim(F.col(field)))
            out = out.withColumn(field, F.when(v.isin("y", "yes", "true", "1", "t"), True)
                                 .when(v.isin("n", "no", "false", "0", "f"), False))
        elif typ == "string" and types[field] == "string":
            out = out.withColumn(field, C.normalize_whitespace(F.col(field)))
        else:
            out = out.withColumn(field, F.col(field).cast(typ))
    return out


def standardize_person(df: DataFrame, std: StandardizeConfig, nick_df: DataFrame) -> DataFrame:
    """Names, emails, phones, addresses of person records: display forms plus matching keys."""
    first_from_full, last_from_full = C.split_full_name(F.col("full_name"))
    df = (df
          .withColumn("first_name", C.clean_name(F.coalesce("first_name", first_from_full)))
          .withColumn("last_name", C.clean_name(F.coalesce("last_name", last_from_full)))
          .withColumn("full_name", C.normalize_whitespace(F.coalesce(
              F.concat_ws(" ", "first_name", "last_name"), F.col("full_name"))))
          .withColumn("first_name_key", C.name_key(F.col("first_name")))
          .withColumn("last_name_key", C.name_key(F.col("last_name")))
          .withColumn("email_raw", F.col("email"))
          .withColumn("email", C.normalize_email(F.col("email")))
          .withColumn("email_valid", C.is_valid_email(F.col("email")))
          .withColumn("phone_raw", F.col("phone"))
          .withColumn("phone", C.e164(std.default_phone_region)(F.col("phone")))
          .withColumn("phone_valid", F.col("phone").isNotNull())
          .withColumn("street", C.normalize_street(F.col("street")))
          .withColumn("street_tokens", C.street_tokens(F.col("street")))
          .withColumn("city", F.upper(C.strip_accents(F.col("city"))))
          .withColumn("postcode", C.normalize_postcode(F.col("postcode")))
          .withColumn("state", F.upper(F.col("state")))
          .withColumn("country", F.coalesce(F.upper(F.col("country")), F.lit(std.default_country)))
          .withColumn("gender", F.upper(F.substring(F.trim(F.col("gender")), 1, 1))))
    # dates in the future or before 1900 are not birth dates
    df = df.withColumn("date_of_birth", F.when(
        (F.col("date_of_birth") >= F.lit("1900-01-01").cast("date")) & (F.col("date_of_birth") <= F.current_date()),
        F.col("date_of_birth")))
    return C.with_canonical_first_name(df, nick_df)


def with_response_code_parts(df: DataFrame) -> DataFrame:
    """Responses to an audience export carry its response code: the campaign, cell and offer it names fill
    those fields where the source did not map them."""
    parts = parse_response_code(F.col("response_code"))
    for field in ("campaign_id", "cell", "offer"):
        df = df.withColumn(field, F.coalesce(F.col(field), parts[field]))
    return df


def dedupe_latest(df: DataFrame, keys: list[str], order_col: str | None = "updated_at") -> DataFrame:
    """One row per key: the latest ``order_col``, then the latest ingestion, then the row hash (stable)."""
    order = ([F.col(order_col).desc_nulls_last()] if order_col and order_col in df.columns else []) + [
        F.col("_ingested_at").desc(), F.col("_row_hash")]
    w = Window.partitionBy(*keys).orderBy(*order)
    return df.withColumn("_rn", F.row_number().over(w)).where("_rn = 1").drop("_rn")


def standardize_source(bronze_df: DataFrame, source: SourceConfig, std: StandardizeConfig,
                       nick_df: DataFrame) -> DataFrame:
    """bronze.<source> -> rows of the kind's silver table, typed, cleaned and unique on its key."""
    df = with_canonical_types(map_source(bronze_df, source), source.kind, std)
    _, natural_key = KIND_TABLE[source.kind]
    if natural_key:
        df = df.withColumn(natural_key, F.coalesce(F.col(natural_key), F.col("source_record_id")))
    if source.kind == "person":
        df = standardize_person(df, std, nick_df)
    if source.kind == "campaign_response":
        df = with_response_code_parts(df)
    keys = key_columns(source.kind)
    order_col = {"order": "order_ts", "event": "event_ts", "ticket": "created_at"}.get(source.kind, "updated_at")
    return dedupe_latest(df, keys, order_col)


def key_columns(kind: str) -> list[str]:
    if kind == "order_line":
        return ["source_system", "order_id", "line_no"]
    natural = KIND_TABLE[kind][1]
    return ["source_system", natural] if natural else ["source_system", "source_record_id"]
