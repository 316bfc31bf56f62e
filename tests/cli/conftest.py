"""The business commands run against the service tests' runtime and cast (one per session, snapshots per test)."""

from tests.service.conftest import _service, cast, client, runtime

__all__ = ["_service", "cast", "client", "runtime"]
