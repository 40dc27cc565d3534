"""`--redis-url`: a user's Redis is never flushed unless `--allow-flush`, and only the
dedicated database is used."""

from __future__ import annotations

import pytest
from skill_audit.runtime import resp, services

from tests.run.conftest import FIXTURES, run_cmd


@pytest.fixture
def user_redis():
    svc = services.start_redis()
    try:
        yield svc.extra["url"]
    finally:
        svc.stop()


def _seed(url: str) -> None:
    resp.execute(resp.with_db(url, 15), ("SET", "kept-before-run", "1"))
    resp.execute(resp.with_db(url, 0), ("SET", "other-database", "1"))


def _exists(url: str, db: int, key: str) -> bool:
    return resp.execute(resp.with_db(url, db), ("EXISTS", key))[0] == 1


def test_user_redis_is_not_flushed(envs, user_redis):
    _seed(user_redis)
    out = run_cmd(str(FIXTURES / "redisurl"), "--format", "json", "--redis-url", user_redis)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.doc["services"]["redis"]["mode"] == "external"
    assert _exists(user_redis, 15, "kept-before-run")
    assert _exists(user_redis, 15, "written-by-snippet")
    assert _exists(user_redis, 0, "other-database")


def test_allow_flush_flushes_only_the_dedicated_database(envs, user_redis):
    _seed(user_redis)
    out = run_cmd(
        str(FIXTURES / "redisurl"), "--format", "json", "--redis-url", user_redis, "--allow-flush"
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert not _exists(user_redis, 15, "kept-before-run")
    assert _exists(user_redis, 15, "written-by-snippet")
    assert _exists(user_redis, 0, "other-database")


def test_non_loopback_redis_is_refused():
    out = run_cmd(str(FIXTURES / "redisurl"), "--redis-url", "redis://192.0.2.10:6379/0")
    assert out.returncode == 2
    assert "not a loopback address" in out.stderr and "Traceback" not in out.stderr


def test_unreachable_redis_is_a_service_error():
    port = services.free_port()
    out = run_cmd(str(FIXTURES / "redisurl"), "--redis-url", f"redis://127.0.0.1:{port}")
    assert out.returncode == 2
    assert "cannot connect to Redis" in out.stderr and out.stderr.count("\n") == 1
