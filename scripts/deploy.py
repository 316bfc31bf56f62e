"""Compile and deploy the CarbonLedger suite, then record it in deployments/<network>.json.

    python -m scripts.deploy --network local --rpc-url http://127.0.0.1:8545 --key-env DEPLOYER_KEY
    python -m scripts.deploy --network embedded        # in-process chain: nothing is recorded

The deployer becomes the first regulator. A network that already has a record is
only redeployed with --redeploy. (The same as `carbonledger deploy`.)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ledger_core.chain.deploy import DeployError, DeploymentExists, deploy_network
from ledger_core.paths import DEPLOYMENTS_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", required=True, help="record name, e.g. local, besu-dev; 'embedded' for in-process")
    parser.add_argument("--rpc-url", help="JSON-RPC URL of the node (omit for the embedded chain)")
    parser.add_argument("--key-env", default="CARBONLEDGER_DEPLOYER_KEY", help="env var holding the deployer's key")
    parser.add_argument("--redeploy", action="store_true", help="replace an existing deployment record")
    parser.add_argument("--deployments-dir", type=Path, default=DEPLOYMENTS_DIR, help="where records are kept")
    args = parser.parse_args(argv)
    key = os.environ.get(args.key_env)
    try:
        _, path = deploy_network(args.network, args.rpc_url, key, args.deployments_dir, args.redeploy, progress=print)
    except DeployError as exc:
        hint = f" (set {args.key_env})" if "key" in str(exc) else ""
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 1
    except DeploymentExists as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"recorded {path}" if path else "embedded chain: the deployment lives only as long as this process")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
