"""The event index as the read use cases need it: brought to the chain's head first, and who sees which
organisations' rows (`ledger_service.audit.access`, README: What each role sees)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger_core.db.session import autocommit_engine
from ledger_service.audit.access import AccessDenied, Viewer, member_orgs, require_in_park, shows_parties, viewer_from
from ledger_service.membership import Directory, OrgKind
from ledger_service.services.caller import Caller
from ledger_service.services.errors import forbidden, not_found


class Index(Protocol):
    """The index worker: `index_up_to_date()` brings the index to the chain's head (one sync at a time)."""

    def index_up_to_date(self) -> int: ...


@dataclass(frozen=True)
class IndexedViews:
    index: Index
    sessions: sessionmaker[Session]

    def reading(self) -> Session:
        """A session for a use case that only reads: on PostgreSQL its statements run outside a transaction
        (`autocommit_engine`), two round trips fewer per request; SQLite keeps its transaction, which is its
        snapshot of the index. Like any session it takes a connection at its first statement (after `viewer` has
        brought the index up)."""
        return self.sessions() if self._autocommit is None else self.sessions(bind=self._autocommit)

    @cached_property
    def _autocommit(self) -> Engine | None:
        return autocommit_engine(self.sessions)

    def fresh(self) -> None:
        """Bring the index up to the chain's head before a read."""
        self.index.index_up_to_date()

    def viewer(self, caller: Caller, session: Session | None = None) -> Viewer:
        """What the caller may see of other organisations, from an index brought up to the chain's head; the
        caller's organisation and roles are the chain's (already checked active). Read in `session` when given: a
        use case's own that has not read yet (its first statement, and on SQLite its snapshot, come after the
        index is brought up here), so that a request takes one connection."""
        self.fresh()
        if session is not None:
            return viewer_from(session, caller.address, caller.member.org_id, caller.member.roles)
        with self.sessions() as session:
            return viewer_from(session, caller.address, caller.member.org_id, caller.member.roles)

    def names_parties(self, caller: Caller) -> Callable[..., bool]:
        """Whether the caller is shown the parties of a trade or order with these addresses (one of them is of
        an organisation it sees)."""
        sees = self.viewer(caller)
        with self.sessions() as session:
            orgs = member_orgs(session)
        return lambda *addresses: shows_parties(sees, *(orgs.get(a) for a in addresses))

    def park_viewer(self, caller: Caller, directory: Directory, park_id: int, why: str = "") -> Viewer:
        """What the caller sees, once it is known that `park_id` is a registered park the caller may look into
        (404 for no such park, 403 with `why` before the access rule's reason otherwise)."""
        park = directory.organisation(park_id)
        if park is None or park.kind != OrgKind.PARK:
            raise not_found(f"organisation {park_id} is not a registered park", "UnknownOrganisation", orgId=park_id)
        sees = self.viewer(caller)
        try:
            require_in_park(sees, park_id, [o.org_id for o in directory.children(park_id)])
        except AccessDenied as exc:
            raise forbidden(f"{why} ({exc})" if why else str(exc), "NotYourData", orgId=park_id) from None
        return sees
