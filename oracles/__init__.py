"""Oracles: signed meter data in, verified emissions and Merkle-sum commitments out, anchored on-chain.

Modules, in the order data flows through them:
- `canonical`: the signed message and reading record encodings (COMMITMENTS.md).
- `sources`: JSON lines, CSV and pushed batches -> `SignedMessage` (pydantic at the edge).
- `simulator`: a deterministic park of enterprises, facilities, workshops and devices.
- `devices`: the oracle's device registry (public keys, active flag, last reading).
- `carriers`, `factors`, `emissions`: carriers and units, factor sets, exact valuation.
- `quarantine`: the reasons a reading is refused.
- `verification`: stateless checks of a message (signature, carrier, unit, quantity), valued and hashed.
- `ingest`: a run over a stream of messages: stateful checks, batches, bulk storage, summary.
- `trees`: the tree of one enterprise window (`merkle_sum` does the hashing).
- `batches`: closing windows: build, store level nodes.
- `anchoring`: one `MeterAnchor.anchor` per window, idempotent and crash-safe.
- `proofs`: a reading's proof from SQL, checked in Python or by the contract.
- `commands`, `cli`: `python -m oracles simulate|ingest|anchor|prove`.
"""
