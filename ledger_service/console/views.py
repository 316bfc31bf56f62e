"""What each console page shows, from the same use cases (and the same caller) the API would use: a page
holds no SQL and no rule of its own. A use case that refuses raises its `Refusal`, which the page shows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ledger_core.db.models import MeterDevice, Reading
from ledger_service.audit.report_trace import year_window
from ledger_service.audit.results import LevelTotal
from ledger_service.console import charts
from ledger_service.console.i18n import Locale
from ledger_service.credits import Certificate, Holding
from ledger_service.emissions import Report
from ledger_service.health import Readiness
from ledger_service.identity.api_keys import KeyInfo
from ledger_service.membership import MemberView, OrgKind, OrgView
from ledger_service.services.caller import Caller, require_member
from ledger_service.services.errors import Refusal
from ledger_service.services.wiring import Services
from oracles.measures import MEASURE_EMISSIONS

LISTED = 500  # rows a page asks a use case for at once: a park's enterprises, devices, a year's weekly windows


def _status(obligation: int, shortfall: int, finalized: bool) -> str:
    """The message key of a compliance row's status."""
    if not finalized:
        return "status.open"
    return "status.shortfall" if shortfall > 0 else "status.compliant"


@dataclass(frozen=True)
class ComplianceRow:
    org_id: int
    name: str
    obligation: int
    allowances: int
    credits: int
    shortfall: int
    status: str  # a message key


@dataclass(frozen=True)
class Dashboard:
    park: OrgView
    year: int
    total: ComplianceRow
    rows: list[ComplianceRow]
    chart: str
    months: list[tuple[int, int]]  # (year, month) of the columns
    monthly: list[tuple[ComplianceRow, list[int]]]  # mgCO2e per month, from anchored windows
    quarantine: dict[str, dict[str, int]]  # enterprise name -> reason -> count
    health: Readiness


def _name(services: Services, org_id: int) -> str:
    try:
        return services.organisations.organisation(org_id).name
    except Refusal:
        return str(org_id)


def dashboard(services: Services, readiness: Readiness, caller: Caller, locale: Locale, park_id: int,
              year: int) -> Dashboard:
    status = services.allowances.park_status(caller, park_id, year)  # the park view's own rule (403 otherwise)
    park = services.organisations.organisation(park_id)
    rows = [ComplianceRow(s.org_id, _name(services, s.org_id), s.obligation, s.allowances_surrendered,
                          s.credits_surrendered, s.shortfall, _status(s.obligation, s.shortfall, s.finalized))
            for s in status.enterprises]
    p = status.park
    total = ComplianceRow(park_id, park.name, p.obligation, p.allowances_surrendered, p.credits_surrendered,
                          p.shortfall, _status(p.obligation, p.shortfall, p.finalized))
    series = [charts.Series(locale.t("dashboard.obligation"), "bar-obligation"),
              charts.Series(locale.t("dashboard.surrendered"), "bar-surrendered")]
    chart = charts.bars(locale.t("dashboard.chart_title", year=year), series, [
        charts.Row(r.name, (r.obligation, r.allowances + r.credits),
                   (locale.tonnes(r.obligation), locale.tonnes(r.allowances + r.credits))) for r in rows])
    start, end = year_window(year)
    months = [(year, m) for m in range(1, 13)]
    monthly: list[tuple[ComplianceRow, list[int]]] = []
    quarantine: dict[str, dict[str, int]] = {}
    for row in rows:
        try:
            anchors = services.meters.anchors(caller, row.org_id, 0, LISTED).items
            counts = services.meters.quarantine(caller, row.org_id, 0, 1).by_reason
        except Refusal as exc:
            if exc.status != 403:
                raise
            continue  # the meter data's own rule: this caller sees the row's compliance, not its meters
        by_month: dict[int, int] = defaultdict(int)
        for a in anchors:
            # A weekly window counts in the month it starts in (windows do not split at month ends).
            if a.measure == MEASURE_EMISSIONS and start <= a.window_start < end:
                by_month[datetime.fromtimestamp(a.window_start, UTC).month] += a.total_mg
        monthly.append((row, [by_month[m] for _, m in months]))
        if counts:
            quarantine[row.name] = dict(sorted(counts.items()))
    return Dashboard(park, year, total, rows, chart, months, monthly, quarantine, readiness)


@dataclass(frozen=True)
class Tree:
    park: OrgView
    year: int
    root: LevelTotal
    names: dict[str, str]  # enterprise id (a node's label) -> name
    verified: bool  # nodes were rebuilt from their readings


def drilldown(services: Services, caller: Caller, park_id: int, year: int, verify: bool) -> Tree:
    found = services.audit.park_drilldown(caller, park_id, year=year, verify_roots=verify)
    names = {c.label: _name(services, int(c.label)) for c in found.tree.children}
    return Tree(services.organisations.organisation(park_id), year, found.tree, names, verify)


