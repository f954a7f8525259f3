"""What the model jobs read besides the features: the dated history re-keyed to customer_id (orders that
count as purchases, purchases with their product and category, campaign responses, tickets), the products
and the newest order date. A store without a table simply has ``None`` for it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from c360.errors import C360Error
from c360.features.customer import rekeyed
from c360.io.delta import read_optional, read_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.tables import table

log = get_logger(__name__)


@dataclass
class History:
    #: (customer_id, order_id, order_ts): orders that count as purchases
    orders: DataFrame
    #: (customer_id, order_id, order_ts, product_id, category); None without order lines
    purchases: DataFrame | None
    #: (customer_id, offer, sent_at, response); None without campaign responses
    responses: DataFrame | None
    #: (customer_id, category, status, created_at); None without tickets
    tickets: DataFrame | None
    #: (product_id, category, price, cost); None without a product catalogue
    products: DataFrame | None
    newest: dt.date

    def as_of(self, given: dt.date | None) -> dt.date:
        return given or self.newest


def load(ctx: JobContext, job: str) -> History:
    spark, cfg = ctx.spark, ctx.cfg
    xref = read_table(spark, cfg, table("silver.object_xref"))
    orders = rekeyed(read_optional(spark, cfg, table("silver.orders")), "silver.orders", xref)
    if orders is None:
        raise C360Error(f"{job}: silver.orders does not exist; run `c360 standardize` and `c360 resolve` first")
    excluded = [s.lower() for s in cfg.features.excluded_order_status]
    orders = (orders.where(~F.coalesce(F.lower("status").isin(excluded), F.lit(False)))
              .select("customer_id", "order_id", "order_ts").cache())
    newest = orders.agg(F.max(F.to_date("order_ts"))).first()[0]
    if newest is None:
        raise C360Error(f"{job}: no orders to learn from")
    products = read_optional(spark, cfg, table("silver.products"))
    if products is not None:
        products = products.select("product_id", "category",
                                   *[F.col(c) if c in products.columns else F.lit(None).cast("double").alias(c)
                                     for c in ("price", "cost")]).dropDuplicates(["product_id"])
    lines = read_optional(spark, cfg, table("silver.order_lines"))
    purchases = None
    if lines is not None:
        purchases = orders.join(lines.select("order_id", "product_id").where(F.col("product_id").isNotNull()),
                                "order_id")
        purchases = (purchases.join(products.select("product_id", "category"), "product_id", "left")
                     if products is not None else purchases.withColumn("category", F.lit(None).cast("string")))
    else:
        log.warning(f"{job}: no silver.order_lines: cross-sell and category propensity are left out")
    responses = rekeyed(read_optional(spark, cfg, table("silver.campaign_responses")), "silver.campaign_responses",
                        xref)
    if responses is not None:
        responses = responses.select("customer_id", "offer", "sent_at", "response")
    tickets = rekeyed(read_optional(spark, cfg, table("silver.tickets")), "silver.tickets", xref)
    if tickets is not None:
        tickets = tickets.select("customer_id", *[F.col(c) if c in tickets.columns else F.lit(None).cast("string")
                                                  .alias(c) for c in ("category", "status")], "created_at")
    return History(orders, purchases, responses, tickets, products, newest)
