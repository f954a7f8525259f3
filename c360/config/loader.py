"""Loading `conf/`: `conf/base` + `conf/<env>` + each `--conf DIR`, applied in that order, then single keys set
from the environment (``C360__SECTION__KEY=value``) and ``--set section.key=value``. No Spark import here.

Every YAML file in an overlay directory is merged (alphabetically). A `sources:` list (in `sources.yml`) is
the whole list of the run's sources: the last overlay that has one replaces the sources of the overlays
before it, so a user's `--conf DIR/sources.yml` runs their systems and nothing else. A file that says
`inherit: true` beside its `sources:` adds to the earlier list instead, merged by source `name` (a source with
the same name replaces the earlier one; `enabled: false` switches one off). `conf/base` has no sources: the
sample company's mapping is written by `c360 generate` beside its landing files. Any unknown key or wrong type
fails with :class:`ConfigError` naming the key and the file (or variable, or option) that set it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from c360.config.messages import describe
from c360.config.models import SOURCES_FILE, C360Config
from c360.errors import ConfigError

#: prefix of the environment variables that set one key: C360__GRAPH__GRAPHFRAMES_JAR=/jars/gf.jar
ENV_PREFIX = "C360__"

def default_conf_root() -> Path:
    """`$C360_CONF_ROOT`, else `./conf`, else the `conf/` beside the installed package (a source checkout)."""
    env_root = os.environ.get("C360_CONF_ROOT")
    if env_root:
        return Path(env_root)
    cwd_conf = Path.cwd() / "conf"
    if (cwd_conf / "base").is_dir():
        return cwd_conf
    return Path(__file__).resolve().parents[2] / "conf"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    return data


def _merge(base: dict, overlay: dict, origins: dict[str, str], file: str, prefix: str = "") -> dict:
    out = dict(base)
    for key, value in overlay.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, origins, file, dotted + ".")
        else:
            out[key] = value
        origins[dotted] = file
    return out


def _merge_sources(base: list[dict], overlay: Any, origins: dict[str, str], file: str) -> list[dict]:
    if not isinstance(overlay, list):
        raise ConfigError(f"{file}: 'sources' must be a list of source mappings")
    by_name = {s.get("name"): s for s in base}
    for i, src in enumerate(overlay):
        if not isinstance(src, dict) or "name" not in src:
            raise ConfigError(f"{file}: sources[{i}] must be a mapping with a 'name'")
        by_name[src["name"]] = src
        origins[f"sources.{src['name']}"] = file
    return list(by_name.values())


ConfDirs = str | os.PathLike | list[str | os.PathLike] | tuple[str | os.PathLike, ...] | None


def _overlay_dirs(conf_root: Path, env: str, extra: ConfDirs) -> list[Path]:
    base = conf_root / "base"
    if not base.is_dir():
        raise ConfigError(f"configuration root {conf_root} has no 'base' directory (set C360_CONF_ROOT)")
    env_dir = conf_root / env
    if env != "base" and not env_dir.is_dir():
        known = sorted(p.name for p in conf_root.iterdir() if p.is_dir())
        raise ConfigError(f"--env {env}: no directory {env_dir}; known environments: {known}")
    dirs = [base] + ([env_dir] if env != "base" else [])
    extras = [] if extra is None else [extra] if isinstance(extra, (str, os.PathLike)) else list(extra)
    for e in extras:
        if not Path(e).is_dir():
            raise ConfigError(f"--conf {e}: directory does not exist")
        dirs.append(Path(e))
    return dirs


def load_raw(env: str = "local", extra: ConfDirs = None,
             conf_root: Path | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Merged YAML as plain dicts, and the file each key came from. ``extra``: one ``--conf`` directory or
    several, applied in order."""
    conf_root = conf_root or default_conf_root()
    merged: dict[str, Any] = {"env": env}
    sources: list[dict] = []
    origins: dict[str, str] = {}
    for d in _overlay_dirs(conf_root, env, extra):
        layer: list[dict] | None = None  # this directory's sources (its files add to each other)
        for path in sorted(list(d.glob("*.yml")) + list(d.glob("*.yaml"))):
            data = _read_yaml(path)
            inherit = data.pop("inherit", False)
            if not isinstance(inherit, bool):
                raise ConfigError(f"{path}: key 'inherit' must be true or false")
            if "sources" in data:
                # the whole list of the run's sources, unless `inherit: true` adds it to the earlier layers'
                start = layer if layer is not None else (sources if inherit else [])
                layer = _merge_sources(start, data.pop("sources"), origins, str(path))
            elif inherit:
                raise ConfigError(f"{path}: key 'inherit' goes with a 'sources:' list")
            merged = _merge(merged, data, origins, str(path))
        if layer is not None:
            sources = layer
    merged["sources"] = sources
    return merged, origins


