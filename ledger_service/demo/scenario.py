"""A compliance year in one industrial park, told on the embedded chain.

    ./run demo            (or: carbonledger demo [--hours 24])

Compiles and deploys the suite, admits the park's members, registers meters, ingests
a day of signed simulated readings, anchors them, proves one reading on chain,
submits, verifies and finalizes the enterprises' reports, allocates and moves
allowances, issues and retires offset credits, trades on the market within the
price band, surrenders for compliance and prints the park's compliance table.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from rich.console import Console
from rich.table import Table

from ledger_service.chain.compiler import build
from ledger_service.chain.deploy import deploy_suite
from ledger_service.chain.embedded import start_embedded
from ledger_service.chain.errors import ContractRevert, RevertDecoder
from ledger_service.chain.sender import TransactionSender
from ledger_service.chain.suite import Suite
from ledger_service.db.migrate import upgrade_to_head
from ledger_service.db.session import make_engine, session_factory
from oracles.anchoring import MeterAnchorClient, anchor_pending, register_devices_on_chain
from oracles.batches import build_closed_batches
from oracles.devices import register_devices
from oracles.factors import get_factor_set
from oracles.ingest import ingest_messages
from oracles.proofs import prove_reading
from oracles.reports import anchored_period_commitment
from oracles.simulator import ParkLayout, simulate_messages, simulate_park

YEAR = 2025
YEAR_START = 1_735_689_600  # 2025-01-01T00:00:00Z
YEAR_END = 1_767_225_600  # 2026-01-01T00:00:00Z
PARK_ORG = 10
VERIFIER_ORG, ORACLE_ORG, TRADING_ORG, BANK_ORG, FORESTRY_ORG = 20, 50, 30, 40, 31
CNY = 100  # the settlement token has 2 decimals
ALLOWANCE_REFERENCE = 60 * CNY
CREDIT_REFERENCE = 35 * CNY
MAX_UINT = 2**256 - 1
ORG_KIND = {"park": 1, "enterprise": 2, "verification": 3, "trading": 4, "bank": 5, "operator": 6}
EMBEDDED_GAS_LIMIT = 15_000_000

console = Console(width=110, soft_wrap=True)


def sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


@dataclass
class Park:
    """The members of the story, each with a key and a sender on the chain."""

    suite: Suite
    senders: dict[str, TransactionSender]
    layout: ParkLayout
    accounts: dict[str, LocalAccount] = field(default_factory=dict)

    def address(self, actor: str) -> str:
        return str(self.senders[actor].address)

    def tx(self, actor: str, contract: str, function: str, *args: Any) -> Any:
        return self.suite.transact(self.senders[actor], contract, function, *args)

    def call(self, contract: str, function: str, *args: Any) -> Any:
        return self.suite.call(contract, function, *args)

    def enterprise_actor(self, org_id: int) -> str:
        return f"enterprise-{org_id}"


def step(title: str) -> None:
    console.rule(f"[bold]{title}")


def deploy(layout: ParkLayout) -> Park:
    step("Compile and deploy the suite on the embedded chain")
    artifacts = build()
    chain = start_embedded()
    decoder = RevertDecoder.from_artifacts(artifacts.values())
    actors = ["regulator", "verifier", "oracle", "trader", "forestry", "bank"]
    actors += [f"enterprise-{org}" for org, _ in layout.enterprises]
    accounts = {name: Account.from_key(keccak(text=f"carbonledger-demo:{name}")) for name in actors}
    chain.fund(a.address for a in accounts.values())
    senders = {
        name: TransactionSender(chain.w3, acct, decoder, gas_limit=EMBEDDED_GAS_LIMIT)
        for name, acct in accounts.items()
    }
    deployment = deploy_suite(senders["regulator"], artifacts, "embedded")
    table = Table("contract", "address")
    for name, address in deployment.addresses.items():
        table.add_row(name, address)
    console.print(table)
    return Park(Suite(chain.w3, artifacts, deployment), senders, layout, accounts)


def admit_members(park: Park) -> None:
    step("The regulator admits the park's members")
    role = {name: keccak(text=name) for name in ("VERIFIER", "ORACLE", "ENTERPRISE", "TRADER", "SETTLEMENT_BANK")}
    orgs = [(PARK_ORG, 0, "park", "Green Valley Industrial Park")]
    orgs += [(org, PARK_ORG, "enterprise", name) for org, name in park.layout.enterprises]
    orgs += [
        (VERIFIER_ORG, 0, "verification", "Certa Verification"),
        (ORACLE_ORG, PARK_ORG, "operator", "Park Metering Oracle"),
        (TRADING_ORG, 0, "trading", "Harbour Carbon Trading"),
        (BANK_ORG, 0, "bank", "Settlement Bank"),
        (FORESTRY_ORG, 0, "trading", "Green Hills Forestry Carbon"),
    ]
    for org_id, parent, kind, name in orgs:
        park.tx("regulator", "Membership", "registerOrganisation", org_id, parent, ORG_KIND[kind], name)
    members = [
        ("verifier", VERIFIER_ORG, "VERIFIER"),
        ("oracle", ORACLE_ORG, "ORACLE"),
        ("trader", TRADING_ORG, "TRADER"),
        ("bank", BANK_ORG, "SETTLEMENT_BANK"),
        ("forestry", FORESTRY_ORG, "TRADER"),
    ]
    members += [(park.enterprise_actor(org), org, "ENTERPRISE") for org, _ in park.layout.enterprises]
    table = Table("member", "organisation", "role")
    for actor, org, r in members:
        park.tx("regulator", "Membership", "admit", park.address(actor), org, [role[r]])
        table.add_row(actor, str(org), r)
    console.print(table)


def meter_data(park: Park, hours: int, workdir: Path) -> Any:
    step(f"Meters: {len(park.layout.devices)} devices, {hours} h of signed one-minute readings, anchored hourly")
    engine = make_engine(f"sqlite:///{workdir / 'oracle.db'}")
    upgrade_to_head(engine)
    session = session_factory(engine)()
    register_devices(session, park.layout.device_infos())
    session.commit()
    anchor = park.suite.contract("MeterAnchor")
    for org, _ in park.layout.enterprises:
        devices = [d for d in park.layout.device_infos() if d.enterprise_org_id == org]
        register_devices_on_chain(anchor, park.senders[park.enterprise_actor(org)], devices)
        park.tx("regulator", "MeterAnchor", "setOracleAuthorisation", park.address("oracle"), org, True)
    start = YEAR_START + 90 * 86_400
    messages = simulate_messages(park.layout, start, hours * 60, readings_per_message=60)
    summary = ingest_messages(
        session,
        messages,
        factor_set=get_factor_set("CN-2023-v1"),
        window_seconds=3600,
        now=start + hours * 3600 + 60,
        workers=1,
    )
    session.commit()
    build_closed_batches(session, start + hours * 3600 + 60)
    outcomes = anchor_pending(session, MeterAnchorClient(anchor, park.senders["oracle"]))
    console.print(
        f"accepted {summary.accepted:,} readings, quarantined {summary.quarantined_total:,}; "
        f"anchored {len(outcomes)} enterprise windows ({park.call('MeterAnchor', 'anchorCount')} anchors on chain)"
    )

    proof = prove_reading(session, 1)
    valid, subtotals = park.call(
        "MeterAnchor",
        "verifyReading",
        proof.anchor_id,
        proof.digest,
        proof.value_mg,
        [s.as_tuple() for s in proof.steps],
    )
    table = Table("level", "id", "kgCO2e", "readings", title=f"reading 1 proved on chain: {valid}")
    for label, sub in zip(proof.subtotals, subtotals, strict=True):
        table.add_row(label.level_name, label.label, f"{sub[2] / 1_000_000:,.3f}", f"{sub[3]:,}")
    console.print(table)
    return session


def reports(park: Park, session: Any) -> dict[int, int]:
    step("Reports: submitted with their commitment to the anchors, verified, finalized")
    obligations = {}
    table = Table("enterprise", "report", "anchors", "reported kgCO2e", "obligation tCO2e")
    for org, _ in park.layout.enterprises:
        commitment = anchored_period_commitment(session, org, YEAR_START, YEAR_END)
        reported_kg = (commitment.total_mg + 500_000) // 1_000_000  # mg to kg, half up
        actor = park.enterprise_actor(org)
        receipt = park.tx(
            actor,
            "EmissionRegistry",
            "submitReport",
            YEAR,
            sha(f"report {org} {YEAR}"),
            reported_kg,
            commitment.root,
            commitment.total_mg,
            commitment.reading_count,
        )
        report_id = park.suite.events(receipt, "EmissionRegistry", "ReportSubmitted")[0]["reportId"]
        park.tx("verifier", "EmissionRegistry", "verifyReport", report_id, reported_kg, sha(f"statement {org}"))
        park.tx("regulator", "EmissionRegistry", "finalizeReport", report_id)
        obligations[org] = park.call("ComplianceLedger", "complianceStatus", org, YEAR)[0]
        table.add_row(
            str(org), str(report_id), str(len(commitment.anchor_ids)), f"{reported_kg:,}", f"{obligations[org]:,}"
        )
    console.print(table)
    return obligations


def offset_credits(park: Park) -> int:
    step("Offset credits: a forestry project verified, issued with serials, partly retired")
    project = sha("project:green-hills-afforestation")
    period = (1_704_067_200, 1_735_689_599)  # calendar 2024, inclusive bounds
    park.tx(
        "regulator",
        "CreditRegistry",
        "registerProject",
        project,
        park.address("forestry"),
        "CCER-14-001-V01",
        sha("project design document"),
        "CN-ZJ",
    )
    park.tx("verifier", "CreditRegistry", "submitVerification", project, *period, 5_000, sha("monitoring report 2024"))
    receipt = park.tx("regulator", "CreditRegistry", "issueBatch", project, *period, 2024, 5_000, 1_000_001)
    issued = park.suite.events(receipt, "CreditRegistry", "BatchIssued")[0]
    console.print(
        f"batch {issued['batchId']}: vintage {issued['vintage']}, {issued['amount']:,} t, "
        f"serials {issued['serialStart']:,}-{issued['serialEnd']:,}"
    )
    receipt = park.tx(
        "forestry",
        "CreditRegistry",
        "retire",
        issued["batchId"],
        120,
        "Harbour Logistics Ltd",
        "voluntary offset of 2024 business travel",
        "CN",
        *period,
    )
    cert = park.suite.events(receipt, "CreditRegistry", "CreditsRetired")[0]
    table = Table("field", "value", title=f"retirement certificate #{cert['retirementId']}")
    for name in ("batchId", "vintage", "amount", "serialStart", "serialEnd", "beneficiary", "purpose", "jurisdiction"):
        table.add_row(name, str(cert[name]))
    table.add_row("transaction", receipt["transactionHash"].hex())
    console.print(table)
    return int(issued["batchId"])


def market_and_compliance(park: Park, obligations: dict[int, int], batch_id: int) -> None:
    step("Allowances: allocation, a direct transfer, market trades within the price band, surrender")
    orgs = [org for org, _ in park.layout.enterprises]
    seller, direct_buyer, market_buyer = orgs[0], orgs[1], orgs[-1]
    actor = park.enterprise_actor
    cap_bps = park.call("ComplianceLedger", "creditCapBps")
    # Everyone but the seller is allocated 90% of its verified emissions; the seller gets enough
    # to cover its own obligation and sell the others' shortfall (less the market buyer's credit use).
    short = {o: obligations[o] - obligations[o] * 9 // 10 for o in orgs[1:]}
    credit_use = obligations[market_buyer] * cap_bps // 10_000
    amounts = [obligations[o] * 9 // 10 for o in orgs[1:]]
    amounts.insert(0, obligations[seller] + sum(short.values()) - credit_use)
    park.tx("regulator", "AllowanceRegistry", "allocate", YEAR, [park.address(actor(o)) for o in orgs], amounts)
    transfer = short[direct_buyer]
    park.tx(
        actor(seller),
        "AllowanceRegistry",
        "safeTransferFrom",
        park.address(actor(seller)),
        park.address(actor(direct_buyer)),
        YEAR,
        transfer,
        b"",
    )
    console.print(f"enterprise {seller} transferred {transfer:,} t of its surplus to enterprise {direct_buyer}")

    market = park.suite.contract("CarbonMarket").address
    allowances, credits = (park.suite.contract(n).address for n in ("AllowanceRegistry", "CreditRegistry"))
    park.tx("regulator", "CarbonMarket", "setReferencePrice", allowances, YEAR, ALLOWANCE_REFERENCE)
    park.tx("regulator", "CarbonMarket", "setReferencePrice", credits, batch_id, CREDIT_REFERENCE)
    park.tx(actor(seller), "AllowanceRegistry", "setApprovalForAll", market, True)
    park.tx("forestry", "CreditRegistry", "setApprovalForAll", market, True)
    park.tx("bank", "SettlementToken", "mint", park.address(actor(market_buyer)), 100_000 * CNY)
    park.tx(actor(market_buyer), "SettlementToken", "approve", market, MAX_UINT)
    expiry = int(park.suite.w3.eth.get_block("latest")["timestamp"]) + 7 * 86_400
    try:
        park.tx(actor(seller), "CarbonMarket", "list", allowances, YEAR, 10, ALLOWANCE_REFERENCE * 12 // 10, expiry)
    except ContractRevert as refusal:
        console.print(f"an order 20% above the reference price is refused: {refusal}")
    to_buy = short[market_buyer] - credit_use
    trades = Table("order", "asset", "seller", "buyer", "tonnes", "price CNY/t", "paid CNY")
    for asset, token, seller_actor, tonnes, price in (
        (allowances, YEAR, actor(seller), to_buy, ALLOWANCE_REFERENCE * 105 // 100),
        # A few credits more than the cap allows: the surplus beyond the cap cannot count.
        (credits, batch_id, "forestry", credit_use + 4, CREDIT_REFERENCE * 97 // 100),
    ):
        receipt = park.tx(seller_actor, "CarbonMarket", "list", asset, token, tonnes, price, expiry)
        order_id = park.suite.events(receipt, "CarbonMarket", "OrderListed")[0]["orderId"]
        receipt = park.tx(actor(market_buyer), "CarbonMarket", "fill", order_id, tonnes)
        fill = park.suite.events(receipt, "CarbonMarket", "OrderFilled")[0]
        kind = "allowance" if asset == allowances else "credit"
        trades.add_row(
            str(order_id),
            f"{kind} {token}",
            seller_actor,
            actor(market_buyer),
            f"{tonnes:,}",
            f"{price / CNY:.2f}",
            f"{fill['payment'] / CNY:,.2f}",
        )
    console.print(trades)

    park.tx("regulator", "ComplianceLedger", "openComplianceWindow", YEAR)
    try:
        park.tx(actor(market_buyer), "CreditRegistry", "surrender", batch_id, credit_use + 1, YEAR)
    except ContractRevert as refusal:
        console.print(f"credits beyond the {cap_bps / 100:g}% cap are refused: {refusal}")
    if credit_use:
        park.tx(actor(market_buyer), "CreditRegistry", "surrender", batch_id, credit_use, YEAR)
    for org in orgs:
        held = park.call("AllowanceRegistry", "balanceOf", park.address(actor(org)), YEAR)
        due = park.call("ComplianceLedger", "complianceStatus", org, YEAR)[3]
        if min(held, due):
            park.tx(actor(org), "AllowanceRegistry", "surrender", YEAR, [YEAR], [min(held, due)])
    try:
        park.tx(actor(seller), "AllowanceRegistry", "surrender", YEAR, [YEAR + 1], [1])
    except ContractRevert as refusal:
        console.print(f"banking runs forward only: a 2026 allowance cannot count for 2025: {refusal}")


def compliance_table(park: Park) -> None:
    step("Compliance of the park, 2025")
    table = Table("enterprise", "obligation t", "allowances t", "credits t", "shortfall t")
    for org, name in park.layout.enterprises:
        obligation, allowances, credits, shortfall, _ = park.call("ComplianceLedger", "complianceStatus", org, YEAR)
        table.add_row(f"{org} {name}", f"{obligation:,}", f"{allowances:,}", f"{credits:,}", f"{shortfall:,}")
    console.print(table)


def notarize(park: Park) -> None:
    step("Notary: proof of existence of a monitoring plan")
    actor = park.enterprise_actor(park.layout.enterprises[0][0])
    digest = sha("monitoring plan v3")
    park.tx(actor, "Notary", "notarize", digest, sha("monitoring-plan"), sha("MP-2025-03"))
    record = park.call("Notary", "getNotarization", digest)
    console.print(f"document {digest.hex()[:16]}... notarized by {record[0]} at block {record[5]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=int, default=24, help="hours of meter data to simulate and anchor")
    parser.add_argument("--enterprises", type=int, default=3)
    parser.add_argument("--devices", type=int, default=6, help="devices per enterprise")
    args = parser.parse_args(argv)
    layout = simulate_park(
        enterprises=args.enterprises,
        devices_per_enterprise=args.devices,
        seed=7,
        park_org_id=PARK_ORG,
        first_enterprise_org_id=11,
    )
    park = deploy(layout)
    admit_members(park)
    with tempfile.TemporaryDirectory() as workdir:
        session = meter_data(park, args.hours, Path(workdir))
        obligations = reports(park, session)
        session.close()
    batch_id = offset_credits(park)
    market_and_compliance(park, obligations, batch_id)
    notarize(park)
    compliance_table(park)


if __name__ == "__main__":
    main()
