"""Model versions: each training run saves its Spark ML pipelines under
``<system>/models/<model>/<version>`` (with ``c360.json``: the inputs the model reads) and records one row per
model in ``gold.model_metrics``; ``score`` loads the latest version unless told which. Runs are tracked in
MLflow as well when it is installed (``models.mlflow``), never required.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from c360.config import C360Config
from c360.errors import NotTrainedError
from c360.io import files
from c360.io.delta import read_optional
from c360.log import get_logger
from c360.models.classifier import Spec
from c360.tables import table

log = get_logger(__name__)
SPEC_FILE = "c360.json"


def new_version() -> str:
    """A version id that sorts by training time (UTC, to the millisecond)."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")[:-3]


def model_path(cfg: C360Config, model: str, version: str) -> str:
    """``<system>/models/<model>/<version>``; a model name's ``:`` and other characters a path segment cannot
    hold become ``.`` and ``_`` (``propensity:offer:x`` -> ``propensity.offer.x``)."""
    folder = re.sub(r"[^A-Za-z0-9_.-]", "_", model.replace(":", "."))
    return files.join(cfg.system_path, "models", folder, version)


def save(spark: SparkSession, cfg: C360Config, name: str, version: str, model: PipelineModel, spec: Spec) -> str:
    path = model_path(cfg, name, version)
    model.write().overwrite().save(path)
    files.write_text(spark, files.join(path, SPEC_FILE), json.dumps(spec.as_dict(), indent=1))
    return path


def load(spark: SparkSession, cfg: C360Config, name: str, version: str) -> tuple[PipelineModel, Spec]:
    path = model_path(cfg, name, version)
    text = files.read_text(spark, files.join(path, SPEC_FILE))
    if text is None:
        raise NotTrainedError(f"model '{name}' version {version} not found at {path}; run `c360 train`")
    d = json.loads(text)
    spec = Spec(d.pop("numeric"), d.pop("categorical"), d.pop("odds_correction"), d.pop("horizon_days"), d)
    return PipelineModel.load(path), spec


def trained(spark: SparkSession, cfg: C360Config, version: str | None = None) -> tuple[str, list[str]]:
    """The training run to score with (``version``, default the latest) and the models it trained, from
    ``gold.model_metrics``; :class:`NotTrainedError` (exit 2) when there is none."""
    mm = read_optional(spark, cfg, table("gold.model_metrics"))
    runs = mm.where(F.get_json_object("params", "$.training_run") == F.lit("true")) if mm is not None else None
    if runs is None or runs.isEmpty():
        raise NotTrainedError("no trained model: run `c360 train` first (gold.model_metrics has no training run)")
    if version is None:
        version = runs.agg(F.max("version")).first()[0]
    names = [r["model"] for r in runs.where(F.col("version") == version).select("model").collect()]
    models = sorted(n for n in names if n != "training_run")
    if not names:
        known = sorted(r[0] for r in runs.select("version").distinct().collect())
        raise NotTrainedError(f"no training run with version '{version}'; known versions: {known[-5:]}")
    return version, models


def track(cfg: C360Config, name: str, version: str, params: dict, metrics: dict, model: PipelineModel | None) -> bool:
    """Log one model's run to MLflow (params, numeric metrics, the Spark ML model as an artefact); False when
    MLflow is off or not installed (``enabled: auto``)."""
    mcfg = cfg.models.mlflow
    if mcfg.enabled is False:
        return False
    try:
        import mlflow  # noqa: PLC0415
        import mlflow.spark  # noqa: PLC0415
    except ImportError:
        if mcfg.enabled is True:
            raise NotTrainedError("models.mlflow.enabled is true but mlflow is not installed "
                                  "(pip install 'c360[mlflow]')") from None
        log.debug("mlflow not installed: runs are not tracked")
        return False
    mlflow.set_tracking_uri(mcfg.tracking_uri or files.join(cfg.system_path, "mlruns"))
    mlflow.set_experiment(mcfg.experiment)
    with mlflow.start_run(run_name=f"{name}-{version}"):
        mlflow.set_tags({"c360.model": name, "c360.version": version})
        mlflow.log_params({k: json.dumps(v)[:500] if not isinstance(v, str) else v[:500] for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()
                            if isinstance(v, int | float) and not isinstance(v, bool)})
        if model is not None:
            mlflow.spark.log_model(model, artifact_path="model")
    return True
