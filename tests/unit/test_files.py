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


def test_first_line_reads_one_line_and_decompresses_by_name(spark, tmp_path):
    import gzip  # noqa: PLC0415

    (tmp_path / "a.csv").write_text("id,naïve,x\n1,2,3\n", encoding="utf-8")
    with gzip.open(tmp_path / "b.csv.gz", "wt", encoding="utf-8") as out:
        out.write("id,other\n" + "1,2\n" * 1000)
    (tmp_path / "c.csv").write_bytes(b"")
    (tmp_path / "d.csv").write_bytes("id;x\n".encode("latin-1"))
    assert files.first_line(spark, str(tmp_path / "a.csv")) == "id,naïve,x"
    assert files.first_line(spark, (tmp_path / "b.csv.gz").as_uri()) == "id,other"
    assert files.first_line(spark, str(tmp_path / "c.csv")) is None
    assert files.first_line(spark, str(tmp_path / "d.csv"), "ISO-8859-1") == "id;x"


def test_a_local_folder_is_copied_whole_and_replaces_files_of_the_same_name(spark, tmp_path):
    src, dest = tmp_path / "docs", tmp_path / "out" / "quality"
    (src / "a" / "b").mkdir(parents=True)
    (src / "index.html").write_text("<html>ünï</html>", encoding="utf-8")
    (src / "a" / "b" / "logo.png").write_bytes(bytes(range(256)) * 10)
    dest.mkdir(parents=True)
    (dest / "index.html").write_text("old")
    files.copy_local_dir(spark, str(src), dest.as_uri())
    assert (dest / "index.html").read_text(encoding="utf-8") == "<html>ünï</html>"
    assert (dest / "a" / "b" / "logo.png").read_bytes() == bytes(range(256)) * 10
