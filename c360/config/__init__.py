"""Typed configuration from `conf/` YAML: the model (:mod:`.models`), its loading and overlays
(:mod:`.loader`) and the messages that name a bad key's file (:mod:`.messages`). No Spark import here.

``c360 config show`` prints the merged configuration and where each key came from; ``c360 config packages``
the ``--packages`` string that ``make submit`` passes to spark-submit.
"""

from c360.config.loader import ENV_PREFIX, ConfDirs, default_conf_root, key_overrides, load_config, load_raw
from c360.config.models import *  # noqa: F403  (every section's class)
from c360.config.models import SOURCES_FILE, C360Config, GraphConfig, SourceConfig

__all__ = ["ENV_PREFIX", "SOURCES_FILE", "C360Config", "ConfDirs", "GraphConfig", "SourceConfig",
           "default_conf_root", "key_overrides", "load_config", "load_raw"]
