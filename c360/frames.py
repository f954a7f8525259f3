"""Helpers over a running session for the domain transforms: an empty frame of a schema, SQL settings scoped
to a block. The session itself is built in :mod:`c360.session` (jobs only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType


@contextmanager
def sql_conf(spark: SparkSession, settings: dict[str, str]) -> Iterator[None]:
    """Runtime SQL settings for the queries run inside the block; each is put back as it was afterwards."""
    before = {k: spark.conf.get(k, None) for k in settings}
    for k, v in settings.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)


def empty_frame(spark: SparkSession, schema: str | StructType) -> DataFrame:
    """An empty DataFrame of ``schema`` with no partitions. ``createDataFrame([], schema)`` has partitions
    that Python tasks read, even empty: a union with it cost 0.3-0.6 s a query."""
    return spark.createDataFrame(spark.sparkContext.emptyRDD(), schema)


def union_all(parts: list[DataFrame]) -> DataFrame:
    """The rows of every frame, matched by column name (a column one frame lacks is null there)."""
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p, allowMissingColumns=True)
    return out
