"""RC: the rule catalogue of a skill and the counts its prose states.

The catalogue is SKILL.md's first table with a rules column ("Rule file(s)"; else "File(s)"
beside a "Rule" column; else "Rules" or "Rule") that names or counts rule files. A rules cell
names them by links (`[celery-config](references/celery-config.md)`), by .md paths in code or
text (`rules/x.md`, `${CLAUDE_SKILL_DIR}/references/x.md`), or by bare slugs separated by
commas or <br> (`celery-config`, meaning references/celery-config.md); a cell that is just a
number ("3") counts that many rules without naming them (orchestkit's style). A table whose
cells are prose, or bare names none of which exists, is not a catalogue.

What is counted (RC001):
  * rules / rule files      = distinct rule files named in the table plus the numbers in
                              count-only cells (without a table, only
                              "rule files" is checked, against the .md files in references/)
  * reference files         = .md files directly in references/
  * categories/capabilities = rows of the table that name a rule (distinct values of its
                              Category column when it has one)
A claim is a number (digits, or a word from one to twenty) followed by one of those nouns,
with at most two modifier words between ("10 on-demand rule files"). Numbers that count a
subset ("the first two rules", "3 more rules", "one of the rules") or something else ("two
categories of failure") are not claims.
Only SKILL.md prose is read: fences, inline code and HTML comments are skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from skill_audit.diagnostics import Hit, Severity
from skill_audit.discovery import SKIP_DIRS
from skill_audit.facts import (
    Resolver,
    is_external,
    link_target,
    mention_target,
    resolve,
    resolver,
    split_fragment,
)
from skill_audit.mentions import LineIndex, markdown_tokens
from skill_audit.model import MarkdownDoc, per_skill, read_text
from skill_audit.parsing.records import CellParts, Link, cell_links, cell_text
from skill_audit.registry import check

IMPACTS = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}

_RULE_FILE_HEADER_RE = re.compile(r"^rule[ -]files?$")
_RULE_HEADER_RE = re.compile(r"^rules?$")
_FILE_HEADER_RE = re.compile(r"^(?:files?|paths?)$")
_MD_PATH_RE = re.compile(r"(?:\$\{CLAUDE_[A-Z_]+\}/|\.{0,2}/)?(?:[\w.-]+/)+[\w.-]+\.md\b")
_SLUG_RE = re.compile(r"^[A-Za-z0-9][\w.-]*$")
_CATEGORY_HEADER_RE = re.compile(r"^(?:categor(?:y|ies)|capabilit(?:y|ies)|area|topic)$")
_BR_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
_MARKUP_RE = re.compile(r"[`*_~]")
_COUNT_RE = re.compile(
    r"(?<![\w.#-])(?P<num>\d{1,3}|" + "|".join(NUMBER_WORDS) + r")"
    r"(?P<mid>(?:\s+[A-Za-z][\w-]*){0,2}?)"
    r"\s+(?P<noun>rule[- ]files?|rules?|reference[- ]files?|categor(?:y|ies)|capabilit(?:y|ies))\b"
    r"(?!\s+of\b)",  # "two categories of failure", "3 rules of thumb" count something else
    re.IGNORECASE,
)
_NOUN_STEMS = ("rule", "categor", "capabilit", "reference")
_WINDOW = 80  # characters before a noun searched for its number (and two modifier words)
# A number after these counts a subset, or is not a count of the noun at all.
_SUBSET_BEFORE = frozenset(
    [
        "first",
        "last",
        "top",
        "next",
        "other",
        "remaining",
        "more",
        "additional",
        "extra",
        "another",
        "few",
        "least",
        "most",
        "over",
        "under",
        "than",
        "every",
        "each",
        "per",
    ]
)
_NOT_MODIFIER = frozenset(
    [
        "of",
        "in",
        "per",
        "for",
        "and",
        "or",
        "to",
        "the",
        "from",
        "with",
        "than",
        "at",
        "by",
        "on",
        "as",
        "is",
        "are",
        "be",
        "new",
        "more",
        "other",
        "additional",
        "extra",
        "remaining",
    ]
)


@dataclass(frozen=True)
class RuleRef:
    name: str  # file stem, e.g. "celery-config"
    path: str  # absolute, normalised path of the rule file
    line: int  # SKILL.md line of the table row
    column: int
    impact: str | None  # the row's Impact cell (markup stripped), when the table has one


@dataclass(frozen=True)
class Catalog:
    line: int  # header row line
    rows: int  # body rows
    categories: int  # distinct category cells (or rows when there is no category column)
    rules: tuple[RuleRef, ...]  # in table order, duplicates kept
    counted: int = 0  # rules of rows whose rules cell is a number ("3"): counted, not named

    @property
    def rule_count(self) -> int:
        return len({r.path for r in self.rules}) + self.counted


def _strip_markup(cell: str) -> str:
    """A raw cell without emphasis and code markup characters."""
    return _MARKUP_RE.sub("", cell).strip()


def _link_start(line_text: str, link: Link) -> int:
    """Column of the `[` opening an inline link, whose record holds the column of its `](`."""
    at = link.column - 1
    if line_text[at : at + 1] == "[":  # already the start (a reference-style link)
        return link.column
    start = line_text.rfind("[", 0, at)
    return start + 1 if start >= 0 else link.column


def _column(line_text: str, needle: str) -> int:
    pos = line_text.find(needle)
    return pos + 1 if pos >= 0 else 1


@per_skill
def find_catalog(skill) -> Catalog | None:
    """The Quick Reference table of SKILL.md: the first table with a rules column that names
    rule files (links or paths, bare names of which at least one exists) or counts them."""
    doc = skill.skill_md
    if doc is None:
        return None
    res = resolver(skill)
    for table in doc.tables:
        header = [_strip_markup(h).lower() for h in table.header]
        rule_col = _rules_column(header)
        if rule_col is None:
            continue
        cat_col = next((i for i, h in enumerate(header) if _CATEGORY_HEADER_RE.match(h)), None)
        impact_col = next((i for i, h in enumerate(header) if h == "impact"), None)
        rules: list[RuleRef] = []
        categories: set[str] = set()
        counted = 0
        trusted = False  # a link, a path or an existing bare-named file makes it a catalogue
        rows = zip(table.rows, table.cells, table.row_lines, strict=True)
        for number, (row, parsed, line) in enumerate(rows):
            line_text = doc.lines[line - 1] if 0 < line <= len(doc.lines) else ""
            cell = row[rule_col] if rule_col < len(row) else ""
            impact = (
                _strip_markup(row[impact_col])
                if impact_col is not None and impact_col < len(row)
                else None
            )
            number_cell = _strip_markup(cell)
            if number_cell.isdigit():  # "| Retries | 3 | ..." states how many rules, not which
                counted += int(number_cell)
                trusted = True
            else:
                named, explicit = _rule_cell(
                    parsed[rule_col] if rule_col < len(parsed) else (), line_text, res
                )
                if not named:
                    continue  # e.g. a "**Total: ...**" line glued to the table: not a category
                trusted = trusted or explicit or any(os.path.isfile(path) for _, path, _ in named)
                rules.extend(
                    RuleRef(name, path, line, column, impact or None)
                    for name, path, column in named
                )
            category = (
                cell_text(parsed[cat_col]) if cat_col is not None and cat_col < len(parsed) else ""
            )
            categories.add(_strip_markup(category).lower() or f"row {number}")
        if trusted:
            return Catalog(table.line, len(table.rows), len(categories), tuple(rules), counted)
    return None


def _rules_column(header: list[str]) -> int | None:
    """The column that names the rules: "Rule file(s)" first, then "File(s)" beside a "Rule"
    column (names in one, paths in the other), then "Rules", then "Rule"."""

    def first(pattern: re.Pattern) -> int | None:
        return next((i for i, h in enumerate(header) if pattern.match(h)), None)

    rule_file = first(_RULE_FILE_HEADER_RE)
    if rule_file is not None:
        return rule_file
    rule = first(_RULE_HEADER_RE)
    if rule is None:
        return None
    files = first(_FILE_HEADER_RE)
    return files if files is not None else rule


def _rule_cell(
    parts: CellParts, line_text: str, res: Resolver
) -> tuple[list[tuple[str, str, int]], bool]:
    """([(rule name, absolute rule file path, column)], explicit) for one rules cell, from its
    parsed parts (`records.CellParts`).

    Explicit references are links to local files and .md paths such as `rules/x.md` or
    `${CLAUDE_SKILL_DIR}/references/x.md` (in code or not); the rest of the cell is read as bare
    slugs separated by commas or <br> ("celery-config, task-routing"), each meaning
    references/NAME.md. Prose ("Layout Animations", "x (load ...)") names nothing."""
    out: list[tuple[str, str, int]] = []
    for link in cell_links(parts):
        target, _ = split_fragment(link.target.strip())
        if link.image or not target or is_external(target):
            continue
        path = resolve(target, res.root, res)
        if path is not None:
            out.append((Path(path).stem, path, _link_start(line_text, link)))
    rest = cell_text(parts, links_as=" ")
    for m in _MD_PATH_RE.finditer(rest):
        path = resolve(m.group(0), res.root, res)
        if path is not None:
            out.append((Path(path).stem, path, _column(line_text, m.group(0))))
    explicit = bool(out)
    rest = _MD_PATH_RE.sub(" ", rest)
    for token in _BR_RE.sub(",", rest).split(","):
        for piece in token.split(";"):
            name = piece.strip().strip("`*_~")
            if not _SLUG_RE.match(name):
                continue
            rel = name if name.endswith(".md") else f"{name}.md"
            out.append(
                (
                    Path(rel).stem,
                    os.path.normpath(os.path.join(res.root, "references", rel)),
                    _column(line_text, name),
                )
            )
    return out, explicit


def _reference_files(skill) -> list[str]:
    """Markdown files directly inside references/ (the candidate rule files), normalised."""
    refs = os.path.join(os.path.normpath(str(skill.root)), "references")
    return sorted(
        os.path.normpath(str(d.path))
        for d in skill.references
        if os.path.dirname(os.path.normpath(str(d.path))) == refs
    )


# --------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class CountClaim:
    number: int
    noun: str  # normalised: "rules", "rule files", "reference files", "categories"
    line: int
    column: int
    text: str


def _masked_spans(doc) -> dict[int, list[tuple[int, int]]]:
    """{line: column spans (0-based, end exclusive)} of the doc's code spans and HTML comments,
    as the parse found them: each runs from its opening backticks (or `<!--`) to the matching
    closing run (or `-->`) on that line, else to the end of the line."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for code in doc.inline_code:
        line = doc.lines[code.line - 1] if 0 < code.line <= len(doc.lines) else ""
        start = code.column - 1
        opening = len(line[start:]) - len(line[start:].lstrip("`"))
        if not opening:  # a column the fallback parser could not locate
            continue
        end = line.find("`" * opening, start + opening + len(code.text.strip()))
        spans.setdefault(code.line, []).append((start, end + opening if end >= 0 else len(line)))
    for comment in doc.html_comments:
        line = doc.lines[comment.line - 1] if 0 < comment.line <= len(doc.lines) else ""
        start = comment.column - 1
        end = line.find("-->", start + 4)
        spans.setdefault(comment.line, []).append((start, end + 3 if end >= 0 else len(line)))
    return spans


