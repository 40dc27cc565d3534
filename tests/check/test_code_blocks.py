"""CS checks beyond the fixture pairs (test_fixtures.py): the block parsers underneath."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skill_audit.checks import code_blocks as cb
from skill_audit.facts import classify
from skill_audit.snippets.extract import Fence
from skill_audit.snippets.grammar import parse_info

from tests.check.conftest import FIXTURES, findings, write_skill


def fence(info: str, code: str, line: int = 10) -> Fence:
    return Fence(Path("/x/SKILL.md"), line, info, code, parse_info(info))


@pytest.mark.parametrize(
    ("info", "kind"),
    [
        ("python", "python"),
        ("py file=a.py", "python"),
        ("python3", "python"),
        ("bash", "shell"),
        ("console", "shell"),
        ("sh run", "shell"),
        ("json", "data"),
        ("yml", "data"),
        ("toml", "data"),
        ('python partial="fragment"', "partial"),
        ('yaml partial="excerpt"', "partial"),
        ("", "unlabelled"),
        ("text", "other"),
        ("mermaid", "other"),
    ],
)
def test_every_fence_is_classified(info, kind):
    assert classify(fence(info, "x\n")) == kind


def test_python_error_points_at_markdown_line_and_rewrites_block_lines():
    # fence marker on line 10, so code line 1 is file line 11
    line, _column, message = cb.python_error(fence("python", "x = 1\nif x:\npass\n"))
    assert line == 13
    assert "on line 12" in message  # "after 'if' statement on line 2" in block terms


def test_python_error_compiles_beyond_the_parser():
    # ast.parse accepts these; compile() rejects them, and so must the check
    assert cb.python_error(fence("python", "return 1\n"))[0] == 11
    assert cb.python_error(fence("python", "x = 1\nyield f()\n"))[0] == 12


def test_top_level_await_compiles_as_notebooks_run_it():
    assert cb.python_error(fence("python", "x = 1\nawait f()\n")) is None
    assert cb.python_error(fence("python", "async with lock:\n    pass\n")) is None
    assert cb.python_error(fence("python", "def f():\n    await g()\n")) is not None


def test_python_error_clamps_eof_errors_into_the_block():
    line, _, _ = cb.python_error(fence("python", "x = (1,\n"))
    assert line == 11


def test_python_null_byte_is_a_finding_not_a_crash():
    assert cb.python_error(fence("python", "x = 1\x00\n")) is not None


def test_valid_python_with_syntax_warning_is_clean(recwarn):
    assert cb.python_error(fence("python", 'import re\nre.compile("\\d+")\n')) is None
    assert not [w for w in recwarn if issubclass(w.category, SyntaxWarning)]


@pytest.mark.parametrize(
    ("info", "code", "line"),
    [
        ("json", '{\n  "a": 1,\n}\n', 13),
        ("yaml", "a: 1\nb: [\n", 12),  # EOF error, kept on the last code line
        ("toml", 'a = 1\nb = "x\n', 12),
    ],
)
def test_data_errors_point_at_markdown_line(info, code, line):
    assert cb.data_error(fence(info, code))[0] == line


def test_yaml_nesting_bomb_is_refused_without_crash():
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    err = cb.data_error(fence("yaml", deep))
    assert err is not None and "nested deeper" in err[2]


def test_toml_nesting_bomb_is_an_error_not_a_crash():
    # tomllib recurses per bracket: the generic handler reports it at the block's first line
    err = cb.data_error(fence("toml", "a = " + "[" * 100_000 + "\n"))
    assert err is not None and err[0] == 11 and err[2].startswith("invalid TOML")


def test_yaml_alias_bomb_parses_fast():
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{c}: &{c} [{', '.join('*' + p for _ in range(9))}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    assert cb.data_error(fence("yaml", bomb)) is None  # aliases are shared, never expanded


def test_multi_document_yaml_is_checked_beyond_the_first_document():
    assert cb.data_error(fence("yaml", "a: 1\n---\nb: [\n"))[0] == 13


needs_bash = pytest.mark.skipif(cb._bash() is None, reason="bash not installed")


@needs_bash
def test_bash_batch_isolates_each_block():
    scripts = [
        "echo ok\n",
        "if true; then\n  echo\n",
        "echo fine\n",
        "case x in\n",
        "f() {\n echo\n}\n",
        "echo 'unclosed\n",
        "for i in 1 2; do echo $i; done\n",
    ]
    errors = cb._bash_errors(scripts)
    assert set(errors) == {1, 3, 5}
    assert errors[1][0] == 3  # unexpected end of file, after the block's last line
    assert errors[5][0] == 1  # the line where the quote opens


@needs_bash
def test_bash_unclosed_construct_does_not_mask_or_blame_its_neighbour():
    # in one script `if` (block 0) and `fi` (block 1) would pair up and hide both errors
    errors = cb._bash_errors(["if true; then\n echo a\n", "fi\n"])
    assert set(errors) == {0, 1}


@needs_bash
def test_bash_heredoc_without_terminator_is_reported():
    errors = cb._bash_errors(["cat <<EOF\nhello\n"])
    assert list(errors) == [0] and "here-document" in errors[0][1]


@needs_bash
def test_bash_verdicts_are_the_same_through_a_pipe_when_no_temporary_file_can_be_made(
    monkeypatch,
):
    # scripts go to bash as a temporary file (block reads); without one, through a pipe
    scripts = ["echo ok\n", "if true; then\n  echo\n", "echo 'unclosed\n", "cat <<EOF\nhi\n"]
    through_file = cb._bash_errors(scripts)
    assert set(through_file) == {1, 2, 3}

    def no_temporary_folder():
        raise FileNotFoundError("No usable temporary directory found")

    monkeypatch.setattr("tempfile.TemporaryFile", no_temporary_folder)
    assert cb._seekable(b"echo\n") is None
    assert cb._bash_errors(scripts) == through_file


def count_bash_runs(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = cb._run_bash
    monkeypatch.setattr(cb, "_run_bash", lambda script: calls.append(script) or real(script))
    return calls


@needs_bash
def test_many_clean_blocks_take_one_bash_process(monkeypatch):
    calls = count_bash_runs(monkeypatch)
    assert cb._bash_errors([f"if true; then echo {i}; fi\n" for i in range(200)]) == {}
    assert len(calls) == 1


@needs_bash
def test_plain_command_blocks_need_no_bash_process(monkeypatch):
    calls = count_bash_runs(monkeypatch)
    assert (
        cb._bash_errors(
            ["pip install 'celery[redis]==5.7.0'\n", "celery -A tasks worker -Q a,b \\\n  -c 4\n"]
        )
        == {}
    )
    assert calls == []


@needs_bash
def test_bad_block_among_many_costs_a_few_processes(monkeypatch):
    calls = count_bash_runs(monkeypatch)
    scripts = [f"if true; then echo {i}; fi\n" for i in range(100)]
    scripts[37] = "for x in a b; do\n  echo $x\n"
    assert cb._bash_errors(scripts) == {37: (3, "syntax error: unexpected end of file")}
    assert len(calls) == 3  # the batch, the blamed block alone, the batch without it


@needs_bash
def test_quote_left_open_is_blamed_on_its_own_block():
    # the open quote swallows the next blocks in the batch; the error must still land on 0
    scripts = [
        'echo "open\n',
        "if true; then echo b; fi\n",
        'if true; then echo "c"; fi\n',
        "case x in\n",
    ]
    assert set(cb._bash_errors(scripts)) == {0, 3}


@needs_bash
def test_script_before_the_blamed_one_is_checked_again():
    # block 0's open quote closes inside block 1, so bash first complains in block 1; block 0 was
    # never cleared by a clean run and must still be found on the runs that follow
    scripts = ['echo "a\n', 'echo b"\nif\n', "if true; then echo c; fi\n", "echo 'd'\n"]
    assert set(cb._bash_errors(scripts)) == {0, 1}


SIMPLE = [
    "pip install celery==5.7.0",
    "celery -A tasks worker --loglevel=INFO -Q default,bulk",
    "export REDIS_URL=redis://localhost:6379/0  # comment",
    "# only a comment",
    "",
    'echo "hello world" | grep hello && echo ok || echo no',
    "uv run pytest \\\n  -q tests/",
    "cd ~/proj",
    "echo $HOME ${HOME}",
    "echo 'single $(quoted)'",
    "echo a; echo b",
    "echo a &",
    "cat > out.txt",
    "ls *.py a?.md",
    "cmd 2>/dev/null >>log.txt 2>&1 </dev/null",
    'echo "$HOME/x"',
    "redis-server --port 0 & sleep 1",
]
NOT_SIMPLE = [
    "if true; then",
    "echo $(date)",
    "echo `date`",
    "done",
    'echo "unterminated',
    "f() {",
    "a && ",
    "echo }",
    '"echo $(x)"',
    "!",
    "cat <<EOF",
    "echo ${a",
    "echo ${a:-x}",
    "echo $((1+2))",
    "; echo",
    "echo a;;",
    "echo >",
    "[[ -f x ]]",
    "echo 'a",
    "a | | b",
    "echo a & & b",
    "x=(1 2)",
    # found by random testing: `word[` starts an array subscript, `;&` is a case terminator
    "echo[[a=b",
    "x;&>y",
    "a |& b",
    # valid, but outside the fast path's grammar: bash decides
    "[ -f x ] && echo yes",
]


@needs_bash
@pytest.mark.parametrize("line", SIMPLE + NOT_SIMPLE)
def test_trivially_valid_never_accepts_what_bash_rejects(line):
    script = line + "\n"
    if cb.trivially_valid(script):
        rc, err = cb._run_bash(script)
        assert rc == 0 and not err.strip()


def test_trivially_valid_classification():
    assert all(cb.trivially_valid(line + "\n") for line in SIMPLE)
    assert not any(cb.trivially_valid(line + "\n") for line in NOT_SIMPLE)
    assert not cb.trivially_valid("echo a \\\n")  # continuation on the last line


@needs_bash
def test_console_prompts_map_back_to_block_lines():
    f = fence("console", "$ echo one\none\n$ echo 'two\n")
    script, mapping = cb._script_and_lines(f)
    assert script.splitlines() == ["echo one", "echo 'two"]
    assert mapping == [1, 3]


@pytest.mark.parametrize("jobs", [1, 2])
def test_shell_blocks_of_many_skills_share_bash_runs_and_keep_their_lines(
    tmp_path, monkeypatch, jobs
):
    """A batch mixes skills: an unclosed quote in one must not hide or shift another's error."""
    blocks = {
        "a": '```bash\necho "unclosed\n```\n',
        "b": "```bash\nif true; then\n  echo ok\n```\n",
        "c": "```bash\nfor x in 1 2; do echo $x; done\n```\n",
    }
    for i in range(6):  # six skills or more are checked by a process pool
        name = "abc"[i % 3] + str(i)
        write_skill(
            tmp_path / name,
            f"name: {name}\ndescription: Use when testing.\n",
            "# S\n\n" + blocks[name[0]],
        )
    calls = []
    monkeypatch.setattr(
        cb, "_run_bash", lambda script, run=cb._run_bash: calls.append(1) or run(script)
    )
    cb._bash_verdicts.clear()
    got = findings(tmp_path, select="CS003", jobs=jobs)
    # the quote is open from code line 1 (file line 8); the `if` is unclosed at its last line (9)
    assert got == [
        ("a0/SKILL.md", 8, "CS003"),
        ("a3/SKILL.md", 8, "CS003"),
        ("b1/SKILL.md", 9, "CS003"),
        ("b4/SKILL.md", 9, "CS003"),
    ]
    if jobs == 1:  # 2 distinct bad scripts: 1 batch run + 2 (confirm, re-run) each, not 1 per skill
        assert len(calls) <= 5


