"""The Spark jobs a stage launched, read from Spark's own event log (``spark.eventLog.enabled``): how many, how
long each took, what it was (Delta's own job descriptions, else the SQL query's description) and the rows it
read and wrote. The bench turns event logs on for every stage it times, so the breakdown costs nothing extra.

``python -m bench.spark_jobs EVENT_LOG`` prints one stage's jobs, longest first.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

_READ = "internal.metrics.input.recordsRead"
_WRITTEN = "internal.metrics.output.recordsWritten"
_SHUFFLE_READ = "internal.metrics.shuffle.read.recordsRead"


@dataclass
class Job:
    id: int
    what: str
    start_ms: int
    end_ms: int = 0
    stages: list[int] = field(default_factory=list)
    rows_read: int = 0
    rows_written: int = 0
    rows_shuffled: int = 0

    @property
    def seconds(self) -> float:
        return max(0, self.end_ms - self.start_ms) / 1000


def _kind(description: str) -> str:
    """A job's description made short and comparable across runs (no versions, ids or paths)."""
    text = description.splitlines()[0] if description else "?"
    text = re.sub(r"\d+", "N", text)
    text = re.sub(r"(file:|s3a?:|hdfs:)?/[^\s,]*", "<path>", text)
    return text[:90]


def read_event_log(path: str | Path) -> list[Job]:
    """The jobs of one application's event log, in submission order."""
    jobs: dict[int, Job] = {}
    stage_job: dict[int, int] = {}
    sql_desc: dict[str, str] = {}
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            kind = e.get("Event", "")
            if kind.endswith("SQLExecutionStart"):
                sql_desc[str(e.get("executionId"))] = e.get("description") or ""
            elif kind == "SparkListenerJobStart":
                props = e.get("Properties") or {}
                desc = (props.get("spark.job.description") or sql_desc.get(props.get("spark.sql.execution.id", ""))
                        or props.get("callSite.short") or "")
                job = Job(e["Job ID"], _kind(desc), e["Submission Time"], stages=list(e.get("Stage IDs", [])))
                jobs[job.id] = job
                for s in job.stages:
                    stage_job[s] = job.id
            elif kind == "SparkListenerJobEnd" and e["Job ID"] in jobs:
                jobs[e["Job ID"]].end_ms = e["Completion Time"]
            elif kind == "SparkListenerStageCompleted":
                info = e["Stage Info"]
                job = jobs.get(stage_job.get(info["Stage ID"], -1))
                if job is None:
                    continue
                acc = {a.get("Name"): a.get("Value") for a in info.get("Accumulables", [])}
                job.rows_read += int(acc.get(_READ) or 0)
                job.rows_written += int(acc.get(_WRITTEN) or 0)
                job.rows_shuffled += int(acc.get(_SHUFFLE_READ) or 0)
    return sorted(jobs.values(), key=lambda j: j.id)


def summary(jobs: list[Job], top: int = 6) -> dict:
    """Jobs, their summed time, rows read and written, and the kinds that took longest (kind: jobs, seconds)."""
    by_kind: dict[str, list[Job]] = defaultdict(list)
    for j in jobs:
        by_kind[j.what].append(j)
    ranked = sorted(by_kind.items(), key=lambda kv: -sum(j.seconds for j in kv[1]))[:top]
    return {"jobs": len(jobs), "job_seconds": round(sum(j.seconds for j in jobs), 1),
            "rows_read": sum(j.rows_read for j in jobs), "rows_written": sum(j.rows_written for j in jobs),
            "top": [(k, len(v), round(sum(j.seconds for j in v), 1)) for k, v in ranked]}


def find_event_log(folder: str | Path) -> Path | None:
    """The newest event log in ``folder`` (None when Spark was never started). A process that ends without
    stopping Spark leaves its log named ``*.inprogress``; it is complete up to the last job."""
    logs = [p for p in Path(folder).iterdir() if p.is_file()]
    return max(logs, key=lambda p: p.stat().st_mtime) if logs else None


def main(argv: list[str]) -> int:
    jobs = read_event_log(argv[0])
    s = summary(jobs, top=20)
    print(f"{s['jobs']} jobs, {s['job_seconds']} s in jobs, {s['rows_read']:,} rows read, "
          f"{s['rows_written']:,} written")
    for what, n, secs in s["top"]:
        print(f"{secs:8.1f} s  {n:4d} x  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
