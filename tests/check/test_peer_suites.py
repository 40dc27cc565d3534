"""skillscheck's and skillseal's own test cases through `skill-audit check`.

Sources: the sdists of skillscheck 0.9.7 (tests/test_spec.py, test_parser.py, test_validator.py,
test_disclosure.py, test_quality.py and tests/fixtures/) and skillseal 0.27.1 (tests/
test_rules_metadata.py, test_parser.py, test_rules_quality.py, test_rules_security.py,
test_rules_portability.py, test_cli.py and examples/), fetched with
`pip download --no-binary :all: --no-deps skillscheck==0.9.7` (skillseal: add
`--python-version 3.12`). Each CASES entry restates one peer test as a skill on disk, in our own
words, with the verdict the peer gives (`peer`: level and finding class, `-` for "not reported",
or its exit code), and what `skill-audit check --profile agentskills` (or the `claude-code`
profile where the case is about Claude Code fields) must report (`ours`: a code that must be
reported, `CODE:error` at error severity, `CODE@N` at line N, `!CODE` must not be reported,
`exit:N`, `skills:N`). `benchmarks/peer_verdicts.py` runs the peers themselves on every case and
checks the recorded `peer` verdicts against their real output.

Severity is ours per code (docs/checks.md), so a peer WARNING or INFO may be our error and the
other way round; the finding class and the pass/fail verdict are what must agree.

Deliberate differences (the `why` of a case names one of these):
  * spec-error: unknown top-level keys, a list `allowed-tools`, a name that breaks the pattern or
    is over 64 characters, a description over 1024, are errors under `agentskills` (skills-ref,
    the spec's reference validator, rejects them); skillscheck reports unknown keys and list
    `allowed-tools` as INFO, skillseal the name and length rules as WARNING.
  * metadata-values: a `metadata` that is not a string-to-string mapping (a number value, a
    string, a list) is FM005 at warning severity, so the skill passes. skillscheck reports
    ERROR, skillseal WARNING; skills-ref, the reference, accepts all three (`agentskills
    validate` says "Valid skill" for a string or a list, and its own test expects a number
    value to pass), and issue 11 counted "metadata dates and numbers" among false errors.
  * trigger-only: the peers' description heuristics (minimum length, vague or placeholder
    phrasing, "This skill", user-centric "when the user asks") are not ours. We ask one thing,
    a trigger clause (FM011). Where a peer case's description has none, FM011 fires for that
    reason (a warning, as the peers' are).
  * link-severity: a broken local link or anchor is an error here (LK001/LK002: the agent
    follows it and finds nothing); skillscheck warns, skillseal reports INFO.
  * reachable-scope: token budgets are for what the agent reads: markdown (SKILL.md ST004,
    every other shipped .md ST005, linked or orphaned). A script is run, not read into context,
    so it has no token budget; skillscheck sizes every file under references/scripts/assets.
  * no-skill-exit-2: a folder with no SKILL.md exits 2 with a one-line reason ("nothing to
    check" is a usage error, so a mistyped path fails CI); skillscheck exits 0 with 0 skills.
  * depth-is-not-nesting: the spec's "one level deep" is about chains of references (RC005); a
    file in `references/sub/` linked straight from SKILL.md is fine. skillseal warns on folder
    depth.
  * sibling-skill-link: a link to `../other-skill/SKILL.md` leaves the skill, so it is a
    warning (LK003: an installed skill does not carry its siblings); skillseal exempts it.
  * folded-description: FM012 warns on `>` as well as `|` block scalars for `description`
    (docs/checks.md FM012: the portable form is one quoted line; skillseal cites a Claude Code
    report about `|` only, so it warns on `|` only).
  * unreachable: a case that sets both `user-invocable: false` and `disable-model-invocation:
    true` gets FM008 (no one can invoke the skill); the peers do not check the combination.
  * hidden-unicode-severity: ST011 is an error for bidi controls and tag characters (they hide
    or reorder instructions) and a warning for a zero-width space or word joiner (it breaks a
    copied command but hides nothing); skillseal reports every one as ERROR.
  * placeholder-target: a link whose target is a placeholder word (`url`, `link`, `todo`, ...)
    is an LK001 warning (it names no file; a blank left unfilled is still worth a look), so the
    skill passes; skillseal skips such targets.
  * names-per-folder: two skills named alike in different folders pass. A name must match
    its folder (FM007), so two skills of one name cannot share a skills folder, a plugin's
    `skills/` or `~/.claude/skills/`; in different plugins Claude Code namespaces them
    (`/plugin-name:skill`, https://code.claude.com/docs/en/plugins), and between personal and
    project folders one takes precedence. On the 427-skill corpus no two skills share a name.
    skillscheck errors.
  * bom: a UTF-8 byte-order mark before `---` is accepted (model.py reads utf-8-sig, as
    skillseal strips it: Windows editors write one). skills-ref and skillscheck report missing
    frontmatter; no test of theirs covers it.

Peer tests not restated, and why:
  * API and model tests without a verdict on a skill: skillscheck's _split_frontmatter offsets,
    SkillInfo/ValidationResult/Diagnostic dicts, `known_extension_fields`, `--check`
    selection, test_fixer.py (--fix), test_mdutil.py's bold-label cases (2e, below); its
    heading-slug cases are restated as links into the heading; skillseal's scoring, explain-score,
    config, diff, fix, init, conflicts, changed-files, routing (trigger tests with an LLM or a
    heuristic), reporters, rule-id listing and template suppression.
  * checks we do not have: skillscheck's `allowed-tools` tool-name registry, leading-heading
    INFO, keyword stuffing, repeated bold labels (2e), secret filenames and contents, binaries,
    files over 100 KB, extraneous root files (README, LICENSE, Makefile), orphan non-markdown
    files, the per-agent adapters (test_agents.py: plugin.json, marketplace.json,
    openai.yaml, gemini-extension.json, ...), duplicate descriptions across skills; skillseal's
    security regexes (rm -rf, curl | sh, eval, sudo, chmod 777, ssh and credential paths,
    .env, instruction-override wording, HTML comments, base64 blobs, exfiltration shapes,
    broad tool grants, bundled scripts), repeated instructions, long sections,
    too-many-responsibilities, `allowed-tools`-is-experimental INFO, requires-network,
    requires-tools, absolute paths and OS-specific commands in prose. skill-audit is a
    correctness validator: what breaks a skill for an agent or a client, not a security or
    style scanner.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.check.conftest import run_cli

DESC = "Drafts release notes from merged pull requests. Use when preparing a changelog."
BODY = "# Release notes\n\nCollect the merged pull requests and group them by area.\n"


def sk(name: str = "my-skill", extra: str = "", body: str = BODY, desc: str | None = DESC) -> str:
    """SKILL.md text: `name`, `description` (None: no such line), `extra` frontmatter, body."""
    head = f"name: {name}\n" if name is not None else ""
    if desc is not None:
        head += f"description: {desc}\n"
    return f"---\n{head}{extra}---\n{body}"


def ref_skill(name: str, ref: str, text: str, body: str | None = None) -> dict[str, str]:
    """A skill whose SKILL.md links the one file `ref` (relative to the skill), holding `text`."""
    body = body or f"# Title\n\nSee [the guide]({ref}).\n"
    return {f"{name}/SKILL.md": sk(name, body=body), f"{name}/{ref}": text}


class Case(NamedTuple):
    id: str
    peer: str  # the peer's verdict: "E 1b.name.format", "- 2c.broken-link", "exit 0"
    ours: str  # what skill-audit must report (see the module docstring)
    files: dict[str, str | None]  # path under the run's root -> text (None: an empty folder)
    path: str | None = None  # what to check, relative to the root (default: the first folder;
    # several paths are separated by spaces)
    profile: str = "agentskills"
    why: str = ""  # a deliberate difference from the docstring
    bug: str = ""  # a skill-audit bug or gap: the case is xfail(strict=True) with this reason


ONE = "my-skill"
LONG_LINES = "\n".join(f"Step {i}: keep going." for i in range(501)) + "\n"

SKILLSCHECK = [
    # test_spec.py
    # Its unit test (parse_skill on the folder) says E 1a.presence; its CLI, given the folder,
    # finds no skill and exits 0. We exit 2, an invalid verdict like the unit test's.
    Case(
        "sc_missing_skillmd",
        "exit 0",
        "exit:2",
        {"missing-skillmd": None},
        why="no-skill-exit-2",
    ),
    Case(
        "sc_bad_frontmatter",
        "E 1a.frontmatter",
        "FM002 exit:1",
        {"bad-yaml/SKILL.md": "---\nname: bad-yaml\ndescription: [broken: yaml: {{{\n---\nBody\n"},
    ),
    Case("sc_valid_name", "- 1b.name", "!FM005 !FM007 exit:0", {f"{ONE}/SKILL.md": sk()}),
    Case(
        "sc_uppercase_name",
        "E 1b.name.format",
        "FM005:error exit:1",
        {"Notes-Tool/SKILL.md": sk("Notes-Tool")},
    ),
    Case(
        "sc_hyphen_start",
        "E 1b.name.format",
        "FM005:error exit:1",
        {"-notes/SKILL.md": sk("-notes")},
    ),
    Case(
        "sc_consecutive_hyphens",
        "E 1b.name.consecutive-hyphens",
        "FM005:error exit:1",
        {"notes--tool/SKILL.md": sk("notes--tool")},
    ),
    Case(
        "sc_name_dir_mismatch",
        "E 1b.name.dir-match",
        "FM007:error exit:1",
        {"notes-tool/SKILL.md": sk("other-tool")},
    ),
    Case(
        "sc_missing_name",
        "E 1b.name.missing",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk(None)},
    ),
    Case(
        "sc_empty_name",
        "E 1b.name.empty",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk('""')},
    ),
    Case(
        "sc_name_too_long",
        "E 1b.name.length",
        "FM005:error exit:1",
        {f"{'n' * 65}/SKILL.md": sk("n" * 65)},
    ),
    Case(
        "sc_missing_description",
        "E 1b.description.missing",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk(desc=None)},
    ),
    Case(
        "sc_description_too_long",
        "E 1b.description.length",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk(desc="Use when testing. " + "d" * 1100)},
    ),
    Case(
        "sc_empty_description",
        "E 1b.description.empty",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk(desc='""')},
    ),
    Case(
        "sc_valid_full",
        "exit 0",
        "exit:0",
        {
            "full-skill/SKILL.md": sk(
                "full-skill",
                "license: MIT\ncompatibility: Any agent that reads agentskills.io skills.\n"
                'metadata:\n  author: someone\n  version: "1.0.0"\nallowed-tools: Read Grep\n',
                "# Full skill\n\n## Usage\n\nRead [the guide](references/guide.md) first, "
                "and [the spec](https://agentskills.io/specification) if unsure.\n",
            ),
            "full-skill/references/guide.md": "# Guide\n\nA reference file.\n",
        },
    ),
    Case(
        "sc_allowed_tools_list",
        "I 1c.allowed-tools.list-form",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk(extra="allowed-tools:\n  - Read\n  - Grep\n")},
        why="spec-error",
    ),
    Case(
        "sc_allowed_tools_list_claude_code",
        "I 1c.allowed-tools.list-form",
        "!FM005 exit:0",
        {f"{ONE}/SKILL.md": sk(extra="allowed-tools:\n  - Read\n  - Grep\n")},
        profile="claude-code",
        why="spec-error",
    ),
    Case(
        "sc_metadata_not_mapping",
        "E 1c.metadata.type",
        "FM005:warning exit:0",
        {f"{ONE}/SKILL.md": sk(extra="metadata: just-a-string\n")},
        why="metadata-values",
    ),
    Case(
        "sc_metadata_number_value",
        "E 1c.metadata.value-type",
        "FM005:warning exit:0",
        {f"{ONE}/SKILL.md": sk(extra="metadata:\n  build: 123\n")},
        why="metadata-values",
    ),
    Case(
        "sc_compatibility_too_long",
        "E 1c.compatibility.length",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk(extra=f"compatibility: {'c' * 501}\n")},
    ),
    Case(
        "sc_unknown_fields",
        "I 1d.unknown-field",
        "FM006:error exit:1",
        {f"{ONE}/SKILL.md": sk(extra="house-style: terse\nrevision: 42\n")},
        why="spec-error",
    ),
    Case(
        "sc_empty_body",
        "W 1e.body.empty",
        "ST007 exit:0",
        {f"{ONE}/SKILL.md": sk(body="")},
    ),
    Case(
        "sc_long_body",
        "W 1e.body.length",
        "ST003 exit:0",
        {f"{ONE}/SKILL.md": sk(body=LONG_LINES)},
    ),
    Case(
        "sc_high_token_body",
        "W 1e.body.tokens",
        "ST004 exit:0",
        {f"{ONE}/SKILL.md": sk(body="token " * 5001)},
    ),
    Case(
        "sc_version_top_level",
        "I 1d.unknown-field",
        "FM006:error exit:1",
        {f"{ONE}/SKILL.md": sk(extra="version: 1.2.3\n")},
        why="spec-error",
    ),
    Case(
        "sc_version_in_metadata",
        "- 1d.unknown-field",
        "!FM006 exit:0",
        {f"{ONE}/SKILL.md": sk(extra='metadata:\n  version: "1.0"\n')},
    ),
    Case(
        "sc_license_spdx",
        "- 1c.license",
        "exit:0",
        {f"{ONE}/SKILL.md": sk(extra="license: Apache-2.0\n")},
    ),
    Case(
        "sc_license_proprietary",
        "- 1c.license",
        "exit:0",
        {f"{ONE}/SKILL.md": sk(extra="license: Proprietary. Terms in LICENSE.txt\n")},
    ),
    Case(
        "sc_license_freeform",
        "- 1c.license",
        "exit:0",
        {f"{ONE}/SKILL.md": sk(extra="license: See the LICENSE file\n")},
    ),
    Case(
        "sc_placeholder_todo",
        "W 1b.description.placeholder",
        "FM011 exit:0",
        {f"{ONE}/SKILL.md": sk(desc="TODO write this later")},
        why="trigger-only",
    ),
    Case(
        "sc_placeholder_a_skill_that",
        "W 1b.description.placeholder",
        "FM011 exit:0",
        {f"{ONE}/SKILL.md": sk(desc="A skill that handles things")},
        why="trigger-only",
    ),
    Case(
        "sc_placeholder_this_skill",
        "W 1b.description.placeholder",
        "FM011 exit:0",
        {f"{ONE}/SKILL.md": sk(desc="This skill helps out")},
        why="trigger-only",
    ),
    Case(
        "sc_placeholder_ellipsis",
        "W 1b.description.placeholder",
        "FM011 exit:0",
        {f"{ONE}/SKILL.md": sk(desc="'...'")},
        why="trigger-only",
    ),
    Case(
        "sc_real_description",
        "- 1b.description.placeholder",
        "!FM011 exit:0",
        {f"{ONE}/SKILL.md": sk(desc="Checks nginx configs. Use when editing a server block.")},
    ),
    Case(
        "sc_duplicate_names",
        "E 1g.duplicate-name",
        "exit:0 skills:2",
        {"team-a/notes/SKILL.md": sk("notes"), "team-b/notes/SKILL.md": sk("notes")},
        path=".",
        why="names-per-folder",
    ),
    Case(
        "sc_distinct_names",
        "- 1g.duplicate-name",
        "exit:0 skills:2",
        {"notes-a/SKILL.md": sk("notes-a"), "notes-b/SKILL.md": sk("notes-b")},
        path=".",
    ),
    # test_parser.py
    Case(
        "sc_no_opening_delimiter",
        "E 1a.frontmatter",
        "FM001:error exit:1",
        {f"{ONE}/SKILL.md": "name: my-skill\n---\nBody\n"},
    ),
    Case(
        "sc_no_closing_delimiter",
        "E 1a.frontmatter",
        "FM002:error exit:1",
        {f"{ONE}/SKILL.md": "---\nname: my-skill\nBody with no end\n"},
    ),
    Case(
        "sc_invalid_yaml",
        "E 1a.frontmatter",
        "FM002:error exit:1",
        {f"{ONE}/SKILL.md": "---\nname: [open: yaml: {{{\n---\nBody\n"},
    ),
    Case(
        "sc_empty_frontmatter",
        "E 1b.name.missing",
        "FM003:error exit:1",
        {f"{ONE}/SKILL.md": "---\n---\nBody\n"},
    ),
    Case(
        "sc_list_frontmatter",
        "E 1a.frontmatter",
        "FM003:error exit:1",
        {f"{ONE}/SKILL.md": "---\n- first\n- second\n---\nBody\n"},
    ),
    Case(
        "sc_folder_without_skill",
        "exit 0",
        "exit:2",
        {"not-a-skill/README.md": "hello\n"},
        path=".",
        why="no-skill-exit-2",
    ),
    Case(
        "sc_empty_child_of_skills_dir",
        "E 1a.presence",
        "exit:2",
        {"skills/empty-one": None},
        path=".",
    ),
    # test_validator.py
    Case(
        "sc_three_skills",
        "exit 0",
        "exit:0 skills:3",
        {f"{n}/SKILL.md": sk(n) for n in ("alpha", "beta", "gamma")},
        path=".",
    ),
    Case(
        "sc_short_description",
        "W 2a.description.short",
        "FM011 exit:0",
        {f"{ONE}/SKILL.md": sk(desc="Short.")},
        why="trigger-only",
    ),
    Case(
        "sc_agent_field_in_plugin",
        "- 1d.unknown-field",
        "!FM006",
        {
            ".claude-plugin/plugin.json": '{"name": "kit", "version": "1.0", "description": "x"}',
            ".claude-plugin/marketplace.json": '{"name": "kit", "plugins": []}',
            f"{ONE}/SKILL.md": sk(extra="agent: Explore\n"),
        },
        path=".",
        profile="claude-code",
    ),
    # test_disclosure.py
    Case(
        "sc_large_linked_reference",
        "W 4b.reference.large",
        "ST005 exit:0",
        ref_skill(ONE, "references/large.md", "# Large\n\n" + "token " * 10001),
    ),
    Case(
        "sc_large_unlinked_reference",
        "W 4b.reference.large",
        "RC004 ST005 exit:0",
        {f"{ONE}/SKILL.md": sk(), f"{ONE}/references/large.md": "# Large\n\n" + "tok " * 12001},
    ),
    Case(
        "sc_small_reference",
        "- 4b.reference.large",
        "!ST005 exit:0",
        ref_skill(ONE, "references/small.md", "# Small\n\nA short reference.\n"),
    ),
    Case(
        "sc_large_script",
        "W 4b.reference.large",
        "!ST005 exit:0",
        {
            f"{ONE}/SKILL.md": sk(body="# Title\n\nRun `scripts/big.sh`.\n"),
            f"{ONE}/scripts/big.sh": "echo hi\n" * 10001,
        },
        why="reachable-scope",
    ),
    Case(
        "sc_nested_links",
        "I 4c.nesting",
        "RC005 exit:0",
        {
            **ref_skill(ONE, "references/guide.md", "# Guide\n\nAlso [more](more.md).\n"),
            f"{ONE}/references/more.md": "# More\n\nDetails.\n",
        },
    ),
    Case(
        "sc_flat_links",
        "- 4c.nesting",
        "!RC005 exit:0",
        ref_skill(ONE, "references/guide.md", "# Guide\n\nNo links here.\n"),
    ),
    Case(
        "sc_external_link_not_nesting",
        "- 4c.nesting",
        "!RC005 exit:0",
        ref_skill(ONE, "references/guide.md", "# Guide\n\nSee [docs](https://example.com).\n"),
    ),
]


def body_skill(body: str, name: str = ONE) -> dict[str, str]:
    return {f"{name}/SKILL.md": sk(name, body=body)}


SKILLSCHECK += [
    # test_quality.py: links
    Case(
        "sc_broken_link",
        "W 2c.broken-link",
        "LK001:error exit:1",
        body_skill("# Title\n\nSee [missing](references/nowhere.md) for details.\n"),
        why="link-severity",
    ),
    Case(
        "sc_external_link_ignored",
        "- 2c.broken-link",
        "!LK001 exit:0",
        body_skill("# Title\n\nSee [docs](https://example.com).\n"),
    ),
    Case(
        "sc_link_in_code_block_ignored",
        "- 2c.broken-link",
        "!LK001 exit:0",
        body_skill("# Title\n\n```\n[broken](nowhere.md)\n```\n\nText.\n"),
    ),
    Case(
        "sc_broken_fragment",
        "W 2c.broken-link.fragment",
        "LK002:error exit:1",
        body_skill("## Setup\n\nSee [usage](#usage-notes).\n"),
        why="link-severity",
    ),
    Case(
        "sc_valid_fragment",
        "- 2c.broken-link.fragment",
        "!LK002 exit:0",
        body_skill("## Setup\n\nSee [setup](#setup).\n"),
    ),
    Case(
        "sc_broken_file_fragment",
        "W 2c.broken-link.fragment",
        "LK002:error exit:1",
        ref_skill(
            ONE,
            "references/guide.md",
            "# Guide\n\n## First steps\n\nText.\n",
            "# Title\n\nSee [setup](references/guide.md#install-steps).\n",
        ),
        why="link-severity",
    ),
    Case(
        "sc_valid_file_fragment",
        "- 2c.broken-link.fragment",
        "!LK002 exit:0",
        ref_skill(
            ONE,
            "references/guide.md",
            "# Guide\n\n## First steps\n\nText.\n",
            "# Title\n\nSee [start](references/guide.md#first-steps).\n",
        ),
    ),
    Case(
        "sc_setext_fragments",
        "- 2c.broken-link.fragment",
        "!LK002 exit:0",
        body_skill(
            "Heading\n=======\n\nSub part\n--------\n\nSee [a](#heading), [b](#sub-part).\n"
        ),
    ),
    Case(
        "sc_setext_broken_fragment",
        "W 2c.broken-link.fragment",
        "LK002 exit:1",
        body_skill("Heading\n=======\n\nSee [gone](#no-such-part).\n"),
        why="link-severity",
    ),
    Case(
        "sc_duplicate_headings_suffixed",
        "- 2c.broken-link.fragment",
        "!LK002 exit:0",
        body_skill(
            "## Step\n\nOne.\n\n## Step\n\nTwo.\n\n## Step\n\nThree.\n\n"
            "See [1](#step), [2](#step-1), [3](#step-2).\n"
        ),
    ),
    Case(
        "sc_atx_above_rule_no_phantom",
        "W 2c.broken-link.fragment",
        "LK002 exit:1",
        body_skill("## Heading\n\n----\n\nSee [x](#heading-1).\n"),
        why="link-severity",
    ),
    Case(
        "sc_duplicate_heading_suffix_too_high",
        "W 2c.broken-link.fragment",
        "LK002 exit:1",
        body_skill("## Step\n\nOne.\n\n## Step\n\nTwo.\n\nSee [x](#step-4).\n"),
        why="link-severity",
    ),
    Case(
        "sc_fragment_in_code_block_ignored",
        "- 2c.broken-link.fragment",
        "!LK002 exit:0",
        body_skill("# Title\n\n```\n[x](#nowhere)\n```\n\nText.\n"),
    ),
    # test_mdutil.py: heading slugs (its helpers' cases, as links into the heading)
    Case(
        "sc_slug_plain_words",
        "- 2c.broken-link.fragment",
        "!LK002 exit:0",
        body_skill("## How to Ship This Change\n\nSee [it](#how-to-ship-this-change).\n"),
    ),
    Case(
        "sc_slug_inline_code",
        "- 2c.broken-link.fragment",
        "!LK002 exit:0",
        body_skill("### Queue API (`jobs_queue.py`)\n\nSee [it](#queue-api-jobs_queuepy).\n"),
    ),
    Case(
        "sc_slug_em_dash",
        "- 2c.broken-link.fragment",
        "!LK002 exit:0",
        body_skill(
            "## Worked Examples — Real Queues\n\nSee [it](#worked-examples--real-queues).\n"
        ),
    ),
    Case(
        "sc_slug_parentheses",
        "- 2c.broken-link.fragment",
        "!LK002 exit:0",
        body_skill("## DLQ (Dead Letter Queue)\n\nSee [it](#dlq-dead-letter-queue).\n"),
    ),
    Case(
        "sc_slug_link_in_heading",
        "- 2c.broken-link.fragment",
        "!LK002 exit:0",
        body_skill("## Read [the manual](https://example.com)\n\nSee [it](#read-the-manual).\n"),
    ),
    Case(
        "sc_heading_in_fence_is_no_anchor",
        "W 2c.broken-link.fragment",
        "LK002 exit:1",
        body_skill(
            "# Real\n\n```markdown\n### Pretend Heading\n```\n\nSee [x](#pretend-heading).\n"
        ),
        why="link-severity",
    ),
    # test_quality.py: unclosed fences
    Case(
        "sc_unclosed_backtick_fence",
        "E 2d.unclosed-fence",
        "CS009:error exit:1",
        body_skill("# Title\n\n```python\nprint('hi')\n\nMore prose.\n"),
    ),
    Case(
        "sc_unclosed_tilde_fence",
        "E 2d.unclosed-fence",
        "CS009:error exit:1",
        body_skill("# Title\n\n~~~\nsome code\n\nMore prose.\n"),
    ),
    Case(
        "sc_closed_fence",
        "- 2d.unclosed-fence",
        "!CS009 exit:0",
        body_skill("# Title\n\n```python\nprint('hi')\n```\n\nMore prose.\n"),
    ),
    Case(
        "sc_two_closed_fences",
        "- 2d.unclosed-fence",
        "!CS009 exit:0",
        body_skill("# Title\n\n```text\none\n```\n\n~~~text\ntwo\n~~~\n\nDone.\n"),
    ),
    Case(
        "sc_no_fences",
        "- 2d.unclosed-fence",
        "!CS009 exit:0",
        body_skill("# Title\n\nPlain text.\n"),
    ),
    Case(
        "sc_unclosed_fence_in_reference",
        "E 2d.unclosed-fence",
        "CS009:error exit:1",
        ref_skill(ONE, "references/guide.md", "# Guide\n\n```\nnever closed\n"),
    ),
    Case(
        "sc_closed_fence_in_reference",
        "- 2d.unclosed-fence",
        "!CS009 exit:0",
        ref_skill(ONE, "references/guide.md", "# Guide\n\n```text\nclosed\n```\n"),
    ),
    Case(
        "sc_unclosed_fence_line",
        "E 2d.unclosed-fence",
        "CS009@9 exit:1",
        body_skill("# Title\n\nSome text.\n\n```python\nnever closed\n"),
    ),
    Case(
        "sc_longer_closing_fence",
        "- 2d.unclosed-fence",
        "!CS009 exit:0",
        body_skill("# Title\n\n```text\ncode\n````\n\nText.\n"),
    ),
    Case(
        "sc_mismatched_fence_char",
        "E 2d.unclosed-fence",
        "CS009:error exit:1",
        body_skill("# Title\n\n```\ncode\n~~~\n\nText.\n"),
    ),
    # test_quality.py: links inside reference files
    Case(
        "sc_broken_link_in_reference",
        "W 2c.broken-link",
        "LK001 exit:1",
        ref_skill(ONE, "references/guide.md", "# Guide\n\nSee [more](./absent.md).\n"),
        why="link-severity",
    ),
    Case(
        "sc_broken_self_fragment_in_reference",
        "W 2c.broken-link.fragment",
        "LK002 exit:1",
        ref_skill(ONE, "references/guide.md", "# Guide\n\n## Intro\n\nSee [x](#outro).\n"),
        why="link-severity",
    ),
    Case(
        "sc_cross_reference_fragment_ok",
        "- 2c.broken-link.fragment",
        "!LK002 !LK001",
        {
            f"{ONE}/SKILL.md": sk(body="# T\n\nSee [a](references/a.md), [b](references/b.md).\n"),
            f"{ONE}/references/a.md": "# A\n\nGo to [there](b.md#part-two).\n",
            f"{ONE}/references/b.md": "# B\n\n## Part Two\n\nHello.\n",
        },
    ),
    Case(
        "sc_cross_reference_fragment_bad",
        "W 2c.broken-link.fragment",
        "LK002 exit:1",
        {
            f"{ONE}/SKILL.md": sk(body="# T\n\nSee [a](references/a.md), [b](references/b.md).\n"),
            f"{ONE}/references/a.md": "# A\n\nGo to [there](b.md#part-three).\n",
            f"{ONE}/references/b.md": "# B\n\n## Part Two\n\nHello.\n",
        },
        why="link-severity",
    ),
    Case(
        "sc_escapes_skill_relative",
        "I 2c.escapes-skill",
        "LK003 !LK001",
        ref_skill(ONE, "references/guide.md", "# Guide\n\nSee [out](../../outside.md).\n"),
    ),
    Case(
        "sc_escapes_skill_absolute",
        "I 2c.escapes-skill",
        "LK003 !LK001",
        ref_skill(ONE, "references/guide.md", "# Guide\n\nSee [host](/etc/hosts).\n"),
    ),
    Case(
        "sc_scheme_relative_url",
        "- 2c.escapes-skill",
        "!LK001 !LK003 exit:0",
        ref_skill(ONE, "references/guide.md", "# Guide\n\nSee [host](//example.test/x).\n"),
    ),
    Case(
        "sc_external_url_in_reference",
        "- 2c.broken-link",
        "!LK001 !LK003 exit:0",
        ref_skill(ONE, "references/guide.md", "# Guide\n\nSee [docs](https://example.com/x).\n"),
    ),
    Case(
        "sc_uppercase_schemes",
        "- 2c.broken-link",
        "!LK001 !LK003 exit:0",
        ref_skill(
            ONE,
            "references/guide.md",
            "# Guide\n\nSee [docs](HTTPS://example.com/x) or [mail](MAILTO:a@b.test).\n",
        ),
    ),
    Case(
        "sc_escaping_fragment_link",
        "I 2c.escapes-skill",
        "LK003 !LK002",
        ref_skill(ONE, "references/guide.md", "# Guide\n\nSee [out](../../outside.md#part).\n"),
    ),
    Case(
        "sc_link_to_sibling_folder",
        "- 2c.broken-link",
        "!LK001 !LK003 exit:0",
        {
            f"{ONE}/SKILL.md": sk(body="# T\n\nSee [a](references/a.md), [s](scripts/s.sh).\n"),
            f"{ONE}/references/a.md": "# A\n\nRun [the script](../scripts/s.sh).\n",
            f"{ONE}/scripts/s.sh": "echo hi\n",
        },
    ),
    # test_quality.py: fences in every shipped markdown file
    Case(
        "sc_unclosed_fence_nested_reference",
        "E 2d.unclosed-fence",
        "CS009:error exit:1",
        ref_skill(ONE, "references/sub/deep.md", "# Deep\n\n```\nnever closed\n"),
    ),
    Case(
        "sc_unclosed_fence_scripts_md",
        "E 2d.unclosed-fence",
        "CS009:error exit:1",
        ref_skill(ONE, "scripts/run.md", "# Run\n\n```\nnever closed\n"),
    ),
    Case(
        "sc_unclosed_fence_assets_md",
        "E 2d.unclosed-fence",
        "CS009:error exit:1",
        ref_skill(ONE, "assets/notes.md", "# Notes\n\n```\nnever closed\n"),
    ),
    Case(
        "sc_unclosed_fence_uppercase_suffix",
        "E 2d.unclosed-fence",
        "CS009:error exit:1",
        ref_skill(ONE, "references/Guide.MD", "# Guide\n\n```\nnever closed\n"),
    ),
    # test_quality.py: orphans (markdown only: see reachable-scope)
    Case(
        "sc_orphan_reference",
        "I 2b.orphan",
        "RC004 exit:0",
        {
            f"{ONE}/SKILL.md": sk(body="# T\n\nSee [guide](references/guide.md).\n"),
            f"{ONE}/references/guide.md": "# Guide\n",
            f"{ONE}/references/leftover.md": "# Leftover\n",
        },
    ),
    Case(
        "sc_linked_reference_not_orphan",
        "- 2b.orphan",
        "!RC004 exit:0",
        ref_skill(ONE, "references/guide.md", "# Guide\n"),
    ),
    Case(
        "sc_empty_dirs_no_orphan",
        "- 2b.orphan",
        "!RC004 exit:0",
        {f"{ONE}/SKILL.md": sk(), f"{ONE}/scripts": None, f"{ONE}/references": None},
    ),
]

GOOD = "Use this skill when tidying the changelog before a release is tagged."

SKILLSEAL = [
    # test_rules_metadata.py
    Case("ss_clean", "exit 0", "exit:0", {f"{ONE}/SKILL.md": sk(desc=GOOD)}),
    Case(
        "ss_invalid_frontmatter",
        "E invalid-frontmatter",
        "FM002:error exit:1",
        {f"{ONE}/SKILL.md": "---\nname: my-skill\ndescription: a: b: c\n---\nBody\n"},
    ),
    Case(
        "ss_missing_frontmatter",
        "E missing-frontmatter",
        "FM001:error exit:1",
        {f"{ONE}/SKILL.md": "# Just a heading\n\nNo frontmatter.\n"},
    ),
    Case(
        "ss_frontmatter_not_at_start",
        "E frontmatter-not-at-start",
        "FM001:error exit:1",
        {f"{ONE}/SKILL.md": "\n" + sk(desc=GOOD)},
    ),
    Case(
        "ss_missing_name",
        "E missing-name",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk(None, desc=GOOD)},
    ),
    Case(
        "ss_empty_name",
        "E empty-name",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk('""', desc=GOOD)},
    ),
    Case(
        "ss_invalid_name_format",
        "W invalid-name-format",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk("'Release Notes!'", desc=GOOD)},
        why="spec-error",
    ),
    Case(
        "ss_name_too_long",
        "W name-too-long",
        "FM005:error exit:1",
        {f"{'r' * 65}/SKILL.md": sk("r" * 65, desc=GOOD)},
        why="spec-error",
    ),
    Case(
        "ss_name_directory_mismatch",
        "E name-directory-mismatch",
        "FM007:error exit:1",
        {f"{ONE}/SKILL.md": sk("other-name", desc=GOOD)},
    ),
    Case(
        "ss_missing_description",
        "E missing-description",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk(desc=None)},
    ),
    Case(
        "ss_description_too_short",
        "W description-too-short",
        "FM011 exit:0",
        {f"{ONE}/SKILL.md": sk(desc="brief")},
        why="trigger-only",
    ),
    Case(
        "ss_description_too_long",
        "W description-too-long",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk(desc="Use when releasing. " + "word " * 300)},
        why="spec-error",
    ),
    Case(
        "ss_reserved_word",
        "W reserved-word-in-name",
        "FM013 exit:0",
        {"claude-notes/SKILL.md": sk("claude-notes", desc=GOOD)},
    ),
    Case(
        "ss_no_reserved_word",
        "- reserved-word-in-name",
        "!FM013 exit:0",
        {f"{ONE}/SKILL.md": sk(desc=GOOD)},
    ),
    Case(
        "ss_unknown_key",
        "I unknown-frontmatter-keys",
        "FM006:error exit:1",
        {f"{ONE}/SKILL.md": sk(extra="owner_team: docs\n", desc=GOOD)},
        why="spec-error",
    ),
    Case(
        "ss_compatibility_known",
        "- unknown-frontmatter-keys",
        "!FM006 exit:0",
        {f"{ONE}/SKILL.md": sk(extra="compatibility: Needs git 2.40+\n", desc=GOOD)},
    ),
    Case(
        "ss_claude_code_keys_known",
        "- unknown-frontmatter-keys",
        "!FM006 FM008:error exit:1",
        {
            f"{ONE}/SKILL.md": sk(
                extra="disable-model-invocation: true\nuser-invocable: false\n"
                "argument-hint: '[version]'\n",
                desc=GOOD,
            )
        },
        profile="claude-code",
        why="unreachable",
    ),
    Case(
        "ss_custom_key_flagged",
        "I unknown-frontmatter-keys",
        "FM006 exit:0",
        {f"{ONE}/SKILL.md": sk(extra="needs_context: true\n", desc=GOOD)},
        profile="claude-code",
    ),
    Case(
        "ss_top_level_version",
        "I unknown-frontmatter-keys",
        "FM006:error exit:1",
        {f"{ONE}/SKILL.md": sk(extra="version: '2.0'\n", desc=GOOD)},
        why="spec-error",
    ),
    Case(
        "ss_compatibility_too_long",
        "W compatibility-too-long",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk(extra=f"compatibility: {'c' * 501}\n", desc=GOOD)},
        why="spec-error",
    ),
    Case(
        "ss_metadata_list",
        "W invalid-metadata-type",
        "FM005:warning exit:0",
        {f"{ONE}/SKILL.md": sk(extra="metadata:\n  - 1\n  - 2\n", desc=GOOD)},
        why="metadata-values",
    ),
    Case(
        "ss_metadata_number_value",
        "W invalid-metadata-type",
        "FM005:warning exit:0",
        {f"{ONE}/SKILL.md": sk(extra="metadata:\n  revision: 2\n", desc=GOOD)},
        why="metadata-values",
    ),
    Case(
        "ss_metadata_strings",
        "- invalid-metadata-type",
        "!FM005 exit:0",
        {f"{ONE}/SKILL.md": sk(extra="metadata:\n  revision: '2'\n", desc=GOOD)},
    ),
    Case(
        "ss_allowed_tools_list",
        "W invalid-allowed-tools-type",
        "FM005:error exit:1",
        {f"{ONE}/SKILL.md": sk(extra="allowed-tools:\n  - Bash\n  - Read\n", desc=GOOD)},
        why="spec-error",
    ),
    Case(
        "ss_allowed_tools_string",
        "- invalid-allowed-tools-type",
        "!FM005 exit:0",
        {f"{ONE}/SKILL.md": sk(extra="allowed-tools: Bash(git log:*) Read\n", desc=GOOD)},
    ),
    # test_parser.py
    Case(
        "ss_non_mapping",
        "E invalid-frontmatter",
        "FM003:error exit:1",
        {f"{ONE}/SKILL.md": "---\n- a\n- b\n---\nBody\n"},
    ),
    Case(
        "ss_leading_bom",
        "exit 0",
        "!FM001 exit:0",
        {f"{ONE}/SKILL.md": "\ufeff" + sk(desc=GOOD)},
        why="bom",
    ),
    Case(
        "ss_discover_recursive_skips_git",
        "exit 0",
        "exit:0 skills:2",
        {
            "alpha/SKILL.md": sk("alpha", desc=GOOD),
            "group/beta/SKILL.md": sk("beta", desc=GOOD),
            ".git/gamma/SKILL.md": sk("gamma", desc=GOOD),
        },
        path=".",
    ),
    Case(
        "ss_discover_dot_claude",
        "exit 0",
        "exit:0 skills:1",
        {f".claude/skills/{ONE}/SKILL.md": sk(desc=GOOD)},
        path=".",
    ),
    Case(
        "ss_discover_dot_github_plugin",
        "exit 0",
        "exit:0 skills:1",
        {f".github/plugins/kit/skills/{ONE}/SKILL.md": sk(desc=GOOD)},
        path=".",
    ),
    Case(
        "ss_discover_skips_tool_dirs",
        "exit 0",
        "exit:0 skills:1",
        {
            f"{ONE}/SKILL.md": sk(desc=GOOD),
            **{
                f"{d}/vendored/SKILL.md": sk("vendored", desc=GOOD)
                for d in (".venv", "node_modules", "__pycache__", ".tox", ".mypy_cache")
            },
        },
        path=".",
    ),
    Case(
        "ss_skill_md_as_file",
        "exit 0",
        "exit:0 skills:1",
        {f"{ONE}/SKILL.md": sk(desc=GOOD)},
        path=f"{ONE}/SKILL.md",
    ),
    Case(
        "ss_non_skill_file",
        "exit 2",
        "exit:2",
        {"README.md": "hello\n"},
        path="README.md",
    ),
    Case("ss_nonexistent_path", "exit 2", "exit:2", {}, path="does-not-exist"),
    Case(
        "ss_nested_skill_md_ignored",
        "exit 0",
        "skills:1",
        {
            f"{ONE}/SKILL.md": sk(desc=GOOD),
            f"{ONE}/references/SKILL.md": sk(desc=GOOD),
        },
        path=".",
    ),
    # test_rules_quality.py
    Case(
        "ss_skill_too_large",
        "W skill-too-large",
        "ST004 exit:0",
        {f"{ONE}/SKILL.md": sk(desc=GOOD, body="token " * 6000)},
    ),
    Case(
        "ss_too_many_lines",
        "W too-many-lines",
        "ST003 exit:0",
        {f"{ONE}/SKILL.md": sk(desc=GOOD, body="\n".join(f"row {i}" for i in range(600)))},
    ),
    Case(
        "ss_vague_description",
        "W description-too-vague",
        "FM011 exit:0",
        {f"{ONE}/SKILL.md": sk(desc="Handles chores.")},
        why="trigger-only",
    ),
    Case(
        "ss_short_description_words",
        "W description-too-vague",
        "FM011 exit:0",
        {f"{ONE}/SKILL.md": sk(desc="Summarises weekly sales figures.")},
        why="trigger-only",
    ),
    Case(
        "ss_ten_words_not_vague",
        "- description-too-vague",
        "!FM011 exit:0",
        {
            f"{ONE}/SKILL.md": sk(
                desc="Use this skill when tidying up the changelog before release."
            )
        },
    ),
    Case(
        "ss_missing_when_to_use",
        "W description-missing-when-to-use",
        "FM011 exit:0",
        {f"{ONE}/SKILL.md": sk(desc="Reviews billing code for rounding and currency bugs.")},
    ),
    Case(
        "ss_with_when_cue",
        "- description-missing-when-to-use",
        "!FM011 exit:0",
        {f"{ONE}/SKILL.md": sk(desc="Use this skill when reviewing billing code for bugs.")},
    ),
    Case(
        "ss_dangling_file_reference",
        "I dangling-file-reference",
        "LK001:error exit:1",
        {f"{ONE}/SKILL.md": sk(desc=GOOD, body="See [the notes](./absent-notes.md).\n")},
        why="link-severity",
    ),
    Case(
        "ss_existing_file_reference",
        "- dangling-file-reference",
        "!LK001 exit:0",
        {
            f"{ONE}/SKILL.md": sk(desc=GOOD, body="See [the notes](./notes.md).\n"),
            f"{ONE}/notes.md": "# Notes\n\nHello.\n",
        },
    ),
    Case(
        "ss_deep_file_reference",
        "W deep-file-reference",
        "!RC005 !LK001 exit:0",
        {
            f"{ONE}/SKILL.md": sk(desc=GOOD, body="See [deep](./references/sub/deep.md).\n"),
            f"{ONE}/references/sub/deep.md": "# Deep\n\nHello.\n",
        },
        why="depth-is-not-nesting",
    ),
    Case(
        "ss_one_level_reference",
        "- deep-file-reference",
        "!LK001 exit:0",
        {
            f"{ONE}/SKILL.md": sk(desc=GOOD, body="See [it](./references/shallow.md).\n"),
            f"{ONE}/references/shallow.md": "# Shallow\n",
        },
    ),
    Case(
        "ss_sibling_skill_reference",
        "- path-traversal",
        "LK003 !LK001 exit:0",
        {
            f"{ONE}/SKILL.md": sk(desc=GOOD, body="See [style](../house-style/SKILL.md).\n"),
            "house-style/SKILL.md": sk("house-style", desc=GOOD),
        },
        path=ONE,
        why="sibling-skill-link",
    ),
    Case(
        "ss_link_in_fence_not_checked",
        "- dangling-file-reference",
        "!LK001 exit:0",
        {
            f"{ONE}/SKILL.md": sk(
                desc=GOOD, body="```markdown\n- see [tile](specs/ui/tile.spec.md)\n```\n"
            )
        },
    ),
    Case(
        "ss_link_in_inline_code_not_checked",
        "- dangling-file-reference",
        "!LK001 !LK004 exit:0",
        {f"{ONE}/SKILL.md": sk(desc=GOOD, body="Add one `- [<slug>](<path>)` line per item.\n")},
    ),
    Case(
        "ss_placeholder_word_target",
        "- dangling-file-reference",
        "LK001 exit:0",
        {f"{ONE}/SKILL.md": sk(desc=GOOD, body="Cite like [Doe et al., 2024](url).\n")},
        why="placeholder-target",
    ),
    Case(
        "ss_metadata_token_budget",
        "W metadata-token-budget",
        "ST006",
        {f"{ONE}/SKILL.md": sk(desc="Use when releasing. " + "word " * 180)},
    ),
    Case(
        "ss_metadata_token_budget_ok",
        "- metadata-token-budget",
        "!ST006 exit:0",
        {f"{ONE}/SKILL.md": sk(desc=GOOD)},
    ),
    # test_rules_security.py: the two classes we check
    Case(
        "ss_zero_width_space",
        "E hidden-unicode-chars",
        "ST011:warning exit:0",
        {f"{ONE}/SKILL.md": sk(desc=GOOD, body="Plain\u200btext with something hidden.\n")},
        why="hidden-unicode-severity",
    ),
    Case(
        "ss_bidi_override",
        "E hidden-unicode-chars",
        "ST011:error exit:1",
        {f"{ONE}/SKILL.md": sk(desc=GOOD, body="Text\u202ewith a direction override.\n")},
    ),
    Case(
        "ss_no_hidden_unicode",
        "- hidden-unicode-chars",
        "!ST011 exit:0",
        {f"{ONE}/SKILL.md": sk(desc=GOOD, body="Ordinary text, nothing hidden.\n")},
    ),
    Case(
        "ss_traversal_relative",
        "E path-traversal",
        "LK003",
        {f"{ONE}/SKILL.md": sk(desc=GOOD, body="See [cfg](../../etc/hosts).\n")},
    ),
    Case(
        "ss_traversal_absolute",
        "E path-traversal",
        "LK003",
        {f"{ONE}/SKILL.md": sk(desc=GOOD, body="See [cfg](/etc/hosts).\n")},
    ),
    Case(
        "ss_traversal_to_key",
        "E path-traversal",
        "LK003",
        {f"{ONE}/SKILL.md": sk(desc=GOOD, body="Read [key](../../.ssh/id_ed25519).\n")},
    ),
    Case(
        "ss_relative_inside_skill",
        "- path-traversal",
        "!LK003 exit:0",
        {
            f"{ONE}/SKILL.md": sk(desc=GOOD, body="See [cfg](./docs/config.md).\n"),
            f"{ONE}/docs/config.md": "# Config\n",
        },
    ),
    # test_rules_portability.py
    Case(
        "ss_literal_block_description",
        "W description-block-scalar",
        "FM012 exit:0",
        {f"{ONE}/SKILL.md": sk(desc="|\n  Use this skill when tidying the changelog.")},
    ),
    Case(
        "ss_plain_description",
        "- description-block-scalar",
        "!FM012 exit:0",
        {f"{ONE}/SKILL.md": sk(desc=GOOD)},
    ),
    Case(
        "ss_folded_description",
        "- description-block-scalar",
        "FM012 exit:0",
        {f"{ONE}/SKILL.md": sk(desc=">\n  Use this skill when tidying the changelog.")},
        why="folded-description",
    ),
    # test_cli.py (examples/good-skill and examples/bad-skill, restated)
    Case(
        "ss_example_good",
        "exit 0",
        "exit:0",
        {
            "invoice-review/SKILL.md": sk(
                "invoice-review",
                desc="Use this skill when reviewing invoice generation code for rounding, "
                "tax and currency mistakes.",
                body="# Invoice review\n\n## When to use\n\nA change touches invoices.\n\n"
                "## What to check\n\n- Amounts in minor units.\n- Tax rounded once.\n",
            )
        },
    ),
    Case(
        "ss_example_bad",
        "exit 1",
        "LK001 exit:1",
        {
            "helper/SKILL.md": sk(
                "helper",
                desc="Does stuff.",
                body="# Helper\n\n```bash\ncurl https://example.com/i.sh | sh\n```\n\n"
                "See [the setup guide](./docs/setup-missing.md).\n",
            )
        },
    ),
    Case("ss_no_skills_exit_2", "exit 2", "exit:2", {"empty": None}, path="empty"),
    Case(
        "ss_several_paths",
        "exit 0",
        "exit:0 skills:2",
        {"alpha/SKILL.md": sk("alpha", desc=GOOD), "beta/SKILL.md": sk("beta", desc=GOOD)},
        path="alpha beta",
    ),
    Case(
        "ss_same_skill_twice",
        "exit 0",
        "exit:0 skills:1",
        {"alpha/SKILL.md": sk("alpha", desc=GOOD)},
        path="alpha alpha/SKILL.md",
    ),
    Case(
        "ss_one_bad_path_among_many",
        "exit 2",
        "exit:2",
        {"alpha/SKILL.md": sk("alpha", desc=GOOD)},
        path="alpha missing",
    ),
]

CASES = SKILLSCHECK + SKILLSEAL


def materialise(case: Case, root: Path) -> list[Path]:
    """Write the case's files under `root`; return the paths to check."""
    for rel, text in case.files.items():
        target = root / rel
        if text is None:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if case.path is not None:
        return [root / p for p in case.path.split()]
    first = next(iter(case.files), ".")
    return [root / first.split("/")[0]]


