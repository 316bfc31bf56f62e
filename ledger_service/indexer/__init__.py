"""The event indexer: every event of the deployed suite mirrored into SQL, exactly once.

- `catalog`: which logs belong to which contract and event, and their decoding.
- `source`: the chain as the indexer reads it (logs by range, block headers), over web3 or
  batched JSON-RPC.
- `handlers`: the table of handlers, (contract, event) -> rows of the index tables.
- `projections`: current-state tables (members, balances, reports, devices) kept from the
  event rows and rebuilt from them after a rollback.
- `store`: writing a range's rows, checkpoints and blocks; rollback to a block.
- `indexer`: the loop: reorg check, ranges, finality.
"""
