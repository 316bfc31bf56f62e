"""Early-warning use cases: an enterprise's emissions for a year projected from its anchored meter data so far,
against the allowances and credits it holds and has surrendered (`ledger_service.forecast`), and the same for
every enterprise of a park, largest projected shortfall first.

Who sees what is the compliance status's rule: the enterprise, its park's administrators, the verifiers of its
reports and regulators (`ledger_service.audit.access`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ledger_core.chain.client import ChainClient
from ledger_core.chain.suite import Suite
from ledger_service import allowances, forecast
from ledger_service.audit.access import park_rows
from ledger_service.forecast import Cover, Forecast
from ledger_service.membership import Directory, OrgKind
from ledger_service.services.allowances import require_sees_enterprise
from ledger_service.services.caller import Caller
from ledger_service.services.visibility import IndexedViews


@dataclass(frozen=True)
class ParkForecast:
    park_id: int
    year: int
    enterprises: list[Forecast]  # the rows the caller sees, largest projected shortfall first (no data last)


def _by_shortfall(f: Forecast) -> tuple[bool, Decimal, int]:
    shortfall = f.projected_shortfall_t
    return (shortfall is None, -(shortfall or Decimal(0)), f.org_id)


@dataclass(frozen=True)
class ForecastService:
    chain: ChainClient
    suite: Suite
    directory: Directory
    views: IndexedViews

    def enterprise(self, caller: Caller, org_id: int, year: int) -> Forecast:
        """The enterprise's projection for the year and what covers it."""
        require_sees_enterprise(self.directory, self.views, caller, org_id)
        return self._forecasts([org_id], year)[0]

    def park(self, caller: Caller, park_id: int, year: int) -> ParkForecast:
        """Every enterprise of the park the caller sees, largest projected shortfall first."""
        sees = self.views.park_viewer(caller, self.directory, park_id, "a park's compliance is visible to its "
                                      "members, the verifiers of its enterprises and regulators")
        enterprises = [o.org_id for o in self.directory.children(park_id) if o.kind == OrgKind.ENTERPRISE]
        shown = park_rows(sees, park_id, enterprises, lambda org_id: org_id)
        return ParkForecast(park_id, year, sorted(self._forecasts(shown, year), key=_by_shortfall))

    def _forecasts(self, org_ids: list[int], year: int) -> list[Forecast]:
        """Each enterprise's forecast: anchors and holdings from the index (brought up to the chain's head by the
        viewer's check), surrenders and the credit cap from the chain."""
        if not org_ids:
            return []
        cap_bps = int(self.suite.view(self.chain, allowances.LEDGER, "creditCapBps"))
        out = []
        with self.views.sessions() as session:
            for org_id in org_ids:
                projection = forecast.project(year, forecast.anchored_windows(session, org_id, year),
                                              forecast.anchored_windows(session, org_id, year - 1))
                held, credits = forecast.holdings(session, org_id, year)
                status = allowances.compliance_status(self.chain, self.suite, org_id, year)
                out.append(Forecast(org_id, year, projection, Cover(
                    held, status.allowances_surrendered, credits, status.credits_surrendered, cap_bps)))
        return out
