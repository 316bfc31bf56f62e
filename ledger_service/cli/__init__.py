"""`carbonledger`: one command line for the chain, deployments, the oracle, the demo and operations."""

from ledger_service.cli.app import app, main

__all__ = ["app", "main"]
