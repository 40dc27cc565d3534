"""Output formats of `skill-audit check`: text, json, github, sarif (auto picks github inside
GitHub Actions, else text). Each module has `render(report) -> str`."""

from __future__ import annotations

import importlib
import os

FORMATS = ("text", "json", "github", "sarif")


def resolve_format(name: str) -> str:
    if name == "auto":
        return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    return name


def render(report, name: str, **options) -> str:
    """`options` (statistics, quiet) apply to the text format; the others carry every
    finding and the counts in their own structure."""
    fmt = resolve_format(name)
    module = importlib.import_module(f"{__name__}.{fmt}")
    return module.render(report, **options) if fmt == "text" else module.render(report)
