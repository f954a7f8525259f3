"""Links that are not person records: cookies that logged in, and objects (orders, tickets, ...) to customers.

- :func:`login_links`: ``anonymous_id -> person record`` from clickstream events that carry a user id
  (the session logged in). A cookie that logged into more than ``login_links.max_records_per_cookie``
  person records is a shared device and links nothing (reported).
- :func:`object_links`: orders, campaign responses, tickets and social profiles re-keyed to
  ``customer_id`` through ``silver.customer_xref``: a campaign response by the response code of an audience
  member (gold.audience_members), else by their person reference, else by an email or phone that belongs to
  exactly one customer. A shared email (a household) is ``ambiguous_email``, never guessed.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from c360.config import LoginLinkConfig
from c360.frames import empty_frame
from c360.resolve.blocking import record_key
from c360.standardize import columns as C
from c360.tables import table

#: silver table -> (object type, id column)
OBJECT_TABLES = {
    "silver.orders": ("order", "order_id"),
    "silver.campaign_responses": ("campaign_response", "response_id"),
    "silver.tickets": ("ticket", "ticket_id"),
    "silver.social": ("social_profile", "source_record_id"),
}


def login_links(events: DataFrame | None, record_keys: DataFrame, config: LoginLinkConfig
                ) -> tuple[DataFrame, dict]:
    """``(cookie, source_system, anonymous_id, rk)`` edges from ``silver.events`` (None: no event source), and a
    report."""
    if not config.enabled or events is None:
        empty = empty_frame(record_keys.sparkSession, "cookie string, source_system string, anonymous_id string, rk string")
        return empty, {"cookies_linked": 0, "shared_device_cookies": 0}
    logins = (events.where(F.col("person_ref").isNotNull() & F.col("anonymous_id").isNotNull())
              .select("source_system", "anonymous_id",
                      record_key(F.coalesce("person_source", F.lit("")), "person_ref").alias("rk"))
              .distinct()
              .join(record_keys, "rk", "left_semi")
              .withColumn("cookie", record_key("source_system", "anonymous_id"))
              .withColumn("_records", F.count(F.lit(1)).over(Window.partitionBy("cookie")))
              .localCheckpoint())
    shared = F.col("_records") > config.max_records_per_cookie
    row = logins.agg(F.countDistinct(F.when(~shared, F.col("cookie"))).alias("linked"),
                     F.countDistinct(F.when(shared, F.col("cookie"))).alias("shared")).first()
    report = {"cookies_linked": row["linked"], "shared_device_cookies": row["shared"]}
    links = logins.where(~shared)
    return links.select("cookie", "source_system", "anonymous_id", "rk"), report


def _unique_contact(records: DataFrame, column: str) -> DataFrame:
    """``value -> customer_id`` when exactly one customer has that value, else customer_id null."""
    return (records.where(F.col(column).isNotNull()).groupBy(F.col(column).alias("_value"))
            .agg(F.countDistinct("customer_id").alias("_n"), F.min("customer_id").alias("_cid")))


def object_links(objects: dict[str, DataFrame], xref: DataFrame, records: DataFrame, phone_region: str,
                 members: DataFrame | None = None) -> DataFrame:
    """``(object_type, source_system, object_id, customer_id, link_method)`` for every object of ``objects``
    (silver table name -> its rows, for the tables of :data:`OBJECT_TABLES` that exist). ``members``
    ``(response_code, customer_id)``: audience members; a response with a member's code is theirs (while that
    customer id is current)."""
    by_ref = xref.select(F.col("source_system").alias("_ps"), F.col("source_record_id").alias("_pr"),
                         F.col("customer_id").alias("_ref_cid"))
    emails = _unique_contact(records, "email")
    phones = _unique_contact(records, "phone")
    out = None
    region = phone_region
    for name, (otype, id_col) in OBJECT_TABLES.items():
        df = objects.get(name)
        if df is None:
            continue
        cols = df.columns
        obj = df.select(
            F.lit(otype).alias("object_type"), "source_system", F.col(id_col).cast("string").alias("object_id"),
            (F.col("person_source") if "person_source" in cols else F.lit(None).cast("string")).alias("_ps"),
            (F.col("person_ref") if "person_ref" in cols else F.lit(None).cast("string")).alias("_pr"),
            (C.normalize_email(F.col("email")) if "email" in cols else F.lit(None).cast("string")).alias("_email"),
            # only a table with phones goes through the (Python) phone parser: orders have none
            (C.e164(region)(F.col("phone")) if "phone" in cols else F.lit(None).cast("string")).alias("_phone"),
            (F.col("response_code") if "response_code" in cols else F.lit(None).cast("string")).alias("_code"))
        if members is not None and "response_code" in cols:
            current = xref.select(F.col("customer_id").alias("_ccid")).distinct()
            codes = (members.select(F.col("response_code").alias("_code"), F.col("customer_id").alias("_ccid"))
                     .join(current, "_ccid").dropDuplicates(["_code"]))
            obj = obj.join(codes, "_code", "left")
        else:
            obj = obj.withColumn("_ccid", F.lit(None).cast("string"))
        obj = (obj.join(by_ref, ["_ps", "_pr"], "left")
               .join(emails.select(F.col("_value").alias("_email"), F.col("_n").alias("_en"),
                                   F.col("_cid").alias("_ecid")), "_email", "left")
               .join(phones.select(F.col("_value").alias("_phone"), F.col("_n").alias("_pn"),
                                   F.col("_cid").alias("_pcid")), "_phone", "left"))
        method = (F.when(F.col("_ccid").isNotNull(), "response_code").when(F.col("_ref_cid").isNotNull(), "reference")
                  .when(F.col("_en") == 1, "email").when(F.col("_pn") == 1, "phone")
                  .when(F.col("_en") > 1, "ambiguous_email").when(F.col("_pn") > 1, "ambiguous_phone")
                  .otherwise("unmatched"))
        cid = F.coalesce("_ccid", "_ref_cid", F.when(F.col("_en") == 1, F.col("_ecid")),
                         F.when(F.col("_pn") == 1, F.col("_pcid")))
        obj = obj.select("object_type", "source_system", "object_id", cid.alias("customer_id"),
                         method.alias("link_method"))
        out = obj if out is None else out.unionByName(obj)
    if out is None:
        return empty_frame(xref.sparkSession, table("silver.object_xref").ddl())
    return out
