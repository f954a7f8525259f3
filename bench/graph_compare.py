"""Connected-components backends side by side on a generated graph.

``python -m bench.graph_compare --edges 1000000 --backends local native`` builds a graph of ``--edges`` edges
over ``2/3 * edges`` vertices with 23-character string ids (``crm:CRM`` + 16 digits, as record keys look),
runs each backend of :mod:`c360.graph` on it in one Spark session, checks that they agree, and appends the
time, the components and the driver process's peak Python memory so far (only the first backend's is its
own) to ``bench/graph_compare.csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time

from bench.__main__ import _machine, append_csv


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.graph_compare")
    p.add_argument("--edges", type=int, default=1_000_000)
    p.add_argument("--backends", nargs="+", default=["local", "native"], choices=["local", "native", "graphframes"])
    p.add_argument("--out", default="bench/graph_compare.csv")
    a = p.parse_args(argv)
    from pyspark.sql import functions as F

    from c360.config import GraphConfig, load_config
    from c360.graph import connected_components
    from c360.session import get_spark

    spark = get_spark(load_config("local", warehouse=tempfile.mkdtemp(prefix="c360-graph-")))
    n, m = a.edges, max(2 * a.edges // 3, 1)
    key = "crm:CRM%016d"
    edges = spark.range(n).select(F.format_string(key, (F.col("id") * 7919) % m).alias("src"),
                                  F.format_string(key, (F.col("id") * 104729 + 1) % m).alias("dst")).localCheckpoint()
    no_vertices = edges.select(F.col("src").alias("id")).limit(0)
    rows, results = [], {}
    for backend in a.backends:
        t0 = time.perf_counter()
        cc = connected_components(no_vertices, edges, GraphConfig(backend=backend)).localCheckpoint()
        secs = time.perf_counter() - t0
        results[backend] = cc
        stats = cc.agg(F.count("id").alias("vertices"), F.countDistinct("component").alias("components")).first()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"graph-compare: {backend}: {secs:.1f} s, {stats['vertices']} vertices, {stats['components']} "
              f"components, driver Python peak {peak:.0f} MB", file=sys.stderr)
        rows.append([dt.date.today().isoformat(), _machine(), n, stats["vertices"], backend, round(secs, 1),
                     stats["components"], round(peak)])
    first, *others = results.values()
    same = all(first.exceptAll(o).count() == 0 and o.exceptAll(first).count() == 0 for o in others)
    print(f"graph-compare: backends agree: {same}", file=sys.stderr)
    append_csv(a.out, ["date", "machine", "edges", "vertices", "backend", "seconds", "components",
                       "driver_python_peak_mb", "backends_agree"], [r + [same] for r in rows])
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
