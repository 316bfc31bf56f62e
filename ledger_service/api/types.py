"""Request types shared by the routers: what a number, an id, a price or a date may be, bounded by where it goes.

A value the chain takes is bounded by its Solidity type (`Uint64`, `Uint256`); a value the service looks up in its
database, or that the event index stores, by a signed 64-bit column (`Int64`): organisation ids among them (the
chain takes uint64, but an organisation the index cannot hold would stop it); an amount of tonnes by `MAX_TONNES`,
so that every balance and total the index keeps stays within one. Amounts and ids in JSON bodies are strict: `true`,
`1.0` and `"1"` are not numbers (query, path and form values arrive as text and are parsed). Prices and CNY amounts
are ASCII decimal strings. A value outside its bounds is refused with 422 (`ValidationError`) before anything
is looked up or sent.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, Field

UINT16_MAX = 2**16 - 1
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1
MAX_TONNES = 10**15
"""Largest amount of tonnes (allowances, credits) one request may name: far above any real holding, and small
enough that sums of many of them stay within the index's 64-bit columns."""
MAX_SERIAL = INT64_MAX - MAX_TONNES
"""Largest first serial number of a credit batch: its last serial stays a 64-bit integer."""
MAX_LIMIT = 500
MAX_OFFSET = 2**62
"""Largest page offset: an offset plus a limit stays a 64-bit integer."""
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)
"""The range of calendar days an endpoint takes: Unix time starts at 1970 and the day after the last must exist."""
LAST_SECOND = int(datetime(9999, 1, 1, tzinfo=UTC).timestamp()) - 1
"""The last Unix second of the range of days."""

# ---------------------------------------------------------------------- JSON body fields (strict)

Uint16 = Annotated[int, Field(strict=True, ge=0, le=UINT16_MAX)]
Uint64 = Annotated[int, Field(strict=True, ge=0, le=UINT64_MAX)]
Uint256 = Annotated[int, Field(strict=True, ge=0, le=UINT256_MAX)]
Int64 = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
Id64 = Annotated[int, Field(strict=True, ge=1, le=INT64_MAX, description="an id the chain assigns and the index "
                            "keeps (64-bit)")]
Year = Annotated[int, Field(strict=True, ge=1, le=UINT16_MAX, description="a calendar year")]
Tonnes = Annotated[int, Field(strict=True, gt=0, le=MAX_TONNES, description="whole tCO2e")]
OrgIdField = Annotated[int, Field(strict=True, ge=1, le=INT64_MAX, description="an organisation id")]
Seconds = Annotated[int, Field(strict=True, ge=0, le=LAST_SECOND, description="Unix seconds (UTC)")]


def _positive_decimal(value: str) -> str:
    if Decimal(value) <= 0:
        raise ValueError("must be greater than zero")
    return value


DECIMAL_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,2})?$"
"""ASCII digits only: no other scripts' digits, no exponent, sign or white space."""
Price = Annotated[str, Field(pattern=DECIMAL_PATTERN, description="CNY per tonne, a decimal string with at most "
                             "two decimals, e.g. \"58.20\""), AfterValidator(_positive_decimal)]
Cny = Annotated[str, Field(pattern=DECIMAL_PATTERN, description="CNY, a decimal string with at most two decimals, "
                           "e.g. \"10000.00\""), AfterValidator(_positive_decimal)]

# ---------------------------------------------------------------------- path and query parameters

RowId = Annotated[int, Path(ge=1, le=INT64_MAX, description="an id the service's database keeps")]
ChainId64 = Annotated[int, Path(ge=1, le=INT64_MAX, description="an id the chain assigns and the index keeps")]
OrgId = Annotated[int, Path(ge=1, le=INT64_MAX, description="an organisation id")]
OrgIdQuery = Annotated[int, Query(ge=1, le=INT64_MAX, description="an organisation id")]
YearPath = Annotated[int, Path(ge=1, le=UINT16_MAX, description="a calendar year")]
YearItem = Annotated[int, Field(ge=1, le=UINT16_MAX)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items to return")]
SecondsQuery = Annotated[int, Query(ge=0, le=LAST_SECOND, description="Unix seconds (UTC)")]


def _day_in_range(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"a day from {FIRST_DAY} to {LAST_DAY}")
    return value


def _chain_time(value: datetime) -> datetime:
    """A time the chain can hold (Unix seconds from 0 to `LAST_SECOND`); without a zone it is UTC."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        seconds = aware.timestamp()
    except (OverflowError, ValueError):
        seconds = -1
    if not 0 <= seconds <= LAST_SECOND:
        raise ValueError(f"a time from {datetime.fromtimestamp(0, UTC).isoformat()} to "
                         f"{datetime.fromtimestamp(LAST_SECOND, UTC).isoformat()}")
    return aware


def _assume_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


UtcTime = Annotated[datetime, AfterValidator(_assume_utc)]
"""A time in an answer: a time read back without its zone (SQLite keeps none) is UTC, and says so (RFC 3339)."""
Day = Annotated[date, AfterValidator(_day_in_range)]
"""A calendar day from 1970-01-01 to 9998-12-31."""
ChainTime = Annotated[datetime, AfterValidator(_chain_time)]
"""A time from 1970 to the end of 9998, UTC (a time without a zone is UTC)."""
