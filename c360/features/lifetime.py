"""CLV on Spark: the BG/NBD and Gamma-Gamma models of :mod:`c360.features.clv` fitted on the driver from patterns
that Spark aggregates, checked on a holdout period, and applied to every customer in a pandas UDF."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType

from c360.config import CLVConfig
from c360.errors import C360Error
from c360.features import clv as CLV
from c360.features.customer import purchase_summary
from c360.log import get_logger

log = get_logger(__name__)


def fit_bgnbd(summary: DataFrame, p: CLVConfig) -> tuple[CLV.BGNBD, dict]:
    """BG/NBD fitted on the driver from the distinct ``(x, t_x, T)`` patterns Spark counts."""
    pats = summary.groupBy("x", "t_x_days", "T_days").count().toPandas()
    if pats.empty:
        raise C360Error("features: no orders before as_of to fit BG/NBD on")
    return CLV.fit_bgnbd(pats["x"], pats["t_x_days"] / p.period_days, pats["T_days"] / p.period_days,
                         pats["count"], p.penalizer)


def fit_gamma_gamma(summary: DataFrame, p: CLVConfig) -> tuple[CLV.GammaGamma, dict]:
    """Gamma-Gamma fitted from the distinct (repeat purchases, mean repeat value) patterns."""
    spend = (summary.where("x > 0 AND repeat_mean_value > 0")
             .groupBy("x", F.round("repeat_mean_value", 2).alias("m")).count().toPandas())
    return CLV.fit_gamma_gamma(spend["x"], spend["m"], spend["count"], p.penalizer)


def holdout_check(orders: DataFrame, as_of: dt.date, p: CLVConfig) -> dict | None:
    """Fit on orders up to as_of - holdout_days, predict the holdout's purchase days, compare with actual.
    None (logged) when the history is shorter than the holdout: nothing to calibrate on."""
    cal_end = as_of - dt.timedelta(days=p.holdout_days)
    before = orders.where(F.to_date("order_ts") <= F.lit(cal_end.isoformat()).cast("date"))
    if before.isEmpty():
        log.warning(f"features: no order before {cal_end} (as_of - clv.holdout_days): CLV holdout check skipped")
        return None
    cal = purchase_summary(before, cal_end)
    actual = (orders.where(F.to_date("order_ts") > F.lit(cal_end.isoformat()).cast("date"))
              .groupBy("customer_id").agg(F.countDistinct(F.to_date("order_ts")).alias("actual")))
    bg, _ = fit_bgnbd(cal, p)
    pdf = cal.join(actual, "customer_id", "left").select("x", "t_x_days", "T_days",
                                                         F.coalesce("actual", F.lit(0)).alias("actual")) \
        .groupBy("x", "t_x_days", "T_days", "actual").count().toPandas()
    t = p.holdout_days / p.period_days
    pred = CLV.bgnbd_conditional_expected(bg, t, pdf["x"], pdf["t_x_days"] / p.period_days,
                                          pdf["T_days"] / p.period_days)
    n = pdf["count"].to_numpy(float)
    err = pred - pdf["actual"].to_numpy(float)
    by_x = {}
    bucket = np.minimum(pdf["x"].to_numpy(), 7)
    for b in range(8):
        m = bucket == b
        if n[m].sum():
            by_x["7+" if b == 7 else str(b)] = {
                "customers": int(n[m].sum()), "predicted_mean": float((pred[m] * n[m]).sum() / n[m].sum()),
                "actual_mean": float((pdf["actual"].to_numpy()[m] * n[m]).sum() / n[m].sum())}
    return {"calibration_end": cal_end.isoformat(), "holdout_days": p.holdout_days, "customers": int(n.sum()),
            "predicted_purchases": float((pred * n).sum()), "actual_purchases": float((pdf["actual"] * n).sum()),
            "mae_per_customer": float((np.abs(err) * n).sum() / n.sum()),
            "rmse_per_customer": float(np.sqrt((err ** 2 * n).sum() / n.sum())),
            "calibration_params": bg.as_dict(), "by_repeat_purchases": by_x}


def predict_clv(summary: DataFrame, bg: CLV.BGNBD, gg: CLV.GammaGamma, margin: float, p: CLVConfig) -> DataFrame:
    """P(alive), expected purchases and spend over the horizon, and the discounted CLV per customer."""
    horizon = p.horizon_months * 365.25 / 12 / p.period_days
    out = StructType([StructField(n, DoubleType()) for n in
                      ("p_alive", "expected_purchases", "expected_spend", "clv")])

    @F.pandas_udf(out)
    def predict(x: pd.Series, t_x: pd.Series, T: pd.Series, mv: pd.Series) -> pd.DataFrame:
        tx, tt = t_x.astype(float) / p.period_days, T.astype(float) / p.period_days
        spend = CLV.gamma_gamma_expected_spend(gg, x, mv.astype(float))
        return pd.DataFrame({
            "p_alive": CLV.bgnbd_p_alive(bg, x, tx, tt),
            "expected_purchases": CLV.bgnbd_conditional_expected(bg, horizon, x, tx, tt),
            "expected_spend": spend,
            "clv": CLV.discounted_clv(bg, x, tx, tt, spend, margin, p.horizon_months, p.annual_discount_rate,
                                      p.period_days)})

    return (summary.withColumn("_p", predict("x", "t_x_days", "T_days", "repeat_mean_value"))
            .select("customer_id", F.col("x").alias("repeat_purchases"), "t_x_days", "T_days",
                    F.round("_p.p_alive", 4).alias("p_alive"),
                    F.round("_p.expected_purchases", 4).alias("expected_purchases"),
                    F.round("_p.expected_spend", 2).alias("expected_spend"), F.round("_p.clv", 2).alias("clv")))
