"""ST: files that cannot be read, and the size budgets of progressive disclosure.

Token counts are the validator's estimate, ceil(characters / 4), computed offline (no
tokenizer download); real tokenizers differ by roughly ±20% on English prose and code.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator

from skill_audit.diagnostics import Hit, Severity
from skill_audit.model import MarkdownDoc, Skill
from skill_audit.registry import CHECKS, Scope, check
from skill_audit.suppress import parse_suppressions


def estimate_tokens(text: str) -> int:
    """The validator's offline token estimate: ceil(characters / 4)."""
    return math.ceil(len(text) / 4)


@check("ST001", "unreadable-file", Severity.ERROR)
def unreadable_file(skill: Skill) -> Iterator[Hit]:
    """SKILL.md or another shipped markdown file cannot be read as UTF-8 markdown.

    What it does:
        Reports files that are missing, unreadable (permissions), directories named like a
        markdown file, binary (NUL bytes), not valid UTF-8, or larger than `max-file-bytes`
        (1,000,000 by default); none of these is parsed further.
    Why:
        Clients fail or show garbage when they load such a file, and no other check can vouch
        for its content.
    Example:
        references/guide.md saved as UTF-16, or SKILL.md created as a folder
    Fix:
        Save the file as UTF-8 text, fix its permissions, or remove it.
    """
    for error in skill.load_errors:
        yield Hit(error.path, error.line, 1, error.message)


@check("ST002", "broken-symlink", Severity.ERROR)
def broken_symlink(skill: Skill) -> Iterator[Hit]:
    """A symlink in the skill points nowhere, or into a loop.

    What it does:
        Reports symlinks whose target does not resolve (missing, or a symlink loop).
    Why:
        Installers copy the skill folder; a dangling link becomes a missing file on the
        user's machine, and a loop can hang naive tools.
    Example:
        references/old.md -> ../archive/old.md (deleted)
    Fix:
        Replace the link with the file it should point to, or delete it.
    """
    for path in skill.symlinks:
        if not os.path.exists(path):
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            yield Hit(
                path,
                1,
                1,
                f"symlink `{skill.rel(path)}` -> `{target}` does not resolve (missing or a loop)",
            )


@check("ST003", "skill-md-too-long", Severity.WARNING)
def skill_md_too_long(skill: Skill) -> Iterator[Hit]:
    """SKILL.md has more lines than the budget (500 by default).

    What it does:
        Counts the lines of SKILL.md and compares them with `limits.skill-md-lines`.
    Why:
        The whole file is loaded whenever the skill triggers; the spec recommends staying under
        500 lines and moving detail into references/ that load on demand.
    Example:
        a 700-line SKILL.md with every pattern inline
    Fix:
        Move sections into `references/<topic>.md` and link them from SKILL.md.
    """
    doc = skill.skill_md
    if doc is None:
        return
    count = len(doc.lines) - (1 if doc.lines and doc.lines[-1] == "" else 0)
    limit = skill.config.limits.skill_md_lines
    if count > limit:
        yield Hit(doc.path, limit + 1, 1, f"SKILL.md has {count:,} lines; the budget is {limit:,}")


@check("ST004", "body-token-budget", Severity.WARNING)
def body_token_budget(skill: Skill) -> Iterator[Hit]:
    """The SKILL.md body is over its token budget (5,000 by default).

    What it does:
        Estimates the body's tokens (the validator's estimate: characters / 4, rounded up;
        frontmatter excluded) and compares them with `limits.body-tokens`.
    Why:
        The body enters the context every time the skill triggers, and Claude Code keeps only
        the first 5,000 tokens of a re-attached skill after compaction.
    Example:
        a 30,000-character body (about 7,500 tokens)
    Fix:
        Move detail into reference files that load on demand.
    """
    doc = skill.skill_md
    if doc is None:
        return
    tokens = estimate_tokens(doc.body)
    limit = skill.config.limits.body_tokens
    if tokens > limit:
        yield Hit(
            doc.path,
            doc.body_start_line,
            1,
            f"body is about {tokens:,} tokens (characters/4); the budget is {limit:,}",
        )


