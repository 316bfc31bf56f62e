"""Limits at the edge of the application: request body sizes, rate limits, security headers.

- `BodyLimit` (`ledger_core.body_limit`, shared with the oracles' push endpoint) refuses a body larger than its
  route's limit with 413 before anything else runs; `upload_routes` names the routes with the larger upload limit.
- `TokenBuckets` hold the rate limits: one bucket per API key (or signing address) for authenticated requests and
  one per client address for failed authentications (`ledger_service.api.deps`). They live in the process: with
  several service processes each keeps its own buckets, so a client may reach the limit once per process.
- `SecurityHeaders` (pure ASGI) puts `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
  `X-Frame-Options: DENY` and a `Content-Security-Policy` on every response: nothing may load for the JSON API,
  only inline styles for HTML pages (the printable certificate), and the interactive API documentation keeps its
  scripts but may not be framed either.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger_core.config import Settings

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; " \
    "frame-ancestors 'none'"
DOCS_POLICY = "frame-ancestors 'none'"
MAX_BUCKETS = 100_000


# ---------------------------------------------------------------------- rate limits


class TokenBuckets:
    """Token buckets by key: each holds up to `burst` tokens and refills at `rate` per second; a request takes one.
    At most `max_keys` buckets are kept (the least recently used go first; a forgotten bucket is full again)."""

    def __init__(self, rate: float, burst: int, max_keys: int = MAX_BUCKETS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.rate)

    def _wait(self, tokens: float) -> float:
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, key: str) -> float:
        """Take a token: 0 when there was one, otherwise the seconds until there is (nothing is taken)."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self.clock()
            tokens = self._level(key, now)
            wait = self._wait(tokens)
            self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now)
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait

    def wait(self, key: str) -> float:
        """The seconds until `key` has a token (0: it has one); nothing is taken."""
        if not self.enabled:
            return 0.0
        with self._lock:
            return self._wait(self._level(key, self.clock()))


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


# ---------------------------------------------------------------------- body size


def dependants(dependant: Dependant) -> Iterator[Dependant]:
    """The dependant and every dependency under it."""
    yield dependant
    for dependency in dependant.dependencies:
        yield from dependants(dependency)


def api_routes(app: FastAPI) -> list[Any]:
    """The application's API routes with their full paths (`path_format`, `path_regex`, `methods`, `dependant`,
    `endpoint`), included routers' routes among them."""
    return [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]


def upload_routes(app: FastAPI) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """(path pattern, methods) of the application's routes that take a file upload."""
    found = []
    for route in api_routes(app):
        if any(isinstance(p.field_info, params.File) for d in dependants(route.dependant) for p in d.body_params):
            found.append((route.path_regex, frozenset(route.methods or ())))
    return found


# ---------------------------------------------------------------------- security headers


class SecurityHeaders:
    """Security headers on every response (those a response sets itself are kept)."""

    def __init__(self, app: ASGIApp, docs_paths: Iterable[str | None] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(p for p in docs_paths if p)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in self.docs_paths

        async def hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                html = headers.get("content-type", "").startswith("text/html")
                headers.setdefault("Content-Security-Policy",
                                   DOCS_POLICY if docs else HTML_POLICY if html else API_POLICY)
            await send(message)

        await self.app(scope, receive, hardened)


class RateLimits:
    """The application's rate buckets: per API key (or signing address), and per client address for failed
    authentications."""

    def __init__(self, per_key: TokenBuckets, auth_failures: TokenBuckets) -> None:
        self.per_key = per_key
        self.auth_failures = auth_failures

    @classmethod
    def of(cls, settings: Settings) -> RateLimits:
        return cls(TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst),
                   TokenBuckets(settings.auth_failures_per_minute / 60, settings.auth_failures_burst))
