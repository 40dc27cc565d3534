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


def render(report, name: str) -> str:
    module = importlib.import_module(f"{__name__}.{resolve_format(name)}")
    return module.render(report)