def _claim_matches(text: str) -> list[re.Match]:
    """_COUNT_RE matches, found from the (rare) nouns backwards: a regex pass over the whole
    text is several times slower than str.find for the nouns plus a short window each."""
    lower = text.lower()
    nouns = set()
    for needle in _NOUN_STEMS:
        i = lower.find(needle)
        while i >= 0:
            nouns.add(i)
            i = lower.find(needle, i + 1)
    found: dict[int, re.Match] = {}
    for pos in sorted(nouns):
        for m in _COUNT_RE.finditer(text, max(0, pos - _WINDOW), min(len(text), pos + 20)):
            if m.start("noun") == pos:
                found.setdefault(m.start(), m)
    return [found[k] for k in sorted(found)]


def count_claims(doc) -> list[CountClaim]:
    """Count claims in the prose of `doc`: one regex pass over the whole text, then each rare
    match is dropped when it sits in a fence, inline code or an HTML comment."""
    text = doc.text
    matches = _claim_matches(text)
    if not matches:
        return []
    fenced: set[int] = set()
    for fence in doc.fences:
        fenced.update(range(fence.line, fence.line + len(fence.code.splitlines()) + 2))
    index = LineIndex(text)
    masked = _masked_spans(doc)
    claims = []
    for m in matches:
        number, col = index.position(m.start())
        col -= 1  # 0-based below
        if number in fenced:
            continue
        line = doc.lines[number - 1]
        if any(a <= col < b for a, b in masked.get(number, ())):
            continue
        before = line[:col].split()
        if before and before[-1].lower().strip(":,(*") in _SUBSET_BEFORE:
            continue
        if any(w.lower() in _NOT_MODIFIER for w in m.group("mid").split()):
            continue
        raw = m.group("num").lower()
        value = int(raw) if raw.isdigit() else NUMBER_WORDS[raw]
        noun = m.group("noun").lower().replace("-", " ")
        if noun.startswith("rule file"):
            noun = "rule files"
        elif noun.startswith("rule"):
            noun = "rules"
        elif noun.startswith("reference"):
            noun = "reference files"
        else:
            noun = "categories"
        claims.append(CountClaim(value, noun, number, col + 1, " ".join(m.group(0).split())))
    return claims