#: sections whose keys are free-form and may hold dots themselves (``spark.conf.spark.sql.shuffle.partitions``)
FREE_FORM = (("spark", "conf"),)


def _set_key(raw: dict, origins: dict[str, str], dotted: str, text: str, origin: str) -> None:
    """Set ``a.b.c`` in ``raw`` to ``text`` read as a YAML scalar (``true``, ``8``, ``null``, ``[a, b]``)."""
    parts = [p for p in dotted.split(".") if p]
    for section in FREE_FORM:
        if tuple(parts[:len(section)]) == section and len(parts) > len(section) + 1:
            parts = [*section, ".".join(parts[len(section):])]
    if not parts or parts[0] == "sources":
        raise ConfigError(f"{origin}: '{dotted}' is not a key that can be set one at a time (sources go in "
                          f"{SOURCES_FILE})")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"{origin}: value '{text}' is not valid YAML: {e}") from None
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: '{'.'.join(parts[:i + 1])}' is a value, not a section")
        node = child
    node[parts[-1]] = value
    origins[".".join(parts)] = origin


def key_overrides(environ: Mapping[str, str] | None = None,
                  settings: Iterable[str] = ()) -> list[tuple[str, str, str]]:
    """``(dotted key, value, origin)`` from ``C360__A__B`` variables (sorted; their names are read in lower
    case) and ``key=value`` settings (as written), in the order they apply (an option after the environment)."""
    environ = os.environ if environ is None else environ
    out = [(name[len(ENV_PREFIX):].lower().replace("__", "."), value, f"environment {name}")
           for name, value in sorted(environ.items()) if name.startswith(ENV_PREFIX)]
    for s in settings:
        key, sep, value = s.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {s}: expected KEY=VALUE, such as graph.backend=local")
        out.append((key.strip(), value, f"--set {key.strip()}"))
    return out


def load_config(env: str = "local", extra: ConfDirs = None, *, conf_root: Path | None = None,
                warehouse: str | None = None, landing: str | None = None, settings: Iterable[str] = (),
                environ: Mapping[str, str] | None = None) -> C360Config:
    """Load, merge and validate the configuration. Raises ConfigError naming key and file.

    ``settings``: ``key=value`` strings (``--set``), applied after the files and the ``C360__`` variables of
    ``environ`` (default: the process environment)."""
    raw, origins = load_raw(env, extra, conf_root)
    for dotted, value, origin in key_overrides(environ, settings):
        _set_key(raw, origins, dotted, value, origin)
    if warehouse:
        raw.setdefault("paths", {})["warehouse"] = str(warehouse)
        origins["paths.warehouse"] = "--warehouse"
    if landing:
        raw.setdefault("paths", {})["landing"] = str(landing)
        origins["paths.landing"] = "--landing"
    try:
        cfg = C360Config.model_validate(raw)
    except ValidationError as e:
        lines = [describe(err, raw, origins, C360Config) for err in e.errors()]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    names = [s.name for s in cfg.sources]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"{SOURCES_FILE}: duplicate source names {sorted(dupes)}")
    cfg.origins = origins
    return cfg
