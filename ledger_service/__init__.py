"""CarbonLedger ledger service: chain access, storage, indexing and the HTTP API."""
