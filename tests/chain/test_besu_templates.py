"""The Besu network templates enable what the contracts and the service rely on."""

from __future__ import annotations

import json
import tomllib

from ledger_core.chain.compiler import EVM_VERSION
from ledger_core.paths import REPO_ROOT

BESU = REPO_ROOT / "docs" / "besu"


def test_the_genesis_enables_the_compiled_fork_free_gas_and_qbft():
    config = json.loads((BESU / "genesis.json").read_text())["config"]
    assert EVM_VERSION == "cancun" and config["cancunTime"] == 0 and config["shanghaiTime"] == 0
    assert config["zeroBaseFee"] is True
    assert {"blockperiodseconds", "epochlength"} <= set(config["qbft"])


def test_nodes_accept_zero_gas_price_and_expose_the_perm_api_for_the_allowlist():
    node = tomllib.loads((BESU / "node.toml").read_text())
    assert node["min-gas-price"] == 0
    assert "PERM" in node["rpc-http-api"]
    assert node["permissions-accounts-config-file-enabled"] is True
