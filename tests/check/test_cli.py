"""The CLI through click's CliRunner: exit codes, formats, selection, config, suppression."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.check.conftest import FIXTURES, json_findings, run_cli, write_skill

GOOD = "name: s\ndescription: Use when testing the CLI.\n"


@pytest.fixture
def skill(tmp_path) -> Path:
    """A skill with one error (FM008) and one warning (FM009)."""
    return write_skill(
        tmp_path / "s",
        GOOD + "user-invocable: false\ndisable-model-invocation: true\nagent: Plan\n",
    )


def codes(result) -> list[str]:
    return [f["code"] for f in json_findings(result)]


def test_clean_skill_exits_0(tmp_path):
    root = write_skill(tmp_path / "s", GOOD)
    result = run_cli("check", str(root), "--select", "FM,ST")
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.stdout


def test_error_exits_1_and_exit_zero_overrides(skill):
    assert run_cli("check", str(skill), "--select", "FM").exit_code == 1
    assert run_cli("check", str(skill), "--select", "FM", "--exit-zero").exit_code == 0


def test_fail_on_warning(skill):
    assert run_cli("check", str(skill), "--select", "FM009").exit_code == 0
    assert run_cli("check", str(skill), "--select", "FM009", "--fail-on", "warning").exit_code == 1


def test_select_and_ignore_by_code_and_prefix(skill):
    assert codes(run_cli("check", str(skill), "--format", "json", "--select", "FM")) == [
        "FM008",
        "FM009",
    ]
    assert codes(
        run_cli("check", str(skill), "--format", "json", "--select", "FM", "--ignore", "FM008")
    ) == ["FM009"]
    assert codes(run_cli("check", str(skill), "--format", "json", "--select", "FM00")) == [
        "FM008",
        "FM009",
    ]
    # the more specific selector wins
    assert codes(
        run_cli("check", str(skill), "--format", "json", "--select", "FM008", "--ignore", "FM")
    ) == ["FM008"]


def test_unknown_selector_is_a_usage_error(skill):
    result = run_cli("check", str(skill), "--select", "XX9")
    assert result.exit_code == 2
    assert "matches no check code" in result.stderr and "Traceback" not in result.output


def test_missing_path_is_a_usage_error(tmp_path):
    result = run_cli("check", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_config_select_ignore_and_per_file_ignores(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.skill-audit]\nselect = ["FM", "ST"]\nignore = ["FM009"]\n'
        '[tool.skill-audit.per-file-ignores]\n"skills/b/*.md" = ["FM008"]\n'
        '[tool.skill-audit.run]\nanything = 1\n[tool.skill-audit.envs]\ncelery = ["celery"]\n'
    )
    bad = "user-invocable: false\ndisable-model-invocation: true\nagent: Plan\n"
    write_skill(tmp_path / "skills" / "a", "name: a\ndescription: Use when testing.\n" + bad)
    write_skill(tmp_path / "skills" / "b", "name: b\ndescription: Use when testing.\n" + bad)
    result = run_cli("check", ".", "--format", "json", cwd=tmp_path)
    assert [(f["path"], f["code"]) for f in json_findings(result)] == [
        ("skills/a/SKILL.md", "FM008")
    ]


@pytest.mark.parametrize(
    "table, message",
    [
        ('colour = "red"', "unknown key 'colour'"),
        ('profile = "cursor"', "profile must be one of"),
        ('select = "FM001"\nignore = 3', "ignore must be a list"),
        ('select = ["ZZ"]', "'ZZ' matches no check code"),
        ("[tool.skill-audit.limits]\nbody-tokens = -1", "must be a positive integer"),
        ("[tool.skill-audit.limits]\nwords = 3", "unknown limit 'words'"),
        ("name = [", "invalid TOML"),
    ],
)
def test_config_errors_exit_2_with_one_line(tmp_path, table, message):
    (tmp_path / "pyproject.toml").write_text(f"[tool.skill-audit]\n{table}\n")
    write_skill(tmp_path / "s", GOOD)
    result = run_cli("check", str(tmp_path))
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_tool_skill_audit_value_that_is_not_a_table_exits_2(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool]\nskill-audit = 3\n")
    write_skill(tmp_path / "s", GOOD)
    result = run_cli("check", str(tmp_path))
    assert result.exit_code == 2 and "[tool.skill-audit] must be a table" in result.stderr


def test_config_above_the_repository_root_is_not_used(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.skill-audit]\nselect = ["ZZ"]\n'
    )  # would exit 2
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write_skill(repo / "s", GOOD)
    assert run_cli("check", str(repo)).exit_code == 0


def test_profile_from_config_and_flag(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.skill-audit]\nprofile = "agentskills"\n')
    write_skill(tmp_path / "s", GOOD + "effort: high\n")
    result = run_cli("check", str(tmp_path), "--format", "json", "--select", "FM006")
    assert [f["severity"] for f in json_findings(result)] == ["error"]
    result = run_cli(
        "check", str(tmp_path), "--format", "json", "--select", "FM006", "--profile", "claude-code"
    )
    assert json_findings(result) == []


def test_inline_suppression(tmp_path):
    body = (
        "# S\n\n<!-- skill-audit: disable-next-line LK001 -->\n[a](missing-a.md)\n\n"
        "[b](missing-b.md)\n\n<!-- skill-audit: disable LK -->\n[c](missing-c.md)\n"
        "<!-- skill-audit: enable -->\n[d](missing-d.md)\n\n"
        "```markdown\n<!-- skill-audit: disable-file LK001 -->\n```\n"
    )
    root = write_skill(tmp_path / "s", GOOD, body)
    result = run_cli("check", str(root), "--format", "json", "--select", "LK001")
    assert [f["line"] for f in json_findings(result)] == [10, 15]  # b and d; a and c suppressed
    (root / "SKILL.md").write_text(
        f"---\n{GOOD}---\n<!-- skill-audit: disable-file LK001 -->\n{body}"
    )
    assert json_findings(run_cli("check", str(root), "--format", "json", "--select", "LK001")) == []


def test_json_output_is_stable_and_complete(skill):
    a = run_cli("check", str(skill), "--format", "json", "--select", "FM,ST").stdout
    b = run_cli("check", str(skill), "--format", "json", "--select", "FM,ST").stdout
    assert a == b
    doc = json.loads(a)
    assert set(doc) == {"tool", "version", "findings", "summary"}
    assert set(doc["findings"][0]) == {
        "path",
        "line",
        "column",
        "code",
        "name",
        "severity",
        "message",
    }
    assert doc["summary"]["errors"] == 1 and doc["summary"]["warnings"] == 1
    assert doc["summary"]["by_code"] == {"FM008": 1, "FM009": 1}


def test_summary_counts_fences_by_kind(tmp_path):
    body = (
        '# S\n\n```python\nx = 1\n```\n\n```python partial="a fragment"\nfoo(\n```\n\n'
        '```python compile-only="needs a project"\nimport django\n```\n\n```json\n{}\n```\n'
    )
    root = write_skill(tmp_path / "s", GOOD, body)
    doc = json.loads(run_cli("check", str(root), "--format", "json", "--select", "CS").stdout)
    assert doc["summary"]["fences"] == {"compile-only": 1, "other": 1, "partial": 1, "run": 1}
    text = run_cli("check", str(root), "--select", "CS").stdout
    assert "1 partial" in text and "1 compile-only" in text


def test_auto_format_is_github_inside_actions(skill):
    result = run_cli("check", str(skill), "--select", "FM", env={"GITHUB_ACTIONS": "true"})
    assert result.stdout.startswith("::error file=")
    result = run_cli("check", str(skill), "--select", "FM", env={"GITHUB_ACTIONS": ""})
    assert ": FM008 [error]" in result.stdout


def test_output_file(skill, tmp_path):
    out = tmp_path / "report.json"
    result = run_cli("check", str(skill), "--select", "FM", "--format", "json", "-o", str(out))
    assert result.stdout == "" and json.loads(out.read_text())["summary"]["errors"] == 1


def test_a_path_without_a_skill_exits_2_with_one_line(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.md").write_text("# later\n")
    result = run_cli("check", str(tmp_path))
    assert result.exit_code == 2
    assert "no skill under" in result.stderr and result.stderr.count("\n") == 1


def test_skill_md_passed_as_a_file_checks_its_skill(tmp_path):
    skill = tmp_path / "pdf-forms"
    skill.mkdir()
    (skill / "SKILL.md").write_text(
        "---\nname: pdf-forms\ndescription: Fill PDF forms.\n---\n# Forms\n"
    )
    (skill / "rules").mkdir()
    (skill / "rules" / "fields.md").write_text("See [missing](nowhere.md).\n")
    (skill / "SKILL.md").write_text(
        (skill / "SKILL.md").read_text() + "Read rules/fields.md first.\n"
    )
    result = run_cli("check", str(skill / "SKILL.md"), "--select", "LK001")
    assert result.exit_code == 1 and "rules/fields.md:1:" in result.stdout


def test_rules_rule_and_schema_commands():
    listing = run_cli("rules")
    assert listing.exit_code == 0 and "FM008  unreachable-skill" in listing.stdout
    assert {r["code"] for r in json.loads(run_cli("rules", "--format", "json").stdout)} >= {
        "FM001",
        "ST001",
    }
    rule = run_cli("rule", "fm008")
    assert rule.exit_code == 0
    for section in ("What it does:", "Why:", "Example:", "Fix:"):
        assert section in rule.stdout
    assert run_cli("rule", "unreachable-skill").stdout == rule.stdout
    assert run_cli("rule", "XX001").exit_code == 2
    schema = json.loads(run_cli("schema", "agentskills").stdout)
    assert schema["$schema"].endswith("2020-12/schema") and schema["additionalProperties"] is False
    assert "when_to_use" in json.loads(run_cli("schema", "claude-code").stdout)["properties"]
    assert run_cli("schema", "nope").exit_code == 2


def test_run_subcommand_is_registered():
    assert "run" in run_cli("--help").stdout


def test_python_dash_m_and_console_script(tmp_path):
    root = write_skill(
        tmp_path / "s", GOOD + "user-invocable: false\ndisable-model-invocation: true\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "skill_audit", "check", str(root), "--select", "FM"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "FM008" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "skill_audit", "check", "--select", "NOPE", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_checking_the_repository_root_skips_fixture_skills():
    repo = Path(__file__).resolve().parents[2]
    result = run_cli("check", ".", "--format", "json", "--select", "FM,ST", cwd=repo)
    doc = json.loads(result.stdout)
    assert doc["summary"]["skills"] == 1
    assert not any(f["path"].startswith("tests/") for f in doc["findings"])
    assert not any(f["code"] == "FM007" for f in doc["findings"])  # name from [tool.skill-audit]


def test_fixture_folder_of_skills_is_discovered_at_any_depth():
    result = run_cli("check", str(FIXTURES / "FM008"), "--format", "json", "--select", "FM008")
    doc = json.loads(result.stdout)
    assert doc["summary"]["skills"] == 2 and len(doc["findings"]) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--format", "xml", "."],
        ["check", "/no/such/path"],
        ["check", "--bogus"],
        ["nosuchcommand"],
        ["rule", "XX999"],
    ],
)
def test_usage_errors_from_the_entry_point_are_one_line_exit_2(capsys, args):
    from skill_audit.cli import main

    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("skill-audit: error: ") and err.count("\n") == 1, err


def test_statistics_and_quiet_flags(tmp_path):
    fail = FIXTURES / "CS008" / "fail"
    stats = run_cli("check", str(fail), "--select", "CS008", "--statistics")
    assert stats.exit_code == 0 and stats.stdout.splitlines()[0].endswith(
        "CS008  warning  block-excerpt"
    )
    quiet = run_cli("check", str(fail), "--select", "CS008", "-q")
    assert quiet.stdout.count("CS008 [warning]") == len(quiet.stdout.splitlines())
