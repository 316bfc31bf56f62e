"""Compile `contracts/` offline with solc-js and cache the artifacts by source hash.

py-solc-x drives `tools/solc`, a small front end over the npm `solc` package that
answers `--version` and `--standard-json` like the native compiler, so nothing is
ever downloaded at run time. Artifacts (ABI, bytecode, source hash, compiler
version) are written to `build/contracts/`; a second build with unchanged sources
reads them back without invoking the compiler.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger_core.paths import BUILD_DIR, CONTRACTS_DIR, NODE_MODULES, REPO_ROOT, SOLC_WRAPPER

EVM_VERSION = "cancun"
OPTIMIZER_RUNS = 200
MANIFEST = "manifest.json"


class CompilationError(Exception):
    """The Solidity sources do not compile; the message lists each error with file and line."""


class ToolchainMissing(CompilationError):
    """The npm toolchain (solc, OpenZeppelin) has not been installed."""


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    source_hash: str
    compiler_version: str

    @property
    def abi_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.abi, sort_keys=True).encode()).hexdigest()


def _solidity_sources(contracts_dir: Path) -> dict[str, str]:
    return {
        p.relative_to(contracts_dir.parent).as_posix(): p.read_text()
        for p in sorted(contracts_dir.rglob("*.sol"))
    }


def _compiler_settings() -> dict[str, Any]:
    return {
        "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
        "evmVersion": EVM_VERSION,
        "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
    }


def _toolchain_fingerprint() -> str:
    """Versions of solc-js and OpenZeppelin, which change the output as much as the sources."""
    parts = []
    for package in ("solc", "@openzeppelin/contracts"):
        manifest = NODE_MODULES / package / "package.json"
        if not manifest.exists():
            raise ToolchainMissing(
                f"npm package {package!r} is not installed; run `./run setup` (it runs `npm ci`) in {REPO_ROOT}"
            )
        parts.append(f"{package}@{json.loads(manifest.read_text())['version']}")
    return ",".join(parts)


def source_hash(contracts_dir: Path = CONTRACTS_DIR) -> str:
    """A digest of every Solidity source, the compiler settings and the toolchain versions."""
    digest = hashlib.sha256()
    digest.update(_toolchain_fingerprint().encode())
    digest.update(json.dumps(_compiler_settings(), sort_keys=True).encode())
    for path, text in _solidity_sources(contracts_dir).items():
        digest.update(path.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def _format_errors(errors: list[dict[str, Any]]) -> str:
    lines = []
    for err in errors:
        loc = err.get("sourceLocation") or {}
        where = loc.get("file", "?")
        text = err.get("formattedMessage") or err.get("message", "")
        lines.append(f"{where}: {err.get('type', 'Error')}: {text.strip()}")
    return "\n".join(lines)


def _run_compiler(sources: dict[str, str]) -> tuple[dict[str, Any], str]:
    import solcx
    import solcx.wrapper
    from solcx.exceptions import SolcError

    if not SOLC_WRAPPER.exists():
        raise ToolchainMissing(f"compiler front end missing: {SOLC_WRAPPER}")
    version = str(solcx.wrapper.get_solc_version(SOLC_WRAPPER, with_commit_hash=True))
    request = {
        "language": "Solidity",
        "sources": {path: {"content": text} for path, text in sources.items()},
        "settings": _compiler_settings(),
    }
    try:
        output = solcx.compile_standard(
            request, solc_binary=SOLC_WRAPPER, base_path=str(REPO_ROOT), allow_paths=str(REPO_ROOT)
        )
    except SolcError as exc:
        errors = [e for e in (exc.error_dict or []) if e.get("severity") == "error"]
        raise CompilationError(_format_errors(errors) if errors else str(exc)) from None
    return output, version


def build(contracts_dir: Path = CONTRACTS_DIR, out_dir: Path = BUILD_DIR, force: bool = False) -> dict[str, Artifact]:
    """Compile every contract unless cached artifacts already match the sources."""
    wanted = source_hash(contracts_dir)
    if not force:
        cached = _load_cached(out_dir, wanted)
        if cached is not None:
            return cached
    output, version = _run_compiler(_solidity_sources(contracts_dir))
    artifacts: dict[str, Artifact] = {}
    for source, contracts in output.get("contracts", {}).items():
        if not source.startswith("contracts/"):
            continue  # libraries (OpenZeppelin) are compiled into ours; no separate artifact
        for name, data in contracts.items():
            bytecode = data["evm"]["bytecode"]["object"]
            artifacts[name] = Artifact(
                name=name,
                source=source,
                abi=data["abi"],
                bytecode="0x" + bytecode if bytecode else "",
                source_hash=wanted,
                compiler_version=version,
            )
    _write(out_dir, wanted, version, artifacts)
    return artifacts


def _write(out_dir: Path, digest: str, version: str, artifacts: dict[str, Artifact]) -> None:
    # Build into a fresh directory and swap it in, so a concurrent reader never sees
    # a half-written set of artifacts.
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".contracts-", dir=out_dir.parent))
    for art in artifacts.values():
        (staging / f"{art.name}.json").write_text(
            json.dumps(
                {
                    "contractName": art.name,
                    "sourceName": art.source,
                    "abi": art.abi,
                    "bytecode": art.bytecode,
                    "sourceHash": art.source_hash,
                    "compilerVersion": art.compiler_version,
                    "evmVersion": EVM_VERSION,
                },
                indent=1,
            )
        )
    (staging / MANIFEST).write_text(
        json.dumps({"sourceHash": digest, "compilerVersion": version, "contracts": sorted(artifacts)})
    )
    retired = out_dir.with_name(f".retired-{os.getpid()}-{out_dir.name}")
    if out_dir.exists():
        os.replace(out_dir, retired)
    os.replace(staging, out_dir)
    shutil.rmtree(retired, ignore_errors=True)


def _load_cached(out_dir: Path, wanted: str) -> dict[str, Artifact] | None:
    manifest_path = out_dir / MANIFEST
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("sourceHash") != wanted:
        return None
    return load_artifacts(out_dir)


def load_artifacts(out_dir: Path = BUILD_DIR) -> dict[str, Artifact]:
    """Read the artifacts of the last build (without checking them against the sources)."""
    manifest = json.loads((out_dir / MANIFEST).read_text())
    result = {}
    for name in manifest["contracts"]:
        data = json.loads((out_dir / f"{name}.json").read_text())
        result[name] = Artifact(
            name=name,
            source=data["sourceName"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            source_hash=data["sourceHash"],
            compiler_version=data["compilerVersion"],
        )
    return result
