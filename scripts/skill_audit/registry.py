"""The check registry: every check of `skill-audit check` registers itself here.

Write a check as a function of one `skill_audit.model.Skill` that yields
`skill_audit.diagnostics.Hit`s, decorated with `@check(code, name, severity)`:

    @check("FM001", "frontmatter-missing", Severity.ERROR)
    def frontmatter_missing(skill: Skill) -> Iterator[Hit]:
        \"\"\"One-line summary.

        What it does:
            ...
        Why:
            ...
        Example:
            ...
        Fix:
            ...
        \"\"\"

Codes are two capital letters and three digits (families: FM frontmatter, ST structure and
budgets, RC rule catalogue and counts, LK links, CS code blocks, EV eval files); names are
kebab-case; both are unique. The docstring's four sections feed `skill-audit rule CODE` and
docs/checks.md. A check module only needs to live in `skill_audit/checks/`: the package
imports all of them. Checks must not raise on bad input: a crash in a check is reported as an internal error.

A check whose cost is mostly per call (a subprocess) can add `prepare=fn`: the engine calls
`fn(skills)` once with every skill one process is about to check, so the cost is paid once
per batch (CS003 runs one `bash -n` per batch, not per skill). The check itself must still
work without it (it is then run on one skill alone, e.g. from a test).

Speed: every check module is imported on every run, and `skill-audit check .` has a 0.35 s
budget including interpreter start, so import heavy modules that only some paths need
(urllib.request and http.client for --external, subprocess, jsonschema) inside the function
that uses them. Read only the `Skill`/`MarkdownDoc` attributes you need: they are lazy.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from skill_audit.diagnostics import Hit, Severity

CODE_RE = re.compile(r"^[A-Z]{2}[0-9]{3}$")
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
FAMILIES = {
    "FM": "frontmatter",
    "ST": "structure and budgets",
    "RC": "rule catalogue and counts",
    "LK": "links",
    "CS": "code blocks",
    "EV": "eval files",
}
DOC_SECTIONS = ("What it does", "Why", "Example", "Fix")


@dataclass(frozen=True)
class CheckSpec:
    code: str
    name: str
    severity: Severity
    func: Callable[..., Iterable[Hit]] = field(compare=False)
    doc: str = ""
    prepare: Callable[[list], None] | None = field(default=None, compare=False)

    @property
    def family(self) -> str:
        return self.code[:2]

    @property
    def summary(self) -> str:
        """First line of the docstring."""
        return self.doc.strip().splitlines()[0].strip() if self.doc.strip() else self.name

    def sections(self) -> dict[str, str]:
        """The ruff-style docstring sections, by title (only those present)."""
        return parse_sections(self.doc)


CHECKS: dict[str, CheckSpec] = {}


def check(code: str, name: str, severity: Severity, prepare: Callable[[list], None] | None = None):
    """Register `fn(skill) -> Iterable[Hit]` as check `code` (`prepare`: see the module doc)."""
    assert CODE_RE.match(code), f"bad check code {code!r}"
    assert code[:2] in FAMILIES, f"unknown check family in {code!r}"
    assert NAME_RE.match(name), f"check name must be kebab-case: {name!r}"

    def register(fn):
        assert code not in CHECKS, f"duplicate check code {code}"
        assert all(s.name != name for s in CHECKS.values()), f"duplicate check name {name}"
        CHECKS[code] = CheckSpec(code, name, severity, fn, inspect.getdoc(fn) or "", prepare)
        return fn

    return register


def parse_sections(doc: str) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in doc.splitlines():
        title = line.strip().rstrip(":")
        if line.strip().endswith(":") and title in DOC_SECTIONS and not line.startswith(" "):
            current = title
            sections[current] = []
        elif current is not None:
            sections[current].append(line[4:] if line.startswith("    ") else line.strip())
    return {k: "\n".join(v).strip("\n") for k, v in sections.items()}


def load_checks() -> dict[str, CheckSpec]:
    """Import every check module (once) and return the registry."""
    import skill_audit.checks  # noqa: F401  (imports all check modules)

    return CHECKS


def catalog_markdown() -> str:
    """docs/checks.md: every check with its docstring sections (regenerate with
    `skill-audit rules --format markdown > docs/checks.md`; a test keeps it in sync)."""
    checks = load_checks()
    out = [
        "# skill-audit check catalogue",
        "",
        "Generated from the check registry by `skill-audit rules --format markdown`; "
        "`skill-audit rule CODE` prints one entry.",
        "",
        "Token figures are the validator's offline estimate, ceil(characters / 4). Suppress a finding "
        "with `<!-- skill-audit: disable-next-line CODE -->`, `<!-- skill-audit: disable CODE -->` ... "
        "`<!-- skill-audit: enable -->`, or `<!-- skill-audit: disable-file CODE -->`; select with "
        "`--select`/`--ignore` or `[tool.skill-audit]` in pyproject.toml.",
        "",
        "| Code | Name | Severity | Summary |",
        "|---|---|---|---|",
    ]
    for code in sorted(checks):
        s = checks[code]
        summary = s.summary.replace("|", "\\|")
        out.append(
            f"| [{code}](#{code.lower()}-{s.name}) | {s.name} | {s.severity.label} | {summary} |"
        )
    for family, title in FAMILIES.items():
        specs = [checks[c] for c in sorted(checks) if c.startswith(family)]
        if not specs:
            continue
        out += ["", f"## {family}: {title}"]
        for s in specs:
            out += [
                "",
                f"### {s.code} {s.name}",
                "",
                f"Default severity: {s.severity.label}. {s.summary}",
            ]
            for section, body in s.sections().items():
                out += ["", f"**{section}.**", ""]
                if section == "Example":
                    out += ["```text", body, "```"]
                else:
                    out += _prose_and_code(body)
    return "\n".join(out) + "\n"


def _prose_and_code(body: str) -> list[str]:
    """Prose lines joined into paragraphs; lines indented deeper than the prose become code."""
    out: list[str] = []
    prose: list[str] = []
    code: list[str] = []
    for line in [*body.splitlines(), ""]:
        if line.startswith("    "):
            if prose:
                out += [" ".join(prose), ""]
                prose = []
            code.append(line[4:])
            continue
        if code:
            out += ["```text", *code, "```", ""]
            code = []
        if line.strip():
            prose.append(line.strip())
    if prose:
        out.append(" ".join(prose))
    while out and out[-1] == "":
        out.pop()
    return out
