"""The event index as the read use cases need it: brought to the chain's head first, and who sees which
organisations' rows (`ledger_service.audit.access`, README: What each role sees)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from ledger_service.audit.access import Viewer, member_orgs, shows_parties, viewer_from
from ledger_service.services.caller import Caller


class Index(Protocol):
    """The index worker: `index_up_to_date()` brings the index to the chain's head (one sync at a time)."""

    def index_up_to_date(self) -> int: ...


@dataclass(frozen=True)
class IndexedViews:
    index: Index
    sessions: sessionmaker[Session]

    def fresh(self) -> None:
        """Bring the index up to the chain's head before a read."""
        self.index.index_up_to_date()

    def viewer(self, caller: Caller) -> Viewer:
        """What the caller may see of other organisations, from an index brought up to the chain's head; the
        caller's organisation and roles are the chain's (already checked active)."""
        self.fresh()
        with self.sessions() as session:
            return viewer_from(session, caller.address, caller.member.org_id, caller.member.roles)

    def names_parties(self, caller: Caller) -> Callable[..., bool]:
        """Whether the caller is shown the parties of a trade or order with these addresses (one of them is of
        an organisation it sees)."""
        sees = self.viewer(caller)
        with self.sessions() as session:
            orgs = member_orgs(session)
        return lambda *addresses: shows_parties(sees, *(orgs.get(a) for a in addresses))
