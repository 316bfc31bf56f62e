"""Every model, imported so that `Base.metadata` knows all tables (Alembic, tests)."""

from ledger_service.db.models.commitments import BatchStatus, CommittedNode, MeterBatch
from ledger_service.db.models.identity import ApiKey, CustodialKey, RequestNonce
from ledger_service.db.models.meters import IngestRun, MeterDevice, QuarantinedReading, Reading
from ledger_service.db.models.outbox import OutboxOrigin, OutboxStatus, OutboxTransaction

__all__ = [
    "ApiKey",
    "BatchStatus",
    "CommittedNode",
    "CustodialKey",
    "IngestRun",
    "MeterBatch",
    "MeterDevice",
    "OutboxOrigin",
    "OutboxStatus",
    "OutboxTransaction",
    "QuarantinedReading",
    "Reading",
    "RequestNonce",
]
