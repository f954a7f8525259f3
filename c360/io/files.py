"""Every file that is not a Delta table (model files, run reports, term frequencies' folders, landing files),
through Hadoop's FileSystem API: the same calls work on a local disk (``file:``), HDFS (``hdfs://``) and object
stores (``s3a://``, ``abfss://``, ``gs://``), with the session's Hadoop configuration (credentials, endpoints).

Locations are URI strings, never :class:`pathlib.Path`:

- :func:`location` makes a configured path a location: a URI is kept as written; a path without a scheme is
  a local path, made absolute (relative paths are relative to the working directory, as on a command line).
- :func:`join` appends parts with ``/``.

The functions that touch storage take the SparkSession whose JVM and Hadoop configuration they use.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from c360.io import tracking

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_WINDOWS_DRIVE = re.compile(r"^[a-zA-Z]:[\\/]")


def has_scheme(path: str) -> bool:
    """Whether ``path`` is a URI (``s3a://b/k``, ``file:/x``), not a local path."""
    return bool(_SCHEME.match(path)) and not _WINDOWS_DRIVE.match(path)


def location(path: str | os.PathLike) -> str:
    """A configured path as a location: URIs unchanged (less a trailing ``/``), local paths made absolute."""
    text = os.fspath(path)
    if has_scheme(text):
        stripped = text.rstrip("/")
        return text if stripped.endswith(":") else stripped
    return os.path.abspath(text)


def join(base: str | os.PathLike, *parts: str) -> str:
    """``base/part/part`` for a location (a URI's scheme and authority are kept)."""
    out = location(base)
    for part in parts:
        out = out.rstrip("/") + "/" + str(part).strip("/")
    return out


def is_local(path: str) -> bool:
    """Whether a location is on this machine's own disk (no scheme, or ``file:``)."""
    return not has_scheme(path) or path.lower().startswith("file:")


def local_path(path: str) -> str:
    """The local filesystem path of a local location (``file:///tmp/x`` -> ``/tmp/x``)."""
    if not is_local(path):
        raise ValueError(f"{path} is not a local path")
    if has_scheme(path):
        from urllib.parse import unquote, urlparse  # noqa: PLC0415

        return unquote(urlparse(path).path)
    return os.path.abspath(path)


# ------------------------------------------------------------------------------------- Hadoop filesystem
def _fs(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(location(path))
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hpath


def exists(spark: SparkSession, path: str) -> bool:
    fs, p = _fs(spark, path)
    return bool(fs.exists(p))


def read_text(spark: SparkSession, path: str) -> str | None:
    """The file's text (UTF-8), or None when there is no such file."""
    fs, p = _fs(spark, path)
    if not fs.exists(p):
        return None
    jvm = spark.sparkContext._jvm
    stream = fs.open(p)
    try:
        data = jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
    finally:
        stream.close()
    return bytes(data).decode("utf-8")


def first_line(spark: SparkSession, path: str, encoding: str = "UTF-8") -> str | None:
    """The first line of a text file (decompressed when its name says so: ``.gz``, ``.bz2``, ...), reading
    no further than that line; None for an empty file."""
    fs, p = _fs(spark, path)
    jvm = spark.sparkContext._jvm
    stream = fs.open(p)
    try:
        codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(
            spark.sparkContext._jsc.hadoopConfiguration()).getCodec(p)
        inner = codec.createInputStream(stream) if codec is not None else stream
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(inner, encoding))
        return reader.readLine()
    finally:
        stream.close()


def write_text(spark: SparkSession, path: str, text: str, note: bool = True) -> None:
    """Write (replace) a small text file: to a temporary name beside it, then renamed over it, so a reader sees
    the old file or the new one (object stores without rename see one complete write). ``note=False``: not
    a stage's output (the run lock), so not noted for :mod:`c360.pipelines.state`."""
    if note:
        tracking.note_file(location(path))
    fs, p = _fs(spark, path)
    jvm = spark.sparkContext._jvm
    fs.setWriteChecksum(False)  # no .crc side files on a local disk (object stores keep their own checksums)
    fs.mkdirs(p.getParent())
    tmp = jvm.org.apache.hadoop.fs.Path(p.getParent(), f".{p.getName()}.{os.getpid()}.{threading.get_ident()}.tmp")
    out = fs.create(tmp, True)
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()
    if fs.exists(p):
        fs.delete(p, False)
    if not fs.rename(tmp, p):
        fs.delete(tmp, False)
        raise OSError(f"could not write {path}")


def create_exclusive(spark: SparkSession, path: str, text: str) -> bool:
    """Create the file with ``text`` unless it exists; False when it does. Atomic on a local disk (``O_EXCL``)
    and on HDFS-like filesystems (``create`` without overwrite); on an object store two creators racing within
    one request may both succeed (see docs/operations.md, "One run at a time")."""
    if is_local(path):
        local = local_path(path)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        try:
            fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return True
    fs, p = _fs(spark, path)
    fs.mkdirs(p.getParent())
    try:
        out = fs.create(p, False)
    except Exception as e:  # py4j wraps FileAlreadyExistsException
        if "FileAlreadyExists" in str(e) or fs.exists(p):
            return False
        raise
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()
    return True


def modified_ms(spark: SparkSession, path: str) -> int | None:
    """The file's modification time (ms since the epoch), or None when there is no such file."""
    if is_local(path):
        try:
            return int(os.stat(local_path(path)).st_mtime * 1000)
        except FileNotFoundError:
            return None
    fs, p = _fs(spark, path)
    return int(fs.getFileStatus(p).getModificationTime()) if fs.exists(p) else None


def touch(spark: SparkSession, path: str, text: str) -> None:
    """Mark an existing file as modified now without a moment in which it is missing: a local file's times
    are set, HDFS's through ``setTimes``, and an object store's object is written again with ``text`` (one
    PUT replaces it whole)."""
    if is_local(path):
        os.utime(local_path(path))
        return
    fs, p = _fs(spark, path)
    if path.lower().startswith(("hdfs:", "viewfs:")):
        fs.setTimes(p, int(time.time() * 1000), -1)
        return
    out = fs.create(p, True)
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()


def rename(spark: SparkSession, src: str, dest: str) -> bool:
    """Rename a file; False when ``src`` is gone (someone else renamed it first)."""
    fs, p = _fs(spark, src)
    _, d = _fs(spark, dest)
    try:
        return bool(fs.rename(p, d))
    except Exception:  # noqa: BLE001 (a vanished source raises on some filesystems)
        return False


def delete(spark: SparkSession, path: str, recursive: bool = True) -> bool:
    fs, p = _fs(spark, path)
    return bool(fs.delete(p, recursive))


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime: int  #: modification time, ms since the epoch


def list_files(spark: SparkSession, pattern: str) -> list[FileInfo]:
    """Files matching a glob (a folder: the files in it), without hidden ones (``_``, ``.``), sorted."""
    fs, hpath = _fs(spark, pattern)
    out = []
    for st in fs.globStatus(hpath) or []:
        children = fs.listStatus(st.getPath()) if st.isDirectory() else [st]
        for child in children:
            name = child.getPath().getName()
            if child.isFile() and not name.startswith(("_", ".")):
                out.append(FileInfo(child.getPath().toString(), child.getLen(), child.getModificationTime()))
    return sorted(out, key=lambda f: f.path)


def input_files(spark: SparkSession, pattern: str) -> list[FileInfo]:
    """:func:`list_files` of files a stage reads besides tables (a suppression list): each is noted with its size
    and modification time, so a stage whose inputs changed is not skipped as having nothing new."""
    found = list_files(spark, pattern)
    for f in found:
        tracking.note_input(f.path, fingerprint(f))
    return found


def fingerprint(f: FileInfo) -> str:
    return f"{f.size}:{f.mtime}"


def names_in(spark: SparkSession, folder: str) -> list[str]:
    """The names of the entries of a folder (empty when there is no such folder): one listing call."""
    fs, p = _fs(spark, folder)
    if not fs.exists(p):
        return []
    return [st.getPath().getName() for st in fs.listStatus(p)]


def walk(spark: SparkSession, folder: str) -> list[str]:
    """Every file under ``folder``, at any depth (empty when there is no such folder)."""
    fs, p = _fs(spark, folder)
    if not fs.exists(p):
        return []
    out, found = [], fs.listFiles(p, True)
    while found.hasNext():
        out.append(found.next().getPath().toString())
    return sorted(out)


def copy_local_dir(spark: SparkSession, local_dir: str, dest: str) -> None:
    """Copy a local folder's files under ``dest`` (any filesystem), replacing files of the same name."""
    tracking.note_file(location(dest))
    jvm = spark.sparkContext._jvm
    fs, target = _fs(spark, dest)
    fs.setWriteChecksum(False)
    for root, _dirs, names in os.walk(local_dir):
        rel = os.path.relpath(root, local_dir)
        folder = target if rel == "." else jvm.org.apache.hadoop.fs.Path(target, rel.replace(os.sep, "/"))
        fs.mkdirs(folder)
        for name in names:
            # through the filesystem's own output stream, as every other file c360 writes (S3A's
            # copyFromLocalFile goes through the AWS SDK's transfer manager and asynchronous HTTP client instead,
            # which S3-compatible servers do not all speak: moto's answered its 100-continue with an error)
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            out = fs.create(jvm.org.apache.hadoop.fs.Path(folder, name), True)
            try:
                out.write(bytearray(data))
            finally:
                out.close()


def write_one_file(df, path: str, fmt: str, options: dict | None = None) -> str:
    """Write a DataFrame as exactly one file at ``path`` (a CSV or Parquet file someone takes elsewhere, not a
    Spark folder of parts): written as one part into a hidden folder beside it, then moved into place,
    replacing an older file. Returns the location."""
    dest = location(path)
    tracking.note_file(dest)
    spark = df.sparkSession
    folder, name = dest.rsplit("/", 1)
    tmp = f"{folder}/_tmp_{name}"
    delete(spark, tmp)
    writer = df.coalesce(1).write.format(fmt).mode("overwrite")
    for k, v in (options or {}).items():
        writer = writer.option(k, v)
    writer.save(tmp)
    parts = [p for p in walk(spark, tmp) if p.rsplit("/", 1)[-1].startswith("part-")]
    if len(parts) != 1:
        raise RuntimeError(f"write_one_file: expected one part file in {tmp}, found {len(parts)}")
    fs, target = _fs(spark, dest)
    if fs.exists(target):
        fs.delete(target, False)
    if not rename(spark, parts[0], dest):
        raise RuntimeError(f"write_one_file: could not move {parts[0]} to {dest}")
    delete(spark, tmp)
    crc = f"{folder}/.{name}.crc"  # the local filesystem's checksum file moved along: not for the recipient
    if exists(spark, crc):
        delete(spark, crc, recursive=False)
    return dest
