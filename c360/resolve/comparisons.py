"""The comparison library: how two records' values of one field agree, as ordered levels.

A comparison turns a pair (columns ``l_<col>`` and ``r_<col>``) into a *level*: an integer ``gamma`` where
``0`` is the best level, ``len(levels) - 1`` is ``else`` (clear disagreement) and ``-1`` means a value is
missing on either side (weighs nothing). Levels are Spark built-in expressions; Jaro-Winkler is c360's own
built-in ``c360_jaro_winkler`` (:mod:`c360.jvm`: a ``StaticInvoke`` of a Java method, as Spark builds its own
functions) when the session has it, else a vectorised ``pandas_udf`` over rapidfuzz's C++ ``cpdist`` with the
same values (both are tested against rapidfuzz).

Types (``type:`` in ``conf/base/resolve.yml``):

=========  ==============================================================================================
exact      exact, else
name       exact, nickname (same canonical form), swapped (first/last the other way round),
           Jaro-Winkler >= each threshold, swapped_close (the other way round with a nickname or a typo:
           Jones Davy / David Jones), same initial (a nickname with a typo: Tmmy / Thomas), else
email      exact, same local part (other domain), typo (Levenshtein 1), Jaro-Winkler >= each threshold, else
phone      exact, one digit different (Levenshtein 1), else
date       exact, typo (one digit different, two digits transposed, or day and month swapped), same year
           (``year``), else
string     exact, Jaro-Winkler >= each threshold, else
identifier exact, typo (one character different, or two transposed), else (national ids, member numbers)
hierarchy  ``column`` exact, its typo, then each of ``then`` exact in turn (the first with a Jaro-Winkler
           level per threshold), else: correlated fields in one comparison so that they are not counted as
           independent evidence (postcode, then city, then state)
=========  ==============================================================================================

A comparison's value is missing (``-1``) when no column it reads has a value on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType

from c360 import jvm
from c360.config import ComparisonConfig

JW_FUNCTION = "c360_jaro_winkler"


@F.pandas_udf(DoubleType())
def jaro_winkler_py(a: pd.Series, b: pd.Series) -> pd.Series:
    """Jaro-Winkler similarity in [0, 1] of each row's two strings (0 when either is null)."""
    from rapidfuzz import process  # noqa: PLC0415 (imported on the executors)
    from rapidfuzz.distance import JaroWinkler  # noqa: PLC0415

    # rapidfuzz scores a None (a null) against anything as 0; cpdist's default result type is float32, whose
    # rounding moves values across a threshold (0.91999997 -> 0.92): double, like the Java function
    sim = process.cpdist(a.tolist(), b.tolist(), scorer=JaroWinkler.similarity, workers=1, dtype=np.float64)
    return pd.Series(sim, index=a.index)


def jaro_winkler(a: Column, b: Column) -> Column:
    """Jaro-Winkler similarity of two string columns, 0 when either is null: Spark's generated code calls c360's
    Java function when the session has it (:mod:`c360.jvm`), else the pandas UDF over rapidfuzz."""
    if jvm.has_function(JW_FUNCTION):
        return F.coalesce(F.call_function(JW_FUNCTION, a.cast("string"), b.cast("string")), F.lit(0.0))
    return jaro_winkler_py(a.cast("string"), b.cast("string"))


def _l(col: str) -> Column:
    return F.col(f"l_{col}")


def _r(col: str) -> Column:
    return F.col(f"r_{col}")


def _initial(col: Column) -> Column:
    return F.substring(col, 1, 1)


def _typo(l: Column, r: Column) -> Column:  # noqa: E741
    """One keystroke apart: one character different, added or dropped, or two characters transposed (the same
    characters, two edits apart: 19560409 / 19650409)."""
    one = F.levenshtein(l, r, 1) != -1
    transposed = ((F.length(l) == F.length(r)) & (F.levenshtein(l, r, 2) != -1)
                  & (F.array_sort(F.split(l, "")) == F.array_sort(F.split(r, ""))))
    return one | transposed


def _cross(left: str, right: str) -> str:
    """The column of the Jaro-Winkler similarity of ``l_<left>`` and ``r_<right>``."""
    return f"jw_{left}__{right}"


