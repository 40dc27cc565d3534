"""Small pieces of the runner: pyproject lookup, the run/envs tables, Redis URLs, path rewriting."""

from __future__ import annotations

import pytest
from skill_audit.config import ConfigError, clear_config_cache, tool_table
from skill_audit.runner.config import load_project
from skill_audit.runner.wrapper import rewrite_paths
from skill_audit.runtime import resp


def test_pyproject_lookup_stops_at_the_git_root(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.skill-audit]\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "skill").mkdir()
    clear_config_cache()
    assert tool_table(repo / "skill") == (None, {})  # the outer pyproject is another project
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    clear_config_cache()
    assert tool_table(repo / "skill") == (None, {})  # a pyproject without the table is skipped
    (repo / "pyproject.toml").write_text('[tool.skill-audit]\nname = "x"\n')
    clear_config_cache()
    assert tool_table(repo / "skill") == ((repo / "pyproject.toml").resolve(), {"name": "x"})


def test_pyproject_lookup_follows_symlinks_like_realpath(tmp_path, monkeypatch):
    real = tmp_path / "real"
    (real / "skills" / "a").mkdir(parents=True)
    (real / ".git").mkdir()
    (real / "pyproject.toml").write_text('[tool.skill-audit]\nname = "real"\n')
    other = tmp_path / "other"
    (other / ".git").mkdir(parents=True)
    (other / "pyproject.toml").write_text('[tool.skill-audit]\nname = "other"\n')
    (other / "via").symlink_to(real / "skills")  # a symlinked parent folder
    (other / "a-link").symlink_to(real / "skills" / "a")  # a symlinked skill folder
    found = ((real / "pyproject.toml").resolve(), {"name": "real"})
    for start in (other / "via" / "a", other / "a-link", other / "via" / ".." / "a-link"):
        clear_config_cache()
        assert tool_table(start) == found, start
    monkeypatch.chdir(other / "via")
    clear_config_cache()
    assert tool_table("a") == found  # relative, through a symlinked working folder


@pytest.mark.parametrize(
    "text, message",
    [
        ("[tool.skill-audit.run]\njobs = 3\n", "unknown key 'jobs'"),
        (
            '[tool.skill-audit.envs]\ncelery = "celery==5.7.0"\n',
            "must be a list of requirement strings",
        ),
        (
            '[tool.skill-audit.run]\ndefault-env = "x"\n[tool.skill-audit.envs]\ny = []\n',
            "default-env 'x'",
        ),
        ("[tool.skill-audit\n", "invalid TOML"),
        ("[tool]\nskill-audit = 3\n", "must be a table"),
    ],
)
def test_bad_run_config(tmp_path, text, message):
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    clear_config_cache()
    with pytest.raises(ConfigError, match=message):
        load_project(tmp_path)


def test_good_run_config(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text(
        '[tool.skill-audit.run]\ndefault-env = "a"\n[tool.skill-audit.envs]\na = ["x==1"]\n'
    )
    clear_config_cache()
    project = load_project(tmp_path)
    assert (project.default_env, project.envs) == ("a", {"a": ("x==1",)})
    assert project.cache_dir == tmp_path / ".skill-audit"


def test_redis_urls():
    addr = resp.parse_redis_url("redis://:s%40cret@127.0.0.1:6390/3")
    assert (addr.host, addr.port, addr.db, addr.password) == ("127.0.0.1", 6390, 3, "s@cret")
    assert resp.with_db("redis://127.0.0.1:6390/3", 15) == "redis://127.0.0.1:6390/15"
    assert resp.with_db("redis://127.0.0.1:6390", 15) == "redis://127.0.0.1:6390/15"
    with pytest.raises(ValueError):
        resp.parse_redis_url("http://127.0.0.1:6379")


def test_rewrite_paths_prefers_the_longest_match():
    mapping = {"/w/tasks.py": "references/a.md", "/w/.run/block_L9.py": "SKILL.md"}
    text = 'File "/w/tasks.py", line 12, in add\nFile "/w/.run/block_L9.py", line 10\n/w/tasks.py:12: W'
    assert rewrite_paths(text, mapping) == (
        'File "references/a.md", line 12, in add\nFile "SKILL.md", line 10\nreferences/a.md:12: W'
    )


def test_progress_line_keeps_the_location_when_cut():
    from skill_audit.runner.report import progress_text

    line = progress_text(3, 120, "skills/some/deeply/nested/references/guide.md:115", 30)
    assert line.startswith("[3/120] …") and line.endswith("guide.md:115") and len(line) == 30
    assert progress_text(1, 1, "SKILL.md:9", 80) == "[1/1] SKILL.md:9"


def test_no_service_for_files_without_runnable_blocks(tmp_path):
    from tests.run.conftest import run_cmd

    doc = tmp_path / "notes.md"
    doc.write_text('# Notes\n\n```bash\nls -l\n```\n\n```json\n{"a": 1}\n```\n')
    out = run_cmd(str(doc), "--format", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.doc["services"]["redis"] == {"mode": "not needed", "start_seconds": None}
    assert out.doc["summary"]["passed"] == 0
