"""The single-endpoints benchmark, bounded: a round of each kind from a few clients on a real anvil node, every
request answered as a user would have it (201 with its receipt), figures named by kind and client count."""

from __future__ import annotations

from bench.single_endpoints import KINDS, measure
from tests.chain.node_service import require_anvil


def test_a_short_run_answers_every_request_and_names_its_figures_by_kind_and_clients():
    require_anvil()
    figures = measure(requests=12, clients=4, rounds=1)
    for kind in KINDS:
        assert figures[f"{kind}_tx_per_s_anvil_4"] > 0
        assert figures[f"{kind}_p99_ms_anvil_4"] > 0
        assert len(figures["rounds"][kind]) == 1
    transfers = figures["transfer_tx_per_s_anvil_4"]
    assert figures["ratio_notarize_transfer"] == round(figures["notarize_tx_per_s_anvil_4"] / transfers, 3)
    assert figures["ratio_list_order_transfer"] == round(figures["list_order_tx_per_s_anvil_4"] / transfers, 3)
