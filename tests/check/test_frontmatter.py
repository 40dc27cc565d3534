"""FM checks beyond the fixture pairs (test_fixtures.py): profiles, the parser's positions, hostile YAML."""

from __future__ import annotations

import pytest
from skill_audit.parsing.frontmatter import parse_frontmatter

from tests.check.conftest import FIXTURES, findings, write_skill


def test_agentskills_profile_makes_unknown_keys_errors_and_lists_strings():
    from skill_audit.engine import Options, run_check

    report = run_check(
        [FIXTURES / "FM006" / "fail"], Options(select=("FM006",), profile="agentskills")
    )
    assert [d.severity.label for d in report.diagnostics] == ["error", "error"]
    # allowed-tools as a list is fine for Claude Code, a schema error for the open spec
    got = findings(FIXTURES / "FM005" / "pass", select="FM005,FM006", profile="agentskills")
    assert ("SKILL.md", 9, "FM005") in got  # allowed-tools list
    assert ("SKILL.md", 4, "FM006") in got  # effort is not a spec key


def test_agentskills_requires_name_and_description(tmp_path):
    root = write_skill(tmp_path / "s", "license: MIT\n")
    got = findings(root, select="FM005,FM011", profile="agentskills")
    assert got == [("SKILL.md", 1, "FM005"), ("SKILL.md", 1, "FM005")]
    assert findings(root, select="FM005,FM011") == [("SKILL.md", 1, "FM011")]


def test_repo_root_skill_takes_its_name_from_config(tmp_path):
    root = write_skill(tmp_path / "checkout-folder", "name: async-jobs\ndescription: Use when x.\n")
    (root / "pyproject.toml").write_text('[tool.skill-audit]\nname = "async-jobs"\n')
    assert findings(root, select="FM007") == []
    (root / "pyproject.toml").write_text('[tool.skill-audit]\nname = "other"\n')
    assert findings(root, select="FM007") == [("SKILL.md", 2, "FM007")]


def test_config_name_does_not_apply_to_a_skill_below_the_repo_root(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.skill-audit]\nname = "async-jobs"\n')
    write_skill(tmp_path / "skills" / "async-jobs", "name: async-jobs\ndescription: Use when x.\n")
    write_skill(tmp_path / "skills" / "other", "name: async-jobs\ndescription: Use when x.\n")
    assert findings(tmp_path, select="FM007") == [("skills/other/SKILL.md", 2, "FM007")]


def test_key_lines_and_duplicates_are_file_lines():
    lines = [
        "---",
        "name: a",
        "# comment",
        "metadata:",
        "  k: v",
        "  k: w",
        "name: b",
        "---",
        "body",
    ]
    fm = parse_frontmatter(lines)
    assert fm.key_lines == {"name": 2, "metadata": 4}
    assert [(d.path, d.line, d.first_line) for d in fm.duplicates] == [
        ("metadata.k", 6, 5),
        ("name", 7, 2),
    ]
    assert fm.data == {"name": "b", "metadata": {"k": "w"}}


@pytest.mark.parametrize(
    "yaml_text, needle",
    [
        (
            "a: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
            "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
            "f: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
            "alias bomb",
        ),
        ("a: " + "[" * 200 + "]" * 200 + "\n", "nested deeper"),
        (
            "a: " + "[" * 100_000 + "\n",
            "nested deeper",
        ),  # would overflow libyaml's recursive composer
        ("a: &x [*x]\n", "refers to itself"),
        ("a: *missing\n", "invalid YAML"),
        ("a: !!python/object:os.system x\n", "invalid YAML"),
        ("a: b\n--- \nc: d\n", None),  # `---` ends the frontmatter; the rest is body
    ],
)
def test_hostile_yaml_becomes_an_error_not_a_crash(yaml_text, needle):
    fm = parse_frontmatter(["---", *yaml_text.split("\n"), "---"])
    if needle is None:
        assert fm.error is None
    else:
        assert fm.error and needle in fm.error
        assert fm.data is None and fm.error_line >= 1


def test_unclosed_frontmatter_is_reported(tmp_path):
    root = tmp_path / "s"
    root.mkdir()
    (root / "SKILL.md").write_text("---\nname: s\ndescription: Use when x.\n# no closing marker\n")
    assert findings(root, select="FM") == [("SKILL.md", 1, "FM002")]


def test_non_string_keys_and_dates_do_not_crash(tmp_path):
    root = write_skill(
        tmp_path / "s",
        "name: s\ndescription: Use when x.\n1: one\nnull: x\ndate: 2024-01-01\n"
        "metadata:\n  released: 2024-01-01\n",
    )
    codes = [c for _, _, c in findings(root, select="FM")]
    assert codes.count("FM006") == 3 and codes.count("FM005") == 1


@pytest.mark.parametrize("name", ["мой-навык", "技能", "cafe\u0301"])
def test_unicode_names_the_spec_allows_pass_both_profiles(tmp_path, name):
    folder = "café" if name.startswith("cafe") else name  # NFKC makes both spellings equal
    root = write_skill(tmp_path / folder, f"name: {name}\ndescription: Use when x.\n")
    for profile in ("claude-code", "agentskills"):
        assert findings(root, select="FM005,FM007", profile=profile) == []


def test_upper_case_letters_of_any_script_are_refused(tmp_path):
    root = write_skill(tmp_path / "НАВЫК", "name: НАВЫК\ndescription: Use when x.\n")
    assert findings(root, select="FM005") == [("SKILL.md", 2, "FM005")]


def test_metadata_numbers_and_dates_are_warnings_not_errors(tmp_path):
    root = write_skill(
        tmp_path / "s",
        "name: s\ndescription: Use when x.\nmetadata:\n  version: 1.2\n  updated: 2025-01-31\n",
    )
    from skill_audit.engine import Options, run_check

    report = run_check([root], Options(select=("FM005",)))
    assert sorted((d.line, d.severity.label) for d in report.diagnostics) == [
        (5, "warning"),
        (6, "warning"),
    ]


def test_each_missing_required_key_is_named_once(tmp_path):
    """One FM005 per absent required key, each naming its own key (from the schema and the
    data, not from the validator's message text)."""
    from skill_audit.engine import Options, run_check

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "SKILL.md").write_text("---\nlicense: MIT\n---\n# S\n")
    report = run_check([tmp_path / "s"], Options(select=("FM005",), profile="agentskills"))
    messages = sorted(d.message for d in report.diagnostics)
    assert messages == [
        "required key `description` is missing",
        "required key `name` is missing",
    ]
