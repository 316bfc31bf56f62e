"""The foundation both the oracles and the ledger service build on: settings, the database (engine, sessions,
models, migrations), the chain (modes, contracts, signing, the transaction outbox), and the data directory's
private files. It imports nothing above it."""
