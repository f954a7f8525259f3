"""Customer features: pure transforms from re-keyed silver tables to per-customer columns.

Each function takes DataFrames that already carry ``customer_id`` (see :mod:`c360.pipelines.features`) and
plain values, and returns one row per customer with the columns documented in README ("gold.customer_features").
Dates are relative to ``as_of`` (inclusive): nothing after it is read.
"""

from __future__ import annotations

import datetime as dt
from functools import reduce

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType

from c360.behaviour.sessions import first_match
from c360.config import FeaturesConfig, ProfitConfig, RFMConfig
from c360.resolve.links import OBJECT_TABLES
from c360.standardize import columns as SC


def _lit_date(d: dt.date) -> Column:
    return F.lit(d.isoformat()).cast("date")


# ------------------------------------------------------------------------------------------ orders
def order_facts(orders_df: DataFrame, lines_df: DataFrame | None) -> DataFrame:
    """Per order (``customer_id, order_id, order_ts, amount``): gross, discount, returns and cost of goods
    from its lines (the order amount when it has no lines)."""
    if lines_df is None:
        return orders_df.withColumns({"gross": F.col("amount"), "discount": F.lit(0.0), "returns": F.lit(0.0),
                                      "cogs": F.lit(None).cast("double")})
    value = F.coalesce(F.col("unit_price"), F.lit(0.0)) * F.coalesce(F.col("quantity"), F.lit(1))
    net = value - F.coalesce(F.col("discount"), F.lit(0.0))
    returned = F.coalesce(F.col("is_returned"), F.lit(False))
    per_order = lines_df.groupBy("order_id").agg(
        F.sum(value).alias("gross"), F.sum(F.coalesce(F.col("discount"), F.lit(0.0))).alias("discount"),
        F.sum(F.when(returned, net).otherwise(0.0)).alias("returns"),
        F.sum(F.when(~returned, F.col("unit_cost") * F.coalesce(F.col("quantity"), F.lit(1)))).alias("cogs"))
    return (orders_df.join(per_order, "order_id", "left")
            .withColumn("gross", F.coalesce("gross", "amount"))
            .withColumn("discount", F.coalesce("discount", F.lit(0.0)))
            .withColumn("returns", F.coalesce("returns", F.lit(0.0))))


def score_band(value: Column, bands: int, higher_is_better: bool = True) -> Column:
    """1..bands by rank among customers (``bands`` best); ties share the lower score."""
    order = value.asc() if higher_is_better else value.desc()
    pr = F.percent_rank().over(Window.orderBy(order))
    return (F.least(F.lit(bands), F.floor(pr * bands) + 1)).cast("int")


def rfm(orders_df: DataFrame, as_of: dt.date, cfg: RFMConfig) -> DataFrame:
    """Recency (days since the last order), frequency (orders), monetary (net spend), scores and segment."""
    net = F.col("gross") - F.col("discount") - F.col("returns")
    per = orders_df.groupBy("customer_id").agg(
        F.min(F.to_date("order_ts")).alias("first_order_date"), F.max(F.to_date("order_ts")).alias("last_order_date"),
        F.countDistinct("order_id").alias("frequency"), F.sum(net).alias("monetary"))
    per = (per.withColumn("recency_days", F.datediff(_lit_date(as_of), "last_order_date"))
           .withColumn("avg_order_value", F.col("monetary") / F.col("frequency"))
           .withColumn("r_score", score_band(F.col("recency_days"), cfg.bands, higher_is_better=False))
           .withColumn("f_score", score_band(F.col("frequency"), cfg.bands))
           .withColumn("m_score", score_band(F.col("monetary"), cfg.bands)))
    return (per.withColumn("rfm_score", F.concat(F.col("r_score").cast("string"), F.col("f_score").cast("string"),
                                                  F.col("m_score").cast("string")))
            .withColumn("rfm_segment", first_match(cfg.segments, cfg.default_segment)))


