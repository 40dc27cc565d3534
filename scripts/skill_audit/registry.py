"""The check registry: every check of `skill-audit check` registers itself here.

A check is one function per code, decorated with `@check(code, name, severity, scope=...)`.
Its scope says what it looks at; the engine walks the skill once per scope and calls every
selected check of that scope on each item, so a loop over docs, fences or links happens once:

    Scope.SKILL        fn(skill)              once per skill
    Scope.DOC          fn(doc, skill)         each shipped markdown file (`skill.docs`)
    Scope.FRONTMATTER  fn(doc, skill)         SKILL.md, when its frontmatter parses to a
                                              mapping (`doc.frontmatter.ok`); a missing or
                                              broken block is FM001-FM003's (skill scope)
    Scope.FENCE        fn(fence, doc, skill)  each fenced block of each doc, unclosed ones
                                              included (`facts.fence_kind` says "unclosed":
                                              their code is the prose they swallowed)
    Scope.LINK         fn(link, doc, skill)   each markdown link and image of each doc

The function yields `skill_audit.diagnostics.Hit`s (a generator; yielding nothing is fine):

    @check("CS005", "fence-without-language", Severity.WARNING, scope=Scope.FENCE)
    def fence_without_language(fence: Fence, doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
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

The decorated function holds its code's whole decision: `skill-audit rule CODE` names its file
and line. Work that several checks need (where a link resolves, the anchors of a file, a
block's compile error, a fence's kind) comes from `skill_audit.facts` or small helpers in the
check's own module that return facts, cached per skill or per item, never a list of
(code, message) pairs filtered per code. A check module never imports another check module.

Codes are two capital letters and three digits (families: FM frontmatter, ST structure and
budgets, RC rule catalogue and counts, LK links, CS code blocks, EV eval files); names are
kebab-case; both are unique. The docstring's four sections feed `skill-audit rule CODE` and
docs/checks.md. A check module only needs to live in `skill_audit/checks/`: the package
imports all of them. Checks must not raise on bad input: a crash is reported as an internal
error of that check (for the rest of that skill it is not called again; other checks go on).

A check whose cost is mostly per call (a subprocess) can add `prepare=fn`: the engine calls
`fn(skills)` once with every skill one process is about to check, so the cost is paid once
per batch (CS003 runs one `bash -n` per batch, not per skill). The check itself must still
work without it (it is then run on one skill alone, e.g. from a test).

Speed: every check module is imported on every run, and imports are about half of
`skill-audit check` on one skill, so import modules that only some paths need (urllib.request,
http.client and concurrent.futures for --external, tomllib for toml blocks, jsonschema) inside
the function that uses them. Read only the `Skill`/`MarkdownDoc` attributes you need: they
are lazy. A fence or link check runs once per item on hundreds of thousands of items: return
early.

Vocabulary: a "check" is what the validator runs; a "rule file" is what a skill ships.
"""

from __future__ import annotations

import enum
import inspect
import os
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


class Scope(enum.Enum):
    """What a check looks at, and so how the engine calls it (see the module doc)."""

    SKILL = "skill"
    DOC = "doc"
    FRONTMATTER = "frontmatter"
    FENCE = "fence"
    LINK = "link"


@dataclass(frozen=True)
class CheckSpec:
    code: str
    name: str
    severity: Severity
    func: Callable[..., Iterable[Hit]] = field(compare=False)
    doc: str = ""
    prepare: Callable[[list], None] | None = field(default=None, compare=False)
    scope: Scope = Scope.SKILL

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

    def source(self) -> tuple[str, int]:
        """(file relative to the package's parent folder, line of the `def`) of the check."""
        func = inspect.unwrap(self.func)
        path = inspect.getsourcefile(func) or func.__code__.co_filename
        base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        rel = os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/")
        _lines, first = inspect.getsourcelines(func)
        # getsourcelines starts at the first decorator; the `def` is what a reader looks for
        for offset, line in enumerate(_lines):
            if line.lstrip().startswith(("def ", "async def ")):
                return rel, first + offset
        return rel, first


CHECKS: dict[str, CheckSpec] = {}


def check(
    code: str,
    name: str,
    severity: Severity,
    prepare: Callable[[list], None] | None = None,
    scope: Scope = Scope.SKILL,
):
    """Register a check function for `code`; its signature follows `scope` (see the module doc)."""
    assert CODE_RE.match(code), f"bad check code {code!r}"
    assert isinstance(scope, Scope), f"{code}: scope must be a Scope, not {scope!r}"
    assert code[:2] in FAMILIES, f"unknown check family in {code!r}"
    assert NAME_RE.match(name), f"check name must be kebab-case: {name!r}"

    def register(fn):
        assert code not in CHECKS, f"duplicate check code {code}"
        assert all(s.name != name for s in CHECKS.values()), f"duplicate check name {name}"
        CHECKS[code] = CheckSpec(code, name, severity, fn, inspect.getdoc(fn) or "", prepare, scope)
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
        "`--select`/`--ignore` or `[tool.skill-audit]` in pyproject.toml. The scope says what a "
        "check looks at: the skill, each markdown file (doc), SKILL.md's frontmatter, each code "
        "fence, or each markdown link.",
        "",
        "| Code | Name | Severity | Scope | Summary |",
        "|---|---|---|---|---|",
    ]
    for code in sorted(checks):
        s = checks[code]
        summary = s.summary.replace("|", "\\|")
        out.append(
            f"| [{code}](#{code.lower()}-{s.name}) | {s.name} | {s.severity.label} "
            f"| {s.scope.value} | {summary} |"
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
                f"Default severity: {s.severity.label}. Scope: {s.scope.value}. {s.summary}",
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
