"""Dependencies a skill already declares, read without running anything.

- PEP 723 inline script metadata in a python block (`# /// script` ... `# ///`, its
  `dependencies` list);
- the skill folder's `requirements.txt` (then `scripts/requirements.txt`): requirement lines
  only; options (`-r`, `--index-url`, ...) are left out, since envs are built from strings;
- else the `[project] dependencies` of a pyproject.toml beside SKILL.md.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

_PEP723 = re.compile(r"^# /// script\s*$\n((?:^#(?:| .*)$\n)+?)^# ///\s*$", re.MULTILINE)


def inline_script_deps(code: str) -> list[str]:
    match = _PEP723.search(code if code.endswith("\n") else code + "\n")
    if not match:
        return []
    body = "\n".join(line[2:] for line in match.group(1).splitlines())
    try:
        found = tomllib.loads(body).get("dependencies", [])
    except tomllib.TOMLDecodeError:
        return []
    return [d for d in found if isinstance(d, str) and d.strip()]


def requirements_file(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            out.append(line)
    return out


def skill_requirements(root: Path) -> tuple[str, ...]:
    for candidate in (root / "requirements.txt", root / "scripts" / "requirements.txt"):
        if candidate.is_file():
            return tuple(requirements_file(candidate))
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        except (tomllib.TOMLDecodeError, OSError):
            return ()
        found = project.get("dependencies", []) if isinstance(project, dict) else []
        return tuple(d for d in found if isinstance(d, str) and d.strip())
    return ()
