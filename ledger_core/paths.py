"""Well-known locations inside the repository."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = REPO_ROOT / "contracts"
BUILD_DIR = REPO_ROOT / "build" / "contracts"
DEPLOYMENTS_DIR = REPO_ROOT / "deployments"
NODE_MODULES = REPO_ROOT / "node_modules"
SOLC_WRAPPER = REPO_ROOT / "tools" / "solc"

