"""What a stage read and wrote, noted by the IO module while the stage runs (:mod:`c360.pipelines.state`
uses it to skip a stage that would see nothing new). Outside :func:`tracking` nothing is noted."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Touched:
    #: table (``layer.name``) -> its Delta version when the stage first looked at it (None: not there)
    read: dict[str, int | None] = field(default_factory=dict)
    #: tables the stage wrote
    written: set[str] = field(default_factory=set)
    #: files (not tables) the stage wrote
    files: set[str] = field(default_factory=set)
    #: files (not tables, not landing files: ingest has its own log) the stage read -> ``size:mtime``
    inputs: dict[str, str] = field(default_factory=dict)


_current: Touched | None = None
_lock = threading.Lock()


@contextmanager
def tracking() -> Iterator[Touched]:
    global _current
    touched = Touched()
    _current = touched
    try:
        yield touched
    finally:
        _current = None


def note_read(fqn: str, version: Callable[[], int | None]) -> None:
    """The stage looked at table ``fqn``; ``version`` gives its version now (called once per table)."""
    t = _current
    if t is None or fqn in t.read or fqn in t.written:
        return
    v = version()
    with _lock:
        t.read.setdefault(fqn, v)


def note_written(fqn: str) -> None:
    t = _current
    if t is not None:
        with _lock:
            t.written.add(fqn)


def note_file(path: str) -> None:
    t = _current
    if t is not None:
        with _lock:
            t.files.add(path)


def note_input(path: str, fingerprint: str) -> None:
    """The stage read file ``path`` as it was at ``fingerprint`` (``size:mtime``)."""
    t = _current
    if t is not None:
        with _lock:
            t.inputs.setdefault(path, fingerprint)
