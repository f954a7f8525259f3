"""`c360 generate`: synthetic landing files with ground truth under `<out>/_truth` (never read by the pipeline)
and the `sources.yml` that maps them.

The generator writes to a local folder (a path or a ``file:`` URI); the pipeline reads any URI.

Profiles: ``company`` (the sample company: eleven systems, c360/generate/synth.py) and ``registry`` (one
person register with no contact points and an error model of its own, c360/generate/registry.py).
"""

from __future__ import annotations

from pathlib import Path

from c360.errors import UsageError
from c360.generate.registry import generate_registry
from c360.generate.synth import GenParams, generate
from c360.io import files
from c360.pipelines import JobContext


def run(ctx: JobContext, people: int | None = None, seed: int | None = None, out: str | None = None,
        overwrite: bool = False, profile: str = "company") -> dict:
    g = ctx.cfg.generate
    where = out or ctx.cfg.paths.landing
    if not files.is_local(where):
        raise UsageError(f"--out {where}: the generator writes to a local folder (a path or a file: URI); "
                         "generate locally and copy the folder to the object store")
    target = Path(files.local_path(where))
    seed = g.seed if seed is None else seed
    if profile == "registry":
        counts = generate_registry(target, g.registry, people or g.people, seed, overwrite=overwrite)
        return {"out": str(target), "people": people or g.people, "rows": sum(counts.values())}
    params = GenParams(people=people or g.people, seed=seed, start_date=g.start_date,
                       days=g.days, malformed_rate=g.malformed_rate, duplicate_rate=g.duplicate_rate,
                       chunk_size=g.chunk_size)
    counts = generate(target, params, overwrite=overwrite)
    return {"out": str(target), "people": params.people, "rows": sum(counts.values())}
