"""Compile and deploy the CarbonLedger suite, then record it in deployments/<network>.json.

    python -m scripts.deploy --network local --rpc-url http://127.0.0.1:8545 --key-env DEPLOYER_KEY
    python -m scripts.deploy --network embedded        # in-process chain: nothing is recorded

The deployer becomes the first regulator. A network that already has a record is
only redeployed with --redeploy.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from eth_account import Account

from ledger_service.chain.compiler import CompilationError, build
from ledger_service.chain.connect import EMBEDDED, connect
from ledger_service.chain.deploy import DeploymentExists, deploy_suite, deployment_path, write_deployment
from ledger_service.chain.errors import ContractRevert, RevertDecoder
from ledger_service.chain.sender import TransactionSender
from ledger_service.paths import DEPLOYMENTS_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", required=True, help="record name, e.g. local, besu-dev; 'embedded' for in-process")
    parser.add_argument("--rpc-url", help="JSON-RPC URL of the node (omit for the embedded chain)")
    parser.add_argument("--key-env", default="CARBONLEDGER_DEPLOYER_KEY", help="env var holding the deployer's key")
    parser.add_argument("--redeploy", action="store_true", help="replace an existing deployment record")
    parser.add_argument("--deployments-dir", type=Path, default=DEPLOYMENTS_DIR, help="where records are kept")
    args = parser.parse_args(argv)

    embedded = args.network == EMBEDDED
    if not embedded and not args.rpc_url:
        parser.error("--rpc-url is required for a persistent network")
    if not embedded and deployment_path(args.network, args.deployments_dir).exists() and not args.redeploy:
        print(
            f"error: {deployment_path(args.network, args.deployments_dir)} exists; pass --redeploy to replace it",
            file=sys.stderr,
        )
        return 1
    try:
        artifacts = build()
    except CompilationError as exc:
        print(f"error: contracts do not compile\n{exc}", file=sys.stderr)
        return 1

    w3, chain = connect(EMBEDDED if embedded else args.rpc_url)
    if chain is not None:
        account = Account.create()
        chain.fund([account.address])
    else:
        key = os.environ.get(args.key_env)
        if not key:
            print(f"error: set {args.key_env} to the deployer's private key", file=sys.stderr)
            return 1
        account = Account.from_key(key)
    sender = TransactionSender(w3, account, RevertDecoder.from_artifacts(artifacts.values()))
    try:
        deployment = deploy_suite(sender, artifacts, args.network, progress=print)
    except ContractRevert as exc:
        print(f"error: deployment reverted: {exc}", file=sys.stderr)
        return 1
    if embedded:
        print("embedded chain: the deployment lives only as long as this process; nothing recorded")
        return 0
    try:
        path = write_deployment(deployment, args.deployments_dir, overwrite=args.redeploy)
    except DeploymentExists as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"recorded {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
