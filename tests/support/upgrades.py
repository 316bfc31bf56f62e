"""Upgrading the test ledger's market, and putting the ledger back on its first deployment afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ledger_core.chain.deploy import Deployment
from ledger_core.chain.upgrade import MigrationReport, Proposal, approve_upgrade, propose_upgrade, run_upgrade
from tests.support.ledger import Ledger

V2 = "CarbonMarketV2"


@contextmanager
def first_deployment_restored(ledger: Ledger) -> Iterator[None]:
    """The ledger follows upgrades made in the block; its original record is bound again afterwards (the chain
    snapshot of the `ledger` fixture undoes the rest)."""
    original = ledger.deployment
    try:
        yield
    finally:
        ledger.follow(original)


def proposed(ledger: Ledger, artifact: str = V2, proposer: str = "regulator") -> Proposal:
    return propose_upgrade(ledger.senders[proposer], ledger, "CarbonMarket", artifact)


def upgrade_market(ledger: Ledger, artifact: str = V2) -> tuple[Deployment, MigrationReport]:
    """Propose (regulator), approve (regulator2) and run (regulator) the market's upgrade; the ledger follows."""
    proposal = proposed(ledger, artifact)
    approve_upgrade(ledger.senders["regulator2"], ledger, proposal.id)
    record, report = run_upgrade(ledger.senders["regulator"], ledger, proposal.id, artifact)
    ledger.follow(record)
    return record, report
