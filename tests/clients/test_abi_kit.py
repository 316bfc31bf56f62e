"""The contract interface published with the code (`clients/abi`, `clients/ts`): what the contracts compile to,
never drifting, with ABI hashes anyone can recompute from the published files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ledger_core.chain.abi_export import CLIENTS_DIR, client_kit, export, stale_files
from ledger_core.chain.compiler import Artifact
from ledger_core.chain.deploy import SUITE
from ledger_service.cli import app

runner = CliRunner()


def canonical(value: Any) -> str:
    """The README's recipe, written out by hand (not `json.dumps(sort_keys=True)`): objects with keys sorted by
    code point, `", "` between items, `": "` after a key, strings as JSON with non-ASCII escaped."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{canonical(k)}: {canonical(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(canonical(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if any(ord(c) < 0x20 or ord(c) > 0xFFFF for c in value):
            raise ValueError("an ABI's strings hold no control characters and nothing beyond the BMP")
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + "".join(c if ord(c) < 0x80 else f"\\u{ord(c):04x}" for c in escaped) + '"'
    raise TypeError(f"an ABI holds no {type(value).__name__}")


def test_the_committed_kit_is_what_the_contracts_compile_to(artifacts: dict[str, Artifact]):
    stale = stale_files(artifacts)
    assert stale == [], f"run `carbonledger abi export` and commit: {stale}"


def test_the_kit_covers_the_deployed_suite(artifacts: dict[str, Artifact]):
    files = client_kit(artifacts)
    for spec in SUITE:
        assert json.loads(files[f"abi/{spec.name}.json"]) == artifacts[spec.name].abi
        assert f"export const {spec.name[0].lower()}{spec.name[1:]}Abi = [" in files[f"ts/{spec.name}.ts"]
    assert "CarbonMarketV2.json" not in " ".join(files)  # test contracts are not published


def test_every_custom_error_of_the_suite_is_in_errors_ts(artifacts: dict[str, Artifact]):
    text = (CLIENTS_DIR / "ts" / "errors.ts").read_text()
    errors = json.loads(text[text.index("["):text.rindex("]") + 1])
    names = {e["name"] for e in errors}
    for spec in SUITE:
        assert {e["name"] for e in artifacts[spec.name].abi if e["type"] == "error"} <= names
    assert {"ZeroAmount", "ERC1155InsufficientBalance"} <= names
    signatures = [(e["name"], tuple(i["type"] for i in e["inputs"])) for e in errors]
    assert len(signatures) == len(set(signatures))  # each once, however many contracts declare it


def test_an_abi_hash_is_recomputed_from_the_published_file_by_the_readme_recipe(artifacts: dict[str, Artifact]):
    published = json.loads((CLIENTS_DIR / "abi" / "MeterAnchor.json").read_text())
    recomputed = hashlib.sha256(canonical(published).encode("ascii")).hexdigest()
    assert recomputed == artifacts["MeterAnchor"].abi_hash  # what deploy_suite records in abiHashes
    assert recomputed == json.loads((CLIENTS_DIR / "abi" / "abi-hashes.json").read_text())["MeterAnchor"]


def test_a_changed_contract_makes_the_kit_stale_until_exported(artifacts: dict[str, Artifact], tmp_path: Path):
    assert export(artifacts, tmp_path)  # everything written to an empty folder
    assert stale_files(artifacts, tmp_path) == [] and export(artifacts, tmp_path) == []
    changed = dict(artifacts)
    notary = artifacts["Notary"]
    extra = {"type": "error", "name": "Invented", "inputs": []}
    changed["Notary"] = Artifact(notary.name, notary.source, [*notary.abi, extra], notary.bytecode,
                                 notary.source_hash, notary.compiler_version)
    assert stale_files(changed, tmp_path) == ["abi/Notary.json", "abi/abi-hashes.json", "ts/Notary.ts",
                                              "ts/errors.ts", "ts/index.ts"]
    (tmp_path / "ts" / "Leftover.ts").write_text("export {};\n")
    assert "ts/Leftover.ts" in export(changed, tmp_path)
    assert not (tmp_path / "ts" / "Leftover.ts").exists() and stale_files(changed, tmp_path) == []


def test_the_export_command_writes_the_kit_and_checks_it(artifacts: dict[str, Artifact], tmp_path: Path):
    assert runner.invoke(app, ["abi", "export", "--check"]).exit_code == 0  # the committed kit
    written = runner.invoke(app, ["abi", "export", "--out", str(tmp_path), "--json"])
    assert written.exit_code == 0, written.output
    assert json.loads(written.output)["written"] == len(client_kit(artifacts))
    (tmp_path / "abi" / "Notary.json").write_text("[]\n")
    checked = runner.invoke(app, ["abi", "export", "--check", "--out", str(tmp_path)])
    assert checked.exit_code == 1
    assert "Notary.json" in checked.output and "carbonledger abi export" in checked.output
