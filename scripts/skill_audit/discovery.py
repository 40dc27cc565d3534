"""Find skills under a path and the markdown files that belong to each.

A folder holding SKILL.md is one skill and is not searched further (so a skill repository's
test fixtures are never mistaken for skills). Any other folder is searched at any depth,
skipping VCS, virtualenv, cache and node_modules folders and never following symlinked
folders (which also makes symlink loops harmless).
"""

from __future__ import annotations

import os
from pathlib import Path

SKILL_FILE = "SKILL.md"
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".skill-audit",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }
)


def is_skill_file_name(name: str) -> bool:
    """SKILL.md in any letter case (`Skill.md`, `skill.md`: found, and reported by ST009)."""
    return name.lower() == "skill.md"


def skill_file_in(folder: Path) -> Path | None:
    """The folder's SKILL.md, or a wrongly-cased variant of it, or None."""
    exact = Path(folder) / SKILL_FILE
    if os.path.lexists(exact):
        return exact
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    variant = next((n for n in sorted(names) if is_skill_file_name(n)), None)
    return Path(folder) / variant if variant else None


def find_skills(path: Path) -> list[Path]:
    """Skill root folders at or below `path`, sorted. `path` may also be a SKILL.md file."""
    path = Path(path)
    if path.is_file():
        return [path.parent] if is_skill_file_name(path.name) else []
    if skill_file_in(path) is not None:
        return [path]
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        if any(is_skill_file_name(n) for n in filenames) or SKILL_FILE in dirnames:
            found.append(Path(dirpath))
            dirnames[:] = []
            continue
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS and not os.path.islink(os.path.join(dirpath, d))
        )
    return sorted(found)


class NoSkillError(Exception):
    """A path given to `check` holds no skill; the message says why in one line."""


def skill_roots(paths: list[Path]) -> list[Path]:
    """Skill roots under every path, in order and without repeats (one walk per path);
    NoSkillError for a path holding none, so a mistyped path fails instead of passing."""
    roots: dict[Path, None] = {}
    for path in paths:
        found = find_skills(Path(path))
        if not found:
            raise NoSkillError(no_skill_reason(Path(path)))
        roots.update(dict.fromkeys(found))
    return list(roots)


def skill_markdown_files(skill_root: Path) -> list[Path]:
    """SKILL.md first, then every markdown file under references/ (sorted)."""
    files = [skill_root / SKILL_FILE]
    refs = skill_root / "references"
    if refs.is_dir() and not refs.is_symlink():
        files.extend(sorted(p for p in refs.rglob("*.md") if p.is_file()))
    return files


def no_skill_reason(path: Path) -> str:
    """One line saying why `path` holds no skill (for exit code 2)."""
    path = Path(path)
    if path.is_file():
        return f"{path} is not a SKILL.md file; pass the skill folder or its SKILL.md"
    return f"no skill under {path}: no folder in it has a SKILL.md"


def display_path(path: Path) -> str:
    """Posix path relative to the working directory when inside it, else absolute."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute == cwd:
        return "."
    if absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return Path(absolute[len(cwd.rstrip(os.sep)) + 1 :]).as_posix()
    return Path(absolute).as_posix()
