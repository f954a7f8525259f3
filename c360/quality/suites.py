"""From the YAML suites of ``conf/<env>/quality.yml`` to great-expectations objects, and from validation
results to ``gold.quality_results`` rows. No Spark here: the gate job reads the tables and runs them.

A YAML expectation is ``{expect: <name>, severity: critical|warning|info, ...kwargs}``:

- ``<name>`` is a great-expectations expectation without its ``expect_`` prefix
  (``column_values_to_not_be_null`` -> ``ExpectColumnValuesToNotBeNull``); the other keys are its arguments.
- ``unexpected_rows`` is great-expectations' ``UnexpectedRowsExpectation``: ``query`` is Spark SQL returning
  the rows that break the rule, with ``{batch}`` for the table validated; other tables by their catalog name
  (``silver.golden_customer``). That is how referential integrity and reconciliation between layers are said.
- An argument ``{rows_of: <table>}`` is replaced by that table's row count (row-count reconciliation).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from c360.errors import ConfigError

SEVERITIES = ("critical", "warning", "info")
TABLE_REF = re.compile(r"\b(bronze|silver|gold)\.([A-Za-z_][A-Za-z0-9_]*)\b")


@dataclass(frozen=True)
class Check:
    """One expectation of a table's suite, as configured."""

    table: str
    expect: str
    severity: str
    kwargs: dict[str, Any]

    @property
    def label(self) -> str:
        """A readable, stable name: ``column_values_to_be_unique(customer_id)`` or the description."""
        if self.kwargs.get("description"):
            return str(self.kwargs["description"])
        if self.expect == "unexpected_rows":
            return str(self.kwargs["query"])
        cols = self.kwargs.get("column") or self.kwargs.get("column_list") or self.kwargs.get("column_A")
        args = ", ".join(cols) if isinstance(cols, list) else (cols or "")
        if "column_B" in self.kwargs:
            args += f", {self.kwargs['column_B']}"
        return f"{self.expect}({args})"

    def columns(self) -> list[str]:
        """The columns of the validated table the expectation names."""
        out = []
        for key in ("column", "column_A", "column_B", "column_list"):
            v = self.kwargs.get(key)
            out += v if isinstance(v, list) else [v] if v else []
        return out

    def referenced_tables(self) -> set[str]:
        """Other tables the expectation reads (a query's names, ``rows_of``)."""
        out = {m.group(0) for m in TABLE_REF.finditer(str(self.kwargs.get("query", "")))}
        out |= {v["rows_of"] for v in self.kwargs.values() if isinstance(v, dict) and "rows_of" in v}
        return out - {self.table}


def class_name(expect: str) -> str:
    if expect == "unexpected_rows":
        return "UnexpectedRowsExpectation"
    return "Expect" + "".join(p.capitalize() for p in expect.split("_"))


def parse(suites: dict[str, list[dict]], origin: str = "quality.yml") -> dict[str, list[Check]]:
    """Typed checks per table; an unknown expectation, severity or argument is a ConfigError naming the key."""
    import great_expectations.expectations as E  # noqa: PLC0415 (import cost only where gates run)

    out: dict[str, list[Check]] = {}
    for table, items in suites.items():
        checks = []
        for i, item in enumerate(items or []):
            where = f"quality.suites.{table}[{i}] in {origin}"
            item = dict(item)
            expect = item.pop("expect", None)
            if not expect:
                raise ConfigError(f"{where}: 'expect' is required")
            severity = item.pop("severity", "critical")
            if severity not in SEVERITIES:
                raise ConfigError(f"{where}: severity '{severity}' is not one of {list(SEVERITIES)}")
            cls = getattr(E, class_name(expect), None)
            if cls is None:
                raise ConfigError(f"{where}: unknown expectation '{expect}' (great-expectations has no "
                                  f"{class_name(expect)})")
            if expect == "unexpected_rows":
                if "query" not in item:
                    raise ConfigError(f"{where}: unexpected_rows needs a 'query' (Spark SQL with {{batch}})")
            else:
                fields = set(cls.__fields__)
                unknown = [k for k in item if k not in fields]
                if unknown:
                    raise ConfigError(f"{where}: {class_name(expect)} has no argument {unknown}")
            checks.append(Check(table, expect, severity, item))
        labels = [c.label for c in checks]
        dupes = {x for x in labels if labels.count(x) > 1}
        if dupes:
            raise ConfigError(f"quality.suites.{table} in {origin}: the same expectation twice: {sorted(dupes)} "
                              "(give one a description)")
        out[table] = checks
    return out


def expectation(check: Check, params: dict[str, Any]):
    """The great-expectations expectation of a check; ``{rows_of: t}`` arguments taken from ``params``."""
    import great_expectations.expectations as E  # noqa: PLC0415

    kwargs = {k: (params[v["rows_of"]] if isinstance(v, dict) and "rows_of" in v else v)
              for k, v in check.kwargs.items()}
    if check.expect == "unexpected_rows":
        query = kwargs.pop("query")
        return E.UnexpectedRowsExpectation(unexpected_rows_query=query, severity=check.severity,
                                           description=kwargs.pop("description", None) or check.label,
                                           meta={"c360_label": check.label}, **kwargs)
    kwargs.setdefault("description", check.label)
    return getattr(E, class_name(check.expect))(severity=check.severity, meta={"c360_label": check.label}, **kwargs)


def observed(result) -> str:
    """What a validation result observed, as compact JSON (value, or unexpected count and a few examples)."""
    r = dict(result.result or {})
    keep = {k: r[k] for k in ("observed_value", "element_count", "unexpected_count", "unexpected_percent",
                              "partial_unexpected_list") if k in r}
    if "partial_unexpected_list" in keep:
        keep["partial_unexpected_list"] = keep["partial_unexpected_list"][:5]
    info = result.exception_info or {}
    raised = [info] if info.get("raised_exception") else [v for v in info.values()
                                                          if isinstance(v, dict) and v.get("raised_exception")]
    if raised:
        keep["exception"] = str(raised[0].get("exception_message"))[:500]
    return json.dumps(keep, default=str, sort_keys=True)


def result_rows(table: str, results, run_id: str, stage: str, checked_at) -> list[tuple]:
    """``gold.quality_results`` rows of one table's validation."""
    rows = []
    for r in results.results:
        cfg = r.expectation_config
        label = (cfg.meta or {}).get("c360_label") or cfg.type
        severity = getattr(cfg.severity, "value", cfg.severity) or "critical"
        rows.append((run_id, checked_at, stage, table, label, str(severity), bool(r.success), observed(r)))
    return rows


def failures(rows: list[tuple], severity: str = "critical") -> list[tuple]:
    return [r for r in rows if not r[6] and r[5] == severity]
