"""Environment selection: frontmatter `env:`, a fence's `env=`, `--env NAME=PATH`, and no
configured envs at all (the interpreter skill-audit runs in)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.run.conftest import FIXTURES, run_cmd

ENVSEL = FIXTURES / "envsel"


def _run_arq_file(arq_prefix: Path, celery_prefix: Path, *extra: str):
    """Run envsel's arq-file.md; its blocks check that they run in these two prefixes."""
    return run_cmd(
        str(ENVSEL / "references" / "arq-file.md"),
        "--format",
        "json",
        *extra,
        "--pass-env",
        "ARQ_PREFIX",
        "--pass-env",
        "CELERY_PREFIX",
        env={
            "ARQ_PREFIX": str(arq_prefix.resolve()),
            "CELERY_PREFIX": str(celery_prefix.resolve()),
        },
    )


def test_frontmatter_env_and_block_override(envs):
    out = _run_arq_file(envs["arq"], envs["celery"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.block("arq-file.md", 8)["env"] == "arq"
    assert out.block("arq-file.md", 16)["env"] == "celery"


def test_wrong_env_fails(envs):
    # the same file, but the expected prefixes swapped: both blocks must fail
    out = _run_arq_file(envs["celery"], envs["arq"])
    assert out.returncode == 1
    assert [b["status"] for b in out.doc["blocks"]] == ["FAIL", "FAIL"]


def test_env_override_with_existing_virtualenv(envs):
    out = _run_arq_file(envs["temporal"], envs["celery"], "--env", f"arq={envs['temporal']}")
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_envs_configured_uses_current_interpreter(tmp_path):
    skill = tmp_path / "skill"
    shutil.copytree(ENVSEL, skill)  # under /tmp: no pyproject.toml above it
    out = run_cmd(
        str(skill / "SKILL.md"),
        "--format",
        "json",
        "--pass-env",
        "EXPECTED_PREFIX",
        env={"EXPECTED_PREFIX": str(Path(sys.prefix).resolve())},
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.doc["summary"]["passed"] == 1


def test_unknown_env_is_a_config_error(tmp_path):
    md = FIXTURES / "envsel" / "references" / "unknown-env.md"
    out = run_cmd(str(md))
    assert out.returncode == 2
    assert "unknown env 'nosuchenv'" in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1


def test_envs_are_built_with_uv_and_cached_by_content(tmp_path):
    import subprocess

    from skill_audit.runtime import envs as envs_mod

    assert envs_mod.uv_binary(), "uv comes with the services extra"
    env = envs_mod.ensure_env(tmp_path, "tiny", ["inflection==0.5.1"])
    assert not (env.bin_dir / "pip").exists()  # uv made it (venv + pip would ship pip)
    subprocess.run([str(env.python), "-c", "import inflection"], check=True)
    marker = env.root / envs_mod.MARKER
    built = marker.stat().st_mtime_ns
    assert envs_mod.ensure_env(tmp_path, "tiny", ["inflection==0.5.1"]) == env
    assert marker.stat().st_mtime_ns == built  # reused, not rebuilt
    other = envs_mod.ensure_env(tmp_path, "tiny", ["inflection==0.5.0"])
    assert other.root != env.root
