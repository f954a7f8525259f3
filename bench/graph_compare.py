"""Connected-components backends side by side on a generated graph.

``python -m bench.graph_compare --edges 1000000 5000000`` builds, for each size, a graph of that many edges over
``2/3 * edges`` vertices with 23-character string ids (``crm:CRM`` + 16 digits, as record keys look), runs each
backend of :mod:`c360.graph` on it in one Spark session (the local configuration: 8 shuffle partitions),
checks that they agree, and writes the time, the components and the driver process's peak Python memory
so far (only the first backend's is its own) to ``bench/results/graph-compare-<date>.csv``.

Backends: ``local`` and ``graphframes:<algorithm>`` (``two_phase``, ``graphx``). GraphFrames
comes from ``graph.graphframes_jar`` or ``graph.graphframes_package`` as in any run (for example
``C360__GRAPH__GRAPHFRAMES_JAR=/path/to/graphframes.jar``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench.__main__ import _machine, append_csv, result_file

BACKENDS = ["local", "graphframes:two_phase", "graphframes:graphx"]
DEFAULT = ["local", "graphframes:two_phase"]
HEADER = ["date", "machine", "edges", "vertices", "backend", "seconds", "components", "driver_python_peak_mb",
          "backends_agree"]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.graph_compare")
    p.add_argument("--edges", type=int, nargs="+", default=[1_000_000, 5_000_000])
    p.add_argument("--backends", nargs="+", default=DEFAULT, choices=BACKENDS,
                   help="graphframes:graphx is left out by default: one label hop per iteration, slow on long paths")
    p.add_argument("--out", default=None, help="results CSV (default: bench/results/graph-compare-<date>.csv)")
    a = p.parse_args(argv)
    from pyspark.sql import functions as F

    from c360.config import load_config
    from c360.graph import connected_components
    from c360.session import get_spark

    cfg = load_config("local", warehouse=tempfile.mkdtemp(prefix="c360-graph-"))
    spark = get_spark(cfg)
    out = Path(a.out) if a.out else result_file("graph-compare")
    agree_all = True
    for n in a.edges:
        m = max(2 * n // 3, 1)
        key = "crm:CRM%016d"
        edges = spark.range(n).select(F.format_string(key, (F.col("id") * 7919) % m).alias("src"),
                                      F.format_string(key, (F.col("id") * 104729 + 1) % m).alias("dst")
                                      ).localCheckpoint()
        no_vertices = edges.select(F.col("src").alias("id")).limit(0)
        rows, results = [], {}
        for name in a.backends:
            backend, _, algorithm = name.partition(":")
            graph = cfg.graph.model_copy(update={"backend": backend,
                                                 "graphframes_algorithm": algorithm or "two_phase"})
            t0 = time.perf_counter()
            cc = connected_components(no_vertices, edges, graph).localCheckpoint()
            secs = time.perf_counter() - t0
            results[name] = cc
            stats = cc.agg(F.count("id").alias("vertices"), F.countDistinct("component").alias("components")).first()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"graph-compare: {n:,} edges, {name}: {secs:.1f} s, {stats['vertices']} vertices, "
                  f"{stats['components']} components, driver Python peak {peak:.0f} MB", file=sys.stderr)
            rows.append([dt.date.today().isoformat(), _machine(), n, stats["vertices"], name, round(secs, 1),
                         stats["components"], round(peak)])
        first, *others = results.values()
        same = all(first.exceptAll(o).count() == 0 and o.exceptAll(first).count() == 0 for o in others)
        agree_all &= same
        print(f"graph-compare: {n:,} edges: backends agree: {same}", file=sys.stderr)
        append_csv(out, HEADER, [r + [same] for r in rows])
    print(f"graph-compare: results in {out}", file=sys.stderr)
    return 0 if agree_all else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