@dataclass(frozen=True)
class Comparison:
    """One configured comparison: its level labels and the Spark expression of its gamma."""

    config: ComparisonConfig

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def own_columns(self) -> list[str]:
        """The columns whose values this comparison judges (not ``swap_with``, the other name part it only
        looks at for swapped names): a blocking rule on one of them makes all its pairs agree here."""
        c = self.config
        return [x for x in (c.column, c.canonical, *c.then) if x]

    @property
    def columns(self) -> list[str]:
        c = self.config
        return [x for x in (c.column, c.canonical, c.swap_with, *c.then) if x]

    def _levels(self) -> list[tuple[str, Callable[[], Column]]]:
        """``(label, condition)`` per level, best first; a condition is built only when called, so that the
        labels (read by the model many times per run) cost no Spark calls."""
        c = self.config

        def lr() -> tuple[Column, Column]:
            return _l(c.column), _r(c.column)

        def swapped() -> Column:
            l, r = lr()  # noqa: E741
            return (l == _r(c.swap_with)) & (_l(c.swap_with) == r)

        def swapped_close() -> Column:
            # one side written the other way round: the surname close (>= the first threshold) and the
            # first names sharing an initial (nickname or typo), in either direction
            (l, r), t, ls, rs = lr(), c.thresholds[0], _l(c.swap_with), _r(c.swap_with)  # noqa: E741
            return (((F.col(_cross(c.column, c.swap_with)) >= t) & (_initial(ls) == _initial(r)))
                    | ((F.col(_cross(c.swap_with, c.column)) >= t) & (_initial(l) == _initial(rs))))

        def date_typo() -> Column:
            l, r = lr()  # noqa: E741
            swap = (F.dayofmonth(l) == F.month(r)) & (F.month(l) == F.dayofmonth(r)) & (F.year(l) == F.year(r))
            return _typo(l.cast("string"), r.cast("string")) | swap

        def jw(t: float) -> tuple[str, Callable[[], Column]]:
            return f"jw{t:g}", lambda: F.col(self.jw_column) >= t

        exact = ("exact", lambda: _l(c.column) == _r(c.column))
        # one keystroke away (-1: more than 1 apart); namesakes' addresses (john.smith12@ / john.smith45@)
        # are two or more
        typo = ("typo", lambda: F.levenshtein(_l(c.column), _r(c.column), 1) != -1)
        levels: list[tuple[str, Callable[[], Column]]] = [exact]
        if c.type == "name":
            if c.canonical:
                levels.append(("nickname", lambda: _l(c.canonical) == _r(c.canonical)))
            if c.swap_with:
                # first and last name written the other way round on one side
                levels.append(("swapped", swapped))
            levels += [jw(t) for t in c.thresholds]
            if c.swap_with and c.thresholds:
                levels.append(("swapped_close", swapped_close))
            levels.append(("initial", lambda: _initial(_l(c.column)) == _initial(_r(c.column))))
        elif c.type == "email":
            levels.append(("local_part",
                           lambda: F.substring_index(_l(c.column), "@", 1) == F.substring_index(_r(c.column), "@", 1)))
            levels.append(typo)
            levels += [jw(t) for t in c.thresholds]
        elif c.type == "phone":
            levels.append(typo)
        elif c.type == "date":
            levels.append(("typo", date_typo))
            levels.append(("year", lambda: F.year(_l(c.column)) == F.year(_r(c.column))))
        elif c.type == "string":
            levels += [jw(t) for t in c.thresholds]
        elif c.type == "identifier":
            levels.append(("typo", lambda: _typo(_l(c.column).cast("string"), _r(c.column).cast("string"))))
        elif c.type == "hierarchy":
            levels.append(("typo", lambda: _typo(_l(c.column).cast("string"), _r(c.column).cast("string"))))
            for i, col in enumerate(c.then):
                levels.append((col, lambda col=col: _l(col) == _r(col)))
                if i == 0:
                    levels += [(f"{col}_{label}", cond) for label, cond in (jw(t) for t in c.thresholds)]
        return levels

    @property
    def jw_column(self) -> str:
        return f"jw_{self.name}"

    def similarities(self) -> dict[str, Column]:
        """Columns to add to the pairs before :meth:`gamma` (each similarity computed once per pair; the
        swapped ones are shared by the first- and last-name comparisons)."""
        c = self.config
        out = {}
        if c.type in ("name", "email", "string") and c.thresholds:
            out[self.jw_column] = jaro_winkler(_l(c.column), _r(c.column))
            if c.type == "name" and c.swap_with:
                for a, b in ((c.column, c.swap_with), (c.swap_with, c.column)):
                    out[_cross(a, b)] = jaro_winkler(_l(a), _r(b))
        if c.type == "hierarchy" and c.then and c.thresholds:
            out[self.jw_column] = jaro_winkler(_l(c.then[0]), _r(c.then[0]))
        return out

    @property
    def labels(self) -> list[str]:
        """Level labels, best first; the last is ``else``."""
        return [label for label, _ in self._levels()] + ["else"]

    def gamma(self) -> Column:
        c = self.config
        levels = self._levels()
        missing = _l(c.column).isNull() | _r(c.column).isNull()
        for col in c.then:
            missing = missing & (_l(col).isNull() | _r(col).isNull())
        expr = F.when(missing, F.lit(-1))
        for i, (_, cond) in enumerate(levels):
            expr = expr.when(cond(), F.lit(i))
        return expr.otherwise(F.lit(len(levels)))

    def label(self) -> Column:
        """The level's label from ``g_<name>`` (null for the null level)."""
        labels = F.array(*[F.lit(x) for x in self.labels])
        g = F.col(f"g_{self.name}")
        return F.when(g >= 0, F.element_at(labels, g + 1))


def build(configs: list[ComparisonConfig]) -> list[Comparison]:
    names = [c.name for c in configs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        from c360.errors import ConfigError  # noqa: PLC0415

        raise ConfigError(f"resolve.comparisons: duplicate comparison name(s) {sorted(dupes)}")
    return [Comparison(c) for c in configs]