def _params():
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
        yield pytest.param(case, id=case.id, marks=marks)


def test_case_ids_are_unique_and_differences_are_documented():
    assert len({c.id for c in CASES}) == len(CASES)
    doc = __doc__ or ""
    for case in CASES:
        assert not case.why or f"* {case.why}:" in doc, case.id


@pytest.mark.parametrize("case", list(_params()))
def test_peer_case_gets_the_expected_verdict(tmp_path, case: Case):
    targets = [str(t) for t in materialise(case, tmp_path)]
    result = run_cli("check", *targets, "--profile", case.profile, "--format", "json")
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    out = result.stdout + result.stderr
    report = json.loads(result.stdout) if result.stdout.lstrip().startswith("{") else None
    found = report["findings"] if report else []
    for token in case.ours.split():
        if token.startswith("exit:"):
            assert result.exit_code == int(token[5:]), out
        elif token.startswith("skills:"):
            assert report and report["summary"]["skills"] == int(token[7:]), out
        elif token.startswith("!"):
            assert not [f for f in found if f["code"] == token[1:]], out
        else:
            code, _, line = token.partition("@")
            code, _, severity = code.partition(":")
            hits = [f for f in found if f["code"] == code]
            if severity:
                hits = [f for f in hits if f["severity"] == severity]
            if line:
                hits = [f for f in hits if f["line"] == int(line)]
            assert hits, out
