"""On a node, the service estimates gas instead of using a fixed limit: a batch's estimates go out together,
and one that reverts refuses its own transfer with the contract's error while the others are sent."""

from __future__ import annotations

from ledger_core.chain.outbox import Intent
from tests.chain.node_service import YEAR, NodeService


def test_a_batch_is_estimated_in_one_request_and_a_reverting_estimate_refuses_only_its_transfer(
    service: NodeService,
):
    service.start_node()
    service.deploy()
    service.start_service()
    service.admit_cast()
    runtime = service.runtime
    assert runtime is not None and runtime.chain.gas_limit is None  # estimated per transaction on a node
    service.post("regulator", "/allowances/allocations",
                 {"year": YEAR, "allocations": [{"holder": service.addresses["steel"], "amount": 100}]})
    asked: list[int] = []
    estimates = runtime.chain.estimates

    def counted(txs):
        asked.append(len(txs))
        return estimates(txs)

    runtime.chain.estimates = counted  # type: ignore[method-assign]
    steel, to = service.addresses["steel"], service.addresses["trader"]
    records = runtime.outbox.submit([  # not preflighted: the estimate is the first run of each transfer
        Intent("AllowanceRegistry", "safeTransferFrom", (steel, to, YEAR, n, b""), steel, requested_by=steel)
        for n in (10, 500, 20)], preflight=False)
    assert [r.status for r in records] == ["mined", "rejected", "mined"]
    assert records[1].error_name == "ERC1155InsufficientBalance"
    assert asked == [3]
    rows = {r.id: r for r in service.outbox_rows()}
    for record in (records[0], records[2]):
        row = rows[record.id]
        assert row.gas_used is not None and row.gas_used < row.gas_limit < 200_000  # an estimate, with headroom
    assert service.balances()["trader"] == 30
