"""An up-to-date index for the endpoints that read it (order books, trades, closes, holdings,
retirement certificates).

`fresh_index(runtime)` brings the index to the chain's head before a read. It uses
`Runtime.index_up_to_date()` when the runtime provides one (a background indexer);
otherwise it keeps one `EventIndexer` per runtime and syncs it in the request, serialised by
a lock. Chain reads go through the runtime's `ChainClient` (retries, and the embedded chain's
lock).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import Annotated

from fastapi import Depends

from ledger_service.api.deps import Caller, RuntimeDep
from ledger_service.audit.access import Viewer, viewer_from
from ledger_service.chain.client import ChainClient
from ledger_service.indexer.catalog import EventCatalog, RawLog
from ledger_service.indexer.indexer import EventIndexer
from ledger_service.indexer.source import BlockHeader, ChainSource, RpcSource, Web3Source
from ledger_service.runtime import Runtime


class ClientSource:
    """A chain source whose every read goes through a ChainClient."""

    def __init__(self, chain: ChainClient, inner: ChainSource) -> None:
        self.chain = chain
        self.inner = inner

    def head(self) -> int:
        return self.chain.request(self.inner.head)

    def logs(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[RawLog]:
        return self.chain.request(lambda: self.inner.logs(from_block, to_block, addresses))

    def headers(self, numbers: Iterable[int]) -> dict[int, BlockHeader]:
        wanted = list(numbers)
        return self.chain.request(lambda: self.inner.headers(wanted))


_indexers: weakref.WeakKeyDictionary[Runtime, tuple[EventIndexer, threading.Lock]] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def request_indexer(runtime: Runtime) -> tuple[EventIndexer, threading.Lock]:
    """The runtime's request-driven indexer (made on first use) and the lock around its syncs."""
    with _guard:
        found = _indexers.get(runtime)
        if found is None:
            inner: ChainSource = RpcSource(runtime.chain.url) if runtime.chain.url else Web3Source(runtime.chain.w3)
            catalog = EventCatalog(runtime.artifacts, runtime.deployment.addresses)
            indexer = EventIndexer(runtime.engine, ClientSource(runtime.chain, inner), catalog,
                                   start_block=runtime.deployment.block)
            found = _indexers[runtime] = (indexer, threading.Lock())
        return found


def fresh_index(runtime: Runtime) -> None:
    """Bring the index up to the chain's head (or let the runtime's own indexer do it)."""
    own = getattr(runtime, "index_up_to_date", None)
    if callable(own):
        own()
        return
    indexer, lock = request_indexer(runtime)
    with lock:
        indexer.sync()


def _fresh(runtime: RuntimeDep) -> Runtime:
    fresh_index(runtime)
    return runtime


FreshIndex = Annotated[Runtime, Depends(_fresh)]
"""A dependency: the runtime, with its index brought up to the chain's head first."""


def viewer(runtime: Runtime, caller: Caller) -> Viewer:
    """What the caller may see of other organisations (`ledger_service.audit.access`), from an index brought
    up to the chain's head; the caller's organisation and roles are the chain's (already checked active)."""
    fresh_index(runtime)
    with runtime.sessions() as session:
        return viewer_from(session, caller.address, caller.member.org_id, caller.member.roles)
