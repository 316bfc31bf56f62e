"""Imports point down only (README: Architecture). Routers parse, call one use case and shape the answer; the use
cases know nothing of HTTP; the demo, the CLI and the benchmarks never reach into routers; and nothing below the
service layer calls up into it. Checked on the syntax tree of every file, each finding named by file and line."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger_core.paths import REPO_ROOT

ROUTERS = REPO_ROOT / "ledger_service" / "api" / "routers"
SERVICES = REPO_ROOT / "ledger_service" / "services"
EDGES = [REPO_ROOT / "ledger_service" / "demo", REPO_ROOT / "ledger_service" / "cli", REPO_ROOT / "bench"]
FOUNDATION = REPO_ROOT / "ledger_core"
ORACLES = REPO_ROOT / "oracles"
BELOW_SERVICES = [REPO_ROOT / "ledger_service" / d for d in ("indexer", "audit", "identity", "workers")]
BELOW_SERVICES += [FOUNDATION, ORACLES]
# the domain modules the use cases build on (intents, chain and index reads), beside the packages
DOMAIN_MODULES = sorted(p for p in (REPO_ROOT / "ledger_service").glob("*.py") if p.name != "__main__.py")
RUNTIME_PARTS = {"chain", "suite", "sessions"}



def python_files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
        else:
            yield from sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module a file imports, with its line; `from a import b` also names `a.b` (b may be a module)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO_ROOT)}:{line}"


def importing(roots: list[Path], *packages: str) -> list[str]:
    found = []
    for path in python_files(*roots):
        for line, module in imported_modules(ast.parse(path.read_text(), str(path))):
            if within(module, *packages):
                found.append(f"{where(path, line)}: imports {module}")
    return sorted(set(found))


def router_findings(path: Path, source: str | None = None) -> list[str]:
    """What a router must leave to its use cases: SQL, commits, the chain and the runtime's sessions."""
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    found = sorted({f"{where(path, line)}: imports {module.split('.')[0]} (SQL belongs in a use case)"
                    for line, module in imported_modules(tree) if within(module, "sqlalchemy")})
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("commit",
                                                                                                      "call"):
            found.append(f"{where(path, node.lineno)}: calls .{node.func.attr}() (a use case commits and calls "
                         "the chain)")
        if (isinstance(node, ast.Attribute) and node.attr in RUNTIME_PARTS and isinstance(node.value, ast.Name)
                and node.value.id == "runtime"):
            found.append(f"{where(path, node.lineno)}: uses runtime.{node.attr} (a use case receives it)")
    return found


@pytest.mark.parametrize("router", [p.name for p in python_files(ROUTERS) if p.name != "__init__.py"])
def test_a_router_holds_no_sql_no_commit_and_no_chain_call(router: str) -> None:
    found = router_findings(ROUTERS / router)
    assert not found, "routers parse, call one use case and shape the answer:\n" + "\n".join(found)


def test_use_cases_know_nothing_of_http() -> None:
    found = importing([SERVICES], "ledger_service.api", "fastapi", "starlette")
    assert not found, "the service layer serves the API, the CLI and the demo alike:\n" + "\n".join(found)


def test_the_demo_the_cli_and_the_benchmarks_call_use_cases_not_routers() -> None:
    found = importing(EDGES, "ledger_service.api.routers")
    assert not found, "call a use case (ledger_service.services) or the HTTP API instead:\n" + "\n".join(found)


def sending_findings(path: Path, source: str | None = None) -> list[str]:
    """Where a file builds a transaction or submits to the outbox itself instead of calling a use case."""
    found = []
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        owner = func.value if isinstance(func, ast.Attribute) else None
        to_outbox = isinstance(owner, ast.Name | ast.Attribute) and ast.unparse(owner).split(".")[-1] == "outbox"
        if name == "Intent" or name.endswith("_intent") or (to_outbox and name.startswith("submit")):
            found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {name}()")
    return found


def test_the_demo_sends_every_transaction_through_a_use_case() -> None:
    found = [f for path in python_files(REPO_ROOT / "ledger_service" / "demo") for f in sending_findings(path)]
    assert not found, "the demo acts as a cast member through ledger_service.services:\n" + "\n".join(found)


def test_the_sending_rule_sees_a_transaction_built_or_submitted_by_hand() -> None:
    found = sending_findings(REPO_ROOT / "ledger_service" / "demo" / "old_style.py",
                             "send(runtime, Intent('X', 'f', (), a))\n"
                             "records = runtime.outbox.submit([meters.register_intent(a, i)])\n"
                             "use.submit(caller, 2025, 1, upload)\n")
    assert sorted(f.split(":", 1)[1] for f in found) == ["1: Intent()", "2: register_intent()", "2: submit()"]


def test_nothing_below_the_service_layer_calls_up_into_it() -> None:
    found = importing([*BELOW_SERVICES, *DOMAIN_MODULES], "ledger_service.services")
    assert not found, "imports point down only (README: Architecture):\n" + "\n".join(found)


def test_the_foundation_imports_nothing_above_it() -> None:
    found = importing([FOUNDATION], "ledger_service", "oracles")
    assert not found, "ledger_core is the foundation both the oracles and the service build on:\n" + "\n".join(found)


def test_the_oracles_build_on_the_foundation_and_never_on_the_service() -> None:
    """The service uses the oracles (ingest, proofs); the oracles never use the service: one direction only."""
    found = importing([ORACLES], "ledger_service")
    assert not found, "oracles import ledger_core, not ledger_service:\n" + "\n".join(found)


def test_the_rules_see_a_violation() -> None:
    """The checks themselves: a router written the old way is caught on each count, with its line."""
    found = router_findings(ROUTERS / "old_style.py", "from sqlalchemy import select\n\ndef f(runtime):\n"
                            "    with runtime.sessions() as s:\n        s.commit()\n"
                            "    return runtime.suite.call('X', 'y')\n")
    assert sorted(f.split(": ", 1)[0] for f in found) == [
        "ledger_service/api/routers/old_style.py:1", "ledger_service/api/routers/old_style.py:4",
        "ledger_service/api/routers/old_style.py:5", "ledger_service/api/routers/old_style.py:6",
        "ledger_service/api/routers/old_style.py:6"]
    assert {"imports sqlalchemy", "uses runtime.sessions", "calls .commit()", "uses runtime.suite",
            "calls .call()"} == {f.split(": ", 1)[1].split(" (")[0] for f in found}
