"""Reading one configured source: file discovery, validation, parsing with corrupt-row capture, and the
declared-schema checks that send rows to quarantine.

Pure functions over DataFrames where possible; file-system access goes through Hadoop's FileSystem so that
local paths, HDFS and object stores behave the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.utils import AnalysisException

from c360.config import C360Config, SourceConfig
from c360.errors import SourceError
from c360.frames import empty_frame
from c360.io.files import FileInfo, first_line, has_scheme, join, list_files, location

CORRUPT = "_corrupt_record"
JSON_SAMPLE_LINES = 2000

_SCHEMA_SPEC = re.compile(r"^\s*(?P<type>\w+(?:\(\d+,\s*\d+\))?)(?P<fmt>\s+[^!]*?)?\s*(?P<nn>not null)?\s*$", re.I)
_TYPES = {"string", "int", "integer", "long", "bigint", "double", "float", "boolean", "date", "timestamp"}


@dataclass(frozen=True)
class SchemaGroup:
    """Files of one source read alike, and the raw schema they are read with."""

    schema: T.StructType
    files: list[FileInfo]


@dataclass(frozen=True)
class ColumnRule:
    column: str
    type: str
    fmt: str | None
    not_null: bool


def resolve_path(cfg: C360Config, source: SourceConfig) -> str:
    """A source's path as a location: a URI or absolute path as written, else relative to the landing root."""
    p = source.path
    return location(p) if has_scheme(p) or p.startswith("/") else join(cfg.paths.landing, p)


def parse_rules(source: SourceConfig) -> list[ColumnRule]:
    """``schema:`` entries such as ``"date dd/MM/yyyy"``, ``"double"``, ``"string not null"``."""
    rules = []
    for col, spec in (source.schema_ or {}).items():
        m = _SCHEMA_SPEC.match(spec)
        typ = m.group("type").lower() if m else ""
        if not m or typ not in _TYPES and not typ.startswith("decimal"):
            raise SourceError(f"source '{source.name}', key 'schema.{col}': cannot read type '{spec}' "
                              f"(use one of {sorted(_TYPES)}, optionally a format and 'not null')")
        fmt = (m.group("fmt") or "").strip() or None
        rules.append(ColumnRule(col, typ, fmt, bool(m.group("nn"))))
    return rules


def raw_schema(spark: SparkSession, source: SourceConfig, files: list[FileInfo]) -> T.StructType:
    """The schema raw rows are read with (before the corrupt-record column): CSV headers as strings, JSON
    inferred from the first lines of up to three files, Parquet and Delta as stored. Read once a run."""
    fmt = source.format
    first = files[0].path
    if fmt == "csv":
        header = spark.read.options(**{**source.options, "inferSchema": "false"}).csv(first).schema
        return T.StructType([T.StructField(f.name, T.StringType()) for f in header.fields])
    if fmt == "json":
        sample: list[str] = []
        for f in files[:3]:
            sample += spark.sparkContext.textFile(f.path).take(JSON_SAMPLE_LINES)
        inferred = spark.read.options(**source.options).json(spark.sparkContext.parallelize(sample)).schema
        return T.StructType([f for f in inferred.fields if f.name != CORRUPT])
    if fmt == "parquet":  # every file's footer: a column that only the newer files have is kept
        return spark.read.option("mergeSchema", "true").parquet(*[f.path for f in files]).schema
    return spark.read.format("delta").load(first).schema


def _has_header(source: SourceConfig) -> bool:
    return source.format == "csv" and str(source.options.get("header", "false")).lower() == "true"


def schema_groups(spark: SparkSession, source: SourceConfig, files: list[FileInfo]) -> list[SchemaGroup]:
    """The files in groups read alike, each with its raw schema (:func:`raw_schema`). Spark reads a CSV
    file's columns by position, not by its header, so CSV files whose header lines differ (a column added,
    dropped or moved) are grouped by header and read apart; every other format is one group."""
    # an empty file has no rows and no schema: it is read (as no rows) with the others
    sized = [f for f in files if f.size > 0] or files
    empty = [f for f in files if f not in sized]
    if not _has_header(source) or len(sized) == 1:
        return [SchemaGroup(raw_schema(spark, source, sized), files)]
    encoding = str(source.options.get("encoding") or source.options.get("charset") or "UTF-8")
    by_header: dict[str, list[FileInfo]] = {}
    for f in sized:
        by_header.setdefault(first_line(spark, f.path, encoding) or "", []).append(f)
    groups = list(by_header.values())
    groups[0] += empty
    return [SchemaGroup(raw_schema(spark, source, group), group) for group in groups]


def union_schema(groups: list[SchemaGroup]) -> T.StructType:
    """Every group's columns once, by name: the first group's in order, then each column a later one adds."""
    fields = list(groups[0].schema.fields)
    names = {f.name for f in fields}
    for g in groups[1:]:
        fields += [f for f in g.schema.fields if f.name not in names]
        names |= {f.name for f in g.schema.fields}
    return T.StructType(fields)


def read_raw(spark: SparkSession, source: SourceConfig, groups: list[SchemaGroup]) -> DataFrame:
    """Raw rows of every group's files, each group read with its own schema and the groups joined by column
    name (a column a group lacks is null there), with ``_source_file``; text formats keep unparseable lines
    in ``_corrupt_record``."""
    frames = [_read_group(spark, source, g.files, g.schema) for g in groups]
    if len(frames) == 1:
        return frames[0]
    columns = [f.name for f in union_schema(groups).fields] + [CORRUPT, "_source_file"]
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df, allowMissingColumns=True)
    return out.select(*columns)


