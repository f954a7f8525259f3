from pathlib import Path

import pytest

from c360.config import load_config
from c360.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _root(tmp_path: Path, base: str, local: str = "", sources: str | None = None) -> Path:
    root = tmp_path / "conf"
    (root / "base").mkdir(parents=True)
    (root / "local").mkdir()
    (root / "base" / "c360.yml").write_text(base)
    (root / "local" / "c360.yml").write_text(local)
    if sources is not None:
        (root / "base" / "sources.yml").write_text(sources)
    return root


def test_repo_config_loads_every_env():
    for env in ("local", "cluster", "test"):
        cfg = load_config(env, conf_root=REPO / "conf")
        assert cfg.env == env
    assert load_config("cluster", conf_root=REPO / "conf").spark.master is None
    assert load_config("test", conf_root=REPO / "conf").spark.conf["spark.sql.shuffle.partitions"] == 1


def test_overlays_apply_in_order(tmp_path):
    root = _root(tmp_path, "spark:\n  app_name: a\n  conf: {x: 1, y: 2}\n", "spark:\n  conf: {y: 3}\n")
    extra = tmp_path / "mine"
    extra.mkdir()
    (extra / "p.yml").write_text("spark:\n  app_name: mine\n")
    cfg = load_config("local", extra, conf_root=root)
    assert cfg.spark.app_name == "mine"
    assert cfg.spark.conf == {"x": 1, "y": 3}


def test_misspelt_key_names_key_file_and_suggestion(tmp_path):
    root = _root(tmp_path, "spark:\n  app_name: a\n", "spark:\n  mastr: local[1]\n")
    with pytest.raises(ConfigError) as e:
        load_config("local", conf_root=root)
    msg = str(e.value)
    assert "spark.mastr" in msg and str(root / "local" / "c360.yml") in msg and "did you mean 'master'" in msg


def test_wrong_type_names_key(tmp_path):
    root = _root(tmp_path, "graph:\n  max_iterations: lots\n")
    with pytest.raises(ConfigError, match=r"base/c360.yml: key 'graph.max_iterations'"):
        load_config("local", conf_root=root)


def test_missing_conf_dir_and_env(tmp_path):
    root = _root(tmp_path, "")
    with pytest.raises(ConfigError, match="--conf /nonexistent: directory does not exist"):
        load_config("local", "/nonexistent", conf_root=root)
    with pytest.raises(ConfigError, match="--env nope"):
        load_config("nope", conf_root=root)


def test_bad_yaml_names_file(tmp_path):
    root = _root(tmp_path, "spark: [unclosed\n")
    with pytest.raises(ConfigError, match="base/c360.yml: not valid YAML"):
        load_config("local", conf_root=root)


SRC = """sources:
  - name: crm
    kind: person
    format: csv
    path: crm/*.csv
    id: contact_id
    fields: {first_name: given_name, email: email_address}
"""


def test_source_errors_name_source_and_key(tmp_path):
    root = _root(tmp_path, "", sources=SRC.replace("first_name:", "frist_name:"))
    with pytest.raises(ConfigError, match=r"source 'crm'.*frist_name"):
        load_config("local", conf_root=root)
    root2 = _root(tmp_path / "2", "", sources=SRC.replace("kind: person", "kind: persona"))
    with pytest.raises(ConfigError, match=r"sources.yml: source 'crm', key 'kind'"):
        load_config("local", conf_root=root2)


def test_order_source_requires_keys(tmp_path):
    src = "sources:\n  - {name: o, kind: order, format: csv, path: o.csv, fields: {order_id: id}}\n"
    root = _root(tmp_path, "", sources=src)
    with pytest.raises(ConfigError, match=r"source 'o'.*requires field\(s\) \['person_source', 'person_ref', 'order_ts'\]"):
        load_config("local", conf_root=root)


