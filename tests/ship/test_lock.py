"""The locked test environment (constraints/test.txt) still satisfies pyproject.toml, so a
dependency changed without refreshing the lock fails here, not on someone's fresh machine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s;#]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in ("services", "test"):
        reqs += project["optional-dependencies"][extra]
    return [Requirement(r) for r in reqs]


@pytest.mark.parametrize("req", _declared(), ids=str)
def test_every_declared_dependency_is_locked_within_its_range(req):
    pins = _pins(ROOT / "constraints" / "test.txt")
    name = canonicalize_name(req.name)
    assert name in pins, f"{req.name} is not in constraints/test.txt: run bash constraints/refresh"
    assert req.specifier.contains(pins[name], prereleases=True), (
        f"{req.name}=={pins[name]} is outside {req.specifier}: run bash constraints/refresh"
    )


def test_minimum_versions_are_the_declared_lower_bounds():
    minimum = _pins(ROOT / "constraints" / "minimum.txt")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for raw in project["dependencies"]:
        req = Requirement(raw)
        bound = [s.version for s in req.specifier if s.operator == ">="]
        assert bound, f"{req.name} has no lower bound"
        assert minimum.get(canonicalize_name(req.name)) is not None
        assert minimum[canonicalize_name(req.name)].startswith(bound[0]), (req.name, bound[0])
