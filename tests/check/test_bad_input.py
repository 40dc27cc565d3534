"""Hostile or broken input: every case ends in a diagnostic or a one-line error, never a
traceback, with every check of every family enabled."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.check.conftest import findings, run_cli, write_skill

GOOD = "name: s\ndescription: Use when testing bad input.\n"


def check_all(path: Path):
    """Run every check through the CLI; assert it neither crashed nor hit an internal error."""
    result = run_cli("check", str(path), "--format", "json")
    assert "Traceback" not in result.output and "internal error" not in result.stderr, result.output
    assert result.exit_code in (0, 1), result.output
    return result


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty skill folder; the test writes its SKILL.md."""
    (tmp_path / "s").mkdir()
    return tmp_path / "s"


@pytest.fixture
def ref(root: Path) -> Path:
    """references/r.md of a good skill that links it; the test writes it."""
    write_skill(root, GOOD, "# S\n\n[r](references/r.md)\n")
    (root / "references").mkdir()
    return root / "references" / "r.md"


def test_empty_skill_md(root):
    (root / "SKILL.md").write_text("")
    check_all(root)
    assert ("SKILL.md", 1, "FM001") in findings(root)


def test_empty_reference(root, ref):
    ref.write_text("")
    check_all(root)
    assert ("references/r.md", 1, "ST007") in findings(root)


def test_binary_skill_md(root):
    (root / "SKILL.md").write_bytes(b"---\nname: s\n---\n\x00\x01\x02\xff" * 10)
    check_all(root)
    assert findings(root) == [("SKILL.md", 4, "ST001")]


def test_non_utf8_reference_points_at_the_line(root, ref):
    ref.write_bytes(b"# R\n\nok\n" + b"caf\xe9\n")
    check_all(root)
    assert ("references/r.md", 4, "ST001") in findings(root)


def test_utf16_file_is_reported_not_decoded(root):
    (root / "SKILL.md").write_bytes(("---\n" + GOOD + "---\n# S\n").encode("utf-16"))
    check_all(root)
    assert [c for _, _, c in findings(root)] == ["ST001"]


def test_huge_file_is_not_parsed(root, ref):
    ref.write_text("# R\n" + ("lorem ipsum " * 10 + "\n") * 9000)  # ~1.1 MB
    result = check_all(root)
    assert ("references/r.md", 1, "ST001") in findings(root)
    assert "larger than 1,000,000 bytes" in result.stdout


def test_symlink_loops_and_dangling_links(root, ref):
    ref.write_text("# R\n")
    refs = ref.parent
    (refs / "loop.md").symlink_to("loop.md")
    (refs / "a.md").symlink_to("b.md")
    (refs / "b.md").symlink_to("a.md")
    (refs / "sub").symlink_to("..")  # a folder loop: never followed
    check_all(root)
    got = findings(root, select="ST")
    assert [p for p, _, c in got if c == "ST002"] == [
        "references/a.md",
        "references/b.md",
        "references/loop.md",
    ]


def test_skill_md_that_is_a_symlink_loop(root):
    (root / "SKILL.md").symlink_to("SKILL.md")
    check_all(root)
    assert ("SKILL.md", 1, "ST001") in findings(root)


def test_skill_md_that_is_a_folder(root):
    (root / "SKILL.md").mkdir()
    result = check_all(root)
    assert findings(root) == [("SKILL.md", 1, "ST001")]
    assert "is a directory" in result.stdout


def test_permission_denied():
    """chmod 000 does not stop root, so as root the check runs without the capabilities that let
    root ignore file modes (via setpriv). It stays uid 0, so a checkout in a private folder
    (mktemp's 0700) is still readable: running as `nobody` would fail on that instead."""
    with tempfile.TemporaryDirectory() as tmp:
        root = write_skill(Path(tmp) / "s", GOOD, "# S\n\n[r](references/r.md)\n")
        (root / "references").mkdir()
        ref = root / "references" / "r.md"
        ref.write_text("# R\n")
        ref.chmod(0)
        command = [sys.executable, "-m", "skill_audit", "check", str(root), "--format", "json"]
        if os.geteuid() == 0:
            if not shutil.which("setpriv"):
                pytest.skip(
                    "running as root without setpriv: permission denial cannot be simulated"
                )
            caps = "-dac_override,-dac_read_search"
            command = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *command]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
        ref.chmod(0o644)
    assert "Traceback" not in proc.stderr and proc.returncode == 1, proc.stderr
    found = [(f["code"], f["line"], f["message"]) for f in json.loads(proc.stdout)["findings"]]
    assert ("ST001", 1, "cannot read r.md: Permission denied") in found


def test_yaml_alias_bomb(tmp_path):
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        levels.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [{', '.join(['*' + prev] * 10)}]")
    root = write_skill(tmp_path / "s", GOOD + "\n".join(levels) + "\n")
    result = check_all(root)
    assert findings(root) == [
        ("SKILL.md", 8, "FM002")
    ]  # line of `e`, the first level over 20,000 nodes
    assert "alias bomb" in result.stdout


def test_deeply_nested_yaml(tmp_path):
    root = write_skill(tmp_path / "s", GOOD + "deep: " + "[" * 50_000 + "]" * 50_000 + "\n")
    check_all(root)
    assert [c for _, _, c in findings(root)] == ["FM002"]
    nested = "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n"
    root2 = write_skill(tmp_path / "t", GOOD + nested)
    check_all(root2)
    assert [c for _, _, c in findings(root2)] == ["FM002"]


def test_crlf_and_bom_keep_lines_right(root):
    text = (
        "---\nname: s\ndescription: Use when testing.\nagent: Plan\n---\n# S\n\n[x](missing.md)\n"
    )
    (root / "SKILL.md").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    check_all(root)
    assert findings(root, select="FM009,LK001") == [
        ("SKILL.md", 4, "FM009"),
        ("SKILL.md", 8, "LK001"),
    ]


def test_markdown_edge_cases_do_not_crash(tmp_path):
    body = (
        "# S\n\n```python\nunclosed fence\n"
        + "| a |\n|---|\n| [x](<>) |\n"
        + "[ref]: \n"
        + "<!-- skill-audit: disable -->\n"
        + "<!-- skill-audit: bogus -->\n"
        + "[a](%zz) [b](#) ![c]()\n"
        + "\u2028\x0b\x0c"
        + "`" * 5000
        + "\n"
        + "> " * 500
        + "quote\n"
        + "- " * 300
        + "list\n"
    )
    root = write_skill(tmp_path / "s", GOOD, body)
    check_all(root)


def test_a_file_that_is_not_a_skill(tmp_path):
    (tmp_path / "README.md").write_text("# hi\n")
    result = run_cli("check", str(tmp_path / "README.md"))
    assert result.exit_code == 2 and "is not a SKILL.md file" in result.stderr


def test_skill_md_that_is_a_fifo_does_not_hang(root):
    os.mkfifo(root / "SKILL.md")
    result = check_all(root)
    assert findings(root) == [("SKILL.md", 1, "ST001")]
    assert "not a regular file" in result.stdout
