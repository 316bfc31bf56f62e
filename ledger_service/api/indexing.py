"""An up-to-date index for the endpoints that read it (order books, trades, closes, holdings,
retirement certificates).

`fresh_index(runtime)` brings the index to the chain's head before a read, through the runtime's index
worker (`runtime.indexing.index_up_to_date()`): one sync at a time in this process, one process at a time
on a shared database, and nothing read when the head is what was indexed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ledger_service.api.deps import Caller, RuntimeDep
from ledger_service.audit.access import Viewer, viewer_from
from ledger_service.runtime import Runtime


def fresh_index(runtime: Runtime) -> None:
    """Bring the index up to the chain's head."""
    runtime.indexing.index_up_to_date()


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
