"""A tiny Redis client (RESP2 over a socket) for the runner's own few commands.

skill-audit itself does not depend on redis-py (each framework env pins its own, and they
conflict), yet `run` must PING a user's Redis, SELECT the dedicated database and FLUSHDB it.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit


class RespError(Exception):
    """The server answered with an error, or could not be reached (one-line message)."""


@dataclass(frozen=True)
class RedisAddress:
    host: str
    port: int
    db: int
    username: str | None
    password: str | None
    tls: bool


def parse_redis_url(url: str) -> RedisAddress:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"not a redis:// or rediss:// URL: {url!r}")
    path = parts.path.strip("/")
    try:
        db = int(path) if path else 0
        port = parts.port or 6379
    except ValueError:
        raise ValueError(f"bad port or database number in {url!r}") from None
    return RedisAddress(
        parts.hostname or "127.0.0.1",
        port,
        db,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
        parts.scheme == "rediss",
    )


def with_db(url: str, db: int) -> str:
    """The same URL pointing at database `db`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def _encode(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self._file = sock.makefile("rb")

    def reply(self):
        line = self._file.readline()
        if not line:
            raise RespError("connection closed by the server")
        kind, rest = line[:1], line[1:-2].decode(errors="replace")
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RespError(rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self._file.read(size + 2)[:-2].decode(errors="replace")
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self.reply() for _ in range(size)]
        raise RespError(f"unexpected reply {line[:20]!r}")


def execute(url: str, *commands: tuple[str, ...], timeout: float = 5.0) -> list:
    """Run commands on the URL's database (after AUTH and SELECT); return their replies."""
    addr = parse_redis_url(url)
    try:
        sock = socket.create_connection((addr.host, addr.port), timeout=timeout)
    except OSError as exc:
        where = f"{addr.host}:{addr.port}"
        raise RespError(f"cannot connect to Redis at {where}: {exc.strerror or exc}") from None
    try:
        if addr.tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=addr.host)
        reader = _Reader(sock)
        prelude: list[tuple[str, ...]] = []
        if addr.password is not None:
            auth = (
                ("AUTH", addr.username, addr.password) if addr.username else ("AUTH", addr.password)
            )
            prelude.append(auth)
        if addr.db:
            prelude.append(("SELECT", str(addr.db)))
        for cmd in prelude:
            sock.sendall(_encode(*cmd))
            reader.reply()
        replies = []
        for cmd in commands:
            sock.sendall(_encode(*cmd))
            replies.append(reader.reply())
        return replies
    except OSError as exc:
        raise RespError(f"Redis at {addr.host}:{addr.port}: {exc.strerror or exc}") from None
    finally:
        sock.close()
