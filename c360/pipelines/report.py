"""`c360 report`: the customer scorecard as one self-contained HTML file, ``<reports>/scorecard.html``.

Extract: gold.customer_360 (required) and whatever else exists: orders, campaign responses, web sessions,
the identity tables, model metrics, cross-sell rules, quality results and the quarantine. Transform
(:mod:`c360.report.scorecard`): small summaries computed in Spark. Load: plotly figures and tables
(:mod:`c360.report.render`), plotly.js embedded, so the page opens offline.
"""

from __future__ import annotations

import time

from pyspark.sql import functions as F

from c360.activation import audiences as A
from c360.errors import C360Error
from c360.features import customer as C
from c360.io import files
from c360.io.delta import read_optional, read_table
from c360.log import get_logger
from c360.pipelines import JobContext
from c360.report import render as R
from c360.report import scorecard as S
from c360.tables import table

log = get_logger(__name__)


def _opt(ctx: JobContext, name: str):
    return read_optional(ctx.spark, ctx.cfg, table(name))


def build(ctx: JobContext) -> R.Page:
    spark, cfg = ctx.spark, ctx.cfg
    c360 = read_optional(spark, cfg, table("gold.customer_360"))
    if c360 is None:
        raise C360Error("report: gold.customer_360 does not exist; run `c360 publish` first")
    c360 = c360.cache()
    as_of = c360.agg(F.max("as_of")).first()[0]
    page = R.Page("c360 customer scorecard", R.subtitle(as_of, files.location(cfg.paths.warehouse)))

    # ------------------------------------------------------------------ scorecard
    sec = page.section("scorecard", "Customers and value")
    tot = S.totals(c360)
    sec.append(page.tiles({"customers": tot["customers"], "buyers": tot.get("buyers"),
                           "net revenue": tot.get("net_revenue"), "gross margin": tot.get("gross_margin"),
                           "cost to serve": tot.get("cost_to_serve"), "profit": tot.get("profit"),
                           "customer lifetime value": tot.get("clv")}))
    grid = []
    for group, title in (("rfm_segment", "RFM segment"), ("lifecycle_stage", "Lifecycle stage"),
                         ("value_tier", "Value tier")):
        if group in c360.columns:
            df = S.by_group(c360, group)
            money = [c for c in ("net_revenue", "gross_margin", "profit", "cost_to_serve") if c in df.columns]
            grid.append(page.figure(R.bars(df, group, money, f"Revenue, margin, profit and cost to serve by {title.lower()}")))
            grid.append(page.figure(R.bars(df, group, ["customers"], f"Customers by {title.lower()}")))
    sec.append(f'<div class="grid">{"".join(grid)}</div>')

    objects = _opt(ctx, "silver.object_xref")
    orders = C.rekeyed(_opt(ctx, "silver.orders"), "silver.orders", objects) if objects is not None else None
    if orders is not None and as_of is not None:
        rc = cfg.report
        move = S.lifecycle_movement(orders.select("customer_id", "order_ts"), as_of, rc.movement_months,
                                    rc.movement_step_days)
        sec = page.section("lifecycle", "Lifecycle movement")
        sec.append(page.figure(R.stacked_area(move, "point", ["new", "active", "lapsed", "lost"],
                                              "New, active, lapsed and lost customers over time")))
        sec.append(page.note("new: first order within 90 days; active: an order within 180 days; lapsed: the "
                             "latest 180-365 days ago; lost: longer."))

    # ------------------------------------------------------------------ RFM, CLV, churn
    sec = page.section("value", "RFM, CLV and P(alive)")
    grid = []
    if "r_score" in c360.columns:
        rfm = S.rfm_grid(c360)
        if not rfm.empty:
            grid.append(page.figure(R.heatmap(rfm, "f_score", "r_score", "customers", "RFM grid: customers per R x F")))
    for col, title in (("clv", "CLV distribution"), ("p_alive", "P(alive) distribution")):
        if col in c360.columns:
            lo_hi = (0.0, 1.0) if col == "p_alive" else (None, None)
            grid.append(page.figure(R.binned(S.histogram(c360, col, 30, *lo_hi), title, col)))
    sec.append(f'<div class="grid">{"".join(grid)}</div>')

    metrics = _opt(ctx, "gold.model_metrics")
    if "churn_probability" in c360.columns:
        sec = page.section("churn", "Churn risk")
        grid = [page.figure(R.bars(S.counts(c360, "churn_risk"), "churn_risk", ["count"], "Customers by churn risk")),
                page.figure(R.binned(S.histogram(c360, "churn_probability", 20, 0.0, 1.0),
                                     "Churn probability", "churn_probability"))]
        churn = S.latest_metrics(metrics, "churn") if metrics is not None else None
        if churn and churn.get("drivers"):
            import pandas as pd  # noqa: PLC0415

            drv = pd.DataFrame(churn["drivers"]).iloc[::-1]
            grid.append(page.figure(R.bars(drv, "feature", ["weight"], "Top churn drivers (model weights)",
                                           horizontal=True)))
        sec.append(f'<div class="grid">{"".join(grid)}</div>')
        if churn:
            tiles = {"held-out ROC AUC": churn.get("roc_auc"), "PR AUC": churn.get("pr_auc"),
                     "top-decile lift": churn.get("top_decile_lift"), "model version": churn["version"]}
            truth = S.latest_metrics(metrics, "churn_vs_truth")
            if truth and truth.get("version") == churn["version"]:
                tiles["oracle ROC AUC (generator's truth)"] = truth.get("oracle_roc_auc")
            sec.append(page.tiles(tiles))

    rules = _opt(ctx, "gold.cross_sell_rules")
    if rules is not None:
        sec = page.section("cross-sell", "Top cross-sell rules")
        top = (rules.orderBy(F.desc("lift"), F.desc("confidence")).limit(cfg.report.top_rules)
               .select(F.concat_ws(" + ", "antecedent").alias("bought"), F.col("consequent")[0].alias("recommend"),
                       F.round("support", 4).alias("support"), F.round("confidence", 3).alias("confidence"),
                       F.round("lift", 2).alias("lift")).toPandas())
        sec.append(page.table(top))

    # ------------------------------------------------------------------ campaigns and web
    responses = _opt(ctx, "silver.campaign_responses")
    if responses is not None:
        sec = page.section("campaigns", "Campaign response and conversion")
        grid = []
        for by in ("campaign_id", "channel", "offer"):
            if by in responses.columns:
                perf = S.campaign_performance(responses, by).head(20)
                grid.append(page.figure(R.bars(perf, by, ["response_rate", "conversion_rate"],
                                               f"Response and conversion by {by}")))
        sec.append(f'<div class="grid">{"".join(grid)}</div>')
    members = _opt(ctx, "gold.audience_members")
    if members is not None:
        sec = page.section("audiences", "Audiences: response and uplift")
        coded = responses if responses is not None and "response_code" in responses.columns else None
        res = (A.campaign_results(members, coded, orders, cfg.activation.attribution_days)
               .orderBy(F.desc("as_of"), "audience", "cell").limit(60).toPandas())
        res["run"] = res["run_id"] + " " + res["cell"]
        sec.append(page.figure(R.bars(res.head(20), "run", ["response_rate", "conversion_rate"],
                                      "Response rate and conversion by audience run and cell")))
        sec.append(page.table(res[["audience", "run_id", "cell", "is_control", "members", "responses", "accepted",
                                   "response_rate", "converted", "conversion_rate", "uplift"]]))
        runs = _opt(ctx, "gold.audience_runs")
        if runs is not None:
            sup = (runs.orderBy(F.desc("created_at")).limit(20)
                   .select("audience", "run_id", "channel", "selected", "suppressed", "capped", "members",
                           F.to_json("suppressed_by").alias("suppressed_by"), F.to_json("cells").alias("cells"))
                   .toPandas())
            sec.append(page.table(sup))
        sec.append(page.note(f"Uplift: a cell's conversion rate (members with an order within "
                             f"{cfg.activation.attribution_days} days of the audience's date) less the control "
                             f"cells'. Responses count when they carry a member's response code."))
    sessions = _opt(ctx, "silver.web_sessions")
    if sessions is not None:
        sec = page.section("web", "Web behaviour")
        web = S.web_by_channel(sessions)
        sec.append(f'<div class="grid">{page.figure(R.bars(web, "channel", ["sessions"], "Sessions by channel"))}'
                   f'{page.figure(R.bars(web, "channel", ["conversion_rate", "abandonment_rate"], "Conversion and cart abandonment by channel"))}</div>')

    # ------------------------------------------------------------------ identity and quality
    golden = read_table(spark, cfg, table("silver.golden_customer"))
    sec = page.section("identity", "Identity resolution")
    ident = S.identity_summary(read_table(spark, cfg, table("silver.person")), golden, _opt(ctx, "silver.identity_edges"),
                               read_table(spark, cfg, table("silver.customer_xref")))
    evaluated = S.latest_metrics(metrics, "identity_resolution") if metrics is not None else None
    flagged = ident.pop("clusters_flagged", {}) or {}
    tiles = {"source records in": ident["records_in"], "customers out": ident["customers_out"],
             "merge rate": ident["merge_rate"], "match edges": ident.get("match_edges"),
             "review edges": ident.get("review_edges"), "oversized clusters": flagged.get("oversized", 0)}
    if evaluated:
        tiles.update({"pairwise precision": evaluated.get("pairwise_precision"),
                      "pairwise recall": evaluated.get("pairwise_recall"), "pairwise F1": evaluated.get("pairwise_f1")})
    sec.append(page.tiles(tiles))
    sizes = S.cluster_sizes(golden)
    biggest = (golden.orderBy(F.desc("record_count"), "customer_id").limit(cfg.report.top_clusters)
               .select("customer_id", "record_count", F.concat_ws(", ", "sources").alias("sources")).toPandas())
    sec.append(f'<div class="grid">{page.figure(R.bars(sizes, "record_count", ["count"], "Cluster sizes: customers per merged records"))}'
               f'<div><h3>Largest clusters</h3>{page.table(biggest)}</div></div>')
    if not evaluated:
        sec.append(page.note("Precision and recall appear here after `c360 evaluate-identity --truth DIR`."))

    sec = page.section("quality", "Data quality")
    results = _opt(ctx, "gold.quality_results")
    if results is not None:
        q = S.latest_quality(results)
        failed = q[~q["success"]]
        sec.append(page.tiles({"expectations": len(q), "failed critical": int((failed["severity"] == "critical").sum()),
                               "failed warnings": int((failed["severity"] == "warning").sum())}))
        sec.append(page.table(q[["table_name", "expectation", "severity", "success", "observed"]],
                              classes={"False": "fail", "True": "ok"}))
    else:
        sec.append(page.note("No gate results yet: run `c360 quality`."))
    quarantine = _opt(ctx, "bronze.quarantine")
    if quarantine is not None:
        q = S.counts(quarantine, "source_system", "reason")
        q["reason"] = q["reason"].str.slice(0, 60)
        sec.append(page.figure(R.bars(q.head(30), "source_system", ["count"], "Quarantined rows by source")))
        sec.append(page.table(q.head(30)))
    c360.unpersist()
    return page


def run(ctx: JobContext) -> dict:
    t0 = time.perf_counter()
    page = build(ctx)
    path = files.join(ctx.cfg.reports_path, "scorecard.html")
    text = page.html()
    files.write_text(ctx.spark, path, text)
    facts = {"report": path, "sections": len(page.sections), "figures": page._n, "bytes": len(text),
             "report_seconds": round(time.perf_counter() - t0, 1)}
    log.info(f"report: written to {path}", sections=facts["sections"], figures=facts["figures"])
    return facts
