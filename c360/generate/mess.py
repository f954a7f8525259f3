"""The mess real exports carry: typos and case noise in values, and malformed rows (a wrong column count, an
impossible date, a value of the wrong type, broken JSON). Malformed rows are chosen per file at
``malformed_rate`` and each one is returned for the truth; value breakers name their column, never a position.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import numpy as np

#: (line, the file's column names) -> (kind of damage, the damaged line)
Breaker = Callable[[str, list[str]], tuple[str, str]]


def typo(rng: np.random.Generator, s: np.ndarray, rate: float) -> np.ndarray:
    """Swap two adjacent letters or drop one in a share of the strings."""
    out = s.astype(object).copy()
    hit = np.flatnonzero(rng.random(len(s)) < rate)
    for i in hit:
        w = out[i]
        if not isinstance(w, str) or len(w) < 4:
            continue
        j = int(rng.integers(1, len(w) - 2))
        out[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:] if rng.random() < 0.5 else w[:j] + w[j + 1:]
    return out



def case_mess(rng: np.random.Generator, s: np.ndarray) -> np.ndarray:
    u = rng.random(len(s))
    s = s.astype(str)
    return np.where(u < 0.15, np.char.upper(s), np.where(u < 0.25, np.char.lower(s), s))


def replace_field(line: str, index: int, value: str) -> str:
    """Replace one field of a CSV line (a line shorter than that is left alone)."""
    row = next(csv.reader([line]))
    if index >= len(row):
        return line
    row[index] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()


def extra_columns(line: str, _columns: list[str]) -> tuple[str, str]:
    return "wrong_column_count", line + ",EXTRA,COLUMNS"


def missing_columns(line: str, _columns: list[str]) -> tuple[str, str]:
    return "wrong_column_count", ",".join(line.split(",")[:3])


def csv_value(kind: str, column: str, value: str) -> Breaker:
    """A CSV row whose ``column`` holds ``value`` (an impossible date, a word where a time belongs)."""
    def brk(line: str, columns: list[str]) -> tuple[str, str]:
        return kind, replace_field(line, columns.index(column), value)
    return brk


def truncated_json(line: str, _columns: list[str]) -> tuple[str, str]:
    return "broken_json", line[: max(5, len(line) // 2)]


def unquoted_key(line: str, _columns: list[str]) -> tuple[str, str]:
    return "broken_json", line.replace('":', '" ', 1)


def json_value_prefix(kind: str, field: str, prefix: str) -> Breaker:
    """A JSON line whose string ``field`` starts with ``prefix`` (``not-a-time2025-...``)."""
    def brk(line: str, _columns: list[str]) -> tuple[str, str]:
        return kind, line.replace(f'"{field}":"', f'"{field}":"{prefix}', 1)
    return brk


CSV_BREAKERS: list[Breaker] = [extra_columns, missing_columns]
JSON_BREAKERS: list[Breaker] = [truncated_json, unquoted_key]


def inject(rng: np.random.Generator, body: list[str], columns: list[str], rate: float,
           breakers: list[Breaker]) -> tuple[list[str], list[str]]:
    """``body`` with a share ``rate`` of its lines damaged, and the kind of each damage."""
    body = list(body)
    kinds = []
    k = rng.binomial(len(body), rate) if body and breakers else 0
    for i in rng.choice(len(body), size=k, replace=False) if k else []:
        kind, broken = breakers[int(rng.integers(0, len(breakers)))](body[i], columns)
        body[i] = broken
        kinds.append(kind)
    return body, kinds
