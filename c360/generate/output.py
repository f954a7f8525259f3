"""Writing the generator's files: the systems' exports (CSV, JSON lines, Parquet, with malformed rows injected
by :mod:`c360.generate.mess`), the ground truth under ``_truth/``, and the guard that never lets a run delete
what the generator did not write."""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from c360.errors import UsageError
from c360.generate.mess import Breaker, inject

#: written last-but-one by every run (before _SUCCESS): a folder holding it was written by the generator
MANIFEST = "_truth/manifest.json"


@dataclass
class Written:
    """What a run wrote so far: rows per source, and every malformed row (source, file, kind)."""
    rows: dict[str, int] = field(default_factory=dict)
    malformed: list[dict] = field(default_factory=list)

    def add(self, source: str, rows: int, path: Path | None = None, kinds: list[str] = ()) -> None:
        self.rows[source] = self.rows.get(source, 0) + rows
        self.malformed += [{"source": source, "file": path.name, "kind": k} for k in kinds]


def csv_lines(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(header fields, body lines) of ``df`` as CSV."""
    buf = io.StringIO()
    df.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    lines = buf.getvalue().split("\n")[:-1]
    return lines[0], lines[1:]


def write_csv(rng: np.random.Generator, df: pd.DataFrame, path: Path, rate: float,
              breakers: list[Breaker]) -> tuple[int, list[str]]:
    """Write ``df`` as CSV with malformed rows injected; returns (rows, kinds of damage)."""
    header, body = csv_lines(df)
    body, kinds = inject(rng, body, list(df.columns), rate, breakers)
    path.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
    return len(body), kinds


def write_jsonl(rng: np.random.Generator, df: pd.DataFrame, path: Path, rate: float,
                breakers: list[Breaker]) -> tuple[int, list[str]]:
    """Write ``df`` as JSON lines with malformed rows injected; returns (rows, kinds of damage)."""
    text = df.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    body = text.rstrip("\n").split("\n") if len(df) else []
    body, kinds = inject(rng, body, list(df.columns), rate, breakers)
    path.write_text("\n".join(body) + ("\n" if body else ""), encoding="utf-8")
    return len(body), kinds


def write_parquet(df: pd.DataFrame, path: Path) -> int:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, coerce_timestamps="us",
                   allow_truncated_timestamps=True)
    return len(df)


def clear_output(out: Path, own: list[str], overwrite: bool = False) -> None:
    """Make ``out`` ready for a generator run without deleting what the generator did not write: a folder
    holding the generator's manifest has its own entries ``own`` removed (anything else stays); any other
    non-empty folder is refused unless ``overwrite``."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    if not any(out.iterdir()):
        return
    if not (out / MANIFEST).exists() and not overwrite:
        raise UsageError(f"--out {out}: the folder is not empty and was not written by `c360 generate` (no "
                         f"{MANIFEST}); choose an empty folder, or give --overwrite to replace its generated "
                         "entries")
    for name in own:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