def order_windows(orders_df: DataFrame, as_of: dt.date, windows: list[int]) -> DataFrame:
    """Per customer and window (days before as_of, inclusive): ``orders_<n>d`` and ``spend_<n>d`` (net of
    discounts and returns), the recent pace beside the lifetime totals."""
    age = F.datediff(_lit_date(as_of), F.to_date("order_ts"))
    net = F.col("gross") - F.col("discount") - F.col("returns")
    aggs = []
    for n in windows:
        inside = age < n
        aggs += [F.countDistinct(F.when(inside, F.col("order_id"))).alias(f"orders_{n}d"),
                 F.sum(F.when(inside, net).otherwise(0.0)).alias(f"spend_{n}d")]
    return orders_df.groupBy("customer_id").agg(*aggs)


def order_intervals(orders_df: DataFrame, as_of: dt.date) -> DataFrame:
    """Per customer: tenure, mean gap between own orders, and the gap before the latest order (days)."""
    days = orders_df.select("customer_id", F.to_date("order_ts").alias("d")).distinct()
    w = Window.partitionBy("customer_id").orderBy("d")
    gaps = days.withColumn("gap", F.datediff("d", F.lag("d").over(w)))
    return gaps.groupBy("customer_id").agg(
        F.datediff(_lit_date(as_of), F.min("d")).alias("tenure_days"),
        F.avg("gap").alias("mean_interval_days"),
        F.max_by("gap", "d").alias("previous_gap_days"))


def profitability(orders_df: DataFrame, tickets_df: DataFrame | None, cfg: ProfitConfig) -> DataFrame:
    """Revenue, margin (price - cost - discount - returns), cost to serve and profit per customer."""
    per = orders_df.groupBy("customer_id").agg(
        F.sum("gross").alias("gross_revenue"), F.sum("discount").alias("discounts"),
        F.sum("returns").alias("returns_value"), F.sum("cogs").alias("cogs"),
        F.countDistinct("order_id").alias("_orders"))
    per = (per.withColumn("net_revenue", F.col("gross_revenue") - F.col("discounts") - F.col("returns_value"))
           .withColumn("gross_margin", F.col("net_revenue") - F.coalesce(F.col("cogs"), F.lit(0.0)))
           .withColumn("fulfilment_cost", F.col("_orders") * F.lit(cfg.order_cost)).drop("_orders"))
    if tickets_df is not None:
        cost = F.lit(cfg.default_ticket_cost)
        for channel, c in cfg.ticket_cost.items():
            cost = F.when(F.lower(F.col("channel")) == channel.lower(), F.lit(c)).otherwise(cost)
        serve = tickets_df.groupBy("customer_id").agg(F.sum(cost).alias("support_cost"))
        per = per.join(serve, "customer_id", "full")
    else:
        per = per.withColumn("support_cost", F.lit(0.0))
    zero = ["gross_revenue", "discounts", "returns_value", "net_revenue", "gross_margin", "fulfilment_cost",
            "support_cost"]
    per = per.fillna(0.0, subset=zero)
    per = per.withColumn("cost_to_serve", F.col("fulfilment_cost") + F.col("support_cost"))
    return per.withColumn("profit", F.col("gross_margin") - F.col("cost_to_serve"))


def contribution(profit_df: DataFrame, top_share: float) -> dict:
    """The 20/80 view: the share of total profit made by the top ``top_share`` of customers by profit."""
    ranked = profit_df.select("profit", F.row_number().over(Window.orderBy(F.desc("profit"), "customer_id"))
                              .alias("rank"))
    row = profit_df.agg(F.count(F.lit(1)).alias("n"), F.sum("profit").alias("total"),
                        F.count(F.when(F.col("profit") < 0, 1)).alias("losses")).first()
    n, total = row["n"], row["total"] or 0.0
    top_n = max(1, int(round(n * top_share))) if n else 0
    top = ranked.where(F.col("rank") <= top_n).agg(F.sum("profit")).first()[0] or 0.0
    return {"customers": n, "total_profit": total, "top_share": top_share, "top_customers": top_n,
            "top_profit_share": (top / total) if total else None, "unprofitable_customers": row["losses"]}


