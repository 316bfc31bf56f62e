"""An ERP extract of production output, parsed exactly: every figure becomes the integer of its smallest unit
(milli declared units, grams, fen) without rounding, and anything else is refused with its line."""

from __future__ import annotations

import pytest

from ledger_service.footprints.erp_extract import ExtractInvalid, ExtractRow, parse_extract

HEADER = "product,period_start,period_end,quantity,mass_kg,value_cny\n"
Q1 = "2025-01-01T00:00:00Z,2025-04-01T00:00:00Z"


def test_rows_become_exact_integers_of_their_smallest_units() -> None:
    content = (HEADER + f"HRC-2MM,{Q1},1200.5,1200500.25,4802000.01\n" + f"BRACKET-7,{Q1},200000,560000,5600000\n")
    assert parse_extract(content.encode()) == [
        ExtractRow("HRC-2MM", 1_735_689_600, 1_743_465_600, 1_200_500, 1_200_500_250, 480_200_001),
        ExtractRow("BRACKET-7", 1_735_689_600, 1_743_465_600, 200_000_000, 560_000_000, 560_000_000)]


def test_columns_may_come_in_any_order_and_a_byte_order_mark_is_ignored() -> None:
    content = "\ufeffvalue_cny,mass_kg,quantity,period_end,period_start,product\n1,2,3,2025-04-01T00:00:00Z," \
              "2025-01-01T00:00:00Z,P\n"
    (row,) = parse_extract(content.encode())
    assert (row.own_product_id, row.quantity_milli, row.mass_grams, row.value_fen) == ("P", 3_000, 2_000, 100)


@pytest.mark.parametrize(("content", "line", "says"), [
    ("product,quantity\nP,1\n", 1, "header"),
    (HEADER + f"P,{Q1},1.0001,1,1\n", 2, "more than 3 decimals"),
    (HEADER + f"P,{Q1},1,1,0.001\n", 2, "more than 2 decimals"),
    (HEADER + f"P,{Q1},1e3,1,1\n", 2, "plain non-negative decimal"),
    (HEADER + f"P,{Q1},-1,1,1\n", 2, "plain non-negative decimal"),
    (HEADER + f"P,{Q1},0,1,1\n", 2, "above zero"),
    (HEADER + "P,2025-04-01T00:00:00Z,2025-01-01T00:00:00Z,1,1,1\n", 2, "start before it ends"),
    (HEADER + "P,2025-01-01,2025-04-01T00:00:00Z,1,1,1\n", 2, "not a UTC instant"),
    (HEADER + f"P,{Q1},1,1\n", 2, "one value per column"),
    (HEADER, 0, "no rows"),
])
def test_an_extract_that_is_not_exact_output_is_refused_with_its_line(content: str, line: int, says: str) -> None:
    with pytest.raises(ExtractInvalid) as refused:
        parse_extract(content.encode())
    assert refused.value.line == line and says in str(refused.value)


def test_an_extract_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(ExtractInvalid, match="UTF-8"):
        parse_extract(b"\xff\xfe" + HEADER.encode("utf-16-le"))
