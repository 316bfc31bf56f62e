"""A bounded API fuzz that stays in the suite (see `tests.service.fuzzing`): schemathesis against the application
in process, as an unauthenticated caller, an enterprise and a regulator, from a fixed seed.

It fails on any 5xx (the readiness probe's 503 aside: it answers so by design while transactions are pending) and
on any answer whose body does not conform to the declared schema (every 2xx; a 4xx where the OpenAPI document
declares the house's error body, and the house's error shape on every 4xx). The counts are printed in the test's
report section (`pytest -rP`, or on failure). `CARBONLEDGER_FUZZ_EXAMPLES` raises the budget for a local run
(e.g. `=30`: about 10 minutes).

The fuzz runs on its own service runtime (embedded chain and database), not the session's: a regulator's fuzzed
requests register organisations, devices, keys and documents that the chain snapshot would not take back. Each
caller starts from the same snapshot.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from ledger_core.chain.compiler import Artifact
from ledger_service.api.app import create_app
from ledger_service.runtime import Runtime
from tests.service.cast import Cast, admit_cast
from tests.service.conftest import service_settings
from tests.service.fuzzing import SEED, Tally, fuzz, load
from tests.support import snapshots

EXAMPLES = int(os.environ.get("CARBONLEDGER_FUZZ_EXAMPLES", "0"))
# examples per operation and generation mode: an unauthenticated caller is refused before its input is looked at
BUDGET = {"anonymous": 1, "enterprise_a": 1, "regulator": 2}
EXPECTED = {("GET /ready", 503)}  # not ready while the fuzz's own transactions are pending: by design


@pytest.fixture(scope="module")
def fuzz_service(artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[Runtime, Cast, FastAPI]]:
    """A runtime of its own, without rate limits (the fuzz is one client making many requests)."""
    directory: Path = tmp_path_factory.mktemp("fuzz")
    runtime = Runtime.start(service_settings(directory, rate_limit_per_second=0, auth_failures_per_minute=0),
                            artifacts=artifacts)
    try:
        cast = admit_cast(runtime)
        yield runtime, cast, create_app(runtime)
    finally:
        runtime.close()


def _report(tallies: list[Tally], budget: dict[str, int]) -> str:
    lines = [f"API fuzz: seed {SEED}, examples per operation and generation mode (positive, negative): "
             + ", ".join(f"{c} {n}" for c, n in budget.items())]
    lines += [t.line() for t in tallies]
    total = sum(t.requests for t in tallies)
    lines.append(f"{'total':>12}: {total} requests, " + " ".join(
        f"{k}={sum(t.by_class.get(k, 0) for t in tallies)}" for k in ("2xx", "4xx", "5xx")))
    for t in tallies:
        lines += [f"  {f.caller} {f.operation} -> {f.status}: {f.problem} [{f.request[:300]}]" for f in t.findings]
    return "\n".join(lines)


def test_fuzzing_the_api_finds_no_server_error_and_no_schema_violation(
        fuzz_service: tuple[Runtime, Cast, FastAPI], request: pytest.FixtureRequest):
    runtime, cast, app = fuzz_service
    budget = {caller: EXAMPLES or n for caller, n in BUDGET.items()}
    tallies = []
    operations = load(app)
    for caller, examples in budget.items():
        snapshot = snapshots.snapshot(runtime)
        try:
            tally = fuzz(operations, caller, {} if caller == "anonymous" else cast.auth(caller), examples)
        finally:
            snapshots.revert(runtime, snapshot)
        tally.findings = [f for f in tally.findings if (f.operation, f.status) not in EXPECTED]
        tallies.append(tally)
    report = _report(tallies, budget)
    request.node.add_report_section("call", "fuzz", report)
    print(report)
    assert all(t.requests > 0 for t in tallies)
    assert not [f for t in tallies for f in t.findings], report
