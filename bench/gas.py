"""Gas used by each CarbonLedger operation, measured from receipts on the embedded chain.

    .venv/bin/python bench/gas.py [--snapshot]

Prints a table, then one JSON line with the figures keyed as the issues name them.
`--snapshot` also rewrites `.gas-snapshot` (see `bench/budgets.py`) with these figures.
Views (proof verification) are measured as a transaction calling the view, so the
figure includes the 21,000 intrinsic gas and the calldata.

Operations are measured as users pay them every day, in steady state: a contract's counters and
totals that a first-ever call turns from zero to non-zero (the next report id, a vintage's allocated
total, the registry's first batch, the market's first escrow balance) are already non-zero, because
an unmeasured call of the same kind comes first (another enterprise's report, a first allocation of
the vintage, another project's batch, another order). `anchor` is an enterprise's second anchor (its
head already set); `anchor_batch_50` is an oracle's second batch of 50 windows of 50 enterprises (one
each), and `anchor_batch_per_window` that batch's gas over its 50 windows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.types import TxReceipt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.budgets import SNAPSHOT, format_snapshot
from ledger_core.chain.compiler import build
from ledger_core.chain.deploy import deploy_suite
from ledger_core.chain.embedded import start_embedded
from ledger_core.chain.errors import RevertDecoder
from ledger_core.chain.sender import TransactionSender
from ledger_core.chain.suite import Suite
from ledger_service import epd
from oracles import merkle_sum as ms
from oracles.anchor_records import event_record

YEAR = 2025
PARK, ENT_A, ENT_B, VERIFIER_ORG, ORACLE_ORG, TRADING_ORG, BANK_ORG = 10, 11, 12, 20, 50, 30, 40
ORG_KIND = {"park": 1, "enterprise": 2, "verification": 3, "trading": 4, "bank": 5, "operator": 6}
GAS_LIMIT = 25_000_000
BATCH_WINDOWS = 50
BATCH_ORG0 = 1_000  # the batch's enterprises: organisations 1000 .. 1049
EMISSIONS = 0


def role(name: str) -> bytes:
    return keccak(text=name)


def h(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class Bench:
    def __init__(self) -> None:
        self.chain = start_embedded()
        artifacts = build()
        decoder = RevertDecoder.from_artifacts(artifacts.values())
        self.accounts: dict[str, LocalAccount] = {}
        self.senders: dict[str, TransactionSender] = {}
        names = ["regulator", "verifier", "oracle", "ent_a", "ent_b", "trader", "bank"]
        for name in names:
            acct = Account.from_key(keccak(text=f"bench:{name}"))
            self.accounts[name] = acct
        self.chain.fund(a.address for a in self.accounts.values())
        for name, acct in self.accounts.items():
            self.senders[name] = TransactionSender(self.chain.w3, acct, decoder, gas_limit=GAS_LIMIT)
        deployment = deploy_suite(self.senders["regulator"], artifacts, "embedded")
        self.suite = Suite(self.chain.w3, artifacts, deployment)
        self.gas: dict[str, int] = {}

    def addr(self, name: str) -> str:
        return str(self.accounts[name].address)

    def tx(self, actor: str, contract: str, function: str, *args: object, key: str | None = None) -> TxReceipt:
        receipt = self.suite.transact(self.senders[actor], contract, function, *args)
        if key:
            self.gas[key] = int(receipt["gasUsed"])
        return receipt

    def setup_members(self) -> None:
        orgs = [
            (PARK, 0, "park", "Park"),
            (ENT_A, PARK, "enterprise", "Enterprise A"),
            (ENT_B, PARK, "enterprise", "Enterprise B"),
            (VERIFIER_ORG, 0, "verification", "Verifier"),
            (ORACLE_ORG, PARK, "operator", "Oracle"),
            (TRADING_ORG, 0, "trading", "Trader"),
            (BANK_ORG, 0, "bank", "Bank"),
        ]
        for org_id, parent, kind, name in orgs:
            self.tx("regulator", "Membership", "registerOrganisation", org_id, parent, ORG_KIND[kind], name)
        self.tx("regulator", "Membership", "admit", self.addr("ent_a"), ENT_A, [role("ENTERPRISE")], key="admit_member")
        for name, org, r in [
            ("ent_b", ENT_B, "ENTERPRISE"),
            ("verifier", VERIFIER_ORG, "VERIFIER"),
            ("oracle", ORACLE_ORG, "ORACLE"),
            ("trader", TRADING_ORG, "TRADER"),
            ("bank", BANK_ORG, "SETTLEMENT_BANK"),
        ]:
            self.tx("regulator", "Membership", "admit", self.addr(name), org, [role(r)])

    def allowances(self) -> None:
        holders = [Account.from_key(keccak(text=f"bench:holder:{i}")).address for i in range(100)]
        for holder in holders:
            self.tx("regulator", "Membership", "admit", holder, ENT_A, [role("ENTERPRISE")])
        # Steady state: the vintage's allocated total is already non-zero.
        self.tx(
            "regulator",
            "AllowanceRegistry",
            "allocate",
            YEAR,
            [self.addr("ent_a"), self.addr("ent_b")],
            [50_000, 50_000],
        )
        self.tx("regulator", "AllowanceRegistry", "allocate", YEAR, holders, [1_000] * 100, key="allocate_100")
        # The whole transaction's gas over its holders: the budget includes the fixed costs.
        self.gas["allocate_per_holder"] = -(-self.gas["allocate_100"] // len(holders))
        self.tx(
            "ent_a",
            "AllowanceRegistry",
            "safeTransferFrom",
            self.addr("ent_a"),
            self.addr("ent_b"),
            YEAR,
            100,
            b"",
            key="transfer_allowance",
        )

    def meters_and_reports(self) -> None:
        # A device with 2^16 readings in the window: its proof has 16 pair steps and 4 level wraps.
        leaves = [ms.leaf(h(f"reading-{i}"), 1_000 + i) for i in range(1 << 16)]
        device = ms.LabelledTree.build(ms.LEVEL_DEVICE, ms.labelled_id("D1"), leaves)
        workshop = ms.LabelledTree.build(ms.LEVEL_WORKSHOP, ms.labelled_id("W1"), [device.node])
        facility = ms.LabelledTree.build(ms.LEVEL_FACILITY, ms.labelled_id("F1"), [workshop.node])
        enterprise = ms.LabelledTree.build(ms.LEVEL_ENTERPRISE, ms.enterprise_id(ENT_A), [facility.node])
        proof = device.steps(12345) + workshop.steps(0) + facility.steps(0) + enterprise.steps(0)
        assert len(proof) == 20

        self.tx(
            "ent_a",
            "MeterAnchor",
            "registerDevice",
            ms.labelled_id("D1"),
            ENT_A,
            ms.labelled_id("F1"),
            ms.labelled_id("W1"),
            h("public key"),
        )
        self.tx("regulator", "MeterAnchor", "setOracleAuthorisation", self.addr("oracle"), ENT_A, True)
        start = 1_735_689_600  # 2025-01-01T00:00:00Z
        window = (h("CN-2023-v1"), facility.node.hash, facility.node.sum, facility.node.count)
        self.tx("oracle", "MeterAnchor", "anchor", ENT_A, EMISSIONS, start - 86_400, start, *window)
        receipt = self.tx("oracle", "MeterAnchor", "anchor", ENT_A, EMISSIONS, start, start + 86_400, *window,
                          key="anchor")
        record = event_record(self.suite.events(receipt, "MeterAnchor", "Anchored")[0]).as_abi()
        args: tuple[Any, ...] = (record, record[0], [], h("reading-12345"), 1_000 + 12345,
                                 [s.as_tuple() for s in proof])
        valid, _ = self.suite.call("MeterAnchor", "verifyReading", *args)
        assert valid, "the depth-20 proof must verify"
        self.tx("oracle", "MeterAnchor", "verifyReading", *args, key="verify_proof_depth20")
        self.anchor_batches(start, window)

        report_root = ms.level_node(ms.LEVEL_PERIOD, ms.enterprise_id(ENT_A), enterprise.node)
        # Steady state: another enterprise's report comes first, so the report counter is non-zero.
        self.tx("ent_b", "EmissionRegistry", "submitReport", YEAR, h("report-b.pdf"), 1_000, h("root b"), 1, 1)
        receipt = self.tx(
            "ent_a",
            "EmissionRegistry",
            "submitReport",
            YEAR,
            h("report.pdf"),
            40_000_400,
            report_root.hash,
            report_root.sum,
            report_root.count,
            key="submit_report",
        )
        report_id = self.suite.events(receipt, "EmissionRegistry", "ReportSubmitted")[0]["reportId"]  # type: ignore[arg-type]
        self.tx(
            "verifier", "EmissionRegistry", "verifyReport", report_id, 40_000_400, h("statement"), key="verify_report"
        )
        self.tx("regulator", "EmissionRegistry", "finalizeReport", report_id, key="finalize_report")
        self.tx("regulator", "ComplianceLedger", "openComplianceWindow", YEAR)
        self.tx("ent_a", "AllowanceRegistry", "surrender", YEAR, [YEAR], [30_000], key="surrender")
        self.tx("ent_a", "Notary", "notarize", h("contract.pdf"), h("contract"), h("ref-1"), key="notarize")

    def anchor_batches(self, start: int, window: tuple[object, ...]) -> None:
        """The oracle anchors one day of 50 enterprises in one transaction, twice; the second is measured."""
        orgs = range(BATCH_ORG0, BATCH_ORG0 + BATCH_WINDOWS)
        for org in orgs:
            self.tx("regulator", "Membership", "registerOrganisation", org, PARK, ORG_KIND["enterprise"], f"E{org}")
            self.tx("regulator", "MeterAnchor", "setOracleAuthorisation", self.addr("oracle"), org, True)
        for day, key in ((0, None), (1, "anchor_batch_50")):
            begin = start + day * 86_400
            windows = [(org, EMISSIONS, begin, begin + 86_400, *window) for org in orgs]
            self.tx("oracle", "MeterAnchor", "anchorBatch", windows, key=key)
        self.gas["anchor_batch_per_window"] = -(-self.gas["anchor_batch_50"] // BATCH_WINDOWS)

    def credits_and_market(self) -> None:
        project = h("project:wind-farm-7")
        period = (1_704_067_200, 1_735_689_599)  # calendar 2024, inclusive bounds
        self.tx(
            "regulator",
            "CreditRegistry",
            "registerProject",
            project,
            self.addr("trader"),
            "CM-001-V01",
            h("pdd.pdf"),
            "CN-NM",
        )
        # Steady state: another project's batch comes first (the registry's counters are non-zero).
        earlier = h("project:solar-3")
        self.tx("regulator", "CreditRegistry", "registerProject", earlier, self.addr("trader"), "CM-002-V01",
                h("pdd-3.pdf"), "CN-GS")
        self.tx("verifier", "CreditRegistry", "submitVerification", earlier, *period, 1_000, h("verification-3"))
        self.tx("regulator", "CreditRegistry", "issueBatch", earlier, *period, 2024, 1_000, 1)
        self.tx("verifier", "CreditRegistry", "submitVerification", project, *period, 100_000, h("verification"))
        receipt = self.tx(
            "regulator", "CreditRegistry", "issueBatch", project, *period, 2024, 100_000, 1_001, key="issue_credits"
        )
        batch_id = self.suite.events(receipt, "CreditRegistry", "BatchIssued")[0]["batchId"]  # type: ignore[arg-type]
        self.tx(
            "trader",
            "CreditRegistry",
            "safeTransferFrom",
            self.addr("trader"),
            self.addr("ent_b"),
            batch_id,
            500,
            b"",
            key="transfer_credit",
        )
        self.tx(
            "trader",
            "CreditRegistry",
            "retire",
            batch_id,
            100,
            "Harbour Logistics",
            "voluntary offset 2024",
            "CN",
            *period,
            key="retire_credit",
        )

        market = self.suite.contract("CarbonMarket").address
        registry = self.suite.contract("CreditRegistry").address
        self.tx("regulator", "CarbonMarket", "setReferencePrice", registry, batch_id, 3_500)  # 35.00 CNY/t
        self.tx("trader", "CreditRegistry", "setApprovalForAll", market, True)
        self.tx("bank", "SettlementToken", "mint", self.addr("ent_b"), 10_000_000)
        self.tx("ent_b", "SettlementToken", "approve", market, 2**256 - 1)
        expiry = int(self.chain.w3.eth.get_block("latest")["timestamp"]) + 86_400
        # Steady state: another order is open, so the market's escrow balance is already non-zero.
        self.tx("trader", "CarbonMarket", "list", registry, batch_id, 1_000, 3_500, expiry)
        receipt = self.tx("trader", "CarbonMarket", "list", registry, batch_id, 1_000, 3_500, expiry, key="list_order")
        order_id = self.suite.events(receipt, "CarbonMarket", "OrderListed")[0]["orderId"]  # type: ignore[arg-type]
        self.tx("ent_b", "CarbonMarket", "fill", order_id, 400, key="fill_order")
        self.tx("trader", "CarbonMarket", "cancel", order_id, key="cancel_order")

    def green_certificates(self) -> None:
        """Issuance and consumption of green electricity certificates in steady state: the second batch (the
        contract's counters, and the certified-anchor word its anchor shares with the first batch's, already
        non-zero) and an enterprise's second consumption from a batch it already consumed from."""
        self.tx("regulator", "MeterAnchor", "setOracleAuthorisation", self.addr("oracle"), ENT_B, True)
        week = 7 * 86_400
        start = 1_735_689_600  # 2025-01-01T00:00:00Z
        anchors = []
        for i in range(2):  # one production window (measure 1, Wh) a week, 120 MWh each
            node = ms.leaf(h(f"generation-{i}"), 120_000_000)
            receipt = self.tx("oracle", "MeterAnchor", "anchor", ENT_B, 1, start + i * week, start + (i + 1) * week,
                              b"\x00" * 32, node.hash, node.sum, node.count)
            anchors.append(self.suite.events(receipt, "MeterAnchor", "Anchored")[0]["anchorId"])  # type: ignore[arg-type]
        batch_ids = []
        for i, anchor_id in enumerate(anchors):
            receipt = self.tx("regulator", "GreenCertificates", "issue", self.addr("ent_b"), start + i * week,
                              start + (i + 1) * week, [anchor_id], 120, 1 + 120 * i,
                              key="issue_gec" if i else None)
            batch_ids.append(self.suite.events(receipt, "GreenCertificates", "CertificatesIssued")[0]["batchId"])  # type: ignore[arg-type]
        consumption = (start + 4 * week, start + 5 * week)
        self.tx("ent_b", "GreenCertificates", "consume", batch_ids[1], 30, *consumption)
        self.tx("ent_b", "GreenCertificates", "consume", batch_ids[1], 30, *consumption, key="consume_gec")

    def footprints(self) -> None:
        """Product footprints in steady state: a PCR's second version, an enterprise's second product, a
        product's second output record, a verifier's second attestation, an enterprise's second EPD citing one
        supplier EPD (the registry's counter and the attestation slot already in use before), a withdrawal, and
        the flag of a footprint whose supplier EPD was superseded."""
        valid = (1_767_225_600, 1_893_456_000)  # 2026-01-01 .. 2030-01-01: valid at the chain's clock
        q1 = (1_767_225_600, 1_775_001_600)
        hrc = epd.pcr_id("PCR-STEEL-HRC")
        for version in (1, 2):
            pcr = epd.PcrInput(hrc, version, "Hot-rolled steel coil", "4121", "t", "cradle-to-gate",
                               epd.Allocation.MASS, 10, "DQR <= 2.0", *valid, h(f"pcr v{version}"))
            self.tx("regulator", epd.PRODUCTS, "registerPcr", pcr.as_tuple(),
                    key="register_pcr" if version == 2 else None)
        products = {}
        for actor, org, own_id, key in (("ent_b", ENT_B, "HRC-2MM", None), ("ent_a", ENT_A, "BRACKET-6", None),
                                        ("ent_a", ENT_A, "BRACKET-7", "register_product")):
            self.tx(actor, epd.PRODUCTS, "registerProduct",
                    epd.ProductInput(own_id, "4121", "t", f"F-{org}", f"W-{org}").as_tuple(), key=key)
            products[own_id] = epd.product_id(org, own_id)
        for i, key in ((0, None), (1, "record_output")):
            output = epd.OutputInput(q1[0] + i * 1_000_000, q1[0] + (i + 1) * 1_000_000, 100_000, 100_000_000,
                                     45_000_000, h(f"erp {i}"))
            self.tx("ent_a", epd.PRODUCTS, "recordOutput", products["BRACKET-7"], output.as_tuple(), key=key)

        def publish(actor: str, org: int, own_id: str, mg: int, cited: tuple[int, ...] = (), supersedes: int = 0,
                    keys: tuple[str | None, str | None] = (None, None)) -> int:
            draft = epd.EpdDraft(products[own_id], hrc, 2, "t", mg, *q1, *valid, h(f"doc {own_id} {mg}"),
                                 h(f"provenance {own_id} {mg}"), 600, cited, supersedes)
            self.tx("verifier", epd.EPDS, "attest", draft.commitment(), org, h("statement"), key=keys[0])
            receipt = self.tx(actor, epd.EPDS, "publish", draft.as_tuple(), key=keys[1])
            return int(self.suite.events(receipt, epd.EPDS, "EpdPublished")[0]["epdId"])  # type: ignore[arg-type]

        supplier = publish("ent_b", ENT_B, "HRC-2MM", 1_850_000_000)
        first = publish("ent_a", ENT_A, "BRACKET-6", 3_000_000, (supplier,))
        second = publish("ent_a", ENT_A, "BRACKET-7", 3_400_000, (supplier,), keys=("attest_epd", "publish_epd"))
        self.tx("ent_a", epd.EPDS, "withdraw", first, h("discontinued"), key="withdraw_epd")
        publish("ent_b", ENT_B, "HRC-2MM", 1_700_000_000, supersedes=supplier)
        self.tx("oracle", epd.EPDS, "flag", second, [supplier], key="flag_epd")

    def run(self) -> dict[str, int]:
        self.setup_members()
        self.allowances()
        self.meters_and_reports()
        self.credits_and_market()
        self.green_certificates()
        self.footprints()
        return self.gas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", action="store_true", help="rewrite .gas-snapshot with the figures")
    options = parser.parse_args()
    gas = Bench().run()
    if options.snapshot:
        SNAPSHOT.write_text(format_snapshot(gas))
    width = max(map(len, gas))
    print(f"{'operation':<{width}}  {'gas used':>10}")
    for key, value in gas.items():
        print(f"{key:<{width}}  {value:>10,}")
    print(json.dumps(gas))


if __name__ == "__main__":
    main()