def test_a_users_sources_are_the_whole_list(tmp_path):
    root = _root(tmp_path, "", sources=SRC)
    extra = tmp_path / "mine"
    extra.mkdir()
    (extra / "sources.yml").write_text(
        "sources:\n  - {name: shop, kind: person, format: json, path: s/*.json, fields: {email: mail}}\n")
    cfg = load_config("local", extra, conf_root=root)
    assert [s.name for s in cfg.sources] == ["shop"]


def test_inherit_adds_to_the_earlier_sources_merged_by_name(tmp_path):
    root = _root(tmp_path, "", sources=SRC)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "sources.yml").write_text(
        "inherit: true\nsources:\n  - {name: crm, kind: person, format: csv, path: x.csv, enabled: false}\n"
        "  - {name: shop, kind: person, format: json, path: s/*.json, fields: {email: mail}}\n")
    cfg = load_config("local", a, conf_root=root)
    assert [s.name for s in cfg.sources] == ["crm", "shop"]
    assert [s.name for s in cfg.enabled_sources] == ["shop"]
    # several --conf directories apply in order; a later one without inherit replaces the list again
    (b / "sources.yml").write_text("sources:\n  - {name: pos, kind: person, format: csv, path: p.csv}\n")
    assert [s.name for s in load_config("local", [a, b], conf_root=root).sources] == ["pos"]
    assert [s.name for s in load_config("local", [b, a], conf_root=root).sources] == ["pos", "crm", "shop"]


def test_inherit_must_be_a_boolean_beside_sources(tmp_path):
    root = _root(tmp_path, "", sources=SRC)
    extra = tmp_path / "mine"
    extra.mkdir()
    (extra / "sources.yml").write_text("inherit: yes please\nsources: []\n")
    with pytest.raises(ConfigError, match=r"mine/sources.yml: key 'inherit' must be true or false"):
        load_config("local", extra, conf_root=root)
    (extra / "sources.yml").write_text("inherit: true\n")
    with pytest.raises(ConfigError, match=r"key 'inherit' goes with a 'sources:' list"):
        load_config("local", extra, conf_root=root)


def test_the_repository_configuration_has_no_sources():
    """The sample company's sources are the generator's (written beside its files), never a default."""
    assert load_config("local", conf_root=REPO / "conf").sources == []


def test_cli_overrides_paths(tmp_path):
    cfg = load_config("local", conf_root=REPO / "conf", warehouse="/w", landing="/l")
    assert (cfg.paths.warehouse, cfg.paths.landing) == ("/w", "/l")
    assert cfg.system_path == "/w/_system"


def test_blocking_rules_need_unique_names_and_fit_one_mask(tmp_path):
    twice = "resolve:\n  blocking:\n    rules:\n      - {name: email, keys: [email]}\n      - {name: email, keys: [phone]}\n"
    with pytest.raises(ConfigError, match=r"resolve.blocking.rules.*duplicate blocking rule name\(s\) \['email'\]"):
        load_config("local", conf_root=_root(tmp_path / "a", twice))
    many = "resolve:\n  blocking:\n    rules:\n" + "".join(f"      - {{name: r{i}, keys: [email]}}\n" for i in range(64))
    with pytest.raises(ConfigError, match=r"resolve.blocking.rules"):
        load_config("local", conf_root=_root(tmp_path / "b", many))


def test_the_embedded_driver_starts_with_its_whole_heap(cfg):
    from c360.session import _initial_heap, _settings  # noqa: PLC0415

    assert _initial_heap("6g", "-XX:+UseParallelGC") == "-Xms6g"
    assert _initial_heap("2GB", "-XX:+UseParallelGC") == "-Xms2g"
    assert _initial_heap("6g", "-XX:+UseParallelGC -Xms1g") is None  # the user's own -Xms stays
    assert _initial_heap("6g", None) is None and _initial_heap(None, "-XX:+UseParallelGC") is None
    assert _initial_heap("2048", "") is None  # not a plain size with a unit: left to the JVM
    # the test environment's driver (conf/test) with the base options: never more than its maximum heap
    options = _settings(cfg)["spark.driver.extraJavaOptions"]
    heap = cfg.spark.conf["spark.driver.memory"]
    assert options.startswith(f"-XX:+UseParallelGC -Xms{heap} ")
    # c360's own log4j2 configuration for the embedded driver, a file of the installed package
    log4j = options.split("-Dlog4j2.configurationFile=", 1)[1].split()[0]
    assert log4j.startswith("file:") and log4j.endswith("/c360/resources/log4j2.properties")
    assert Path(log4j[len("file:"):]).is_file()


