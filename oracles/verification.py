"""The stateless checks of a message: device key, signature, carrier, unit, quantity; then value and hash.

`check_message` needs only a snapshot of the device keys and a factor choice, so chunks of
messages can be checked in worker processes; the checks that depend on the device's
history (sequence, timestamp, window) run afterwards, in order (`oracles.ingest`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from oracles import merkle_sum as ms
from oracles.canonical import (
    EncodingError,
    MessageReading,
    ReadingRecord,
    SignedMessage,
    message_bytes,
    record_digest,
)
from oracles.carriers import CARRIERS
from oracles.emissions import value_reading
from oracles.factors import FactorChoice, FactorSet, as_choice
from oracles.measures import NO_FACTOR_SET, SCOPE_NONE, DeviceKind, value_count, value_production
from oracles.quarantine import QuarantineReason, Refused


class DeviceKey(NamedTuple):
    public_key: bytes  # raw Ed25519
    active: bool
    kind: str = DeviceKind.EMISSION_METER  # a generation meter's readings are Wh produced, a counter's product


class MalformedMessage(NamedTuple):
    """Input that could not be read as a message; kept verbatim for the quarantine."""

    payload: str
    detail: str
    device: str | None = None


class Candidate(NamedTuple):
    """A reading that passed the stateless checks, valued and hashed."""

    sequence: int
    timestamp: int
    quantity: str  # canonical
    unit: str  # canonical (`m3` of natural gas committed as `Nm3`)
    carrier: str
    scope: int
    value_mg: int  # mgCO2e; Wh produced for a generation meter
    digest: bytes
    leaf_hash: bytes
    raw_quantity: str
    factor_set: str  # id of the set that valued the reading (committed as factorSetId); "" for production
    raw_unit: str


class Rejection(NamedTuple):
    reason: str
    detail: str
    device: str | None
    sequence: int | None
    timestamp: int | None
    payload: str


class CheckedMessage(NamedTuple):
    device: str | None
    candidates: list[Candidate]
    rejections: list[Rejection]


def reading_payload(device: str, reading: MessageReading, signature: bytes) -> str:
    """The raw form of one reading kept in the quarantine."""
    return json.dumps(
        {
            "device": device,
            "sequence": reading.sequence,
            "timestamp": reading.timestamp,
            "quantity": reading.quantity,
            "unit": reading.unit,
            "carrier": reading.carrier,
            "signature": signature.hex(),
        },
        separators=(",", ":"),
    )


def _reject_all(message: SignedMessage, reason: QuarantineReason, detail: str) -> CheckedMessage:
    return CheckedMessage(
        message.device,
        [],
        [
            Rejection(reason, detail, message.device, r.sequence, r.timestamp,
                      reading_payload(message.device, r, message.signature))
            for r in message.readings
        ],
    )


class MessageChecker:
    """Checks messages against one snapshot of device keys and one factor choice (by date, or one set)."""

    def __init__(self, keys: Mapping[str, DeviceKey], factor_set: FactorSet | FactorChoice) -> None:
        self.keys = keys
        self.factor_set = as_choice(factor_set)
        self._verifiers: dict[str, Ed25519PublicKey] = {}

    def _verifier(self, device: str, key: DeviceKey) -> Ed25519PublicKey:
        verifier = self._verifiers.get(device)
        if verifier is None:
            verifier = self._verifiers[device] = Ed25519PublicKey.from_public_bytes(key.public_key)
        return verifier

    def check(self, message: SignedMessage | MalformedMessage) -> CheckedMessage:
        if isinstance(message, MalformedMessage):
            return CheckedMessage(
                message.device,
                [],
                [Rejection(QuarantineReason.MALFORMED_MESSAGE, message.detail, message.device, None, None,
                           message.payload)],
            )
        key = self.keys.get(message.device)
        if key is None:
            return _reject_all(message, QuarantineReason.UNKNOWN_DEVICE, f"no registered device {message.device!r}")
        if not key.active:
            return _reject_all(message, QuarantineReason.DEVICE_INACTIVE, f"device {message.device} is inactive")
        try:
            signed = message_bytes(message.device, message.readings)
        except EncodingError as exc:
            return _reject_all(message, QuarantineReason.MALFORMED_MESSAGE, str(exc))
        try:
            self._verifier(message.device, key).verify(message.signature, signed)
        except InvalidSignature:
            return _reject_all(message, QuarantineReason.BAD_SIGNATURE, "signature does not match the device key")
        if key.kind == DeviceKind.GENERATION_METER:
            return self._value_production(message, value_production)
        if key.kind == DeviceKind.PRODUCT_COUNTER:
            return self._value_production(message, value_count)
        return self._value_readings(message)

    def _value_production(self, message: SignedMessage,
                          value: Callable[[str, str, str], tuple[str, int]]) -> CheckedMessage:
        """A generation meter's readings (whole Wh produced) or a product counter's (whole milli units of
        product): no factor set (`factorSetId` 0, scope 0)."""
        device_hash = ms.labelled_id(message.device)
        candidates: list[Candidate] = []
        rejections: list[Rejection] = []
        for r in message.readings:
            try:
                quantity, wh = value(r.quantity, r.unit, r.carrier)
            except Refused as refused:
                rejections.append(
                    Rejection(refused.reason, refused.detail, message.device, r.sequence, r.timestamp,
                              reading_payload(message.device, r, message.signature))
                )
                continue
            digest = record_digest(
                ReadingRecord(device_hash, r.sequence, r.timestamp, quantity, r.unit, r.carrier, bytes(32),
                              SCOPE_NONE, wh)
            )
            candidates.append(
                Candidate(r.sequence, r.timestamp, quantity, r.unit, r.carrier, SCOPE_NONE, wh, digest,
                          ms.leaf(digest, wh).hash, r.quantity, NO_FACTOR_SET, r.unit)
            )
        return CheckedMessage(message.device, candidates, rejections)

    def _value_readings(self, message: SignedMessage) -> CheckedMessage:
        device_hash = ms.labelled_id(message.device)
        choice = self.factor_set
        candidates: list[Candidate] = []
        rejections: list[Rejection] = []
        for r in message.readings:
            fs = choice.at(r.timestamp)
            try:
                if fs is None:
                    raise Refused(QuarantineReason.NO_VALID_FACTOR_SET, choice.no_set_detail(r.timestamp))
                quantity, scope, value = value_reading(r.quantity, r.unit, r.carrier, fs)
            except Refused as refused:
                rejections.append(
                    Rejection(refused.reason, refused.detail, message.device, r.sequence, r.timestamp,
                              reading_payload(message.device, r, message.signature))
                )
                continue
            unit = CARRIERS[r.carrier].canonical_unit(r.unit)
            digest = record_digest(
                ReadingRecord(device_hash, r.sequence, r.timestamp, quantity, unit, r.carrier, fs.hash, scope, value)
            )
            leaf = ms.leaf(digest, value)
            candidates.append(
                Candidate(r.sequence, r.timestamp, quantity, unit, r.carrier, scope, value, digest, leaf.hash,
                          r.quantity, fs.id, r.unit)
            )
        return CheckedMessage(message.device, candidates, rejections)

    def check_all(self, messages: Sequence[SignedMessage | MalformedMessage]) -> list[CheckedMessage]:
        return [self.check(m) for m in messages]


# ---------------------------------------------------------------- worker processes

_worker_checker: MessageChecker | None = None


def init_worker(keys: dict[str, DeviceKey], factor_set: FactorSet | FactorChoice) -> None:
    """Process-pool initializer: one checker per worker process."""
    global _worker_checker
    _worker_checker = MessageChecker(keys, factor_set)


def check_chunk(messages: Sequence[SignedMessage | MalformedMessage]) -> list[CheckedMessage]:
    """Check a chunk in a worker process set up by `init_worker`.

    Candidates travel back as plain tuples (same field order as `Candidate`): unpickling a
    named tuple calls its class once per reading, which the receiving process cannot afford.
    """
    assert _worker_checker is not None, "init_worker was not run"
    return [
        CheckedMessage(m.device, [tuple(c) for c in m.candidates], m.rejections)  # type: ignore[misc]
        for m in _worker_checker.check_all(messages)
    ]
