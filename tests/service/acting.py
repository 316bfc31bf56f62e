"""Use cases called directly, without HTTP: the application's services over the test runtime, and a cast member
as the caller they act for."""

from __future__ import annotations

from typing import Any

import pytest

from ledger_service.runtime import Runtime
from ledger_service.services.caller import Caller
from ledger_service.services.errors import Refusal
from ledger_service.services.wiring import Services, build_services
from tests.service.cast import Cast


def services(runtime: Runtime) -> Services:
    return build_services(runtime)


def acting(runtime: Runtime, cast: Cast, name: str) -> Caller:
    """The cast member `name` as the chain records it now, acting with the key the service keeps."""
    address = cast.addresses[name]
    runtime.directory.forget(address)
    return Caller(address, "local", None, runtime.directory.member(address))


def refused(status: int, code: str, call: Any, *args: Any, **kwargs: Any) -> Refusal:
    """Call a use case that must refuse with `status` and `code`; the refusal."""
    with pytest.raises(Refusal) as caught:
        call(*args, **kwargs)
    assert (caught.value.status, caught.value.code) == (status, code), caught.value.message
    return caught.value