@check("RC001", "count-mismatch", Severity.ERROR)
def count_mismatch(skill) -> Iterator[Hit]:
    """A number in SKILL.md's prose disagrees with what the skill holds.

    What it does:
        Finds count claims in SKILL.md prose ("Total: 10 rules across 9 categories", "ten rule
        files", "all 8 capabilities"; digits or number words up to twenty) and compares:
        rules and rule files with the distinct rule files the Quick Reference table names
        (plus its count cells such as "3"); categories and capabilities with its rows that
        name a rule (distinct Category cells if there is such a column); reference files with
        the .md files directly in references/. Without a table, only "rule files" and
        "reference files" claims are checked. Subsets ("the first two rules", "3 more rules")
        are not claims.
    Why:
        Counts drift when rules are added or merged; a wrong total tells the agent a rule is
        missing (or that it has read everything when it has not).
    Example:
        **Total: 10 rules across 9 categories** above a 10-row table.
    Fix:
        Correct the number, or drop it: the table already shows the count.
    """
    doc = skill.skill_md
    if doc is None:
        return
    catalog = find_catalog(skill)
    actual: dict[str, tuple[int, str]] = {}
    ref_count = len(_reference_files(skill))
    actual["reference files"] = (ref_count, "references/ holds {n} markdown file{s}")
    if catalog is not None:
        n_rules = catalog.rule_count
        where = f"the rule table (line {catalog.line})"
        actual["rules"] = (
            n_rules,
            where + (" counts {n} rule{s}" if catalog.counted else " names {n} rule file{s}"),
        )
        actual["rule files"] = actual["rules"]
        actual["categories"] = (catalog.categories, where + " has {n} categor{ies}")
    else:
        actual["rule files"] = (ref_count, "references/ holds {n} markdown file{s}")
    for claim in count_claims(doc):
        if claim.noun not in actual:
            continue
        n, template = actual[claim.noun]
        if claim.number != n:
            said = template.format(n=n, s="" if n == 1 else "s", ies="y" if n == 1 else "ies")
            yield Hit(doc.path, claim.line, claim.column, f"says {claim.text!r}, but {said}")


