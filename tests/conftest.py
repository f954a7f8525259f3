"""One SparkSession per test run, built by c360.session from conf/test (tiny-data settings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.config import C360Config, load_config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("c360")


@pytest.fixture(scope="session")
def spark(session_dir):
    from c360.session import get_spark

    cfg = load_config("test", conf_root=REPO / "conf", warehouse=str(session_dir / "warehouse"))
    session = get_spark(cfg)
    yield session
    session.stop()


@pytest.fixture
def cfg(tmp_path) -> C360Config:
    """A test configuration whose warehouse and landing are private to the test."""
    return load_config("test", conf_root=REPO / "conf", warehouse=str(tmp_path / "warehouse"),
                       landing=str(tmp_path / "landing"))


@pytest.fixture(autouse=True)
def _clear_cache(request):
    yield
    if "spark" in request.fixturenames:
        request.getfixturevalue("spark").catalog.clearCache()