# ------------------------------------------------------------------------------------------ behaviour
def behaviour(sessions_df: DataFrame, as_of: dt.date, windows: list[int]) -> DataFrame:
    """Per customer and window (days before as_of, inclusive): sessions, engaged minutes, page views, cart
    abandonment rate (abandoned / sessions with a cart), and days since the last visit. Bots left out."""
    s = sessions_df.where(F.col("customer_id").isNotNull() & ~F.coalesce(F.col("is_bot"), F.lit(False))
                          & (F.col("session_date") <= _lit_date(as_of)))
    age = F.datediff(_lit_date(as_of), F.col("session_date"))
    aggs = [F.datediff(_lit_date(as_of), F.max("session_date")).alias("days_since_last_visit")]
    for w in windows:
        inside = age < w
        aggs += [
            F.count(F.when(inside, 1)).alias(f"sessions_{w}d"),
            F.coalesce(F.sum(F.when(inside, F.col("duration_s"))), F.lit(0)).cast("double").alias(f"_secs_{w}"),
            F.coalesce(F.sum(F.when(inside, F.col("page_views"))), F.lit(0)).alias(f"page_views_{w}d"),
            F.count(F.when(inside & (F.col("cart_adds") > 0), 1)).alias(f"_carts_{w}"),
            F.count(F.when(inside & F.col("is_abandoned_cart"), 1)).alias(f"_abandoned_{w}"),
            F.count(F.when(inside & F.col("has_purchase"), 1)).alias(f"purchase_sessions_{w}d"),
        ]
    out = s.groupBy("customer_id").agg(*aggs)
    for w in windows:
        out = (out.withColumn(f"engaged_minutes_{w}d", F.round(F.col(f"_secs_{w}") / 60.0, 2))
               .withColumn(f"cart_abandonment_rate_{w}d",
                           F.when(F.col(f"_carts_{w}") > 0, F.col(f"_abandoned_{w}") / F.col(f"_carts_{w}")))
               .drop(f"_secs_{w}", f"_carts_{w}", f"_abandoned_{w}"))
    return out


def interests(sessions_df: DataFrame | None, purchases_df: DataFrame | None, products_df: DataFrame | None,
              as_of: dt.date, cfg: FeaturesConfig, top: int = 5) -> DataFrame | None:
    """Product and category interest: views and cart adds (sessions) and purchases (order lines), each
    weighted by ``interest_weights`` and halved every ``interest_half_life_days``. Returns the top
    products, the category scores (``category_interest``) and the ``top_category``."""
    w = cfg.interest_weights
    decay = F.pow(F.lit(0.5), F.datediff(_lit_date(as_of), F.col("d")) / F.lit(cfg.interest_half_life_days))
    parts = []
    if sessions_df is not None:
        s = sessions_df.where(F.col("customer_id").isNotNull() & ~F.coalesce(F.col("is_bot"), F.lit(False))
                              & (F.col("session_date") <= _lit_date(as_of)))
        parts.append(s.select("customer_id", F.col("session_date").alias("d"),
                              F.explode("products_viewed").alias("product_id"),
                              F.lit(w.get("product_view", 0.0)).alias("weight")))
        parts.append(s.select("customer_id", F.col("session_date").alias("d"),
                              F.explode("carted_products").alias("product_id"),
                              F.lit(w.get("add_to_cart", 0.0)).alias("weight")))
    if purchases_df is not None:
        parts.append(purchases_df.select("customer_id", F.to_date("order_ts").alias("d"), "product_id",
                                         F.lit(w.get("purchase", 0.0)).alias("weight")))
    if not parts:
        return None
    events = reduce(DataFrame.unionByName, parts).where(F.col("product_id").isNotNull())
    scored = events.withColumn("score", F.col("weight") * decay)
    per_product = scored.groupBy("customer_id", "product_id").agg(F.sum("score").alias("score"))
    rank = Window.partitionBy("customer_id").orderBy(F.desc("score"), "product_id")
    top_products = (per_product.withColumn("_r", F.row_number().over(rank)).where(F.col("_r") <= top)
                    .groupBy("customer_id").agg(F.sort_array(F.collect_list(F.struct(F.col("_r"), "product_id")))
                                                .alias("_tp"))
                    .select("customer_id", F.col("_tp.product_id").alias("top_products")))
    if products_df is None:
        return top_products
    cats = products_df.select("product_id", "category").dropDuplicates(["product_id"])
    per_cat = (per_product.join(F.broadcast(cats), "product_id").where(F.col("category").isNotNull())
               .groupBy("customer_id", "category").agg(F.round(F.sum("score"), 4).alias("score")))
    cat = per_cat.groupBy("customer_id").agg(
        F.map_from_entries(F.collect_list(F.struct("category", "score"))).alias("category_interest"),
        F.max_by("category", F.struct("score", F.col("category"))).alias("top_category"))
    return top_products.join(cat, "customer_id", "full")


