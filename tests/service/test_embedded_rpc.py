"""The embedded chain answers read-only JSON-RPC at `/rpc`, so its numbers can be checked without the service's
code: the standalone proof verifier reads an anchored root through it, as it would from any node."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.db.models import Reading
from ledger_core.paths import REPO_ROOT
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, Cast
from tests.service.helpers import V1
from tests.service.metering import anchor, messages, push, set_up_park

TOOL = REPO_ROOT / "tools" / "verify" / "verify_proof.py"


def rpc(client: TestClient, method: str, *params: object) -> dict:
    reply = client.post("/rpc", json={"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_it_answers_reads_as_a_node_does(client: TestClient, runtime: Runtime):
    assert rpc(client, "eth_chainId")["result"] == hex(runtime.chain.chain_id)
    assert int(rpc(client, "eth_blockNumber")["result"], 16) == runtime.chain.block_number()
    anchor_address = runtime.deployment.addresses["MeterAnchor"]
    assert len(rpc(client, "eth_getCode", anchor_address, "latest")["result"]) > 2
    anchor_id_of = "0x" + runtime.encoder.encode("MeterAnchor", "anchorIdOf", (11, 1, 5)).hex()
    answer = rpc(client, "eth_call", {"to": anchor_address, "data": anchor_id_of}, "latest")
    assert (answer["id"], int(answer["result"], 16)) == (7, 11 << 32 | 1 << 31 | 5)


def test_it_sends_nothing_and_refuses_what_it_cannot_read(client: TestClient, runtime: Runtime):
    raw = rpc(client, "eth_sendRawTransaction", "0x00")
    assert raw["error"]["code"] == -32601 and "read-only" in raw["error"]["message"]
    assert rpc(client, "eth_call", {"to": "not an address"}, "latest")["error"]["code"] == -32602
    assert rpc(client, "eth_call", {"to": runtime.deployment.addresses["MeterAnchor"]}, "yesterday")["error"][
        "code"] == -32602
    no_such_anchor = "0x" + runtime.encoder.encode("MeterAnchor", "productionOf", (999,)).hex()
    reverted = rpc(client, "eth_call", {"to": runtime.deployment.addresses["MeterAnchor"], "data": no_such_anchor},
                   "latest")
    assert reverted["error"]["code"] == 3 and reverted["error"]["data"].startswith("0x")
    future = rpc(client, "eth_getCode", runtime.deployment.addresses["MeterAnchor"], hex(10**9))
    assert future["error"]["code"] == -32000  # a block the chain does not have: an error answer, not a 500
    garbage = client.post("/rpc", content=b"{not json", headers={"content-type": "application/json"})
    assert (garbage.status_code, garbage.json()["error"]["code"]) == (200, -32700)
    batch = client.post("/rpc", json=[{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, 5]).json()
    assert batch[0]["result"] == hex(runtime.chain.chain_id) and batch[1]["error"]["code"] == -32600


def test_the_standalone_verifier_checks_a_served_proof_against_the_embedded_chain(
        client: TestClient, cast: Cast, runtime: Runtime, served: str, tmp_path: Path):
    layout = set_up_park(client, cast, runtime)
    push(client, cast, "oracle", messages(layout, hours=1, org=ENTERPRISE_A))
    anchor(client, cast, ENTERPRISE_A)
    with runtime.sessions() as session:
        reading_id = session.scalars(select(Reading.id).order_by(Reading.id)).all()[3]
    bundle = tmp_path / "proof.json"
    bundle.write_text(client.get(f"{V1}/meters/readings/{reading_id}/proof", headers=cast.auth("regulator")).text)
    anchor_address = client.get(f"{V1}/transactions/signing", headers=cast.auth("regulator")).json()[
        "contracts"]["MeterAnchor"]["address"]

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(TOOL), str(bundle), "--rpc", f"{served}/rpc", "--anchor",
                               anchor_address], capture_output=True, text=True, timeout=60, cwd=tmp_path)

    result = verify()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"verified: reading {reading_id} ")
    proof = json.loads(bundle.read_text())
    proof["root"] = "0x" + "00" * 32  # a bundle that claims another root is not believed: the chain's counts
    bundle.write_text(json.dumps(proof))
    assert verify().returncode == 1
