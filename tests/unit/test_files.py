"""c360.io.files: locations stay URIs, and every non-table file goes through Hadoop's FileSystem."""

from __future__ import annotations

import os

import pytest

from c360.io import files


@pytest.mark.parametrize(("given", "expected"), [
    ("s3a://bucket/c360/", "s3a://bucket/c360"),
    ("abfss://box@acct.dfs.core.windows.net/w", "abfss://box@acct.dfs.core.windows.net/w"),
    ("file:///tmp/w/", "file:///tmp/w"),
    ("/tmp/w", "/tmp/w"),
])
def test_a_location_keeps_its_scheme(given, expected):
    assert files.location(given) == expected


def test_relative_paths_are_local_and_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert files.location("data/w") == os.path.join(str(tmp_path), "data", "w")
    assert not files.has_scheme("data/w") and files.has_scheme("hdfs://nn/w")


def test_join_appends_parts_to_any_location():
    assert files.join("s3a://b/w/", "silver", "person") == "s3a://b/w/silver/person"
    assert files.join("file:///tmp/w", "_system/", "/resolve") == "file:///tmp/w/_system/resolve"
    assert files.join("hdfs://nn:8020/w", "x") == "hdfs://nn:8020/w/x"


def test_local_paths_of_local_locations_only():
    assert files.is_local("file:///tmp/a%20b") and files.local_path("file:///tmp/a%20b") == "/tmp/a b"
    assert not files.is_local("s3a://b/k")
    with pytest.raises(ValueError, match="s3a://b/k is not a local path"):
        files.local_path("s3a://b/k")


def test_text_files_round_trip_through_hadoop(spark, tmp_path):
    target = files.join(tmp_path.as_uri(), "deep", "folder", "report.json")
    assert files.read_text(spark, target) is None and not files.exists(spark, target)
    files.write_text(spark, target, '{"ünïcode": 1}')
    files.write_text(spark, target, '{"ünïcode": 2}')           # replaced, never appended
    assert files.read_text(spark, target) == '{"ünïcode": 2}'
    assert sorted(p.name for p in (tmp_path / "deep" / "folder").iterdir()) == ["report.json"]  # no temp left
    (tmp_path / "deep" / "folder" / "_SUCCESS").write_text("")
    (tmp_path / "deep" / "folder" / "b.csv").write_text("abc")
    listed = files.list_files(spark, files.join(tmp_path.as_uri(), "deep", "folder"))
    assert [(os.path.basename(f.path), f.size) for f in listed] == [
        ("b.csv", 3), ("report.json", len('{"ünïcode": 2}'.encode()))]
    assert [os.path.basename(f.path) for f in files.list_files(spark, str(tmp_path / "deep" / "*" / "*.csv"))] \
        == ["b.csv"]
    assert files.delete(spark, files.join(tmp_path.as_uri(), "deep"))
    assert not (tmp_path / "deep").exists()
