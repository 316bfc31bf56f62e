"""How the fault harness counts a transfer that the chain's balances hold but its events do not (an anvil node
restored from a dump written while it mined): moved once, not lost — and only when that explains the balances."""

from __future__ import annotations

from tests.faults.harness import Tag, moved_without_an_event

A, B, C = "0xa", "0xb", "0xc"


def test_acknowledged_transfers_the_balances_hold_once_without_an_event_count_as_moved():
    lost = [Tag(A, B, 3)]
    assert moved_without_an_event(lost, {A: 10, B: 5, C: 0}, {A: 7, B: 8, C: 0}) == lost


def test_a_transfer_the_balances_do_not_hold_stays_lost():
    assert moved_without_an_event([Tag(A, B, 3)], {A: 10, B: 5, C: 0}, {A: 10, B: 5, C: 0}) == []


def test_a_transfer_held_twice_is_not_explained_by_one_move():
    assert moved_without_an_event([Tag(A, B, 3)], {A: 10, B: 5, C: 0}, {A: 4, B: 11, C: 0}) == []


def test_only_all_the_lost_transfers_together_explain_the_balances():
    lost = [Tag(A, B, 3), Tag(B, C, 4)]
    assert moved_without_an_event(lost, {A: 10, B: 5, C: 0}, {A: 7, B: 8, C: 0}) == []
    assert moved_without_an_event(lost, {A: 10, B: 5, C: 0}, {A: 7, B: 4, C: 4}) == lost