# --------------------------------------------------------------------------- table vs files


@check("RC002", "rule-file-missing", Severity.ERROR)
def rule_file_missing(skill) -> Iterator[Hit]:
    """A rule named in the Quick Reference table has no file.

    What it does:
        For each rule the table names (a link, or a bare name meaning references/NAME.md),
        reports the row when that file does not exist.
    Why:
        The table is the skill's index: the agent picks a rule from it and loads the file. A
        row without a file is a promise the skill cannot keep.
    Example:
        | Scheduling | scheduled-tasks | MEDIUM | ... | with no references/scheduled-tasks.md
    Fix:
        Add the rule file, fix the name, or remove the row.
    """
    catalog = find_catalog(skill)
    if catalog is None:
        return
    for rule in catalog.rules:
        if not os.path.isfile(rule.path):
            yield Hit(
                skill.skill_md.path,
                rule.line,
                rule.column,
                f"rule {rule.name!r}: {skill.rel(Path(rule.path))} does not exist",
            )


@check("RC003", "rule-not-in-table", Severity.ERROR)
def rule_not_in_table(skill) -> Iterator[Hit]:
    """A markdown file in references/ has no row in the Quick Reference table.

    What it does:
        When SKILL.md has a rule table that names its rules, reports each .md file directly
        inside the rule folder (references/, or wherever the named rule files live, such as
        rules/; `_`-prefixed helpers skipped) that no row names, on the table's header line.
        Tables whose rules cells are counts ("3") name no files and are skipped.
    Why:
        The table is how the agent finds rules; a file missing from it is a rule that is never
        chosen (and any count taken from the table is short by one).
    Example:
        references/result-backends.md exists, but no row names result-backends.
    Fix:
        Add a row for the rule, or move the file out of references/ if it is not a rule.
    """
    catalog = find_catalog(skill)
    if catalog is None or catalog.counted:
        return  # a table that counts rules per row does not say which files they are
    named = {r.path for r in catalog.rules}
    for path in _rule_folder_files(skill, catalog):
        if path not in named:
            yield Hit(
                skill.skill_md.path,
                catalog.line,
                1,
                f"{skill.rel(Path(path))} is not named in the rule table",
            )


