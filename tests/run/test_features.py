"""Block kinds, outcomes, tracebacks, timeouts and the report, on tests/run/fixtures/features."""

from __future__ import annotations

import pytest

from tests.run.conftest import FIXTURES, process_alive, run_cmd

FEATURES = FIXTURES / "features"


@pytest.fixture(scope="module")
def pid_file(tmp_path_factory):
    return tmp_path_factory.mktemp("pids") / "pids.txt"


@pytest.fixture(scope="module")
def tmpdir_of_run(tmp_path_factory):
    return tmp_path_factory.mktemp("tmpdir")


@pytest.fixture(scope="module")
def outcome(pid_file, tmpdir_of_run):
    # TMPDIR: the run's work folders and Redis folder land here, so leftovers are visible.
    # SKILL_AUDIT_SECRET: set for the command but not passed, so snippets must not see it.
    return run_cmd(
        str(FEATURES),
        "--format",
        "json",
        "--pass-env",
        "PID_FILE",
        "--no-sandbox",  # blocks write their PIDs, checked from outside: host PIDs needed
        env={
            "PID_FILE": str(pid_file),
            "TMPDIR": str(tmpdir_of_run),
            "SKILL_AUDIT_SECRET": "must-not-leak",
        },
    )


def test_work_folders_are_removed(outcome, tmpdir_of_run):
    assert outcome.doc["summary"]["passed"] > 0
    assert [p.name for p in tmpdir_of_run.iterdir() if p.name.startswith("skill-audit-")] == []


def test_scrubbed_environment_and_service_urls(outcome):
    block = outcome.block("environment.md", 7)
    assert block["status"] == "PASS", block
    assert outcome.doc["services"]["temporal"]["mode"] == "not needed"


def test_json_summary_and_exit_code(outcome):
    assert outcome.returncode == 1, outcome.stderr
    doc = outcome.doc
    assert doc["schema"] == "skill-audit-run/1"
    statuses = [b["status"] for b in doc["blocks"]]
    assert doc["summary"]["passed"] == statuses.count("PASS")
    assert doc["summary"]["failed"] == statuses.count("FAIL")
    assert doc["summary"]["skipped"] == statuses.count("SKIP")
    assert {f["path"].rsplit("/", 1)[-1] for f in doc["files"]} >= {
        "SKILL.md",
        "modules.md",
        "timeouts.md",
    }
    for block in doc["blocks"]:
        assert set(block) >= {"path", "line", "kind", "status", "seconds", "reason", "output"}


def test_plain_block_passes(outcome):
    assert outcome.block("features/SKILL.md", 8)["status"] == "PASS"


def test_module_imported_by_later_block(outcome):
    module = outcome.block("modules.md", 7)
    assert (module["kind"], module["status"], module["imported"]) == ("module", "PASS", True)
    assert outcome.block("modules.md", 18)["status"] == "PASS"


def test_module_failure_maps_both_frames(outcome):
    block = outcome.block("modules.md", 26)
    assert block["status"] == "FAIL"
    assert 'modules.md", line 29, in <module>' in block["output"]
    assert 'modules.md", line 13, in explode' in block["output"]
    assert "ValueError: exploded inside helper" in block["output"]
    assert "runpy" not in block["output"] and "<string>" not in block["output"]


def test_unused_and_broken_modules(outcome):
    unused = outcome.block("modules.md", 34)
    assert unused["imported"] is False and "never imported" in unused["reason"]
    broken = outcome.block("modules.md", 40)
    assert broken["status"] == "FAIL" and 'modules.md", line 41' in broken["output"]


def test_expect_fail(outcome):
    assert outcome.block("expect_fail.md", 9)["status"] == "PASS"
    assert outcome.block("expect_fail.md", 15)["status"] == "PASS"
    succeeded = outcome.block("expect_fail.md", 21)
    assert succeeded["status"] == "FAIL" and "succeeded" in succeeded["reason"]
    wrong_text = outcome.block("expect_fail.md", 27)
    assert wrong_text["status"] == "FAIL" and "'KeyError'" in wrong_text["reason"]
    assert outcome.block("expect_fail.md", 33)["status"] == "PASS"


def test_timeout_kills_the_block_process_group(outcome, pid_file):
    block = outcome.block("timeouts.md", 9)
    assert block["status"] == "FAIL" and "timed out after 1s" in block["reason"]
    pid, child, pgid = map(int, pid_file.read_text().split())
    assert pgid == pid  # the block led its own process group
    assert not process_alive(pid) and not process_alive(child)
    assert outcome.block("timeouts.md", 22)["status"] == "PASS"


