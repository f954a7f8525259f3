"""What a notebook needs to look at a warehouse: ``ctx, spark = c360.notebook.connect()``.

The warehouse, landing folder, overlay and environment come from the environment variables ``C360_WAREHOUSE``,
``C360_LANDING``, ``C360_CONF`` and ``C360_ENV`` (defaults: the demo's ``data/demo`` folders and ``local``),
so the same notebook reads the demo, a test warehouse or a cluster's. Every existing table is registered as
``<layer>.<table>``; jobs run in the notebook as ``run_job(name, ctx)``.
"""

from __future__ import annotations

import os
from pathlib import Path

from c360.config import load_config
from c360.io.delta import register_all
from c360.pipelines import JobContext


def _find_root() -> Path:
    """The project folder: the nearest parent with conf/base (notebooks run from notebooks/)."""
    here = Path.cwd().resolve()
    for p in (here, *here.parents):
        if (p / "conf" / "base").is_dir():
            return p
    return here


def connect(warehouse: str | None = None, landing: str | None = None, env: str | None = None):
    """``(ctx, spark)`` for the warehouse; tables registered in the session catalog."""
    root = _find_root()
    landing = landing or os.environ.get("C360_LANDING") or str(root / "data" / "demo" / "landing")
    warehouse = warehouse or os.environ.get("C360_WAREHOUSE") or str(root / "data" / "demo" / "warehouse")
    conf = os.environ.get("C360_CONF") or landing
    conf_dirs = [conf] if conf and Path(conf).joinpath("sources.yml").exists() else None
    cfg = load_config(env or os.environ.get("C360_ENV", "local"), conf_dirs, warehouse=warehouse, landing=landing)
    ctx = JobContext(cfg)
    register_all(ctx.spark, cfg)
    return ctx, ctx.spark
