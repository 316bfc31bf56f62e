"""A small HTTP/1.1 client for load: one keep-alive connection per client, JSON in and out.

The benchmarks measure the service, so the clients must cost little. httpx's AsyncClient spends several
milliseconds of CPU a request (its pool, h11 and anyio); on a 2-core machine that is more than the service
itself and decides the figure. This client writes a request with one `write` and reads the answer's head and
`Content-Length` body from asyncio streams: a tenth of a millisecond or so. It speaks only what the service
answers (HTTP/1.1, `Content-Length` bodies, keep-alive); anything else is an error, not a guess.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class HttpError(RuntimeError):
    """The connection failed or the answer was not HTTP/1.1 with a `Content-Length` body."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection to `base_url` (`http://host:port`), used by one client at a time. A dropped
    connection is opened again on the next request (the request that met the drop fails: it is not resent,
    because a POST may have been acted on). A connection idle for `IDLE_SECONDS` is replaced before it is
    used, so the server's keep-alive timeout (uvicorn's is 5 s) never closes one as a request goes out."""

    IDLE_SECONDS = 2.0

    def __init__(self, base_url: str, headers: dict[str, str] | None = None, timeout: float = 180.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only http://host:port is spoken here, not {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        fixed = {"Host": f"{self.host}:{self.port}", "Connection": "keep-alive", **(headers or {})}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._used = 0.0

    async def post_json(self, path: str, body: Any) -> Reply:
        payload = json.dumps(body, separators=(",", ":")).encode()
        head = (f"POST {path} HTTP/1.1\r\n{self._fixed}Content-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n").encode()
        return await asyncio.wait_for(self._exchange(head + payload), self.timeout)

    async def get(self, path: str) -> Reply:
        return await asyncio.wait_for(self._exchange(f"GET {path} HTTP/1.1\r\n{self._fixed}\r\n".encode()),
                                      self.timeout)

    async def _exchange(self, request: bytes) -> Reply:
        if self._writer is not None and time.monotonic() - self._used > self.IDLE_SECONDS:
            await self.close()
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        try:
            self._writer.write(request)
            head = await self._reader.readuntil(b"\r\n\r\n")
            status, length, closes = _parse_head(head)
            body = await self._reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            await self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc
        self._used = time.monotonic()
        if closes:
            await self.close()
        return Reply(status, body)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """Status, body length and whether the server closes the connection, from an answer's head."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if version != "HTTP/1.1" or not rest[:3].isdigit():
        raise HttpError(f"not an HTTP/1.1 status line: {lines[0]!r}")
    fields = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
    if "content-length" not in fields:
        raise HttpError("an answer without Content-Length (chunked or streamed) is not read here")
    return int(rest[:3]), int(fields["content-length"]), fields.get("connection", "").lower() == "close"
