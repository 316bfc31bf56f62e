"""`tools/verify/verify_proof.py`, the verifier a third party runs without our code: it imports only the
standard library, accepts every shared test vector, names what failed when one byte of a proof changes,
and checks a proof against the root it reads itself from `MeterAnchor` on a node (anvil) over JSON-RPC.
`python -m oracles prove N --rpc URL` needs no oracle key."""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from sqlalchemy.orm import Session

from ledger_core.chain.anvil import AnvilNode, free_port
from ledger_core.chain.compiler import Artifact
from ledger_core.chain.connect import connect_rpc
from ledger_core.chain.deploy import write_deployment
from ledger_core.config import Settings
from ledger_core.paths import REPO_ROOT
from oracles import commands
from oracles import merkle_sum as ms
from oracles.anchor_records import AnchoredWindow, AnchorRecord, batch_proof, batch_root, window_json
from oracles.anchoring import MeterAnchorClient
from oracles.commands import ORACLE_KEY_ENV
from oracles.proofs import prove_reading
from tests.chain.node_service import require_anvil
from tests.support.ledger import Ledger
from tests.support.story import anchor_meter_data

TOOL = REPO_ROOT / "tools" / "verify" / "verify_proof.py"
VECTORS = json.loads((REPO_ROOT / "contracts" / "test-vectors" / "merkle_sum.json").read_text())["enterprise"]
ROOT = VECTORS["root"]["hash"]


