"""Every model, imported so that `Base.metadata` knows all tables (Alembic, tests)."""

from ledger_service.db.models.commitments import BatchStatus, CommittedNode, MeterBatch
from ledger_service.db.models.meters import IngestRun, MeterDevice, QuarantinedReading, Reading

__all__ = [
    "BatchStatus",
    "CommittedNode",
    "IngestRun",
    "MeterBatch",
    "MeterDevice",
    "QuarantinedReading",
    "Reading",
]