def _rule_folder_files(skill, catalog: Catalog) -> list[str]:
    """The .md files directly inside the folders the table's rule files live in (references/
    when it names none that exist), skipping `_`-prefixed helpers such as _template.md."""
    root = os.path.normpath(str(skill.root))
    folders = {os.path.dirname(r.path) for r in catalog.rules if os.path.isfile(r.path)}
    folders = {f for f in folders if f.startswith(root + os.sep)} or {
        os.path.join(root, "references")
    }
    out = []
    for folder in sorted(folders):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        out.extend(
            os.path.normpath(e.path)
            for e in entries
            if e.name.endswith(".md") and not e.name.startswith("_") and e.is_file()
        )
    return sorted(out)


@check("RC008", "duplicate-rule", Severity.ERROR)
def duplicate_rule(skill) -> Iterator[Hit]:
    """The Quick Reference table names the same rule file twice.

    What it does:
        Reports every repeat of a rule file in the table, pointing at the earlier row.
    Why:
        A duplicated row inflates the rule count and usually hides a rule that was meant to be
        listed instead.
    Example:
        | Retries | retry-strategies | ... | and later | Errors | retry-strategies | ... |
    Fix:
        Remove the repeat or name the intended rule.
    """
    catalog = find_catalog(skill)
    if catalog is None:
        return
    first: dict[str, int] = {}
    for rule in catalog.rules:
        if rule.path in first:
            yield Hit(
                skill.skill_md.path,
                rule.line,
                rule.column,
                f"rule {rule.name!r} is already named on line {first[rule.path]}",
            )
        else:
            first[rule.path] = rule.line


