"""runtime/processes.py on its own: what a spawned process gets, and which leftovers a sweep
may touch (only a dead owner's, never a live one's)."""

from __future__ import annotations

import json
import subprocess
import sys

from skill_audit.runtime import processes


def test_spawn_gives_exactly_the_environment_plus_owner_and_private_tmp(tmp_path):
    owner = processes.Owner(watchdog=False)
    try:
        out = tmp_path / "env.json"
        code = f"import json, os; open({str(out)!r}, 'w').write(json.dumps(dict(os.environ)))"
        proc = owner.spawn([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"})
        assert proc.wait(timeout=30) == 0
        env = json.loads(out.read_text())
        tmp = str(owner.root / "tmp")
        expected = {"PATH": "/usr/bin:/bin", "SKILL_AUDIT_OWNER": owner.id}
        expected |= {"TMPDIR": tmp, "TEMP": tmp, "TMP": tmp}
        assert {k: v for k, v in env.items() if k != "LC_CTYPE"} == expected
    finally:
        owner.close()
    assert not owner.root.exists()


def test_sweep_leaves_a_live_owner_alone_and_clears_a_dead_one(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(processes.tempfile, "tempdir", None)
    live = processes.Owner(watchdog=False)
    try:
        # a dead owner: its process ended, so nobody holds its lock
        script = (
            "from skill_audit.runtime import processes; import os; "
            "o = processes.Owner(watchdog=False); print(o.root); os._exit(0)"
        )
        dead_root = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert dead_root.startswith(str(tmp_path))
        removed = processes.sweep_dead_owners(tmp_path)
        assert [str(p) for p in removed] == [dead_root]
        assert live.root.exists()
    finally:
        live.close()


def test_proof_harness_gives_drivers_what_run_gives_snippets(monkeypatch, tmp_path):
    """A proof must not pass where `run` fails: the harness scrubs the environment the same
    way and starts background commands with the same `bash -c`, through the same owner."""
    from tests.proofs.conftest import Lab

    monkeypatch.setenv("SKILL_AUDIT_SECRET", "must-not-reach-a-driver")
    owner = processes.Owner(watchdog=False)
    try:
        lab = Lab(tmp_path, "redis://127.0.0.1:1/0", envs=None, request=None, owner=owner)
        env = lab.env_vars()
        assert "SKILL_AUDIT_SECRET" not in env
        assert set(env) - set(processes.scrubbed_env()) == {
            "PYTHONPATH",
            "PYTHONUNBUFFERED",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "CELERY_RESULT_BACKEND",
        }
    finally:
        owner.close()