# ------------------------------------------------------------------------------------------ sentiment
def compound_sentiment(text: pd.Series) -> pd.Series:
    """VADER's compound score (-1 .. 1) of short texts (tickets, social mentions); null for empty text."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: PLC0415 (on the executors)

    analyzer = _analyzer(SentimentIntensityAnalyzer)
    return text.map(lambda t: analyzer.polarity_scores(t)["compound"] if isinstance(t, str) and t.strip() else None)


#: the same, as a vectorised Spark function
vader_compound = F.pandas_udf(compound_sentiment, DoubleType())


_ANALYZER: dict = {}


def _analyzer(cls):
    if "a" not in _ANALYZER:
        _ANALYZER["a"] = cls()
    return _ANALYZER["a"]


def support(tickets_df: DataFrame, as_of: dt.date, complaint_categories: list[str],
            negative_below: float = -0.05) -> DataFrame:
    """Tickets, complaints, days since the last complaint, mean sentiment of ticket text, negative tickets."""
    t = tickets_df.withColumn("_sent", vader_compound(F.concat_ws(". ", "subject", "body")))
    is_complaint = F.lower(F.col("category")).isin([c.lower() for c in complaint_categories])
    return t.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("tickets"),
        F.count(F.when(is_complaint, 1)).alias("complaints"),
        F.datediff(_lit_date(as_of), F.to_date(F.max(F.when(is_complaint, F.col("created_at")))))
        .alias("days_since_last_complaint"),
        F.round(F.avg("_sent"), 4).alias("ticket_sentiment"),
        F.count(F.when(F.col("_sent") < negative_below, 1)).alias("negative_tickets"))


def social(profiles_df: DataFrame) -> DataFrame:
    """Reach and engagement of a customer's social profiles, and the sentiment of their mentions."""
    texts = F.from_json(F.col("mentions"), "array<string>")
    mentions = (profiles_df.select("customer_id", F.explode_outer(texts).alias("_m"))
                .withColumn("_s", vader_compound(F.col("_m")))
                .groupBy("customer_id").agg(F.count("_m").alias("social_mentions"),
                                            F.round(F.avg("_s"), 4).alias("mention_sentiment")))
    reach = profiles_df.groupBy("customer_id").agg(
        F.array_sort(F.collect_set("platform")).alias("social_platforms"),
        F.sum("followers").alias("social_followers"), F.sum("posts").alias("social_posts"),
        F.sum("likes").alias("social_likes"))
    reach = reach.withColumn("social_engagement", F.round(F.col("social_likes") / F.greatest(F.col("social_posts"),
                                                                                             F.lit(1)), 4))
    return reach.join(mentions, "customer_id", "left")


def campaigns(responses_df: DataFrame) -> DataFrame:
    return responses_df.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("campaigns_received"),
        F.count(F.when(F.lower(F.col("response")) == "accepted", 1)).alias("campaigns_accepted")
    ).withColumn("campaign_response_rate", F.col("campaigns_accepted") / F.col("campaigns_received"))


def with_value_tier(df: DataFrame, value_col: str, tiers: list) -> DataFrame:
    """Tier by rank of ``value_col`` (highest first): a customer within a tier's ``top_share`` gets it."""
    if not tiers:
        return df.withColumn("value_tier", F.lit(None).cast("string"))
    rank = F.percent_rank().over(Window.orderBy(F.desc_nulls_last(value_col), "customer_id"))
    df = df.withColumn("_pr", rank)
    tier = F.lit(tiers[-1].name)
    for t in reversed(tiers):
        tier = F.when(F.col("_pr") < F.lit(t.top_share), F.lit(t.name)).otherwise(tier)
    return df.withColumn("value_tier", tier).drop("_pr")


def lifecycle(df: DataFrame, rules: list, default: str) -> DataFrame:
    return df.withColumn("lifecycle_stage", first_match(rules, default))


