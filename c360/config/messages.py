"""Validation errors as messages that name the file and the key (with a suggestion for a misspelt key)."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel


def describe(err: dict, raw: dict, origins: dict[str, str], model: type[BaseModel]) -> str:
    loc = list(err["loc"])
    # name the source rather than its position in the merged list
    if loc and loc[0] == "sources" and len(loc) > 1 and isinstance(loc[1], int):
        name = raw["sources"][loc[1]].get("name", f"#{loc[1]}")
        file = origins.get(f"sources.{name}", "?")
        key = ".".join(str(p) for p in loc[2:] if not str(p).startswith("function-after")) or "(source)"
        where = f"{file}: source '{name}', key '{key}'"
    else:
        dotted = ".".join(str(p) for p in loc)
        file = next((origins[p] for p in prefixes(dotted) if p in origins), "?")
        where = f"{file}: key '{dotted}'"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
        suggestion = suggest(loc, model)
        if suggestion:
            msg += f" (did you mean '{suggestion}'?)"
    return f"{where}: {msg}"


def prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def suggest(loc: list, model: type[BaseModel]) -> str | None:
    """Closest valid key for a misspelt one."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return None
        ann = field.annotation
        inner = getattr(ann, "__args__", (ann,))
        current = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if current is None:
            return None
    names = list(getattr(current, "model_fields", {}))
    aliases = [f.alias for f in getattr(current, "model_fields", {}).values() if f.alias]
    match = difflib.get_close_matches(str(loc[-1]), names + aliases, n=1)
    return match[0] if match else None
