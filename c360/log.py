"""Structured logging to stderr (structlog): readable lines locally, JSON lines on a cluster.

Progress and timings go to stderr so that stdout stays free for results a scheduler may parse.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

_configured = False


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    global _configured
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
    _configured = True


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    if not _configured:
        configure_logging()
    return structlog.get_logger(name)


@contextmanager
def stage(name: str, **fields) -> Iterator[dict]:
    """Log the start and the end of a stage with its duration; yields a dict the stage may add facts to."""
    logger = get_logger("c360.stage")
    facts: dict = {}
    logger.info(f"{name}: started", **fields)
    t0 = time.perf_counter()
    try:
        yield facts
    except Exception:
        logger.error(f"{name}: failed", seconds=round(time.perf_counter() - t0, 1), **fields)
        raise
    logger.info(f"{name}: done", seconds=round(time.perf_counter() - t0, 1), **fields, **facts)