def test_single_keys_from_the_environment_and_set_apply_last_and_are_named(tmp_path):
    env = {"C360__GRAPH__BACKEND": "local", "C360__SPARK__CONF__SPARK.SQL.SHUFFLE.PARTITIONS": "3",
           "OTHER": "x"}
    cfg = load_config("local", environ=env, settings=["resolve.match_probability=0.9", "graph.backend=graphframes"])
    assert cfg.graph.backend == "graphframes"            # --set after the environment
    assert cfg.resolve.match_probability == 0.9
    assert cfg.spark.conf["spark.sql.shuffle.partitions"] == 3
    assert cfg.origins["graph.backend"] == "--set graph.backend"
    assert cfg.origins["spark.conf.spark.sql.shuffle.partitions"] == (
        "environment C360__SPARK__CONF__SPARK.SQL.SHUFFLE.PARTITIONS")
    with pytest.raises(ConfigError, match=r"environment C360__GRAPH__BACKEN: key 'graph.backen': unknown key "
                                          r"\(did you mean 'backend'\?\)"):
        load_config("local", environ={"C360__GRAPH__BACKEN": "local"})
    with pytest.raises(ConfigError, match=r"--set graph.backend: key 'graph.backend': Input should be"):
        load_config("local", environ={}, settings=["graph.backend=nope"])
    with pytest.raises(ConfigError, match=r"--set graph: expected KEY=VALUE"):
        load_config("local", environ={}, settings=["graph"])
    with pytest.raises(ConfigError, match=r"'sources' is not a key that can be set one at a time"):
        load_config("local", environ={}, settings=["sources=[]"])


def test_a_filesystem_connector_comes_only_with_a_path_on_its_scheme():
    base = load_config("local", environ={}, conf_root=REPO / "conf")
    assert not any("hadoop-aws" in p for p in base.spark_packages()) and base.spark_excludes() == []
    for settings in (["paths.warehouse=s3a://bucket/wh"], ["paths.reports=S3A://bucket/reports"]):
        on_s3 = load_config("local", environ={}, conf_root=REPO / "conf", settings=settings)
        assert "org.apache.hadoop:hadoop-aws:3.4.2" in on_s3.spark_packages(), settings
        assert on_s3.spark_excludes() == ["software.amazon.awssdk:bundle"]
    # a cluster with its own connector: nothing added
    own = load_config("local", environ={}, conf_root=REPO / "conf",
                      settings=["paths.warehouse=s3a://bucket/wh", "spark.filesystems.s3a.packages=[]"])
    assert not any("hadoop-aws" in p for p in own.spark_packages())
    # the connector's Hadoop is the one inside pyspark
    import pyspark  # noqa: PLC0415

    jars = {p.name for p in (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar")}
    assert jars == {"hadoop-client-api-3.4.2.jar"}


def test_graphframes_comes_from_the_jar_when_one_is_given():
    from c360.config import C360Config  # noqa: PLC0415

    maven = C360Config()
    assert maven.graph.graphframes_package in maven.spark_packages() and maven.spark_jars() == []
    jar = C360Config.model_validate({"graph": {"graphframes_jar": "/jars/gf.jar"}})
    assert jar.graph.graphframes_package not in jar.spark_packages() and jar.spark_jars() == ["/jars/gf.jar"]
    local = C360Config.model_validate({"graph": {"backend": "local"}})
    assert local.graph.graphframes_package not in local.spark_packages()
