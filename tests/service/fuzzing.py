"""A bounded, reproducible API fuzz: schemathesis against the application in process (ASGI), one pass per caller.

Every operation of the OpenAPI document gets `examples` generated requests per generation mode (positive: what
the schema allows, negative: what it does not), from a fixed seed. A request fails the fuzz when it is answered
with a 5xx, or with a 2xx whose body does not conform to the declared response schema. A 4xx is checked against
its declared schema only where the document declares the house error body for that status (FastAPI's default
`HTTPValidationError` is not what the service answers with); until then its shape is checked here directly.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

SEED = 20250
DEFAULT_ERROR_SCHEMA = "#/components/schemas/HTTPValidationError"


@dataclass
class Finding:
    caller: str
    operation: str
    status: int
    problem: str
    request: str


@dataclass
class Tally:
    caller: str
    requests: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        classes = " ".join(f"{k}={self.by_class.get(k, 0)}" for k in ("2xx", "4xx", "5xx"))
        return f"{self.caller:>12}: {self.requests} requests, {classes}, {len(self.findings)} findings, " \
               f"{self.seconds:.1f} s"


def _declares_house_error(operation: Any, status: int) -> bool:
    """The operation declares a schema for `status` other than FastAPI's default validation error."""
    responses = operation.definition.raw.get("responses", {})
    declared = responses.get(str(status)) or responses.get(f"{status // 100}XX")
    if not declared:
        return False
    text = json.dumps(declared)
    return "schema" in text and DEFAULT_ERROR_SCHEMA not in text


def _house_error_problem(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return "error body is not JSON"
    if not isinstance(data, dict) or not isinstance(data.get("error"), str) or not isinstance(
            data.get("message"), str) or not isinstance(data.get("args", {}), dict):
        return f"error body is not {{error, message, args}}: {str(data)[:200]}"
    if "execution reverted" in data["message"]:
        return "error message says 'execution reverted'"
    return None


def _describe(case: Any) -> str:
    parts = [f"{case.method} {case.formatted_path}"]
    if case.query:
        parts.append(f"query={case.query!r}")
    if case.body is not None and not isinstance(case.body, bytes | bytearray):
        parts.append(f"body={json.dumps(case.body, default=repr)[:300]}")
    elif case.body is not None:
        parts.append(f"body=<{len(case.body)} bytes>")
    return " ".join(parts)


def load(app: Any) -> list[Any]:
    """Every operation of the application's OpenAPI document. Load them once for several callers: an operation
    keeps the strategies built for its parameters, and building them costs more than the requests."""
    return [result.ok() for result in schemathesis.openapi.from_asgi("/openapi.json", app).get_all_operations()]


def fuzz(operations: list[Any], caller: str, headers: Mapping[str, str], examples: int,
         modes: Iterable[GenerationMode] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
         skip: Iterable[str] = ()) -> Tally:
    """Fuzz `operations` (from `load`) as `caller` (its `headers`); `skip`: operation labels left out."""
    tally = Tally(caller)
    started = time.monotonic()
    left_out = set(skip)
    for operation in operations:
        if operation.label in left_out:
            continue
        for mode in modes:
            _fuzz_operation(operation, mode, tally, dict(headers), examples)
    tally.seconds = time.monotonic() - started
    return tally


def _fuzz_operation(operation: Any, mode: GenerationMode, tally: Tally, headers: dict[str, str],
                    examples: int) -> None:
    @seed(SEED)
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        def found(problem: str) -> None:
            tally.findings.append(Finding(tally.caller, operation.label, status, problem, _describe(case)))

        tally.requests += 1
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # raised by the application: the client would have seen a 500
            status = 500
            tally.by_status[status] += 1
            tally.by_class["5xx"] += 1
            found(f"{type(exc).__name__}: {str(exc)[:300]}")
            return
        status = response.status_code
        tally.by_status[status] += 1
        tally.by_class[f"{status // 100}xx"] += 1
        if status >= 500:
            found(response.text[:300])
            return
        if 200 <= status < 300 or _declares_house_error(operation, status):
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except Failure as exc:
                found(f"response schema: {exc.title}: {exc.message[:400]}")
            except FailureGroup as group:
                for exc in group.exceptions:
                    found(f"response schema: {exc.title}: {exc.message[:400]}")
        if status >= 400:
            problem = _house_error_problem(response.content)
            if problem is not None:
                found(problem)

    with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (no parameters, no body)
        run()
