"""The proof `GET /api/v1/meters/readings/{id}/proof` serves, checked by `tools/verify/verify_proof.py` (standard
library only) against the root the embedded chain holds: the embedded chain answers no JSON-RPC from another
process, so the root is read here and given with `--root`."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.db.models import Reading
from ledger_core.paths import REPO_ROOT
from ledger_service.runtime import Runtime
from oracles.anchor_records import AnchorReader
from tests.service.cast import ENTERPRISE_A, Cast
from tests.service.helpers import V1
from tests.service.metering import anchor, messages, push, set_up_park

TOOL = REPO_ROOT / "tools" / "verify" / "verify_proof.py"


def test_the_api_s_proof_verifies_with_the_standalone_tool(client: TestClient, cast: Cast, runtime: Runtime,
                                                           tmp_path):
    layout = set_up_park(client, cast, runtime)
    push(client, cast, "oracle", messages(layout, hours=1, org=ENTERPRISE_A))
    anchor(client, cast, ENTERPRISE_A)
    with runtime.sessions() as session:
        reading_id = session.scalars(select(Reading.id).order_by(Reading.id)).all()[5]
    reply = client.get(f"{V1}/meters/readings/{reading_id}/proof", headers=cast.auth("regulator"))
    assert reply.status_code == 200, reply.text
    proof = reply.json()
    anchored = AnchorReader(runtime.suite.contract("MeterAnchor")).window(proof["anchor_id"])  # the chain's record
    assert anchored is not None
    root = "0x" + anchored.record.root.hex()
    assert proof["verified_on_chain"] and proof["anchor_record"]["root"] == root

    bundle = tmp_path / "proof.json"
    bundle.write_text(json.dumps(proof))
    result = subprocess.run([sys.executable, str(TOOL), str(bundle), "--root", root], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"verified: reading {reading_id} ") and root in result.stdout

    proof["subtotals"][1]["sum_mg"] = str(int(proof["subtotals"][1]["sum_mg"]) + 1)
    bundle.write_text(json.dumps(proof))
    result = subprocess.run([sys.executable, str(TOOL), str(bundle), "--root", root], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 1 and "subtotal workshop sum" in result.stdout, result.stdout

    # The bundle carries the reading's canonical record: a changed quantity no longer gives the digest.
    proof["subtotals"][1]["sum_mg"] = str(int(proof["subtotals"][1]["sum_mg"]) - 1)
    proof["record"]["quantity"] = str(Decimal(proof["record"]["quantity"]) + 1)
    bundle.write_text(json.dumps(proof))
    result = subprocess.run([sys.executable, str(TOOL), str(bundle), "--root", root], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 1 and "digest" in result.stdout, result.stdout