def test_grammar_errors_fail_and_are_never_skipped(outcome):
    for line, text in (
        (7, "unknown token 'bogus-token'"),
        (11, "needs a value"),
        (15, "either run or background"),
    ):
        block = outcome.block("grammar.md", line)
        assert block["status"] == "FAIL" and text in block["reason"], block


def test_compile_only_and_partial(outcome):
    ok = outcome.block("grammar.md", 19)
    assert (ok["status"], ok["reason"]) == ("SKIP", "compile-only: the reason is given")
    bad = outcome.block("grammar.md", 23)
    assert bad["status"] == "FAIL" and "SyntaxError" in bad["output"]
    partial = outcome.block("grammar.md", 28)
    assert (partial["status"], partial["kind"]) == ("SKIP", "partial")
    # `text` fences and plain `bash` fences are not executed and not reported
    assert not [
        b for b in outcome.doc["blocks"] if b["path"].endswith("grammar.md") and b["line"] > 28
    ]


def test_background_blocks(outcome):
    assert outcome.block("background.md", 9)["status"] == "PASS"
    assert outcome.block("background.md", 19)["status"] == "PASS"  # talked to the server
    early = outcome.block("background.md", 30)
    assert early["status"] == "FAIL" and "exited early (exit code 3)" in early["reason"]
    assert "dying early on purpose" in early["output"]
    never = outcome.block("background.md", 36)
    assert (
        never["status"] == "FAIL" and "'never printed' did not appear within 1s" in never["reason"]
    )
    assert outcome.block("background.md", 42)["status"] == "PASS"
    stops = outcome.block("background.md", 47)
    assert stops["status"] == "FAIL" and "not reached" not in stops["output"]


def test_background_ending_before_its_file_fails(outcome):
    block = outcome.block("background.md", 54)
    assert block["status"] == "FAIL"
    assert "exited before the end of the file (exit code 0)" in block["reason"]
    assert "ready now" in block["output"]
    assert outcome.block("background.md", 58)["status"] == "PASS"


def test_traceback_points_at_markdown_lines(outcome):
    block = outcome.block("traceback.md", 9)
    out = block["output"]
    assert 'traceback.md", line 18, in <module>' in out
    assert 'traceback.md", line 15, in inner' in out
    assert "RuntimeError: marker-line-15" in out
    exit_msg = outcome.block("traceback.md", 21)
    assert exit_msg["status"] == "FAIL" and "exit with a message" in exit_msg["output"]
    warned = outcome.block("traceback.md", 27)
    assert (warned["status"], warned["reason"]) == ("FAIL", "exit code 2")
    assert "traceback.md:30: UserWarning: marker-warning-line-30" in warned["output"]


def test_text_report_and_closing_line(tmp_path):
    out = run_cmd(str(FEATURES / "references" / "expect_fail.md"))
    assert out.returncode == 1
    lines = out.stdout.rstrip("\n").splitlines()
    assert lines[-1] == "3 passed, 2 failed, 0 skipped"
    assert any(line.startswith("FAIL ") and "expect_fail.md:21 python" in line for line in lines)
    assert any("expect_fail.md: 5 blocks in" in line for line in lines)


def test_all_passing_file_exits_zero():
    out = run_cmd(str(FEATURES / "SKILL.md"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[-1] == "1 passed, 0 failed, 0 skipped"


def test_each_file_starts_with_an_empty_database(envs):
    out = run_cmd(str(FIXTURES / "flush"), "--format", "json", "--jobs", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert [b["status"] for b in out.doc["blocks"]] == ["PASS", "PASS"]


def test_progress_line_on_a_terminal():
    import os
    import pty
    import subprocess
    import sys

    from conftest import ROOT

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "skill_audit.runner", str(FEATURES / "references" / "traceback.md")],
        cwd=ROOT,
        stdout=follower,
        stderr=subprocess.DEVNULL,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the other side closed
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    text = b"".join(chunks).decode(errors="replace")
    # done/total and the file:line of the running block; cleared before each report line
    assert "\r\x1b[K[0/3] tests/run/fixtures/features/references/traceback.md:9" in text
    assert "\r\x1b[K[1/3] " in text and "\r\x1b[KFAIL " in text
    assert text.rstrip().splitlines()[-1].endswith("0 passed, 3 failed, 0 skipped")