# --------------------------------------------------------------------------- orphans and nesting


def _targets(skill, doc) -> Iterator[tuple[str, int, int, str]]:
    """(resolved path, line, column, as written) of every local link and path mention of doc,
    resolved as the LK checks resolve them (`facts.link_target`, `facts.mention_target`)."""
    for link in doc.links:
        t = link_target(link, doc, skill)
        if t is not None and t.resolved is not None:
            yield t.resolved, link.line, link.column, link.target
    for mention in doc.mentions:
        m = mention_target(mention, doc, skill)
        if m is not None:
            yield m.resolved, mention.line, mention.column, mention.raw


@check("RC004", "orphan-reference", Severity.WARNING)
def orphan_reference(skill) -> Iterator[Hit]:
    """A file in references/ that nothing reachable from SKILL.md points to.

    What it does:
        Collects what SKILL.md points at (markdown links, `Read("...")` and placeholder
        paths, references/... in inline code, `.md` paths in the text, rules named in the
        rule table), and what the files it reaches point at in turn, and reports every file
        under references/ that is not among them (a second-hop file is RC005's finding).
    Why:
        The agent only loads references that SKILL.md tells it about; an orphan is dead weight
        in the package, or guidance that was meant to be reachable and is not.
    Example:
        references/anti-patterns.md exists but SKILL.md never mentions it.
    Fix:
        Link it from SKILL.md (say when to read it), or delete it.
    """
    doc = skill.skill_md
    if doc is None:
        return
    files = _files_under(skill, "references")
    if not files:
        return
    reached = _reached_from_skill_md(skill) | skill.reached
    for path in files:
        if path not in reached:
            yield Hit(
                Path(path),
                1,
                1,
                f"{skill.rel(Path(path))} is not reached from SKILL.md (no link or path to it "
                "in SKILL.md or the files it leads to)",
            )


def _files_under(skill, folder: str) -> list[str]:
    """Normalised paths of every file under root/folder (the model's file list when some check
    already built it; otherwise only that folder is walked, never the whole skill)."""
    base = os.path.join(os.path.normpath(str(skill.root)), folder)
    if "all_files" in vars(skill):
        return [
            p
            for p in map(os.path.normpath, map(str, skill.all_files))
            if p.startswith(base + os.sep)
        ]
    if not os.path.isdir(base) or os.path.islink(base):
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS and not os.path.islink(os.path.join(dirpath, d))
        )
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames))
    return out


@per_skill
def _reached_from_skill_md(skill) -> set[str]:
    """Files SKILL.md points to: links, path mentions and the rules its table names."""
    if skill.skill_md is None:
        return set()
    reached = {p for p, *_ in _targets(skill, skill.skill_md)}
    # any `.md` path in the text counts too ("see references/x.md", examples included)
    for token in markdown_tokens(skill.skill_md.text):
        path = split_fragment(token)[0]
        if path and not is_external(path):
            resolved = resolve(path, os.path.normpath(str(skill.root)), resolver(skill))
            if resolved:
                reached.add(resolved)
    catalog = find_catalog(skill)
    if catalog is not None:
        reached.update(r.path for r in catalog.rules)
    return reached


