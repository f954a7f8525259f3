"""What a person or a scheduler sees: c360's own log lines on stderr (structlog), readable lines locally and
JSON lines on a cluster, a spinner with the elapsed time while a stage runs in a terminal (rich), and a summary
at the end of a run. stdout stays free for results a scheduler may parse.

Spark's and Ivy's own console output is kept out of the way unless asked for (:func:`quiet_jvm_output`).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import structlog

_configured = False
_format = "console"
_level = "INFO"


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    global _configured, _format, _level
    renderer = (
        structlog.processors.JSONRenderer() if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False, pad_event_to=28)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S" if fmt == "console" else "iso"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        # sys.stderr looked up per logger, not frozen at configure time (it may be replaced, e.g. by pytest)
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    _configured, _format, _level = True, fmt, level


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    if not _configured:
        configure_logging()
    return structlog.get_logger(name)


def is_json_logging() -> bool:
    return _format == "json"


def _interactive() -> bool:
    """A person at a terminal: console lines, INFO or more detail, stderr a TTY."""
    return _format == "console" and _level in ("DEBUG", "INFO") and sys.stderr.isatty() \
        and not os.environ.get("CI")


def console():
    """rich's console on stderr (for the spinner and the end-of-run summary)."""
    from rich.console import Console  # noqa: PLC0415

    return Console(stderr=True, highlight=False)


@contextmanager
def _spinner(name: str) -> Iterator[None]:
    """A transient line ``⠋ <stage> running 0:01:23`` under the log lines (which rich prints above it)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    with Progress(SpinnerColumn(), TextColumn(f"[bold]{name}[/bold] running"), TimeElapsedColumn(),
                  console=console(), transient=True) as progress:
        progress.add_task(name, total=None)
        yield


@contextmanager
def stage(name: str, **fields) -> Iterator[dict]:
    """One stage: a spinner with the elapsed time while it runs (in a terminal), then one line with its
    duration and what it read and wrote; yields a dict the stage adds those facts to. JSON logs (a cluster)
    get a start line and an end line."""
    logger = get_logger("c360.stage")
    facts: dict = {}
    if _format == "json":
        logger.info(f"{name}: started", **fields)
    t0 = time.perf_counter()
    try:
        with _spinner(name) if _interactive() else nullcontext():
            yield facts
    except Exception:
        logger.error(f"{name}: failed", seconds=round(time.perf_counter() - t0, 1), **fields)
        raise
    logger.info(f"{name}: done", seconds=round(time.perf_counter() - t0, 1), **fields, **facts)


@contextmanager
def quiet_jvm_output(log_file: str | None) -> Iterator[None]:
    """While the block starts the JVM, send this process's stdout and stderr (file descriptors 1 and 2, which
    the JVM inherits) to ``log_file``: Ivy's dependency resolution and Spark's log4j lines go there for the
    JVM's whole life, while Python's own streams are put back after the block. ``None``: nothing changes."""
    if log_file is None:
        yield
        return
    os.makedirs(os.path.dirname(log_file), exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    with open(log_file, "ab") as target:
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(target.fileno(), 1)
            os.dup2(target.fileno(), 2)
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
