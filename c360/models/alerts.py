"""Alerts: rules from conf (Spark SQL over a customer's features and scores) with a severity and an action;
one row per (customer, alert, as_of) with the evidence as JSON."""

from __future__ import annotations

import datetime as dt

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.config.models import AlertConfig
from c360.frames import union_all
from c360.log import get_logger
from c360.models.offers import may_market

log = get_logger(__name__)


def raise_alerts(customers_df: DataFrame, rules: list[AlertConfig], as_of: dt.date,
                 unknown_consent: str = "allow") -> tuple[DataFrame, list[str]]:
    """``(customer_id, alert, as_of, severity, action, evidence)`` for every rule that holds (a ``marketing``
    rule only for customers who may be marketed to), and the names of the rules left out because they name a
    column the customer rows lack (a store without tickets has no complaint alerts)."""
    parts, skipped = [], []
    for r in rules:
        cols = [c for c in r.evidence if c in customers_df.columns]
        evidence = F.to_json(F.struct(*[F.col(c) for c in cols])) if cols else F.lit("{}")
        try:
            holds = F.expr(r.when) & may_market(customers_df, unknown_consent) if r.purpose == "marketing" \
                else F.expr(r.when)
            parts.append(customers_df.where(holds).select(
                "customer_id", F.lit(r.name).alias("alert"), F.lit(as_of.isoformat()).cast("date").alias("as_of"),
                F.lit(r.severity).alias("severity"), F.lit(r.action).alias("action"), evidence.alias("evidence")))
        except AnalysisException as e:
            log.warning(f"alert '{r.name}' left out: its condition does not resolve on the customer rows",
                        error=str(e).splitlines()[0][:200])
            skipped.append(r.name)
    if not parts:
        return customers_df.sparkSession.createDataFrame(
            [], "customer_id string, alert string, as_of date, severity string, action string, evidence string"), skipped
    return union_all(parts), skipped
