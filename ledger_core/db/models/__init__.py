"""Every model, imported so that `Base.metadata` knows all tables (Alembic, tests), and its triggers."""

from ledger_core.db.base import Base
from ledger_core.db.models.chain_assets import (
    ChainAllocation,
    ChainBalance,
    ChainComplianceRecord,
    ChainSurrender,
    ChainTransfer,
)
from ledger_core.db.models.chain_credits import (
    ChainCreditBatch,
    ChainCreditCancellation,
    ChainCreditProject,
    ChainCreditRetirement,
    ChainCreditSurrender,
    ChainCreditVerification,
    ChainOrder,
    ChainOrderEvent,
    ChainProjectEvent,
)
from ledger_core.db.models.chain_footprints import (
    ChainEpd,
    ChainEpdAttestation,
    ChainEpdCitation,
    ChainEpdEvent,
    ChainPcr,
    ChainProduct,
    ChainProductOutput,
)
from ledger_core.db.models.chain_gec import ChainGecBatch, ChainGecBatchAnchor, ChainGecConsumption
from ledger_core.db.models.chain_members import ChainMember, ChainMemberEvent, ChainOrganisation, ChainOtherEvent
from ledger_core.db.models.chain_records import (
    ChainAnchor,
    ChainDevice,
    ChainDeviceEvent,
    ChainNotarization,
    ChainOracleAuthorisation,
    ChainReport,
    ChainReportEvent,
)
from ledger_core.db.models.commitments import BatchStatus, CommittedNode, MeterBatch, Revaluation
from ledger_core.db.models.documents import StoredDocument
from ledger_core.db.models.footprint_drafts import EpdDraftRecord, ImportedFootprintRecord
from ledger_core.db.models.identity import ApiKey, ConsoleChallenge, ConsoleSession, CustodialKey, RequestNonce
from ledger_core.db.models.index_state import IndexCheckpoint, IndexedBlock
from ledger_core.db.models.meters import IngestRun, MeterDevice, QuarantinedReading, Reading
from ledger_core.db.models.outbox import (
    IdempotencyRecord,
    OutboxOrigin,
    OutboxStatus,
    OutboxTransaction,
)
from ledger_core.db.models.pact_state import PactEventRecord, PactToken
from ledger_core.db.models.revisions import attach

attach(Base.metadata)

__all__ = [
    "ApiKey",
    "BatchStatus",
    "ChainAllocation",
    "ChainAnchor",
    "ChainBalance",
    "ChainComplianceRecord",
    "ChainCreditBatch",
    "ChainCreditCancellation",
    "ChainCreditProject",
    "ChainCreditRetirement",
    "ChainCreditSurrender",
    "ChainCreditVerification",
    "ChainDevice",
    "ChainDeviceEvent",
    "ChainEpd",
    "ChainEpdAttestation",
    "ChainEpdCitation",
    "ChainEpdEvent",
    "ChainGecBatch",
    "ChainGecBatchAnchor",
    "ChainGecConsumption",
    "ChainMember",
    "ChainMemberEvent",
    "ChainNotarization",
    "ChainOracleAuthorisation",
    "ChainOrder",
    "ChainOrderEvent",
    "ChainOrganisation",
    "ChainOtherEvent",
    "ChainPcr",
    "ChainProduct",
    "ChainProductOutput",
    "ChainProjectEvent",
    "ChainReport",
    "ChainReportEvent",
    "ChainSurrender",
    "ChainTransfer",
    "CommittedNode",
    "ConsoleChallenge",
    "ConsoleSession",
    "CustodialKey",
    "EpdDraftRecord",
    "IdempotencyRecord",
    "ImportedFootprintRecord",
    "IndexCheckpoint",
    "IndexedBlock",
    "IngestRun",
    "MeterBatch",
    "MeterDevice",
    "OutboxOrigin",
    "OutboxStatus",
    "OutboxTransaction",
    "PactEventRecord",
    "PactToken",
    "QuarantinedReading",
    "Reading",
    "RequestNonce",
    "Revaluation",
    "StoredDocument",
]
