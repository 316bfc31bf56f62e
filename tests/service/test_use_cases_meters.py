"""Meter use cases called directly: a device is registered on chain, then in the oracle's registry; who may
manage a device, see meter data and anchor it is checked before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger_core.chain.errors import ContractRevert
from ledger_core.db.models import MeterDevice
from ledger_service.runtime import Runtime
from oracles.devices import DeviceInfo
from tests.service.acting import acting, refused, services
from tests.service.cast import ENTERPRISE_A, Cast
from tests.service.metering import clear_meter_data, park


@pytest.fixture(autouse=True)
def _meter_data(runtime: Runtime) -> Iterator[None]:
    yield
    clear_meter_data(runtime)


def _info(index: int = 0) -> DeviceInfo:
    d = park().devices[index]  # the first devices are enterprise A's
    return DeviceInfo(d.device_id, d.enterprise_org_id, d.facility, d.workshop, d.public_key)


def test_registering_writes_the_chain_then_the_registry_and_a_repeat_sends_nothing(runtime: Runtime, cast: Cast):
    meters = services(runtime).meters
    enterprise = acting(runtime, cast, "enterprise_a")
    first = meters.register_device(enterprise, _info())
    assert first.record is not None and first.record.status == "mined"
    assert isinstance(first.device, MeterDevice) and first.device.enterprise_org_id == ENTERPRISE_A
    assert meters.device(acting(runtime, cast, "verifier"), first.device.device_id).active is True
    again = meters.register_device(enterprise, _info())
    assert again.record is None and again.device.device_id == first.device.device_id
    listed = meters.devices(acting(runtime, cast, "enterprise_a2"), ENTERPRISE_A, 0, 10)
    assert (listed.total, [d.device_id for d in listed.items]) == (1, [first.device.device_id])


def test_a_batch_registers_every_device_in_one_submission_and_a_repeat_sends_nothing(runtime: Runtime,
                                                                                      cast: Cast):
    meters = services(runtime).meters
    enterprise = acting(runtime, cast, "enterprise_a")
    changes = meters.register_devices(enterprise, [_info(0), _info(1)])
    assert [c.device.device_id for c in changes] == [_info(0).device_id, _info(1).device_id]
    assert all(c.record is not None and c.record.status == "mined" for c in changes)
    assert meters.devices(acting(runtime, cast, "regulator"), ENTERPRISE_A, 0, 10).total == 2
    again = meters.register_devices(enterprise, [_info(0), _info(1)])
    assert [c.record for c in again] == [None, None]


def test_a_batch_naming_another_enterprise_s_device_is_refused_whole_before_anything_is_sent(runtime: Runtime,
                                                                                             cast: Cast):
    meters = services(runtime).meters
    before = runtime.outbox.next_nonce(cast.addresses["enterprise_a"])
    foreign = _info(2)  # enterprise B's first device
    assert foreign.enterprise_org_id != ENTERPRISE_A
    refused(403, "NotYourDevice", meters.register_devices, acting(runtime, cast, "enterprise_a"), [_info(0), foreign])
    assert runtime.outbox.next_nonce(cast.addresses["enterprise_a"]) == before
    assert meters.devices(acting(runtime, cast, "regulator"), ENTERPRISE_A, 0, 10).total == 0


def test_another_enterprise_s_device_is_refused_before_anything_is_sent(runtime: Runtime, cast: Cast):
    meters = services(runtime).meters
    before = runtime.outbox.next_nonce(cast.addresses["enterprise_b"])
    refused(403, "NotYourDevice", meters.register_device, acting(runtime, cast, "enterprise_b"), _info())
    assert runtime.outbox.next_nonce(cast.addresses["enterprise_b"]) == before
    refused(403, "NotYourData", meters.devices, acting(runtime, cast, "enterprise_b"), ENTERPRISE_A, 0, 10)
    refused(404, "UnknownDevice", meters.device, acting(runtime, cast, "regulator"), "no-such-device")


def test_only_an_authorised_oracle_anchors_and_sees_the_enterprise_s_meter_data(runtime: Runtime, cast: Cast):
    meters = services(runtime).meters
    oracle = acting(runtime, cast, "oracle")
    with pytest.raises(ContractRevert) as caught:
        meters.build_and_anchor(oracle, ENTERPRISE_A)
    assert caught.value.error == "OracleNotAuthorised"
    refused(403, "NotYourData", meters.anchors, oracle, ENTERPRISE_A, 0, 10)
    granted = meters.authorise_oracle(acting(runtime, cast, "regulator"), ENTERPRISE_A, oracle.address, True)
    assert granted.authorised is True and granted.record is not None and granted.record.status == "mined"
    assert meters.authorisation(oracle, ENTERPRISE_A, oracle.address).authorised is True
    nothing = meters.build_and_anchor(oracle, ENTERPRISE_A)
    assert (nothing.built, nothing.windows, nothing.records, nothing.refused) == (0, [], [], False)
    assert meters.anchors(oracle, ENTERPRISE_A, 0, 10).total == 0


def test_a_reading_that_does_not_exist_has_no_proof(runtime: Runtime, cast: Cast):
    refused(404, "UnknownReading", services(runtime).meters.prove, acting(runtime, cast, "regulator"), 10**9)
