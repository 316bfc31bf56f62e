"""Builds every area's service once from the runtime's parts: the only place that knows the runtime.
Use cases receive exactly what they need through their service object."""

from __future__ import annotations

from dataclasses import dataclass

from ledger_service.gec import PRODUCTION_INTERFACE
from ledger_service.runtime import Runtime
from ledger_service.services.allowances import AllowanceService
from ledger_service.services.api_keys import ApiKeyService
from ledger_service.services.audit import AuditService
from ledger_service.services.credits import CreditService
from ledger_service.services.embedded_rpc import EmbeddedRpc
from ledger_service.services.emissions import EmissionService
from ledger_service.services.footprints import FootprintService, allowed_hosts
from ledger_service.services.forecast import ForecastService
from ledger_service.services.gec import GecService
from ledger_service.services.market import MarketService
from ledger_service.services.members import MemberService
from ledger_service.services.meters import MeterService
from ledger_service.services.notary import NotaryService
from ledger_service.services.organisations import OrganisationService
from ledger_service.services.product_output import ProductOutputService
from ledger_service.services.sending import Sender
from ledger_service.services.settlement import SettlementService
from ledger_service.services.supplier_proofs import SupplierProofService
from ledger_service.services.transactions import TransactionService
from ledger_service.services.upgrades import UpgradeService
from ledger_service.services.visibility import IndexedViews


@dataclass(frozen=True)
class Services:
    sender: Sender
    # Area services are added below, one field each (members, organisations, api_keys, meters, emissions,
    # notary, transactions, settlement, credits, market, allowances, audit).
    credits: CreditService
    allowances: AllowanceService
    market: MarketService
    audit: AuditService
    meters: MeterService
    emissions: EmissionService
    members: MemberService
    organisations: OrganisationService
    api_keys: ApiKeyService
    notary: NotaryService
    transactions: TransactionService
    settlement: SettlementService
    embedded_rpc: EmbeddedRpc
    upgrades: UpgradeService
    gec: GecService
    footprints: FootprintService
    product_output: ProductOutputService
    supplier_proofs: SupplierProofService
    forecast: ForecastService


def build_services(runtime: Runtime) -> Services:
    sender = Sender(runtime.outbox, runtime.keystore, runtime.settings)
    views = IndexedViews(runtime.indexing, runtime.sessions)
    credits = CreditService(runtime.chain, runtime.suite, runtime.directory, sender, views)
    allowances = AllowanceService(runtime.chain, runtime.suite, runtime.directory, sender, views, runtime.settings)
    market = MarketService(runtime.chain, runtime.suite, runtime.directory, sender, views)
    audit = AuditService(runtime.chain, runtime.suite, runtime.engine, runtime.directory, runtime.documents, views,
                         runtime.settings)
    meters = MeterService(runtime.sessions, runtime.chain, runtime.suite, sender, runtime.settings, runtime.directory)
    emissions = EmissionService(runtime.sessions, runtime.chain, runtime.suite, sender, runtime.documents,
                                runtime.directory, views)
    members = MemberService(runtime.chain, runtime.keystore, runtime.directory, sender)
    organisations = OrganisationService(runtime.directory, sender)
    api_keys = ApiKeyService(runtime.api_keys, runtime.directory, runtime.settings)
    notary = NotaryService(runtime.chain, runtime.suite, sender)
    transactions = TransactionService(runtime.sessions, runtime.outbox, runtime.chain, runtime.deployment,
                                      runtime.artifacts, runtime.encoder, runtime.settings,
                                      runtime.indexing.indexer.confirmations, runtime.signed_requests.domain)
    settlement = SettlementService(runtime.chain, runtime.suite, runtime.directory, sender)
    gec = GecService(runtime.chain, runtime.suite, runtime.directory, sender, views,
                     runtime.artifacts[PRODUCTION_INTERFACE].abi)
    footprints = FootprintService(runtime.chain, runtime.suite, sender, views,
                                  pact_hosts=allowed_hosts(runtime.settings.pact_hosts))
    return Services(sender=sender, credits=credits, allowances=allowances, market=market, audit=audit, meters=meters,
                    emissions=emissions, members=members, organisations=organisations, api_keys=api_keys,
                    notary=notary, transactions=transactions, settlement=settlement,
                    embedded_rpc=EmbeddedRpc(runtime.chain), gec=gec,
                    footprints=footprints, product_output=ProductOutputService(footprints, runtime.documents),
                    supplier_proofs=SupplierProofService(footprints),
                    forecast=ForecastService(runtime.chain, runtime.suite, runtime.directory, views),
                    upgrades=UpgradeService(runtime.chain, runtime.suite, runtime.keystore, runtime.outbox,
                                            runtime.follow,
                                            None if runtime.chain.embedded else runtime.settings.deployments_dir))
