"""JSON-RPC posts to a node over kept-alive HTTP/1.1 connections, one per thread (`http.client`).

The service posts small JSON-RPC batches (a group's simulations, sends, receipt polls) many times a
second from many threads; a general HTTP client's per-request work (URL and header models, hooks,
pool bookkeeping) cost more than the node's answer. This posts bytes on a connection the thread keeps.
A connection the node closed while it was idle is noticed on the next post, which is then made once on a
new connection; any other failure is the caller's to retry (`ChainClient.request`).
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


class NodeHttpError(RuntimeError):
    """The node's HTTP server answered with an error status (not a JSON-RPC error)."""

    def __init__(self, status: int, reason: str, url: str) -> None:
        super().__init__(f"the node at {url} answered HTTP {status} {reason}")
        self.status = status


class JsonRpcHttp:
    """POSTs JSON to one endpoint URL (`http://` or `https://`, with an optional path, query and user info)."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if parts.username is not None:
            user_info = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(user_info).decode()
        self._timeout = timeout
        self._local = threading.local()
        self._open: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()

    def post(self, payload: Any) -> Any:
        """The decoded JSON answer to `payload`."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        kept: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if kept is not None:
            try:
                return self._exchange(kept, body)
            except (ConnectionError, http.client.BadStatusLine):
                pass  # closed by the node while idle, most likely (dropped): once more on a new connection
        return self._exchange(self._connect(), body)

    def close(self) -> None:
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            connection.close()

    def _exchange(self, connection: http.client.HTTPConnection, body: bytes) -> Any:
        try:
            connection.request("POST", self._target, body, self._headers)
            reply = connection.getresponse()
            data = reply.read()
        except BaseException:
            self._drop(connection)
            raise
        if reply.will_close:
            self._drop(connection)
        if reply.status >= 400:
            raise NodeHttpError(reply.status, reply.reason, self.url)
        return json.loads(data)

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        connection = kind(self._host, self._port, timeout=self._timeout)
        with self._lock:
            self._open.add(connection)
        self._local.connection = connection
        return connection

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        with self._lock:
            self._open.discard(connection)
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None
