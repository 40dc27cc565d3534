"""Skills written without this tool in mind (tests/run/fixtures/foreign, copied outside the
repository so no pyproject.toml applies): plain fences that build on each other, a package
beside SKILL.md, a requirements.txt, a PEP 723 block, a file outside references/, and one
failure of each class, each explained."""

from __future__ import annotations

import shutil

import pytest
from skill_audit.config import find_config
from skill_audit.model import load_skill

from tests.run.conftest import CACHE, FIXTURES, run_cmd


@pytest.fixture(scope="module")
def skill(tmp_path_factory):
    dest = tmp_path_factory.mktemp("foreign") / "foreign"
    shutil.copytree(FIXTURES / "foreign", dest)
    return dest


@pytest.fixture(scope="module")
def outcome(skill):
    return run_cmd(
        str(skill), "--format", "json", "--cache-dir", str(CACHE), cwd=skill.parent, timeout=400
    )


def _by_line(outcome, name: str) -> dict[int, dict]:
    return {b["line"]: b for b in outcome.doc["blocks"] if b["path"].endswith(name)}


def test_runs_the_files_check_reads(outcome, skill):
    docs = load_skill(skill, find_config(skill)).docs
    assert [f["path"] for f in outcome.doc["files"]] == [f"foreign/{d.rel}" for d in docs]


def test_fragments_share_names_skill_code_imports_and_requirements_install(outcome, skill):
    blocks = _by_line(outcome, "foreign/SKILL.md")
    assert [b["status"] for b in blocks.values()] == ["PASS", "PASS", "PASS"], blocks
    assert {b["env"] for b in blocks.values()} == {"skill"}
    assert (skill / "data" / "titles.csv").read_text().startswith("title")  # untouched


def test_pep723_block_installs_its_dependency(outcome):
    if not any(f["path"].endswith("guides/inline-deps.md") for f in outcome.doc["files"]):
        pytest.skip("load_skill does not reach files outside references/ on this branch yet")
    (block,) = _by_line(outcome, "inline-deps.md").values()
    assert block["status"] == "PASS" and block["env"] == "inline", block


def test_every_failure_class_is_produced_and_explained(outcome):
    blocks = _by_line(outcome, "references/failures.md")
    got = {line: (b["category"], b["hint"]) for line, b in blocks.items()}
    assert got[7][0] == "missing-package" and "acme_widgets_not_published" in got[7][1]
    assert "requirements.txt" in got[7][1] and "PEP 723" in got[7][1]
    assert got[11][0] == "earlier-name" and "line 7" in got[11][1] and "failed" in got[11][1]
    assert got[15][0] == "missing-input" and "inputs/invoice.txt" in got[15][1]
    assert "--fixtures" in got[15][1]
    assert got[20][0] == "network" and "credentials" in got[20][1]
    assert got[26][0] == "timeout"
    assert got[32] == ("error", None)
    assert got[36][0] == "error" and "total_amount" in got[36][1]
    assert outcome.doc["failures"]["foreign"] == {
        "missing-package": 1,
        "earlier-name": 2,  # the isolated file's block too
        "missing-input": 1,
        "network": 1,
        "timeout": 1,
        "error": 2,
    }


def test_isolated_switch_names_the_earlier_block(outcome):
    blocks = _by_line(outcome, "references/isolated.md")
    assert blocks[7]["status"] == "PASS"
    assert blocks[11]["category"] == "earlier-name"
    assert "line 7" in blocks[11]["hint"] and "python-blocks: shared" in blocks[11]["hint"]


def test_fixtures_folder_provides_input_files(skill, tmp_path):
    inputs = tmp_path / "fixtures" / "inputs"
    inputs.mkdir(parents=True)
    (inputs / "invoice.txt").write_text("total: 12.50\n")
    out = run_cmd(
        str(skill / "references" / "failures.md"),
        "--format",
        "json",
        "--fixtures",
        str(tmp_path / "fixtures"),
        "--cache-dir",
        str(CACHE),
        cwd=skill.parent,
    )
    assert _by_line(out, "failures.md")[15]["status"] == "PASS"


def test_text_summary_counts_classes_then_totals(skill):
    out = run_cmd(
        str(skill / "references" / "isolated.md"), "--cache-dir", str(CACHE), cwd=skill.parent
    )
    lines = out.stdout.rstrip().splitlines()
    assert lines[-2] == "failures in foreign: 1 earlier-name"
    assert lines[-1] == "1 passed, 1 failed, 0 skipped"
    assert "1 block " not in out.stdout and "2 blocks in" in out.stdout