def run_tool(tmp_path: Path, bundle: dict[str, Any] | str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "bundle.json"
    path.write_text(bundle if isinstance(bundle, str) else json.dumps(bundle))
    # From another directory and without PYTHONPATH: the tool must not find the project even if it tried.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, str(TOOL), str(path), *args], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=env)


def flip(hex_text: str, position: int = -1) -> str:
    """The same 0x-hex with one byte changed (the low nibble of the byte ending at `position`)."""
    chars = list(hex_text)
    chars[position] = "0" if chars[position] != "0" else "1"
    return "".join(chars)


def bump(decimal: str) -> str:
    """The same decimal with its last digit changed."""
    return decimal[:-1] + ("1" if decimal[-1] != "1" else "2")


# ---------------------------------------------------------------------- the tool itself


def test_the_tool_imports_only_the_standard_library():
    tree = ast.parse(TOOL.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            imported.add((node.module or "").split(".")[0])
    assert imported, "the tool imports something (argparse, hashlib, ...)"
    assert not imported & {"ledger_service", "oracles", "tests", "tools"}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported - set(sys.stdlib_module_names)
    for node in ast.walk(tree):  # nor by the back door
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            assert name not in {"__import__", "import_module", "exec", "eval"}


def test_its_keccak_is_ethereum_s():
    spec = importlib.util.spec_from_file_location("verify_proof", TOOL)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    for data in (b"", b"abc", b"x" * 135, b"x" * 136, b"y" * 137, bytes(range(256)) * 3):
        assert tool.keccak256(data) == keccak(data)
    assert tool.selector("commitmentOf(uint256)") == keccak(text="commitmentOf(uint256)")[:4]
    # The anchor record's commitment and the batch path, as MeterAnchor and oracles.anchor_records compute them.
    record = AnchorRecord(7, 11, 1, 3_600, 7_200, b"\x01" * 32, 12_345, 60, b"\x00" * 32, 3, "0x" + "ab" * 20)
    read = tool.read_anchor_record({**window_json_of(record)["anchor_record"]})
    assert tool.record_commitment(read) == record.commitment()
    leaves = [bytes([i]) * 32 for i in range(5)]
    for i in range(5):
        assert tool.fold_batch(leaves[i], list(batch_proof(leaves, i))) == batch_root(leaves)


@pytest.mark.parametrize("index", range(len(VECTORS["readings"])))
def test_every_shared_vector_verifies(tmp_path, index):
    result = run_tool(tmp_path, VECTORS["readings"][index], "--root", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("verified: ") and ROOT in result.stdout


def _tampered(what: str) -> tuple[dict[str, Any], list[str], str]:
    """A vector with one byte changed in `what`: (bundle, extra args, the words the reason must contain)."""
    bundle = copy.deepcopy(VECTORS["readings"][1])  # F2-W1-D1: sibling steps on both sides
    args = ["--root", ROOT]
    pair_step = next(i for i, s in enumerate(bundle["proof"]) if s["kind"] != 2)
    if what == "value":
        bundle["value"] = bump(bundle["value"])
        return bundle, args, "subtotal device sum"
    if what == "digest":
        bundle["digest"] = flip(bundle["digest"])
        return bundle, args, "root: the proof folds to"
    if what == "step hash":
        bundle["proof"][pair_step]["data"] = flip(bundle["proof"][pair_step]["data"], 10)
        return bundle, args, "root: the proof folds to"
    if what == "step sum":
        bundle["proof"][pair_step]["sum"] = bump(bundle["proof"][pair_step]["sum"])
        return bundle, args, "subtotal device sum"
    if what == "step count":
        bundle["proof"][pair_step]["count"] += 1
        return bundle, args, "subtotal device count"
    if what == "step sum without subtotals":
        del bundle["subtotals"]
        bundle["proof"][pair_step]["sum"] = bump(bundle["proof"][pair_step]["sum"])
        return bundle, args, "root: the proof folds to"
    if what == "level id":
        bundle["proof"][-1]["data"] = flip(bundle["proof"][-1]["data"])
        return bundle, args, "subtotal enterprise"
    if what == "level wrap sum":
        bundle["proof"][-1]["sum"] = "1"
        return bundle, args, "level wrap carries sum 0 and count 0"
    if what == "subtotal sum":
        bundle["subtotals"][2]["sum"] = bump(bundle["subtotals"][2]["sum"])
        return bundle, args, "subtotal facility sum"
    if what == "subtotal count":
        bundle["subtotals"][1]["count"] += 1
        return bundle, args, "subtotal workshop count"
    if what == "given root":
        return bundle, ["--root", flip(ROOT)], "root: the proof folds to"
    if what == "bundle root":
        bundle["root"] = flip(ROOT)
        return bundle, args, "root: the bundle says"
    raise AssertionError(what)


@pytest.mark.parametrize("what", ["value", "digest", "step hash", "step sum", "step count",
                                  "step sum without subtotals", "level id", "level wrap sum", "subtotal sum",
                                  "subtotal count", "given root", "bundle root"])
def test_one_changed_byte_fails_with_a_reason_naming_it(tmp_path, what):
    bundle, args, reason = _tampered(what)
    result = run_tool(tmp_path, bundle, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("NOT VERIFIED: ") and reason in result.stdout, result.stdout


def test_unreadable_bundles_do_not_verify(tmp_path):
    assert run_tool(tmp_path, "not json", "--root", ROOT).returncode == 1
    no_steps = {k: v for k, v in VECTORS["readings"][0].items() if k != "proof"}
    result = run_tool(tmp_path, no_steps, "--root", ROOT)
    assert result.returncode == 1 and "steps is missing" in result.stdout
    truncated = copy.deepcopy(VECTORS["readings"][0])
    truncated["proof"] = truncated["proof"][:-1]  # stops at the facility: not the anchored root
    assert run_tool(tmp_path, truncated, "--root", ROOT).returncode == 1
    assert run_tool(tmp_path, VECTORS["readings"][0]).returncode == 2  # neither --root nor --rpc


# ---------------------------------------------------------------------- against a node, over JSON-RPC


class _AnvilChain:
    """What `tests.support.ledger.Ledger` needs of a chain: web3 and funding (anvil's setBalance)."""

    def __init__(self, node: AnvilNode) -> None:
        self.node = node
        self.w3 = connect_rpc(node.url)

    def fund(self, addresses: Any, wei: int = 10**21) -> None:
        for address in addresses:
            self.node.fund(address, wei)


@pytest.fixture(scope="module")
def anvil_ledger(artifacts: dict[str, Artifact]) -> Iterator[tuple[AnvilNode, Ledger]]:
    require_anvil()
    node = AnvilNode(free_port()).start()
    try:
        yield node, Ledger(_AnvilChain(node), artifacts)  # type: ignore[arg-type]
    finally:
        node.stop()


def window_json_of(record: AnchorRecord) -> dict[str, Any]:
    return window_json(AnchoredWindow(record, record.anchor_id, (), 1, "0x" + "00" * 32, 0))


def old_naming(bundle: dict[str, Any]) -> dict[str, Any]:
    """A bundle in the camelCase naming the CLI and the trace used before (valueMg, proof, sumMg, anchorId),
    without its record: old bundles still verify."""
    renamed = {"value_mg": "valueMg", "steps": "proof", "anchor_id": "anchorId", "reading_id": "readingId"}
    out = {renamed.get(k, k): v for k, v in bundle.items() if k != "record"}
    out["subtotals"] = [{("sumMg" if k == "sum_mg" else k): v for k, v in t.items()} for t in out["subtotals"]]
    return out


def test_a_served_proof_verifies_against_meter_anchor_over_json_rpc(anvil_ledger, session: Session, tmp_path):
    node, ledger = anvil_ledger
    story = anchor_meter_data(ledger, session, hours=1)
    address = ledger.deployment.addresses["MeterAnchor"]
    rpc = ["--rpc", node.url, "--anchor", address]
    proof = prove_reading(session, 7)
    assert proof.anchor_id is not None
    client = MeterAnchorClient(ledger.contract("MeterAnchor"), None)
    bundle = {**proof.as_json(), **window_json(client.anchored_window(proof.anchor_id))}
    assert bundle["record"]["quantity"] and bundle["anchor_id"] in story.anchor_ids[proof.enterprise_org_id]

    result = run_tool(tmp_path, bundle, *rpc)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "digest recomputed from the record" in result.stdout and address in result.stdout
    old = run_tool(tmp_path, old_naming(bundle), *rpc)  # no record: the given digest
    assert old.returncode == 0 and "given digest" in old.stdout, old.stdout

    forged = copy.deepcopy(bundle)
    forged["record"]["quantity"] = forged["record"]["quantity"] + "1"
    result = run_tool(tmp_path, forged, *rpc)
    assert result.returncode == 1 and "digest: the canonical record hashes to" in result.stdout, result.stdout
    assert bundle["anchor_batch"] is not None  # both enterprises' windows were anchored in one batch
    kept_at = str(bundle["anchor_batch"]["first_anchor_id"])
    pathless = {**bundle, "anchor_batch": None}  # the record's own hash is not what is kept for its batch
    result = run_tool(tmp_path, pathless, *rpc, "--anchor-id", kept_at)
    assert result.returncode == 1 and "MeterAnchor keeps 0x" in result.stdout, result.stdout
    result = run_tool(tmp_path, bundle, *rpc, "--anchor-id", "999")
    assert result.returncode == 1 and "nothing is anchored under id 999" in result.stdout, result.stdout
    tampered = copy.deepcopy(bundle)  # the record as a tampered index would state it
    tampered["anchor_record"]["total"] = str(int(tampered["anchor_record"]["total"]) + 1)
    result = run_tool(tmp_path, tampered, *rpc)
    assert result.returncode == 1 and "the bundle's anchor record hashes through its batch path" in result.stdout, (
        result.stdout)
    no_record = {k: v for k, v in bundle.items() if k != "anchor_record"}
    assert "needs the bundle's anchor_record" in run_tool(tmp_path, no_record, *rpc).stdout

    # The oracle's own command checks through the contract without the oracle's key, and its output is a bundle.
    deployments = tmp_path / "deployments"
    write_deployment(ledger.deployment, deployments)
    env = {k: v for k, v in os.environ.items() if k != ORACLE_KEY_ENV}
    env["CARBONLEDGER_DEPLOYMENTS_DIR"] = str(deployments)
    db_url = str(session.get_bind().url)
    cli = subprocess.run([sys.executable, "-m", "oracles", "prove", "7", "--db", db_url, "--rpc", node.url,
                          "--network", ledger.deployment.network], capture_output=True, text=True, timeout=120,
                         cwd=REPO_ROOT, env=env)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    printed = json.loads(cli.stdout)
    assert printed["verified_in_python"] is True and printed["verified_on_chain"] is True
    result = run_tool(tmp_path, cli.stdout, *rpc)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_read_only_meter_anchor_client_needs_no_oracle_key(ledger, tmp_path, monkeypatch):
    monkeypatch.delenv(ORACLE_KEY_ENV, raising=False)
    write_deployment(ledger.deployment, tmp_path)
    monkeypatch.setattr(commands, "get_settings", lambda: Settings(deployments_dir=tmp_path))
    with pytest.raises(commands.NoOracleKey, match=ORACLE_KEY_ENV):
        commands.connect_meter_anchor("http://127.0.0.1:9", ledger.deployment.network)
    client = commands.connect_meter_anchor("http://127.0.0.1:9", ledger.deployment.network, read_only=True)
    assert client.contract.address == ledger.deployment.addresses["MeterAnchor"]
    with pytest.raises(RuntimeError, match="read-only"):
        client.send_anchor(11, 0, 0, 3600, "CN-2023-v1", ms.Node(b"\x01" * 32, 1, 1))
