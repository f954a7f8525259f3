# %% [markdown]
# # Exploring the c360 tables
# Run `make demo` first. This notebook (jupytext "percent" format: open it in Jupyter or VS Code) defines
# no logic: it only imports c360 and looks at the tables.

# %%
from c360.config import load_config
from c360.session import get_spark

# the demo's sources.yml (written by the generator beside its files) names the bronze tables to register
cfg = load_config("local", "data/demo/landing", warehouse="data/demo/warehouse", landing="data/demo/landing")
spark = get_spark(cfg)  # every existing table is registered as <layer>.<table>
spark.sql("SHOW TABLES IN silver").show()

# %% Reconciliation of the last ingestion runs
spark.table("bronze.ingest_log").groupBy("source_system").sum("rows_read", "rows_kept", "rows_quarantined").show()

# %% Why rows were quarantined
spark.table("bronze.quarantine").groupBy("source_system", "reason").count().orderBy("source_system").show(truncate=80)

# %% Standardised people
spark.table("silver.person").select(
    "source_system", "first_name", "first_name_canonical", "last_name", "email", "email_valid", "phone",
    "date_of_birth", "street", "postcode").show(20, truncate=False)
