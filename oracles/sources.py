"""Where messages come from: JSON lines, CSV, and pushed batches (pydantic models at the edge).

JSON lines: one message per line,
`{"device": "...", "readings": [{"sequence": 1, "timestamp": 1700000000, "quantity": "12.5",
"unit": "kWh", "carrier": "electricity"}, ...], "signature": "<128 hex digits>"}`; a timestamp
may also be an ISO 8601 string with a UTC offset. Quantities are strings (the signed text).

CSV: header `device,sequence,timestamp,quantity,unit,carrier,signature`; consecutive rows
with the same device and signature form one message.

Unreadable input becomes a `MalformedMessage`, which the oracle quarantines verbatim.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from oracles.canonical import MAX_U64, MessageReading, SignedMessage
from oracles.verification import MalformedMessage

CSV_FIELDS = ("device", "sequence", "timestamp", "quantity", "unit", "carrier", "signature")


def _epoch_seconds(value: Any) -> Any:
    if isinstance(value, str) and not value.isdigit():
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("a timestamp needs a UTC offset")
        if moment.microsecond:
            raise ValueError("timestamps are whole seconds")
        return int(moment.astimezone(UTC).timestamp())
    return value


class ReadingIn(BaseModel):
    """One reading of a pushed message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sequence: int = Field(ge=0, le=MAX_U64 >> 1, strict=True)
    timestamp: Annotated[int, BeforeValidator(_epoch_seconds), Field(ge=0, le=MAX_U64 >> 1)]
    quantity: str = Field(strict=True, max_length=0xFFFF)
    unit: str = Field(strict=True, max_length=255)
    carrier: str = Field(strict=True, max_length=255)


class MessageIn(BaseModel):
    """A device's signed message, as pushed over HTTP or read from a JSON line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str = Field(min_length=1, max_length=128)
    readings: list[ReadingIn] = Field(min_length=1)
    signature: str = Field(pattern=r"^(0x)?[0-9a-fA-F]{128}$")

    def to_signed(self) -> SignedMessage:
        return SignedMessage(
            self.device,
            tuple(MessageReading(r.sequence, r.timestamp, r.quantity, r.unit, r.carrier) for r in self.readings),
            bytes.fromhex(self.signature.removeprefix("0x")),
        )

    @classmethod
    def of(cls, message: SignedMessage) -> MessageIn:
        return cls(
            device=message.device,
            readings=[ReadingIn(**r._asdict()) for r in message.readings],
            signature=message.signature.hex(),
        )


def _guess_device(payload: Any) -> str | None:
    device = payload.get("device") if isinstance(payload, dict) else None
    return device[:128] if isinstance(device, str) else None


def _error_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}"[:500]


def parse_message(payload: str | bytes | dict[str, Any]) -> SignedMessage | MalformedMessage:
    """One message from a JSON text or a decoded object."""
    try:
        if isinstance(payload, dict):
            return MessageIn.model_validate(payload).to_signed()
        return MessageIn.model_validate_json(payload).to_signed()
    except ValidationError as exc:
        raw: Any = None
        if isinstance(payload, dict):
            raw = payload
        else:
            try:
                raw = json.loads(payload)
            except ValueError:
                raw = None
        text = json.dumps(payload) if isinstance(payload, dict) else (
            payload.decode(errors="replace") if isinstance(payload, bytes) else payload)
        return MalformedMessage(text, _error_text(exc), _guess_device(raw))


def messages_from_payload(items: Iterable[MessageIn | dict[str, Any]]) -> list[SignedMessage | MalformedMessage]:
    """Messages of a pushed batch (what an HTTP endpoint hands to the ingestion)."""
    return [item.to_signed() if isinstance(item, MessageIn) else parse_message(item) for item in items]


def read_jsonl(path: Path) -> Iterator[SignedMessage | MalformedMessage]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield parse_message(line)


def write_jsonl(messages: Iterable[SignedMessage], path: Path) -> int:
    count = 0
    with path.open("w") as handle:
        for m in messages:
            handle.write(
                json.dumps(
                    {"device": m.device, "readings": [r._asdict() for r in m.readings], "signature": m.signature.hex()},
                    separators=(",", ":"),
                )
                + "\n"
            )
            count += 1
    return count


def _csv_message(rows: Sequence[dict[str, str]]) -> SignedMessage | MalformedMessage:
    try:
        readings = [
            {
                "sequence": int(r["sequence"]),
                "timestamp": int(r["timestamp"]) if r["timestamp"].isdigit() else r["timestamp"],
                "quantity": r["quantity"],
                "unit": r["unit"],
                "carrier": r["carrier"],
            }
            for r in rows
        ]
        return MessageIn.model_validate(
            {"device": rows[0]["device"], "readings": readings, "signature": rows[0]["signature"]}
        ).to_signed()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writerows(rows)
        detail = _error_text(exc) if isinstance(exc, ValidationError) else f"bad CSV row: {exc}"
        device = rows[0].get("device") if rows else None
        return MalformedMessage(out.getvalue(), detail, device[:128] if isinstance(device, str) else None)


def read_csv(path: Path) -> Iterator[SignedMessage | MalformedMessage]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        for _key, group in groupby(reader, key=lambda r: (r.get("device"), r.get("signature"))):
            yield _csv_message(list(group))


def write_csv(messages: Iterable[SignedMessage], path: Path) -> int:
    count = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for m in messages:
            signature = m.signature.hex()
            for r in m.readings:
                writer.writerow((m.device, r.sequence, r.timestamp, r.quantity, r.unit, r.carrier, signature))
                count += 1
    return count


def read_messages(path: Path) -> Iterator[SignedMessage | MalformedMessage]:
    """Messages of a `.jsonl`/`.json` or `.csv` file."""
    if path.suffix.lower() == ".csv":
        return read_csv(path)
    return read_jsonl(path)
