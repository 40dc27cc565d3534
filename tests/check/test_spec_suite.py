"""skills-ref's own test cases through `skill-audit check --profile agentskills`.

skills-ref 0.1.1 is the Agent Skills reference validator; its sdist
(`pip download --no-binary :all: --no-deps skills-ref==0.1.1`) ships tests/test_validator.py
and tests/test_parser.py. Each case below restates one of them as a skill on disk and the
verdict skills-ref gives (valid: no errors; invalid: at least one). skill-audit must give the
same verdict: exit 0, or exit 1 (findings) / 2 (no skill at the path) for invalid ones.

Deliberate differences: none left. Two cases need a note:
  * `skill.md` in lower case: skills-ref accepts it, and so does the agentskills profile (a
    warning, ST009, since Claude Code looks for SKILL.md only); under claude-code it is an error.
  * the parser's find_skill_md cases (which file wins when both exist) are lookup tests
    without a verdict; the "both exist" case is kept with valid frontmatter in SKILL.md.
"""

from __future__ import annotations

import pytest

from tests.check.conftest import run_cli

HEAD = "---\nname: {name}\ndescription: A test skill\n{extra}---\n# Body\n"

# (case id after the skills-ref test it restates, folder name, {file: text}, valid?)
CASES = [
    ("valid_skill", "my-skill", {"SKILL.md": HEAD.format(name="my-skill", extra="")}, True),
    ("missing_skill_md", "my-skill", {}, False),
    ("not_a_directory", None, {"file.txt": "test"}, False),
    ("uppercase", "MySkill", {"SKILL.md": HEAD.format(name="MySkill", extra="")}, False),
    ("too_long", "a" * 70, {"SKILL.md": HEAD.format(name="a" * 70, extra="")}, False),
    ("leading_hyphen", "-my-skill", {"SKILL.md": HEAD.format(name="-my-skill", extra="")}, False),
    ("double_hyphen", "my--skill", {"SKILL.md": HEAD.format(name="my--skill", extra="")}, False),
    ("underscore", "my_skill", {"SKILL.md": HEAD.format(name="my_skill", extra="")}, False),
    ("dir_mismatch", "wrong-name", {"SKILL.md": HEAD.format(name="correct-name", extra="")}, False),
    (
        "unexpected_fields",
        "my-skill",
        {"SKILL.md": HEAD.format(name="my-skill", extra="unknown_field: should not be here\n")},
        False,
    ),
    (
        "all_fields",
        "my-skill",
        {
            "SKILL.md": HEAD.format(
                name="my-skill", extra="license: MIT\nmetadata:\n  author: Test\n"
            )
        },
        True,
    ),
    (
        "allowed_tools",
        "my-skill",
        {"SKILL.md": HEAD.format(name="my-skill", extra="allowed-tools: Bash(jq:*) Bash(git:*)\n")},
        True,
    ),
    ("chinese", "技能", {"SKILL.md": HEAD.format(name="技能", extra="")}, True),
    ("russian_hyphen", "мой-навык", {"SKILL.md": HEAD.format(name="мой-навык", extra="")}, True),
    ("russian_lower", "навык", {"SKILL.md": HEAD.format(name="навык", extra="")}, True),
    ("russian_upper", "НАВЫК", {"SKILL.md": HEAD.format(name="НАВЫК", extra="")}, False),
    (
        "description_too_long",
        "my-skill",
        {"SKILL.md": "---\nname: my-skill\ndescription: " + "x" * 1100 + "\n---\nBody\n"},
        False,
    ),
    (
        "compatibility_ok",
        "my-skill",
        {"SKILL.md": HEAD.format(name="my-skill", extra="compatibility: Requires Python 3.11+\n")},
        True,
    ),
    (
        "compatibility_too_long",
        "my-skill",
        {"SKILL.md": HEAD.format(name="my-skill", extra="compatibility: " + "x" * 550 + "\n")},
        False,
    ),
    ("nfkc", "café", {"SKILL.md": HEAD.format(name="cafe\u0301", extra="")}, True),
    # test_parser.py
    ("no_frontmatter", "my-skill", {"SKILL.md": "# No frontmatter here\n"}, False),
    (
        "unclosed_frontmatter",
        "my-skill",
        {"SKILL.md": "---\nname: my-skill\ndescription: A test skill\n"},
        False,
    ),
    (
        "invalid_yaml",
        "my-skill",
        {"SKILL.md": "---\nname: [invalid\ndescription: broken\n---\nBody here\n"},
        False,
    ),
    ("not_a_mapping", "my-skill", {"SKILL.md": "---\n- just\n- a\n- list\n---\nBody\n"}, False),
    (
        "read_valid",
        "my-skill",
        {"SKILL.md": HEAD.format(name="my-skill", extra="license: MIT\n")},
        True,
    ),
    (
        "metadata_number",
        "my-skill",
        {
            "SKILL.md": HEAD.format(
                name="my-skill", extra="metadata:\n  author: Test Author\n  version: 1.0\n"
            )
        },
        True,
    ),
    (
        "missing_name",
        "my-skill",
        {"SKILL.md": "---\ndescription: A test skill\n---\nBody\n"},
        False,
    ),
    ("missing_description", "my-skill", {"SKILL.md": "---\nname: my-skill\n---\nBody\n"}, False),
    (
        "both_cases_exist",
        "my-skill",
        {"SKILL.md": HEAD.format(name="my-skill", extra=""), "skill.md": "lowercase"},
        True,
    ),
    ("lowercase_skill_md", "my-skill", {"skill.md": HEAD.format(name="my-skill", extra="")}, True),
    ("empty_folder", "my-skill", {}, False),
    (
        "read_allowed_tools",
        "my-skill",
        {"SKILL.md": HEAD.format(name="my-skill", extra="allowed-tools: Bash(jq:*) Bash(git:*)\n")},
        True,
    ),
]


@pytest.mark.parametrize(("case", "folder", "files", "valid"), CASES, ids=[c[0] for c in CASES])
def test_skills_ref_case_gets_the_same_verdict(tmp_path, case, folder, files, valid):
    target = tmp_path / folder if folder else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    if case == "not_a_directory":
        target = tmp_path / "file.txt"
    result = run_cli("check", str(target), "--profile", "agentskills", "--format", "json")
    assert "internal error" not in result.stderr
    assert result.exit_code in ((0,) if valid else (1, 2)), result.stdout + result.stderr


def test_a_path_that_does_not_exist_is_invalid(tmp_path):
    result = run_cli("check", str(tmp_path / "nonexistent"), "--profile", "agentskills")
    assert result.exit_code == 2
