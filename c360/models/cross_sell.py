"""Cross-sell from baskets: Spark ML's FP-Growth over the distinct products of each order, product-level
association rules with one-item consequents (as ``FPGrowthModel.associationRules`` gives them), and per
customer the consequents not already bought, ranked by confidence x lift.

Pure transforms over DataFrames; the job reads the order lines and writes ``gold.cross_sell_rules``.
"""

from __future__ import annotations

from pyspark.ml.fpm import FPGrowth
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def baskets(lines: DataFrame, order_col: str = "order_id", item_col: str = "product_id") -> DataFrame:
    """``(order_id, items)``: the distinct items of each order, sorted (an order without items has no row)."""
    return (lines.where(F.col(item_col).isNotNull())
            .groupBy(order_col).agg(F.array_sort(F.collect_set(F.col(item_col).cast("string"))).alias("items")))


def mine(basket_df: DataFrame, min_support: float, min_confidence: float) -> tuple[DataFrame, DataFrame]:
    """Frequent itemsets ``(items, freq)`` and rules ``(antecedent, consequent, support, confidence, lift)``
    (``consequent`` one item; item lists sorted) over ``basket_df(items)``."""
    model = FPGrowth(itemsCol="items", minSupport=min_support, minConfidence=min_confidence).fit(
        basket_df.select("items"))
    itemsets = model.freqItemsets.select(F.array_sort("items").alias("items"), "freq")
    rules = model.associationRules.select(
        F.array_sort("antecedent").alias("antecedent"), F.col("consequent")[0].alias("consequent"),
        "support", "confidence", "lift")
    return itemsets, rules


def recommendations(rules: DataFrame, bought: DataFrame, top_n: int) -> DataFrame:
    """``bought(customer_id, items)`` -> ``(customer_id, product_id, score, confidence, rank)``: the consequents
    of rules whose whole antecedent the customer bought, not bought already, by the best confidence x lift among
    those rules (ties by product id), ``top_n`` per customer, with the best confidence among those rules. The
    rules are few: they are broadcast."""
    hits = (bought.join(F.broadcast(rules), F.size(F.array_except("antecedent", "items")) == 0)
            .where(~F.array_contains("items", F.col("consequent")))
            .groupBy("customer_id", F.col("consequent").alias("product_id"))
            .agg(F.max(F.col("confidence") * F.col("lift")).alias("score"), F.max("confidence").alias("confidence")))
    order = Window.partitionBy("customer_id").orderBy(F.desc("score"), "product_id")
    return hits.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= top_n)
