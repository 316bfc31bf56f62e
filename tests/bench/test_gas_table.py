"""The gas benchmark runs and reports every operation the issues name (figures, not timings)."""

from __future__ import annotations

KEYS = {
    "admit_member",
    "allocate_100",
    "allocate_per_holder",
    "transfer_allowance",
    "surrender",
    "anchor",
    "anchor_batch_50",
    "anchor_batch_per_window",
    "submit_report",
    "verify_report",
    "finalize_report",
    "notarize",
    "verify_proof_depth20",
    "issue_credits",
    "transfer_credit",
    "retire_credit",
    "list_order",
    "fill_order",
    "cancel_order",
    "issue_gec",
    "consume_gec",
    "register_pcr",
    "register_product",
    "record_output",
    "attest_epd",
    "publish_epd",
    "withdraw_epd",
    "flag_epd",
}


def test_the_gas_table_ends_with_one_json_line_of_integer_figures(gas_figures: dict[str, int]) -> None:
    assert set(gas_figures) == KEYS
    per_holder = gas_figures.pop("allocate_per_holder")
    per_window = gas_figures.pop("anchor_batch_per_window")
    assert all(isinstance(v, int) and 21_000 <= v < 15_000_000 for v in gas_figures.values())
    # A batch of 100 allocations costs less than 100 single transactions would.
    assert gas_figures["allocate_100"] < 100 * (gas_figures["transfer_allowance"] + 21_000)
    assert per_holder == -(-gas_figures["allocate_100"] // 100)
    # A window anchored in a batch of 50 costs a fraction of an anchor of its own.
    assert per_window == -(-gas_figures["anchor_batch_50"] // 50)
    assert 4 * per_window < gas_figures["anchor"]
