"""An ERP extract of production output: CSV text, parsed into exact quantities per product and period.

The format, written down once (a header row naming exactly these columns, in any order; UTF-8; one row per product
and period):

- `product`: the enterprise's own product id, as registered (`POST /products`);
- `period_start`, `period_end`: UTC instants `YYYY-MM-DDTHH:MM:SSZ`, the period `[start, end)`;
- `quantity`: output in the product's declared units, a plain decimal with at most 3 decimals (milli units);
- `mass_kg`: its mass in kg, at most 3 decimals (grams); `value_cny`: its value in CNY, at most 2 decimals (fen).

Nothing is rounded: a figure finer than its unit is refused, so the recorded integers are exactly the extract's.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

COLUMNS = ("product", "period_start", "period_end", "quantity", "mass_kg", "value_cny")
MAX_ROWS = 1000
MAX_PRODUCT_ID = 128  # as products are registered
_SCALES = {"quantity": 3, "mass_kg": 3, "value_cny": 2}  # decimals each integer field keeps


class ExtractInvalid(ValueError):
    """The extract cannot be read as production output; `line` is its 1-based line (0: the whole file)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class ExtractRow:
    own_product_id: str
    period_start: int
    period_end: int
    quantity_milli: int
    mass_grams: int
    value_fen: int


def _instant(text: str, column: str, line: int) -> int:
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ExtractInvalid(f"{column} {text[:40]!r} is not a UTC instant YYYY-MM-DDTHH:MM:SSZ", line) from None
    return int(moment.timestamp())


def _scaled(text: str, column: str, line: int) -> int:
    """The decimal as an integer of its column's smallest unit, exactly."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ExtractInvalid(f"{column} {text[:40]!r} is not a decimal", line) from None
    if not value.is_finite() or value < 0 or "e" in text.lower():
        raise ExtractInvalid(f"{column} {text[:40]!r} is not a plain non-negative decimal", line)
    scaled = value.scaleb(_SCALES[column])
    if scaled != scaled.to_integral_value():
        raise ExtractInvalid(f"{column} {text} has more than {_SCALES[column]} decimals", line)
    return int(scaled)


def parse_extract(content: bytes) -> list[ExtractRow]:
    """The rows of an extract, in file order; raises `ExtractInvalid`."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExtractInvalid("the extract is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None or sorted(f.strip() for f in reader.fieldnames) != sorted(COLUMNS):
        raise ExtractInvalid(f"the header must name exactly the columns {', '.join(COLUMNS)}", 1)
    rows: list[ExtractRow] = []
    for record in reader:
        line = reader.line_num
        if len(rows) == MAX_ROWS:
            raise ExtractInvalid(f"an extract holds at most {MAX_ROWS} rows", line)
        cells = {k.strip(): (v or "").strip() for k, v in record.items() if k is not None}
        if None in record or any(not cells[c] for c in COLUMNS):
            raise ExtractInvalid("every row has exactly one value per column", line)
        if len(cells["product"]) > MAX_PRODUCT_ID:
            raise ExtractInvalid(f"a product id has at most {MAX_PRODUCT_ID} characters", line)
        start = _instant(cells["period_start"], "period_start", line)
        end = _instant(cells["period_end"], "period_end", line)
        if start >= end:
            raise ExtractInvalid("the period must start before it ends", line)
        quantity = _scaled(cells["quantity"], "quantity", line)
        if quantity == 0:
            raise ExtractInvalid("the quantity must be above zero", line)
        rows.append(ExtractRow(cells["product"], start, end, quantity, _scaled(cells["mass_kg"], "mass_kg", line),
                               _scaled(cells["value_cny"], "value_cny", line)))
    if not rows:
        raise ExtractInvalid("the extract has no rows")
    return rows
