"""JSON Schema 2020-12 files for SKILL.md frontmatter, one per profile (package data).

`claude-code` (default): the Agent Skills keys plus Claude Code's documented keys.
`agentskills`: the open specification's six keys only.
"""

from __future__ import annotations

import json
from functools import cache

PROFILES = ("claude-code", "agentskills")


def schema_text(name: str) -> str:
    from importlib import resources  # ~6 ms of imports that only schema readers need

    if name not in PROFILES:
        raise KeyError(name)
    return resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")


@cache
def load_schema(name: str) -> dict:
    return json.loads(schema_text(name))


@cache
def validator(name: str):
    from jsonschema import Draft202012Validator  # imported only when frontmatter is validated

    return Draft202012Validator(load_schema(name))


def known_keys(name: str) -> frozenset[str]:
    return frozenset(load_schema(name)["properties"])


def required_keys(name: str) -> tuple[str, ...]:
    """The top-level keys the profile requires, in the schema's order."""
    return tuple(load_schema(name).get("required", ()))
