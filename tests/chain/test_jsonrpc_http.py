"""JSON-RPC over kept-alive connections: what a node's HTTP server sees, and what a closed connection,
an error status or an absent node do to a post."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ledger_core.chain.jsonrpc_http import TRANSPORT_ERRORS, JsonRpcHttp, NodeHttpError


class Node(ThreadingHTTPServer):
    """Echoes each JSON-RPC call's method as its result; remembers what it was sent."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.connections = 0
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.status = 200
        self.hang_up_after_answer = False  # close without saying so, as a node's idle timeout does

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Node

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:
        calls = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, dict(self.headers)))
        body = json.dumps([{"jsonrpc": "2.0", "id": c["id"], "result": c["method"]} for c in calls]).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.server.hang_up_after_answer:
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def node() -> Iterator[Node]:
    server = Node()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def call(method: str, id_: int = 1) -> list[dict[str, object]]:
    return [{"jsonrpc": "2.0", "id": id_, "method": method, "params": []}]


def test_posts_from_one_thread_share_one_kept_alive_connection(node: Node):
    rpc = JsonRpcHttp(node.url, timeout=5)
    answers = [rpc.post(call("eth_blockNumber", i)) for i in range(20)]
    assert [a[0]["result"] for a in answers] == ["eth_blockNumber"] * 20
    assert node.connections == 1
    rpc.close()


def test_each_thread_keeps_its_own_connection(node: Node):
    rpc = JsonRpcHttp(node.url, timeout=5)
    threads = [threading.Thread(target=lambda: [rpc.post(call("eth_chainId")) for _ in range(5)]) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(node.requests) == 15
    assert node.connections == 3
    rpc.close()


def test_the_url_s_path_query_and_credentials_are_used(node: Node):
    rpc = JsonRpcHttp(node.url.replace("http://", "http://alice:s%40cret@") + "/rpc/v1?tenant=park", timeout=5)
    rpc.post(call("eth_chainId"))
    path, headers = node.requests[0]
    assert path == "/rpc/v1?tenant=park"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:s@cret").decode()
    assert headers["Content-Type"] == "application/json"
    assert "s%40cret" not in rpc.url and "alice" not in rpc.url  # the URL named in errors carries no secret
    rpc.close()


def test_a_connection_the_node_closed_while_idle_is_replaced_without_failing_the_post(node: Node):
    rpc = JsonRpcHttp(node.url, timeout=5)
    node.hang_up_after_answer = True
    answers = [rpc.post(call("eth_gasPrice", i))[0]["result"] for i in range(4)]
    assert answers == ["eth_gasPrice"] * 4
    assert node.connections == 4
    rpc.close()


def test_an_error_status_is_raised_as_such_not_as_a_transport_failure(node: Node):
    rpc = JsonRpcHttp(node.url, timeout=5)
    node.status = 503
    with pytest.raises(NodeHttpError, match="HTTP 503") as raised:
        rpc.post(call("eth_chainId"))
    assert raised.value.status == 503
    assert not isinstance(raised.value, TRANSPORT_ERRORS)
    node.status = 200
    assert rpc.post(call("eth_chainId"))[0]["result"] == "eth_chainId"
    rpc.close()


def test_an_absent_node_is_a_transport_failure(node: Node):
    url = node.url
    node.shutdown()
    node.server_close()
    with pytest.raises(TRANSPORT_ERRORS):
        JsonRpcHttp(url, timeout=2).post(call("eth_chainId"))


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8546", "127.0.0.1:8545", "http://"])
def test_only_http_urls_are_taken(url: str):
    with pytest.raises(ValueError, match="not an http"):
        JsonRpcHttp(url, timeout=1)
