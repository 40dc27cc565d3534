"""EV checks: eval files of any skill (skill-creator's evals/evals.json and trigger sets)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from skill_audit.checks.evals import SCHEMAS, load_eval_files, locate_values, schema_validator
from skill_audit.registry import load_checks

from tests.check.conftest import findings, run_cli

REPO = Path(__file__).resolve().parents[2]
SKILL_MD = "---\nname: demo\ndescription: A demo skill. Use when testing evals.\n---\n\n# Demo\n"


def skill(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    root = tmp_path / "demo"
    (root / "evals").mkdir(parents=True)
    (root / "SKILL.md").write_text(SKILL_MD)
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    return root


def ev(root: Path) -> list[tuple[str, int, str]]:
    return findings(root, select="EV")


def test_shipped_schemas_are_valid_draft_2020_12():
    for kind in SCHEMAS:
        Draft202012Validator.check_schema(schema_validator(kind).schema)


def test_this_skills_own_evals_are_clean_and_follow_the_issue_sizes():
    assert ev(REPO) == []
    evals = json.loads((REPO / "evals/evals.json").read_text())
    triggers = json.loads((REPO / "evals/trigger-set.json").read_text())
    assert evals["skill_name"] == "async-jobs" and len(evals["evals"]) >= 20
    assert len(triggers) >= 40
    negatives = [t for t in triggers if not t["should_trigger"]]
    assert len(negatives) * 2 >= len(triggers)
    held_out = [t for t in triggers if t["split"] == "held-out"]
    assert len(held_out) * 3 == len(triggers)


def test_locate_values_points_at_each_value():
    text = '{\n  "a": [1, {"b": "x"}],\n  "c": true\n}'
    pos = locate_values(text)
    assert text[pos[("a", 1, "b")] :].startswith('"x"')
    assert text[pos[("c",)] :].startswith("true")
    assert pos[()] == 0


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("", "EV001"),
        ("{", "EV001"),
        ("// comment\n{}", "EV001"),
        (b"\xff\xfe{}", "EV001"),
        ("[]", "EV002"),
        ('{"skill_name": "demo", "evals": {"id": 1}}', "EV002"),
        ('{"skill_name": 5, "evals": [null, 3, {"id": true, "prompt": ""}]}', "EV002"),
        ('{"skill_name": "demo", "evals": [{"id": 1, "prompt": "p", "files": "a.py"}]}', "EV002"),
        ('{"skill_name": "demo", "evals": [{"id": 1, "prompt": "p", "files": [3, ""]}]}', "EV002"),
        ("null", "EV002"),
    ],
)
def test_bad_evals_json_gives_findings_not_a_traceback(tmp_path, content, code):
    root = skill(tmp_path, {"evals/evals.json": content})
    got = ev(root)
    assert got and {c for _, _, c in got} == {code}
    assert all(path == "evals/evals.json" and line >= 1 for path, line, _ in got)


@pytest.mark.parametrize(
    "content",
    ['{"query": "x"}', '[1, "two", null]', '[{"query": "", "should_trigger": 1}]', "[]"],
)
def test_malformed_trigger_sets_are_schema_findings(tmp_path, content):
    root = skill(tmp_path, {"evals/trigger-set.json": content})
    assert {c for _, _, c in ev(root)} == {"EV002"}


def test_cli_reports_bad_json_with_file_line_and_exit_1(tmp_path):
    root = skill(tmp_path, {"evals/evals.json": '{\n  "skill_name": "demo",\n  "evals": [\n}'})
    result = run_cli("check", str(root), "--select", "EV")
    assert result.exit_code == 1
    assert "evals/evals.json:4:1: EV001" in result.output
    assert "Traceback" not in result.output


def test_inputs_and_unrelated_json_are_left_alone(tmp_path):
    root = skill(
        tmp_path,
        {
            "evals/files/broken.json": "{not json",  # an eval input may be anything
            "evals/benchmark.json": '{"runs": 3}',  # an object that is no eval file
            "evals/evals.json": json.dumps(
                {"skill_name": "demo", "evals": [{"id": 1, "prompt": "p", "files": []}]}
            ),
        },
    )
    assert ev(root) == []


def test_a_skill_without_evals_has_no_ev_findings(tmp_path):
    root = tmp_path / "plain"
    root.mkdir()
    (root / "SKILL.md").write_text(SKILL_MD.replace("demo", "plain"))
    assert ev(root) == []


def test_skill_name_falls_back_to_the_expected_name_without_frontmatter_name(tmp_path):
    root = skill(
        tmp_path,
        {"evals/evals.json": '{"skill_name": "other", "evals": [{"id": 1, "prompt": "p"}]}'},
    )
    (root / "SKILL.md").write_text("# no frontmatter\n")
    got = [f for f in ev(root) if f[2] == "EV003"]
    assert got == [("evals/evals.json", 1, "EV003")]


def test_a_symlinked_input_leading_outside_the_skill_is_reported(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    case = {"id": 1, "prompt": "p", "files": ["evals/files/link.txt"]}
    root = skill(
        tmp_path, {"evals/evals.json": json.dumps({"skill_name": "demo", "evals": [case]})}
    )
    (root / "evals/files").mkdir()
    (root / "evals/files/link.txt").symlink_to(outside)
    assert [c for _, _, c in ev(root)] == ["EV005"]


def test_trigger_set_named_by_hint_is_checked_even_when_it_is_an_object(tmp_path):
    root = skill(tmp_path, {"evals/eval_set.json": '{"query": "x", "should_trigger": true}'})
    assert [c for _, _, c in ev(root)] == ["EV002"]


def test_load_eval_files_reads_only_the_top_of_evals(tmp_path):
    root = skill(tmp_path, {"evals/a.json": "[]", "evals/deep/b.json": "[]"})
    assert [f.path.name for f in load_eval_files(root, 1_000_000)] == ["a.json"]


def test_readme_check_catalogue_lists_every_check_with_its_name():
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("### Check catalogue") :]
    table = table[: table.index("\n### ")]
    listed = dict(re.findall(r"`([A-Z]{2}[0-9]{3})` ([a-z0-9-]+)", table))
    assert listed == {code: spec.name for code, spec in load_checks().items()}


def test_trigger_proxy_judgements_cover_the_current_trigger_set():
    # Editing evals/trigger-set.json without re-judging would leave stale proxy scores.
    import runpy

    score = runpy.run_path(str(REPO / "benchmarks/trigger_proxy/score.py"), run_name="score")
    rows = score["load"]()
    assert len(rows) == len(json.loads((REPO / "evals/trigger-set.json").read_text()))
    assert all(isinstance(r["before"], list) and isinstance(r["after"], list) for r in rows)