@check("RC005", "nested-reference", Severity.WARNING)
def nested_reference(skill) -> Iterator[Hit]:
    """A reference file leads to a second level of references.

    What it does:
        Reports links and path mentions inside references/**/*.md whose target is another
        file under references/ that SKILL.md itself does not point to. A "see also" link
        between two files that SKILL.md both links is fine: both are one hop from SKILL.md.
    Why:
        Agents often preview a reference only partly; a file reachable only through another
        reference is a second hop that is easily never taken.
    Example:
        references/canvas-workflows.md: "see [chord retries](chord-retries.md)", and SKILL.md
        never mentions chord-retries.md.
    Fix:
        Link the second file from SKILL.md (saying when to read it), or fold the needed lines
        into the first file.
    """
    refs = os.path.join(os.path.normpath(str(skill.root)), "references")
    top = _reached_from_skill_md(skill)
    for doc in skill.references:
        here = os.path.normpath(str(doc.path))
        seen: set[tuple[int, str]] = set()
        for target, line, col, raw in _targets(skill, doc):
            if (
                target == here
                or target in top
                or not target.startswith(refs + os.sep)
                or not os.path.exists(target)
            ):
                continue  # a missing target is LK001/LK004's finding
            if (line, target) not in seen:
                seen.add((line, target))
                yield Hit(
                    doc.path,
                    line,
                    col,
                    f"{raw} leads to a reference that SKILL.md does not link; "
                    "keep references one level deep",
                )


# --------------------------------------------------------------------------- rule frontmatter


@per_skill
def _rule_docs(skill) -> dict[str, MarkdownDoc]:
    """Rule files whose frontmatter is checked, by normalised path: the existing files the table
    names (parsed here when they live outside references/); without a table, reference files
    whose frontmatter has `impact` or `verified-against`."""
    loaded = {os.path.normpath(str(d.path)): d for d in skill.docs}
    catalog = find_catalog(skill)
    out: dict[str, MarkdownDoc] = {}
    if catalog is not None:
        for rule in catalog.rules:
            if rule.path in out or not os.path.isfile(rule.path):
                continue
            doc = loaded.get(rule.path)
            if doc is None:
                text, error = read_text(Path(rule.path), skill.config.limits.max_file_bytes)
                if text is None or error:
                    continue  # ST checks report unreadable files
                doc = MarkdownDoc(Path(rule.path), skill.rel(Path(rule.path)), text)
            out[rule.path] = doc
        return out
    for doc in skill.references:
        fm = doc.frontmatter
        if (
            fm.present
            and fm.data is not None
            and ("impact" in fm.data or "verified-against" in fm.data)
        ):
            out[os.path.normpath(str(doc.path))] = doc
    return out


def _node_line(fm, node: yaml.Node) -> int:
    return node.start_mark.line + fm.start_line + 1


def _impact_ok(impact) -> bool:
    """One level, or a range of two (`LOW-MEDIUM`, as Vercel's rule files write it)."""
    if not isinstance(impact, str):
        return False
    parts = impact.split("-")
    return len(parts) <= 2 and all(p in IMPACTS for p in parts)


@check("RC006", "rule-frontmatter-invalid", Severity.ERROR)
def rule_frontmatter_invalid(skill) -> Iterator[Hit]:
    """A rule file's frontmatter breaks the rule-file template.

    What it does:
        For rule files that have frontmatter (files the rule table names; without a table,
        reference files whose frontmatter has `impact` or `verified-against`), requires YAML
        that parses to a mapping with `title` (non-empty string) and `impact` (one of
        CRITICAL, HIGH, MEDIUM, LOW); `env`, when present, must be a string and
        `verified-against` a mapping of package name to version string. Other keys are free.
    Why:
        `skill-audit run` picks the snippet environment from `env`, readers trust
        `verified-against` to say what was tested, and the table's impact is checked against
        `impact` (RC007). An unquoted `redis-py: 8.1` is the float 8.1, not a version.
    Example:
        ---
        title: Task routing
        impact: high
        verified-against:
          kombu: 5.7
        ---
    Fix:
        Follow the template in CONTRIBUTING.md; quote versions ("5.7.0").
    """
    for doc in _rule_docs(skill).values():
        fm = doc.frontmatter
        if not fm.present:
            continue
        if fm.error:
            yield Hit(doc.path, fm.error_line or 1, 1, f"frontmatter: {fm.error}")
            continue
        if fm.data is None:
            yield Hit(
                doc.path, fm.start_line or 1, 1, "frontmatter must be a mapping of keys to values"
            )
            continue
        data, where = fm.data, fm.line_of
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            yield Hit(
                doc.path, where("title"), 1, "frontmatter needs `title:` (a non-empty string)"
            )
        impact = data.get("impact")
        if not _impact_ok(impact):
            shown = "missing" if impact is None else repr(impact)
            yield Hit(
                doc.path, where("impact"), 1, f"impact is {shown}; use one of {', '.join(IMPACTS)}"
            )
        if "env" in data and not (isinstance(data["env"], str) and data["env"].strip()):
            yield Hit(
                doc.path, where("env"), 1, "env must be a non-empty string (an environment name)"
            )
        if "verified-against" in data:
            yield from _verified_against(doc, fm)