def test_missing_bash_skips_shell_checks(monkeypatch):
    monkeypatch.setattr(cb, "_bash", lambda: None)
    assert cb._bash_errors(["if\n"]) == {}


def test_every_block_is_classified():
    from skill_audit.config import Config
    from skill_audit.model import load_skill

    skill = load_skill(FIXTURES / "CS003" / "pass", Config())
    assert sorted(classify(f) for doc in skill.docs for f in doc.fences) == [
        "partial",
        "shell",
        "shell",
        "shell",
        "shell",
    ]


def test_detected_at_line_is_rewritten_to_the_file_line():
    _, _, message = cb.python_error(fence("python", "x = 1\ns = 'abc\n"))
    assert "detected at line 12" in message


SHELL_PIECES = [
    "echo",
    "ls",
    "a=b",
    "-x",
    "--opt=1",
    "$HOME",
    "${HOME}",
    "${",
    "}",
    "{",
    "(",
    ")",
    "$(",
    "`",
    '"q"',
    '"',
    "'s'",
    "'",
    "&&",
    "||",
    "|",
    ";",
    ";;",
    "&",
    ">",
    ">>",
    "2>&1",
    "<",
    "<<",
    "*.py",
    "[a]",
    "[[",
    "]]",
    "if",
    "then",
    "fi",
    "do",
    "done",
    "!",
    "#c",
    "\\",
    "=",
    "~/x",
    "x#y",
    '"$a"',
    '"${a}b"',
    "&>",
    "2>",
    "<x",
    ">x",
    "x;",
    ";x",
    "[",
    "]",
    "|&",
    ";&",
    "a[1]=2",
    "case",
    "{a,b}",
    "x?",
    "%",
    "^",
    "@",
    ",",
    ":",
]


@needs_bash
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(SHELL_PIECES), max_size=6), st.sampled_from([" ", ""])
        ).map(lambda t: t[1].join(t[0])),
        min_size=1,
        max_size=3,
    )
)
def test_fast_path_is_sound_on_random_shell(lines):
    script = "\n".join(lines) + "\n"
    if cb.trivially_valid(script):
        rc, err = cb._run_bash(script)
        assert rc == 0 and not err.strip(), script
