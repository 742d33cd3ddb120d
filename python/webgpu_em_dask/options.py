"""The models' options as webgpu-em declares them: ``options.schema.json`` is generated from the
TypeScript option schemas (``npm run options``), so that no default or range is written here
again."""

from __future__ import annotations

import json
from pathlib import Path

_MODELS = json.loads(Path(__file__).with_name("options.schema.json").read_text(encoding="utf-8"))["$defs"]


def _option(model: str, name: str) -> dict:
    return _MODELS[model]["properties"][name]


def default(model: str, name: str):
    """The library's default of ``name`` (camelCase, as the schema names it) for ``model``."""
    return _option(model, name)["default"]


def check(model: str, name: str, value, python_name: str):
    """Raises ValueError naming ``python_name`` unless ``value`` is in the option's range."""
    o = _option(model, name)
    if "enum" in o:
        if value not in o["enum"]:
            raise ValueError(f"{python_name} must be one of {', '.join(o['enum'])}, got {value!r}")
        return value
    kind = o.get("type")
    if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{python_name} must be an integer, got {value!r}")
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ValueError(f"{python_name} must be a number, got {value!r}")
        low = o.get("minimum")
        if low is not None and value < low:
            raise ValueError(f"{python_name} must be >= {low}, got {value!r}")
        high = o.get("maximum")
        if high is not None and value > high:
            raise ValueError(f"{python_name} must be <= {high}, got {value!r}")
    return value
