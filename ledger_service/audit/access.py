"""Who may see what: a regulator sees everything; any other member only its own organisation's
data. The API enforces these rules with the helpers below, on the indexed membership."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.audit.results import AssetTrace, LevelTotal, ReportTrace
from ledger_service.db.models import ChainMember


class AccessDenied(PermissionError):
    pass


@dataclass(frozen=True)
class Viewer:
    account: str
    org_id: int
    regulator: bool

    def can_see(self, org_id: int | None) -> bool:
        return self.regulator or (org_id is not None and org_id == self.org_id)

    def require(self, org_id: int | None) -> None:
        if not self.can_see(org_id):
            raise AccessDenied(f"{self.account} (organisation {self.org_id}) may not see organisation {org_id}")


def viewer_of(session: Session, account: str) -> Viewer:
    """The viewer an account is, from the indexed membership: only active members see anything."""
    member = session.get(ChainMember, account)
    if member is None or member.status != "active":
        raise AccessDenied(f"{account} is not an active member")
    return Viewer(account, member.org_id, "REGULATOR" in member.roles)


def report_trace_for(viewer: Viewer, trace: ReportTrace) -> ReportTrace:
    viewer.require(trace.org_id)
    return trace


def require_in_park(viewer: Viewer, park_org_id: int, parent_of_own_org: int | None) -> None:
    """A regulator may drill down into any park; another member only into the park it belongs to, as a
    member of the park organisation itself or of one of its enterprises (`parent_of_own_org`)."""
    if viewer.regulator or viewer.org_id == park_org_id or parent_of_own_org == park_org_id:
        return
    raise AccessDenied(f"organisation {viewer.org_id} is neither park {park_org_id} nor one of its enterprises")


def drill_down_for(viewer: Viewer, park: LevelTotal) -> LevelTotal:
    """The whole park for a regulator; for any other member only its own organisation's branch: an
    enterprise's member its enterprise, a member of the park organisation the park's own facilities."""
    if viewer.regulator:
        return park
    own = [e for e in park.children if e.label == str(viewer.org_id)]
    if not own:
        raise AccessDenied(f"organisation {viewer.org_id} has no data in park {park.label}")
    return LevelTotal(park.level, park.label, own[0].sum_mg, own[0].count, own)


def asset_trace_for(viewer: Viewer, trace: AssetTrace, org_of: dict[str, int]) -> AssetTrace:
    """A member sees the hops its organisation's accounts took part in and its own holdings;
    `org_of` maps addresses to organisations (from the indexed members)."""
    if viewer.regulator:
        return trace

    def own(address: str) -> bool:
        return org_of.get(address) == viewer.org_id

    return replace(trace, hops=[h for h in trace.hops if own(h.from_address) or own(h.to_address)],
                   holders=[h for h in trace.holders if h.org_id == viewer.org_id])


def member_orgs(session: Session) -> dict[str, int]:
    return dict(session.execute(select(ChainMember.account, ChainMember.org_id)).all())
