"""The composite action other skill repositories use (`uses: OWNER/REPO@v0`): its steps do what
they say when executed here the way the runner would (inputs reach the scripts as environment
variables). Its schema and zizmor tests live with the workflows' (test_workflows.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ACTION = ROOT / "action.yml"

GOOD = '---\nname: greeter\ndescription: "Greets people. Use when a greeting is needed."\n---\n# Greeter\n'
BROKEN_LINK = GOOD + "\nSee [the guide](references/missing.md).\n"
RUNNABLE = GOOD + '\n```python\nprint("hello from a snippet")\n```\n'


def _metadata() -> dict:
    return yaml.safe_load(ACTION.read_text())


class LocalRunner:
    """Runs the action's `run:` steps with bash, as a GitHub runner would. `action_path` is a
    copy of the repository as a checkout has it: pip builds the package inside it, and a build
    in the work tree raced other builds there (setuptools' shared build/ folder)."""

    def __init__(self, temp: Path, action_path: Path):
        self.temp = temp
        self.action_path = action_path
        self.steps = _metadata()["runs"]["steps"]
        self.defaults = {k: str(v.get("default", "")) for k, v in _metadata()["inputs"].items()}

    def _expand(self, value: str, inputs: dict) -> str:
        def one(match: re.Match) -> str:
            expr = match.group(1).strip()
            if expr.startswith("inputs."):
                return inputs[expr.removeprefix("inputs.")]
            return {"github.action_path": str(self.action_path), "runner.temp": str(self.temp)}[
                expr
            ]

        return re.sub(r"\$\{\{(.*?)\}\}", one, str(value))

    def _wanted(self, step: dict, inputs: dict) -> bool:
        cond = step.get("if")
        if cond is None:
            return True
        match = re.fullmatch(r"inputs\.([\w-]+) == '(\w+)'", cond.strip())
        assert match, f"the local runner does not understand the condition {cond!r}"
        return inputs[match.group(1)] == match.group(2)

    def chosen(self, **given: str) -> list[str]:
        """Names of the `run:` steps the runner would execute for these inputs."""
        return [step["name"] for step in self._selected(self._inputs(given))]

    def _inputs(self, given: dict) -> dict:
        return {**self.defaults, **{k.replace("_", "-"): v for k, v in given.items()}}

    def _selected(self, inputs: dict) -> list[dict]:
        return [s for s in self.steps if "run" in s and self._wanted(s, inputs)]

    def run(
        self, cwd: Path, only: str | None = None, **given: str
    ) -> list[subprocess.CompletedProcess]:
        inputs = self._inputs(given)
        done = []
        for step in self._selected(inputs):
            if only and step.get("name") != only:
                continue
            env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
            env.update({k: self._expand(v, inputs) for k, v in step.get("env", {}).items()})
            proc = subprocess.run(
                ["bash", "-c", step["run"]],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            done.append(proc)
            if proc.returncode != 0:
                break
        return done


@pytest.fixture(scope="module")
def runner(tmp_path_factory, repo_export) -> LocalRunner:
    # The install step runs once, with the `run` extra (the larger install); the tests below
    # run the other steps in the venv it made. Re-running pip per test cost about a minute each.
    local = LocalRunner(tmp_path_factory.mktemp("runner-temp"), repo_export)
    [install] = local.run(repo_export, only="Install skill-audit", run="true")
    assert install.returncode == 0, install.stderr[-2000:]
    return local


def _skill(tmp_path: Path, text: str) -> Path:
    skill = tmp_path / "greeter"
    skill.mkdir()
    (skill / "SKILL.md").write_text(text)
    return skill


def test_check_step_passes_a_clean_skill(runner, tmp_path):
    _skill(tmp_path, GOOD)
    [check] = runner.run(tmp_path, only="skill-audit check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "::error" not in check.stdout


def test_check_step_annotates_a_broken_link_and_fails(runner, tmp_path):
    _skill(tmp_path, BROKEN_LINK)
    [check] = runner.run(tmp_path, only="skill-audit check")
    assert check.returncode == 1
    assert re.search(r"^::error file=greeter/SKILL\.md,line=7", check.stdout, re.M), check.stdout


def test_args_and_format_inputs_reach_the_command(runner, tmp_path):
    _skill(tmp_path, BROKEN_LINK)
    [check] = runner.run(tmp_path, only="skill-audit check", format="json", args="--ignore LK001")
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.lstrip().startswith("{")


def test_run_input_executes_the_snippets(runner, tmp_path):
    assert runner.chosen(run="true") == [
        "Install skill-audit",
        "skill-audit check",
        "skill-audit run",
    ]
    _skill(tmp_path, RUNNABLE)
    [run] = runner.run(tmp_path, only="skill-audit run", run="true")
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"\b1 passed, 0 failed", run.stdout + run.stderr)


def test_run_step_is_skipped_by_default(runner, tmp_path):
    assert runner.chosen() == ["Install skill-audit", "skill-audit check"]
    assert runner.chosen(run="false") == runner.chosen()