# ------------------------------------------------------------------------------------------ CLV inputs
def purchase_summary(orders_df: DataFrame, as_of: dt.date) -> DataFrame:
    """BG/NBD and Gamma-Gamma inputs per customer, purchases counted per day (FHL 2005): ``x`` repeat
    purchase days, ``t_x_days`` from the first to the last, ``T_days`` from the first to as_of, and the mean
    net spend of the repeat purchase days (``repeat_mean_value``; null when ``x = 0``)."""
    net = F.col("gross") - F.col("discount") - F.col("returns")
    daily = orders_df.groupBy("customer_id", F.to_date("order_ts").alias("d")).agg(F.sum(net).alias("v"))
    per = daily.groupBy("customer_id").agg(
        F.min("d").alias("_first"), F.max("d").alias("_last"), F.count(F.lit(1)).alias("_days"),
        F.sum("v").alias("_total"), F.min_by("v", "d").alias("_first_value"))
    return per.select(
        "customer_id", (F.col("_days") - 1).alias("x"),
        F.datediff("_last", "_first").alias("t_x_days"), F.datediff(_lit_date(as_of), "_first").alias("T_days"),
        F.when(F.col("_days") > 1, (F.col("_total") - F.col("_first_value")) / (F.col("_days") - 1))
        .alias("repeat_mean_value"))


def segment_names(centroids: list[list[float]], features: list[str], threshold: float = 0.5) -> list[str]:
    """A name per standardised centroid from its most distinctive features (``high_x`` / ``low_x``);
    ``average`` when no feature is beyond ``threshold`` standard deviations. Names are unique."""
    names: list[str] = []
    for c in centroids:
        order = sorted(range(len(features)), key=lambda i: -abs(c[i]))
        parts = [f"{'high' if c[i] > 0 else 'low'}_{features[i]}" for i in order if abs(c[i]) >= threshold][:2]
        name = " & ".join(parts) if parts else "average"
        k = 2
        while name in names:
            name = f"{name} ({k})"
            k += 1
        names.append(name)
    return names


def rekeyed(df: DataFrame | None, name: str, xref: DataFrame) -> DataFrame | None:
    """Rows of the silver object table ``name`` with the ``customer_id`` that ``silver.object_xref`` gives them."""
    if df is None:
        return None
    object_type, id_col = OBJECT_TABLES[name]
    keys = (xref.where((F.col("object_type") == object_type) & F.col("customer_id").isNotNull())
            .select("source_system", F.col("object_id").alias(id_col), "customer_id"))
    return df.join(keys, ["source_system", id_col])


def enrichment_key(df: DataFrame) -> list[Column]:
    """How third-party rows meet person records: ``_f``, ``_l``, ``_p`` (first and last name keys as resolve
    builds them, the normalised postcode)."""
    return [SC.name_key(F.col("first_name")).alias("_f"), SC.name_key(F.col("last_name")).alias("_l"),
            SC.normalize_postcode(F.col("postcode")).alias("_p")]


def enrichment_owners(person_xref: DataFrame) -> DataFrame:
    """``(_f, _l, _p, customer_id, _n)``: per name-and-postcode key of the customers' person records, how many
    customers have it (``_n``) and the least of their ids."""
    return (person_xref.select(*enrichment_key(person_xref), "customer_id")
            .where("_f IS NOT NULL AND _l IS NOT NULL AND _p IS NOT NULL")
            .groupBy("_f", "_l", "_p").agg(F.countDistinct("customer_id").alias("_n"),
                                            F.min("customer_id").alias("customer_id")))


def linked_enrichment(enr: DataFrame | None, person_xref: DataFrame) -> DataFrame | None:
    """Third-party records linked to the one customer whose records have that first name, last name and
    postcode (keys as in resolve); a key shared by two customers is not linked. The latest record wins."""
    if enr is None:
        return None
    owners = enrichment_owners(person_xref).where("_n = 1").drop("_n")
    linked = enr.select(*enrichment_key(enr), "occupation", "income_band", "household_size", "home_value",
                        "updated_at").join(owners, ["_f", "_l", "_p"])
    return (linked.groupBy("customer_id")
            .agg(F.max_by(F.struct("occupation", "income_band", "household_size", "home_value"), "updated_at")
                 .alias("_e"))
            .select("customer_id", "_e.*"))
