"""The benchmarks' load client speaks HTTP/1.1 with keep-alive, reads exactly one answer per request, and
refuses what it does not read rather than guessing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request

from bench.http_load import Connection, HttpError
from tests.support.serving import served_on_a_port


async def serve(answers: list[bytes], seen: list[tuple[int, bytes]]) -> tuple[asyncio.Server, str]:
    """A server that answers each request with the next of `answers`, noting (connection number, request)."""
    connections = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[0] += 1
        number = connections[0]
        while answers:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            seen.append((number, head + await reader.readexactly(length)))
            writer.write(answers.pop(0))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def answer(body: bytes, *extra: str) -> bytes:
    head = "".join(f"{line}\r\n" for line in ("HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra))
    return head.encode() + b"\r\n" + body


def test_requests_share_one_connection_and_each_reads_its_own_answer():
    async def run() -> tuple[list[object], list[tuple[int, bytes]]]:
        seen: list[tuple[int, bytes]] = []
        server, url = await serve([answer(b'{"n":1}'), answer(b'{"n":2}'), answer(b"")], seen)
        connection = Connection(url, {"Authorization": "Bearer k"})
        replies = [(await connection.post_json("/a", {"x": 1})).json(), (await connection.post_json("/b", [2])).json(),
                   (await connection.get("/c")).body]
        await connection.close()
        server.close()
        return replies, seen

    replies, seen = asyncio.run(run())

    assert replies == [{"n": 1}, {"n": 2}, b""]
    assert [number for number, _ in seen] == [1, 1, 1]
    first = seen[0][1].decode()
    assert first.startswith("POST /a HTTP/1.1\r\n") and "Authorization: Bearer k\r\n" in first
    assert first.endswith('\r\n\r\n{"x":1}') and "Content-Length: 7\r\n" in first
    assert seen[2][1].decode().startswith("GET /c HTTP/1.1\r\n")


def test_a_connection_the_server_closes_or_left_idle_is_opened_again():
    async def run() -> list[int]:
        seen: list[tuple[int, bytes]] = []
        server, url = await serve([answer(b"1", "Connection: close"), answer(b"2"), answer(b"3")], seen)
        connection = Connection(url)
        await connection.get("/")
        await connection.get("/")
        connection.IDLE_SECONDS = 0.0  # as if it had waited past the server's keep-alive timeout
        await asyncio.sleep(0.01)
        await connection.get("/")
        await connection.close()
        server.close()
        return [number for number, _ in seen]

    assert asyncio.run(run()) == [1, 2, 3]


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na",
    b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
], ids=["chunked", "http-1.0", "cut-short"])
def test_an_answer_it_cannot_read_whole_is_an_error_not_a_guess(reply: bytes):
    async def run() -> None:
        server, url = await serve([reply], [])
        try:
            await Connection(url, timeout=5).get("/")
        finally:
            server.close()

    with pytest.raises(HttpError):
        asyncio.run(run())


@pytest.fixture
def uvicorn_url() -> Iterator[str]:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, object]:
        return {"got": await request.json(), "auth": request.headers.get("authorization")}

    with served_on_a_port(app) as url:
        yield url


def test_the_service_s_own_server_is_read_request_after_request(uvicorn_url: str):
    async def run() -> list[object]:
        connection = Connection(uvicorn_url, {"Authorization": "Bearer k"})
        replies = [await connection.post_json("/echo", {"i": i}) for i in range(3)]
        await connection.close()
        return [(r.status, r.json()) for r in replies]

    assert asyncio.run(run()) == [(200, {"got": {"i": i}, "auth": "Bearer k"}) for i in range(3)]
