"""Who sees what: the service's one rule table for every view that spans organisations.

A viewer has standings: REGULATOR (the role), PARK_ADMINISTRATOR (a member of a park organisation),
VERIFIER (the role) and, always, MEMBER (its own organisation). `RULES` gives, for each subject and
standing, which organisations' rows the viewer sees; a viewer with several standings sees the union.

- emissions and compliance (compliance status, park drill-downs, report traces): a regulator every
  organisation; a park administrator its park (the park's own meter data and its enterprises); a
  verifier the enterprises whose reports a member of its organisation verified or rejected; any
  member its own organisation.
- holdings and trades (asset traces, trade history, order books and orders): a regulator every
  organisation; anyone else its own organisation. Rows of others are anonymised (trades and orders
  keep amount and price, not parties) or left out (hops and holdings of an asset trace).
- product footprint data (EPD drafts before publication, production output records): a regulator and a
  verifier every organisation (a verifier attests drafts of any organisation but its own); anyone else its own
  organisation. Published EPDs, PCRs and products are registry facts every member sees.

A park view (park compliance, drill-down) opens for a member of the park or of one of its enterprises
and for a viewer who sees at least one of its organisations; it then shows the park's total and the
rows the viewer sees. The API applies these rules only through this module, on the indexed membership.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.db.models import ChainMember, ChainOrganisation, ChainReportEvent
from ledger_service.audit.results import AssetTrace, LevelTotal, ReportTrace
from ledger_service.membership import OrgKind


class Standing(StrEnum):
    REGULATOR = "regulator"
    PARK_ADMINISTRATOR = "park administrator"
    VERIFIER = "verifier"
    MEMBER = "member"


class Subject(StrEnum):
    EMISSIONS = "emissions and compliance"
    HOLDINGS = "holdings and trades"
    FOOTPRINT_DATA = "product footprint drafts and output"


class Reach(StrEnum):
    ALL = "every organisation"
    PARK = "its park and the park's enterprises"
    ATTESTED = "the enterprises whose reports its organisation verified or rejected"
    OWN = "its own organisation"


RULES: dict[Subject, dict[Standing, Reach]] = {
    Subject.EMISSIONS: {Standing.REGULATOR: Reach.ALL, Standing.PARK_ADMINISTRATOR: Reach.PARK,
                        Standing.VERIFIER: Reach.ATTESTED, Standing.MEMBER: Reach.OWN},
    Subject.HOLDINGS: {Standing.REGULATOR: Reach.ALL, Standing.PARK_ADMINISTRATOR: Reach.OWN,
                       Standing.VERIFIER: Reach.OWN, Standing.MEMBER: Reach.OWN},
    Subject.FOOTPRINT_DATA: {Standing.REGULATOR: Reach.ALL, Standing.PARK_ADMINISTRATOR: Reach.OWN,
                             Standing.VERIFIER: Reach.ALL, Standing.MEMBER: Reach.OWN},
}
"""Subject -> standing -> whose rows the viewer sees (the README's "What each role sees")."""
T = TypeVar("T")


class AccessDenied(PermissionError):
    pass


@dataclass(frozen=True)
class Viewer:
    account: str
    org_id: int
    regulator: bool
    park_id: int | None = None  # the park its organisation is or belongs to
    verifier: bool = False
    attested: frozenset[int] = frozenset()  # enterprises whose reports its organisation verified or rejected

    @property
    def park_administrator(self) -> bool:
        return self.park_id is not None and self.park_id == self.org_id

    @property
    def standings(self) -> tuple[Standing, ...]:
        held = ((Standing.REGULATOR, self.regulator), (Standing.PARK_ADMINISTRATOR, self.park_administrator),
                (Standing.VERIFIER, self.verifier), (Standing.MEMBER, True))
        return tuple(s for s, has in held if has)

    def sees(self, subject: Subject, org_id: int | None, park_of: int | None = None) -> bool:
        """Whether rows of organisation `org_id` (an enterprise of park `park_of`, if given) are shown."""
        if org_id is None:
            return False
        for standing in self.standings:
            reach = RULES[subject][standing]
            if (reach is Reach.ALL or (reach is Reach.OWN and org_id == self.org_id)
                    or (reach is Reach.PARK and self.org_id in (org_id, park_of))
                    or (reach is Reach.ATTESTED and org_id in self.attested)):
                return True
        return False

    def can_see(self, org_id: int | None, park_of: int | None = None) -> bool:
        return self.sees(Subject.EMISSIONS, org_id, park_of)

    def require(self, org_id: int | None, park_of: int | None = None) -> None:
        if not self.can_see(org_id, park_of):
            raise AccessDenied(f"{self.account} (organisation {self.org_id}) may not see organisation {org_id}")


def viewer_of(session: Session, account: str) -> Viewer:
    """The viewer an account is, from the indexed membership: only active members see anything."""
    member = session.get(ChainMember, account)
    if member is None or member.status != "active":
        raise AccessDenied(f"{account} is not an active member")
    return viewer_from(session, account, member.org_id, member.roles)


def viewer_from(session: Session, account: str, org_id: int, roles: Iterable[str]) -> Viewer:
    """The viewer of an active member of `org_id` holding `roles`: its park and, for a verifier, the
    enterprises its organisation attested, from the index."""
    roles = set(roles)
    org = session.execute(select(ChainOrganisation.kind, ChainOrganisation.parent_id)
                          .where(ChainOrganisation.org_id == org_id)).first()
    park_id = None
    if org is not None and org.kind == OrgKind.PARK:
        park_id = org_id
    elif org is not None and org.kind == OrgKind.ENTERPRISE and org.parent_id:
        park_id = org.parent_id
    attested: frozenset[int] = frozenset()
    if "VERIFIER" in roles:
        colleagues = select(ChainMember.account).where(ChainMember.org_id == org_id)
        attested = frozenset(session.scalars(select(ChainReportEvent.org_id).distinct().where(
            ChainReportEvent.kind.in_(("verified", "rejected")), ChainReportEvent.actor.in_(colleagues))))
    return Viewer(account, org_id, "REGULATOR" in roles, park_id, "VERIFIER" in roles, attested)


def park_of(session: Session, org_id: int) -> int | None:
    """The parent of an organisation (an enterprise's park), from the index."""
    return session.scalar(select(ChainOrganisation.parent_id).where(ChainOrganisation.org_id == org_id))


def report_trace_for(viewer: Viewer, trace: ReportTrace, park: int | None = None) -> ReportTrace:
    """The whole trace when the viewer sees the report's enterprise (of park `park`); refused otherwise."""
    viewer.require(trace.org_id, park)
    return trace


def require_in_park(viewer: Viewer, park_org_id: int, enterprises: Iterable[int] = ()) -> None:
    """A park view opens for a member of the park organisation or of one of its enterprises, and for a
    viewer who sees one of its organisations (the park's `enterprises`): a regulator any park, a
    verifier the parks of the enterprises it attested."""
    if viewer.park_id == park_org_id or any(viewer.can_see(o, park_org_id)
                                            for o in (park_org_id, *enterprises)):
        return
    raise AccessDenied(f"organisation {viewer.org_id} is neither park {park_org_id} nor one of its enterprises"
                       + (", nor attested one of them" if viewer.verifier else ""))


def park_rows(viewer: Viewer, park_org_id: int, rows: Iterable[T], org_id_of: Callable[[T], int]) -> list[T]:
    """The rows of a park view (one per organisation of the park) the viewer sees."""
    return [row for row in rows if viewer.can_see(org_id_of(row), park_org_id)]


def drill_down_for(viewer: Viewer, park: LevelTotal) -> LevelTotal:
    """The park's total with the branches the viewer sees: its enterprises' (labelled with their id) and
    the park's own facilities (labelled with the park's id)."""
    park_id = int(park.label)
    shown = park_rows(viewer, park_id, park.children, lambda child: int(child.label))
    return park if len(shown) == len(park.children) else replace(park, children=shown)


def asset_trace_for(viewer: Viewer, trace: AssetTrace, org_of: dict[str, int]) -> AssetTrace:
    """The hops an account of an organisation the viewer sees took part in, and those organisations'
    holdings; `org_of` maps addresses to organisations (from the indexed members)."""
    def shown(address: str) -> bool:
        return viewer.sees(Subject.HOLDINGS, org_of.get(address))

    if all(shown(h.from_address) or shown(h.to_address) for h in trace.hops) and all(
            viewer.sees(Subject.HOLDINGS, h.org_id) for h in trace.holders):
        return trace
    return replace(trace, hops=[h for h in trace.hops if shown(h.from_address) or shown(h.to_address)],
                   holders=[h for h in trace.holders if viewer.sees(Subject.HOLDINGS, h.org_id)])


def shows_parties(viewer: Viewer, *org_ids: int | None) -> bool:
    """Whether a trade or an order names its parties to the viewer: when it sees one of them."""
    return any(viewer.sees(Subject.HOLDINGS, o) for o in org_ids)


def member_orgs(session: Session) -> dict[str, int]:
    return dict(session.execute(select(ChainMember.account, ChainMember.org_id)).all())