def _read_group(spark: SparkSession, source: SourceConfig, files: list[FileInfo], schema: T.StructType) -> DataFrame:
    paths = [f.path for f in files]
    if source.format in ("csv", "json"):
        full = T.StructType(schema.fields + [T.StructField(CORRUPT, T.StringType())])
        reader = (spark.read.options(**source.options).schema(full)
                  .option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", CORRUPT))
        df = reader.csv(paths) if source.format == "csv" else reader.json(paths)
    elif source.format == "parquet":
        df = spark.read.options(**source.options).parquet(*paths).withColumn(CORRUPT, F.lit(None).cast("string"))
    else:
        # a Delta source is one unit: its rows are replaced together when the table's version changes
        df = spark.read.format("delta").load(paths[0]).withColumn(CORRUPT, F.lit(None).cast("string"))
        return df.withColumn("_source_file", F.lit(paths[0]))
    return df.withColumn("_source_file", F.col("_metadata.file_path"))


def source_files(spark: SparkSession, cfg: C360Config, source: SourceConfig) -> list[FileInfo]:
    """The source's files (a Delta source: the table, "new" when its version changes); SourceError (exit 2)
    naming the source and key when there are none."""
    pattern = resolve_path(cfg, source)
    if source.format == "delta":
        from c360.io.delta import path_version  # noqa: PLC0415

        version = path_version(spark, pattern)
        if version is None:
            raise SourceError(f"source '{source.name}', key 'path': {pattern} is not a Delta table")
        files = [FileInfo(pattern, 0, version)]
    else:
        files = list_files(spark, pattern)
    if not files:
        raise SourceError(f"source '{source.name}', key 'path': no files match {pattern}")
    return files


def validate_source(spark: SparkSession, source: SourceConfig, schema: T.StructType, where: str) -> None:
    """Fail with SourceError (exit 2) naming the source and key before anything is written: the declared
    ``schema:`` columns and the ``id`` and ``fields`` expressions must resolve against the raw ``schema`` (read
    from ``where``: a file, or the bronze table when no file is new)."""
    rules = parse_rules(source)
    names = {f.name for f in schema.fields}
    for rule in rules:
        if rule.column not in names:
            raise SourceError(f"source '{source.name}', key 'schema.{rule.column}': no column '{rule.column}' "
                              f"in {where}; columns: {sorted(names)}")
    empty = empty_frame(spark, schema)
    exprs = {"id": source.id} if source.id else {}
    exprs.update({f"fields.{k}": v for k, v in source.fields.items()})
    for key, expr in exprs.items():
        try:
            empty.selectExpr(expr)
        except AnalysisException as e:
            first_line = str(e).strip().splitlines()[0]
            raise SourceError(f"source '{source.name}', key '{key}': '{expr}' does not resolve against "
                              f"{where} (columns: {sorted(names)}): {first_line}") from None


def _check(rule: ColumnRule) -> tuple[Column, Column]:
    """(is_bad, reason) for one declared column rule."""
    raw = F.col(rule.column)
    text = raw.cast("string")
    present = raw.isNotNull() & (F.trim(text) != "")
    if rule.type == "timestamp":
        parsed = F.to_timestamp(text, rule.fmt) if rule.fmt else F.to_timestamp(text)
    elif rule.type == "date":
        parsed = F.to_date(text, rule.fmt) if rule.fmt else F.to_date(text)
    else:
        parsed = F.expr(f"try_cast(`{rule.column}` AS {rule.type})")
    fmt = f" in format {rule.fmt}" if rule.fmt else ""
    bad_type = present & parsed.isNull()
    reasons = [F.when(bad_type, F.format_string(f"column '{rule.column}': value '%s' is not a {rule.type}{fmt}",
                                                text))]
    bad = bad_type
    if rule.not_null:
        missing = ~present
        reasons.append(F.when(missing, F.lit(f"column '{rule.column}': required value is missing")))
        bad = bad | missing
    return bad, F.concat_ws("; ", *reasons)


def with_quarantine_reason(raw_df: DataFrame, source: SourceConfig) -> DataFrame:
    """Adds ``_reason``: null for a good row, else why it is rejected (corrupt text or broken rules)."""
    fmt = source.format.upper()
    corrupt_reason = F.when(F.col(CORRUPT).isNotNull(),
                            F.lit(f"unparseable {fmt} row (malformed or wrong number of columns)"))
    checks = [_check(r) for r in parse_rules(source)]
    rule_reason = F.concat_ws("; ", *[F.when(bad, reason) for bad, reason in checks]) if checks else F.lit("")
    reason = F.coalesce(corrupt_reason, F.when(rule_reason != "", rule_reason))
    return raw_df.withColumn("_reason", reason)


def raw_text(df: DataFrame) -> Column:
    """The row as it came: the corrupt line for text formats, else the row as JSON."""
    data_cols = [c for c in df.columns if c not in (CORRUPT, "_source_file", "_reason")]
    return F.coalesce(F.col(CORRUPT), F.to_json(F.struct(*data_cols)))
