"""The floor: what Spark itself takes to move the same rows on the same machine, with nothing of c360's around
it (no validation, quarantine, reconciliation, lineage columns, file log, de-duplication or standardising).

- ``ingest``: every enabled source's files read once with the source's format and reader options and written
  once to a Delta table of their own.
- ``standardize``: every bronze table c360 wrote read once and written once to a Delta table.

Same session settings as c360's own (``c360.session.get_spark`` on the same environment), a fresh process,
Spark's start-up included, as the bench times c360's stages. ``python -m bench.floor ingest|standardize
--conf DIR --landing DIR --warehouse DIR --out DIR``.
"""

from __future__ import annotations

import argparse
import sys

from c360.config import load_config
from c360.ingest.sources import resolve_path
from c360.io.files import join
from c360.session import get_spark
from c360.tables import bronze_table


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.floor")
    p.add_argument("what", choices=["ingest", "standardize"])
    p.add_argument("--env", default="local")
    p.add_argument("--conf", required=True, help="the folder of the run's sources.yml")
    p.add_argument("--landing", required=True)
    p.add_argument("--warehouse", required=True, help="c360's warehouse (standardize reads its bronze tables)")
    p.add_argument("--out", required=True, help="where the floor's Delta tables go (replaced)")
    a = p.parse_args(argv)
    cfg = load_config(a.env, [a.conf], warehouse=a.warehouse, landing=a.landing)
    spark = get_spark(cfg)
    for source in cfg.enabled_sources:
        target = join(a.out, a.what, source.name)
        if a.what == "ingest":
            reader = spark.read.options(**source.options)
            path = resolve_path(cfg, source)
            df = reader.format(source.format).load(path)
        else:
            df = spark.read.format("delta").load(bronze_table(source.name).path(cfg))
        df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(target)
    print(f"floor {a.what}: {len(cfg.enabled_sources)} tables written under {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