@check("ST005", "reference-token-budget", Severity.WARNING)
def reference_token_budget(skill: Skill) -> Iterator[Hit]:
    """A reference file is over the per-file token budget (10,000 by default).

    What it does:
        Estimates each references/ file's tokens (characters / 4, rounded up) and compares
        them with `limits.reference-tokens`.
    Why:
        A reference is loaded whole when needed; a very large one crowds out the conversation
        and is better split by topic.
    Example:
        references/everything.md with 60,000 characters
    Fix:
        Split the file by topic and link each part from SKILL.md.
    """
    limit = skill.config.limits.reference_tokens
    for doc in skill.references:
        tokens = estimate_tokens(doc.text)
        if tokens > limit:
            yield Hit(
                doc.path,
                1,
                1,
                f"{doc.rel} is about {tokens:,} tokens (characters/4); the budget is {limit:,}",
            )


@check("ST006", "metadata-token-budget", Severity.INFO, scope=Scope.FRONTMATTER)
def metadata_token_budget(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """`name` plus `description` is over the metadata budget (100 tokens by default).

    What it does:
        Estimates the tokens of `name` and `description` (characters / 4, rounded up) and
        compares them with `limits.metadata-tokens`.
    Why:
        Metadata of every installed skill is loaded at startup; the spec budgets about 100
        tokens per skill, so long descriptions cost every conversation.
    Example:
        a 900-character description (about 225 tokens)
    Fix:
        Keep the description to what the skill does and when to use it.
    """
    data = doc.frontmatter.data
    text = "".join(str(data[k]) for k in ("name", "description") if isinstance(data.get(k), str))
    tokens = estimate_tokens(text)
    limit = skill.config.limits.metadata_tokens
    if tokens > limit:
        yield Hit(
            doc.path,
            doc.frontmatter.line_of("description"),
            1,
            f"name + description is about {tokens:,} tokens (characters/4); the budget is {limit:,}",
        )


@check("ST007", "empty-file", Severity.WARNING)
def empty_file(skill: Skill) -> Iterator[Hit]:
    """SKILL.md has no body, or a reference file has no content.

    What it does:
        Reports a SKILL.md whose body (after the frontmatter) is blank, and reference files
        that are blank.
    Why:
        An empty body gives the model nothing to follow once the skill triggers; an empty
        reference is a dead end for every link to it.
    Example:
        ---
        name: my-skill
        description: ...
        ---
    Fix:
        Write the instructions, or delete the empty file and its links.
    """
    doc = skill.skill_md
    if (
        doc is not None
        and not doc.body.strip()
        and not (doc.frontmatter.present and not doc.frontmatter.closed)
    ):
        yield Hit(
            doc.path, max(1, min(doc.body_start_line, len(doc.lines))), 1, "SKILL.md has no body"
        )
    for ref in skill.references:
        if not ref.text.strip():
            yield Hit(ref.path, 1, 1, f"{ref.rel} is empty")


@check("ST008", "invalid-suppression", Severity.WARNING, scope=Scope.DOC)
def invalid_suppression(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """A `<!-- skill-audit: ... -->` comment that suppresses nothing it means to.

    What it does:
        Reports suppression comments with an unknown directive (the known ones are `disable`,
        `enable`, `disable-next-line` and `disable-file`) or naming a code or prefix that
        matches no check.
    Why:
        A typo in a suppression silently suppresses nothing (or the wrong thing), so the
        finding it was meant to silence comes back, or a real one hides.
    Example:
        <!-- skill-audit: disable-nextline LK001 -->
        <!-- skill-audit: disable LK01 -->
    Fix:
        Use one of the four directives with codes from `skill-audit rules`.
    """
    if "skill-audit" not in doc.text:
        return
    sup = parse_suppressions(doc)
    for line, column, message in sup.problems:
        yield Hit(doc.path, line, column, message)
    for line, column, verb, names in sup.directives:
        for name in names:
            if not any(code.startswith(name) for code in CHECKS):
                yield Hit(
                    doc.path,
                    line,
                    column,
                    f"`{verb} {name}`: no check code starts with {name!r}",
                )


@check("ST009", "skill-md-wrong-case", Severity.ERROR)
def skill_md_wrong_case(skill: Skill) -> Iterator[Hit]:
    """The skill file is spelt `Skill.md` or `skill.md` instead of `SKILL.md`.

    What it does:
        Reports a skill folder whose skill file matches SKILL.md only when letter case is
        ignored. The file is still checked as the skill's SKILL.md.
    Why:
        Claude Code looks for `SKILL.md` exactly; on a case-sensitive file system (Linux, most
        CI runners, containers) the skill is not found at all, while it works on the author's
        macOS laptop. skills-ref accepts a lower-case `skill.md`, so under the agentskills
        profile this is a warning.
    Example:
        my-skill/Skill.md
    Fix:
        Rename it: `git mv Skill.md SKILL.md` (two steps on a case-insensitive disk:
        `git mv Skill.md tmp.md && git mv tmp.md SKILL.md`).
    """
    path = skill.skill_file
    if path is None or path.name == "SKILL.md":
        return
    lenient = skill.config.profile == "agentskills" and path.name == "skill.md"
    yield Hit(
        path,
        1,
        1,
        f"the skill file is named {path.name}; clients look for SKILL.md and miss it on "
        "case-sensitive file systems",
        Severity.WARNING if lenient else None,
    )


@check("ST010", "unreached-markdown", Severity.INFO)
def unreached_markdown(skill: Skill) -> Iterator[Hit]:
    """A markdown file in the skill that nothing reaches, so it is not checked.

    What it does:
        Lists each markdown file in the skill folder (outside references/, which is always
        checked, and outside nested skills) that no link, `Read(...)`, placeholder path or
        `.md` path in SKILL.md or the files it reaches points to. README, CHANGELOG, LICENSE
        and similar files for people are skipped and counted in the summary instead.
    Why:
        The agent only opens what SKILL.md leads it to, so the file is either dead weight in
        the package or guidance meant to be reachable; either way its links and code are not
        checked, and the report should say so rather than pass it silently.
    Example:
        rules/legacy-retries.md, mentioned nowhere.
    Fix:
        Link it from SKILL.md or a file SKILL.md reaches (saying when to read it), or delete it.
    """
    refs = os.path.join(os.path.normpath(str(skill.root)), "references") + os.sep
    for path in skill.orphans:
        if os.path.normpath(str(path)).startswith(refs):
            continue  # references/ is always loaded; RC004 reports its unlinked files
        yield Hit(
            path,
            1,
            1,
            f"{skill.rel(path)} is not reached from SKILL.md (no link or path mentions it), "
            "so it was not checked",
        )


# Invisible characters that change what a reader sees versus what an agent reads. Zero-width
# joiner/non-joiner (U+200D, U+200C) are left out: emoji sequences and Persian, Hindi text
# need them.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
_INVISIBLE = {
    "\u200b": "zero-width space",
    "\u2060": "word joiner",
    "\ufeff": "zero-width no-break space (BOM)",
    "\u00ad": "soft hyphen",
    "\u180e": "Mongolian vowel separator",
}
_HIDDEN_RE = re.compile("[\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff\u180e\U000e0000-\U000e007f]")


@check("ST011", "hidden-unicode", Severity.ERROR, scope=Scope.DOC)
def hidden_unicode(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """Invisible or direction-changing Unicode in a shipped markdown file.

    What it does:
        Reports bidirectional controls (U+202A-U+202E, U+2066-U+2069), Unicode tag characters
        (U+E0000-U+E007F) as errors, and zero-width spaces, word joiners and a mid-file BOM as
        warnings, at their line and column. Zero-width joiners (emoji, Indic and Persian
        text) are allowed.
    Why:
        The agent reads these characters and the reviewer does not see them: bidi controls
        reorder what a command appears to say ("Trojan Source"), tag characters can carry a
        whole hidden instruction, and a zero-width space breaks a copied command or name.
    Example:
        Run `rm -rf ./build` where an U+202E sits between two words.
    Fix:
        Delete the character (most editors show it with "render control characters" on).
    """
    text = doc.text
    if text.isascii():
        return
    for number, line in enumerate(doc.lines, 1):
        if line.isascii():
            continue
        for m in _HIDDEN_RE.finditer(line):
            ch = m.group(0)
            if ch == "\u200b" and line[m.end() : m.end() + 3] in ("```", "~~~"):
                continue  # the usual trick to show a fence inside a fenced block
            code = ord(ch)
            if ch in _BIDI:
                what, severity = f"bidirectional control U+{code:04X}", None
            elif code >= 0xE0000:
                what, severity = f"invisible tag character U+{code:04X}", None
            else:
                what = f"{_INVISIBLE.get(ch, 'invisible character')} U+{code:04X}"
                severity = Severity.WARNING
            yield Hit(
                doc.path,
                number,
                m.start() + 1,
                f"{what}: invisible to a reader, read by the agent",
                severity,
            )
            break  # one finding per line is enough to send the author there