def _verified_against(doc, fm) -> Iterator[Hit]:
    entry = next((e for e in fm.entries if e.key == "verified-against"), None)
    node = entry.node if entry else None
    if not isinstance(node, yaml.MappingNode) or not isinstance(
        fm.data.get("verified-against"), dict
    ):
        yield Hit(
            doc.path,
            fm.line_of("verified-against"),
            1,
            "verified-against must be a mapping of package name to version string",
        )
        return
    for key_node, value_node in node.value:
        plain = (
            isinstance(value_node, yaml.ScalarNode) and value_node.tag == "tag:yaml.org,2002:str"
        )
        key_ok = isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:str"
        if not key_ok:
            yield Hit(
                doc.path,
                _node_line(fm, key_node),
                key_node.start_mark.column + 1,
                "verified-against keys must be package names (strings)",
            )
        elif not plain or not value_node.value.strip():
            yield Hit(
                doc.path,
                _node_line(fm, value_node),
                value_node.start_mark.column + 1,
                f"verified-against {key_node.value}: the version must be a string; quote it "
                f'("{getattr(value_node, "value", "") if isinstance(value_node, yaml.ScalarNode) else ""}")',
            )


@check("RC007", "impact-mismatch", Severity.WARNING)
def impact_mismatch(skill) -> Iterator[Hit]:
    """The Impact cell of the rule table disagrees with the rule file's `impact`.

    What it does:
        For each table row with an Impact column, reports a value outside CRITICAL, HIGH,
        MEDIUM, LOW, and a value that differs from the `impact:` frontmatter of the rule file
        the row names (when that file has one).
    Why:
        Readers triage by impact from the table; two different answers mean one was not
        updated when the rule changed.
    Example:
        | Routing | task-routing | HIGH | ... | while task-routing.md says `impact: MEDIUM`.
    Fix:
        Make the two agree (the rule file is usually the one that was revised).
    """
    catalog = find_catalog(skill)
    if catalog is None:
        return
    docs = _rule_docs(skill)
    reported_rows: set[int] = set()
    for rule in catalog.rules:
        if rule.impact is None:
            continue
        if rule.impact.upper() not in IMPACTS:
            if rule.line not in reported_rows:
                reported_rows.add(rule.line)
                yield Hit(
                    skill.skill_md.path,
                    rule.line,
                    1,
                    f"impact {rule.impact!r} is not one of {', '.join(IMPACTS)}",
                )
            continue
        doc = docs.get(rule.path)
        declared = (
            doc.frontmatter.data.get("impact") if doc is not None and doc.frontmatter.data else None
        )
        if (
            isinstance(declared, str)
            and declared.upper() in IMPACTS
            and declared.upper() != rule.impact.upper()
        ):
            yield Hit(
                skill.skill_md.path,
                rule.line,
                rule.column,
                f"rule {rule.name!r}: the table says {rule.impact}, {doc.rel} says impact: {declared}",
            )
