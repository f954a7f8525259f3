"""`c360 generate`: synthetic landing files with ground truth under `<out>/_truth` (never read by the pipeline)."""

from __future__ import annotations

from pathlib import Path

from c360.generate.synth import GenParams, generate
from c360.pipelines import JobContext


def run(ctx: JobContext, people: int | None = None, seed: int | None = None, out: str | None = None) -> dict:
    g = ctx.cfg.generate
    params = GenParams(people=people or g.people, seed=g.seed if seed is None else seed, start_date=g.start_date,
                       days=g.days, malformed_rate=g.malformed_rate, duplicate_rate=g.duplicate_rate,
                       chunk_size=g.chunk_size)
    target = Path(out or ctx.cfg.paths.landing)
    counts = generate(target, params)
    return {"out": str(target), "people": params.people, "rows": sum(counts.values())}