@dataclass(frozen=True)
class DeviceReadings:
    device_id: str
    kind: str
    enterprise: int
    facility: str
    workshop: str
    readings: list[Reading]
    total: int
    offset: int
    limit: int


def readings(services: Services, caller: Caller, device_id: str, offset: int, limit: int) -> DeviceReadings:
    device = services.meters.device(caller, device_id)
    listed = services.meters.readings(caller, device_id, offset, limit)
    return DeviceReadings(device.device_id, device.kind, device.enterprise_org_id, device.facility, device.workshop,
                          list(listed.items), listed.total, offset, limit)


@dataclass(frozen=True)
class Holder:
    member: MemberView
    allowances: dict[int, int]  # vintage -> tCO2e
    credits: list[Holding]


@dataclass(frozen=True)
class EnterpriseHome:
    org: OrgView
    year: int
    position: ComplianceRow
    gap: int  # tCO2e still to surrender (the shortfall), 0 when covered
    reports: list[Report]
    devices: list[tuple[MeterDevice, Reading | None]]  # device, its last reading
    holders: list[Holder]
    certificates: list[Certificate]


def enterprise(services: Services, caller: Caller, org_id: int, year: int) -> EnterpriseHome:
    s = services.allowances.enterprise_status(caller, org_id, year)  # the emissions rule (403 otherwise)
    org = services.organisations.organisation(org_id)
    position = ComplianceRow(org_id, org.name, s.obligation, s.allowances_surrendered, s.credits_surrendered,
                             s.shortfall, _status(s.obligation, s.shortfall, s.finalized))
    reports = list(services.emissions.versions(caller, org_id, year, 0, LISTED).items)
    devices: list[tuple[MeterDevice, Reading | None]] = []
    for d in services.meters.devices(caller, org_id, 0, LISTED).items:
        last = services.meters.readings(caller, d.device_id, 0, 1).items
        devices.append((d, last[0] if last else None))
    members = list(services.organisations.members(org_id, 0, LISTED).items)
    holders = []
    for m in members:
        _, balances = services.allowances.balances(caller, m.address, [year - 1, year, year + 1])
        _, held = services.credits.holdings(caller, m.address)
        holders.append(Holder(m, {y: v for y, v in balances.items() if v}, held))
    certificates = services.credits.retirements(caller, [m.address for m in members])
    return EnterpriseHome(org, year, position, max(0, s.shortfall), reports, devices, holders, certificates)


@dataclass(frozen=True)
class OrgMembers:
    org: OrgView
    depth: int
    members: list[MemberView]


@dataclass(frozen=True)
class Registry:
    orgs: list[OrgMembers]
    keys: list[KeyInfo]


def registry(services: Services, caller: Caller) -> Registry:
    """Organisations (each park with its enterprises beneath it), their members, and the API keys: the
    regulator's page, checked as the API checks its regulator endpoints."""
    require_member(caller, "REGULATOR")
    orgs: list[OrgMembers] = []

    def walk(org: OrgView, depth: int) -> None:
        orgs.append(OrgMembers(org, depth, list(services.organisations.members(org.org_id, 0, LISTED).items)))
        for child in services.organisations.hierarchy(org.org_id, 1).descendants:
            walk(child.organisation, depth + 1)

    for top in services.organisations.top_level():
        walk(top, 0)
    return Registry(orgs, list(services.api_keys.list(None, 0, LISTED)))


@dataclass(frozen=True)
class Link:
    href: str
    label: str  # a message key
    name: str = ""


@dataclass
class Home:
    links: list[Link] = field(default_factory=list)


def home(services: Services, caller: Caller, year: int) -> Home:
    """The pages the signed-in member's standing opens (each page still asks its use case)."""
    require_member(caller)
    out = Home()
    member = caller.member
    org = services.organisations.organisation(member.org_id)
    parks: list[OrgView] = []
    if caller.is_regulator:
        parks = [o for o in services.organisations.top_level() if o.kind == OrgKind.PARK]
    elif org.kind == OrgKind.PARK:
        parks = [org]
    elif org.kind == OrgKind.ENTERPRISE and org.parent_id:
        parks = [services.organisations.organisation(org.parent_id)]
    for park in parks:
        out.links.append(Link(f"/console/parks/{park.org_id}?year={year}", "nav.dashboard", park.name))
        out.links.append(Link(f"/console/parks/{park.org_id}/drilldown?year={year}", "nav.drilldown", park.name))
        out.links.append(Link(f"/console/parks/{park.org_id}/warning?year={year}", "nav.warning", park.name))
    if org.kind == OrgKind.ENTERPRISE:
        out.links.append(Link(f"/console/enterprises/{org.org_id}?year={year}", "nav.enterprise", org.name))
        out.links.append(Link(f"/console/enterprises/{org.org_id}/warning?year={year}", "nav.warning", org.name))
    out.links.append(Link("/console/market", "nav.market"))
    if caller.is_regulator:
        out.links.append(Link("/console/members", "nav.members"))
        out.links.append(Link(f"/console/assets?year={year}", "nav.assets"))
    return out
