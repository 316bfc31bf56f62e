"""Why the oracle refuses a reading. Every refused reading is stored with one of these reasons."""

from __future__ import annotations

from enum import StrEnum


class QuarantineReason(StrEnum):
    MALFORMED_MESSAGE = "malformed_message"  # not a message: bad JSON/CSV, missing or mistyped fields
    UNKNOWN_DEVICE = "unknown_device"  # no registered device with this id
    DEVICE_INACTIVE = "device_inactive"  # the device is registered but deactivated
    BAD_SIGNATURE = "bad_signature"  # the Ed25519 signature does not match the device's key
    UNKNOWN_CARRIER = "unknown_carrier"  # not an energy carrier or gas the oracle knows
    INVALID_UNIT = "invalid_unit"  # the unit does not measure this carrier
    NO_EMISSION_FACTOR = "no_emission_factor"  # the factor set has no factor for the carrier
    NO_VALID_FACTOR_SET = "no_valid_factor_set"  # no dated factor set is valid at the reading's time
    INVALID_QUANTITY = "invalid_quantity"  # not a plain decimal number
    NON_FINITE_QUANTITY = "non_finite_quantity"  # NaN or infinity
    NEGATIVE_QUANTITY = "negative_quantity"
    QUANTITY_OUT_OF_RANGE = "quantity_out_of_range"  # emissions would not fit the committed integer
    SEQUENCE_REPEATED = "sequence_repeated"  # not after the device's last accepted sequence number
    TIMESTAMP_REGRESSED = "timestamp_regressed"  # before the device's last accepted reading
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"  # later than now plus the allowed clock skew
    WINDOW_CLOSED = "window_closed"  # its window is already committed (built or anchored)


class Refused(ValueError):
    """A reading cannot be accepted; `reason` says why and `detail` what was seen."""

    def __init__(self, reason: QuarantineReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
