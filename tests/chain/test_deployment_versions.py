"""The deployment record's versions: a contract's current version and the earlier addresses it had, each with
the blocks it served; records written before versions existed still load, as version 1."""

from __future__ import annotations

import json
from pathlib import Path

from ledger_core.chain.compiler import Artifact
from ledger_core.chain.deploy import Deployment, EventSource, load_deployment, write_deployment
from ledger_core.chain.upgrade import Proposal, upgraded
from ledger_service.indexer.catalog import EventCatalog

OLD_FORMAT = {
    "network": "local", "chainId": 31337, "deployer": "0x" + "11" * 20, "deploymentBlock": 3,
    "deployedAt": "2026-01-01T00:00:00+00:00",
    "contracts": {"Membership": "0x" + "aa" * 20, "CarbonMarket": "0x" + "bb" * 20},
    "abiHashes": {"Membership": "m", "CarbonMarket": "c"}, "compilerVersion": "0.8.30", "sourceHash": "s",
    "gitCommit": "g",
}
NEW_MARKET = "0x" + "cc" * 20


def test_a_record_without_versions_reads_as_every_contract_at_version_one(tmp_path: Path) -> None:
    (tmp_path / "local.json").write_text(json.dumps(OLD_FORMAT))
    record = load_deployment("local", tmp_path)
    market = record.version_of("CarbonMarket")
    assert (market.version, market.artifact, market.from_block, market.history) == (1, "CarbonMarket", 3, ())
    assert record.event_sources() == [
        EventSource("Membership", OLD_FORMAT["contracts"]["Membership"], "Membership", 1, 3, None),
        EventSource("CarbonMarket", OLD_FORMAT["contracts"]["CarbonMarket"], "CarbonMarket", 1, 3, None),
    ]


def test_an_upgrade_keeps_the_old_address_with_the_blocks_it_served(
        tmp_path: Path, artifacts: dict[str, Artifact]) -> None:
    record = Deployment.from_json(OLD_FORMAT)
    proposal = Proposal(1, "CarbonMarket", OLD_FORMAT["contracts"]["CarbonMarket"], NEW_MARKET, 2,
                        "0x" + "11" * 20, "0x" + "22" * 20)
    after = upgraded(record, proposal, "CarbonMarketV2", 40, 45, artifacts)
    assert after.addresses["CarbonMarket"] == NEW_MARKET and after.artifact_of("CarbonMarket") == "CarbonMarketV2"
    assert after.abi_hashes["CarbonMarket"] == artifacts["CarbonMarketV2"].abi_hash
    assert [(s.key, s.address, s.from_block, s.until_block) for s in after.event_sources()
            if s.contract == "CarbonMarket"] == [
        ("CarbonMarket", OLD_FORMAT["contracts"]["CarbonMarket"], 3, 45), ("CarbonMarket@v2", NEW_MARKET, 40, None)]

    write_deployment(after, tmp_path)
    written = json.loads((tmp_path / "local.json").read_text())
    assert written["contracts"]["CarbonMarket"] == NEW_MARKET
    assert written["versions"]["CarbonMarket"]["history"] == [{
        "address": OLD_FORMAT["contracts"]["CarbonMarket"], "version": 1, "artifact": "CarbonMarket",
        "from_block": 3, "until_block": 45}]
    assert load_deployment("local", tmp_path).to_json() == after.to_json()


def test_the_event_catalog_reads_each_address_over_the_blocks_it_served(artifacts: dict[str, Artifact]) -> None:
    proposal = Proposal(1, "CarbonMarket", OLD_FORMAT["contracts"]["CarbonMarket"], NEW_MARKET, 2, "", "")
    catalog = EventCatalog.of_deployment(artifacts, upgraded(Deployment.from_json(OLD_FORMAT), proposal,
                                                             "CarbonMarketV2", 40, 45, artifacts))
    old, new = (catalog.addresses[k] for k in ("CarbonMarket", "CarbonMarket@v2"))
    assert catalog.contract_at[old] == catalog.contract_at[new] == "CarbonMarket"
    assert catalog.serves(old, 45) and not catalog.serves(old, 46)
    assert catalog.serves(new, 10_000) and catalog.first_block["CarbonMarket@v2"] == 40
