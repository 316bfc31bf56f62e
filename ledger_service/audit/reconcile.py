"""Compare the index with the chain's own views and report every difference.

The chain is read at the block the index has reached (the lowest checkpoint), so a
consistent index shows no difference whatever was mined since. Checked: balances per holder
and token id, total supplies per id, organisations, member statuses and freezes, devices,
anchors (root, total, count, window), reports (status and figures), notarizations, credit
batches (issued, retired, cancelled and surrendered amounts and the supply they leave, which must
equal the units held), market orders (status and remaining; the open orders' remaining
units per token must equal the market's escrow and the market's balance) and product footprints (PCR versions,
output record commitments, EPDs: owner, validity, status, flag, product, citations).

Given the chain client, it also compares the outbox with the chain (`outbox_check`): receipts of
the transactions recorded as mined, and every signer's nonces.

The meter data is held to the chain too (`meter_check`): every anchored window's root, total and count
recomputed from the stored readings (not from the stored nodes) against the anchor on chain, for every
window or those starting at or after `since`, or a seeded sample of `sample` windows; and, given the
document vault, every stored document's hash recomputed from its sealed bytes against the report on chain.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from ledger_core.assets import CREDIT
from ledger_core.chain.errors import ContractRevert
from ledger_core.chain.suite import Suite
from ledger_core.db.models import (
    ChainAnchor,
    ChainBalance,
    ChainCreditBatch,
    ChainCreditCancellation,
    ChainCreditRetirement,
    ChainCreditSurrender,
    ChainDevice,
    ChainMember,
    ChainNotarization,
    ChainOracleAuthorisation,
    ChainOrder,
    ChainOrganisation,
    ChainReport,
    IndexCheckpoint,
)
from ledger_service import epd
from ledger_service.audit.anchor_index import kept_by_index, record_of
from ledger_service.audit.meter_check import MeterCheck, check_documents, check_meter_data
from ledger_service.emissions import Report, indexed_blocks, read_report, submission_hash
from ledger_service.indexer.indexer import DEFAULT_RANGE as LOG_RANGE  # blocks per eth_getLogs request
from oracles.anchor_records import AnchorReader
from oracles.anchoring import OnChainAnchor

FOOTPRINT_ROWS = 1_000_000  # PCR versions, products and EPDs read back, at most

if TYPE_CHECKING:
    from ledger_core.chain.client import ChainClient
    from ledger_service.audit.outbox_check import OutboxCheck
    from ledger_service.documents import DocumentVault

MEMBER_STATUS = {0: "none", 1: "active", 2: "suspended", 3: "revoked"}
ORDER_STATUS = {0: "none", 1: "open", 2: "filled", 3: "cancelled", 4: "expired"}


@dataclass(frozen=True)
class Difference:
    """One fact on which index and chain disagree: `index` is None for a fact missing from the index. In
    the outbox's differences (kind "outbox"), `index` is the outbox's value; in the meter data's and
    documents' (`meter_*`, `document`), the value SQL holds or gives. `where` locates it further (the
    enterprise, anchor, window, device and reading of a meter difference)."""

    kind: str
    key: str
    field: str
    index: Any
    chain: Any
    where: dict[str, Any] | None = dataclasses.field(default=None, compare=False, hash=False)


@dataclass
class ReconcileReport:
    block: int
    checked: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    outbox: OutboxCheck | None = None  # the outbox against the chain, when checked
    meters: MeterCheck | None = None  # what the meter data check covered (its differences are in `differences`)

    @property
    def ok(self) -> bool:
        return not self.differences and (self.outbox is None or self.outbox.ok)


class _Reconciler:
    def __init__(self, conn: Connection, suite: Suite, block: int) -> None:
        self.conn = conn
        self.suite = suite
        self.block = block
        self.report = ReconcileReport(block)
        self._anchor_ids: list[int] | None = None

    def view(self, contract: str, function: str, *args: Any) -> Any:
        return self.suite.function(contract, function, *args).call(block_identifier=self.block)

    def compare(self, kind: str, key: Any, index: dict[str, Any], chain: dict[str, Any]) -> None:
        self.report.checked[kind] = self.report.checked.get(kind, 0) + 1
        for name, value in index.items():
            if value != chain[name]:
                self.report.differences.append(Difference(kind, str(key), name, value, chain[name]))

    def chain_anchor_ids(self) -> list[int]:
        """The chain's anchor ids, from the heads of every enterprise the index names (as an organisation, in
        an anchor or in an oracle authorisation)."""
        if self._anchor_ids is None:
            orgs = {int(o) for table in (ChainOrganisation.org_id, ChainAnchor.enterprise_org_id,
                                         ChainOracleAuthorisation.enterprise_org_id)
                    for o in self.conn.scalars(select(table))}
            self._anchor_ids = AnchorReader(self.suite.contract("MeterAnchor"), self.block).anchor_ids(orgs)
        return self._anchor_ids

    def has(self, contract: str, function: str) -> bool:
        abi = self.suite.contract(contract).abi
        return any(e.get("type") == "function" and e.get("name") == function for e in abi)

    def balances(self) -> None:
        supplies: dict[tuple[str, int], int] = defaultdict(int)
        for token, token_id, holder, amount in self.conn.execute(
            select(ChainBalance.token, ChainBalance.token_id, ChainBalance.holder, ChainBalance.amount)
        ):
            if token not in self.suite.contracts or not self.has(token, "balanceOf"):
                continue
            erc20 = self.has(token, "decimals")
            args = (holder,) if erc20 else (holder, token_id)
            on_chain = self.view(token, "balanceOf", *args)
            self.compare("balance", f"{token}/{token_id}/{holder}", {"amount": amount}, {"amount": on_chain})
            supplies[(token, token_id)] += amount
        for (token, token_id), total in supplies.items():
            erc20 = self.has(token, "decimals")
            on_chain = self.view(token, "totalSupply") if erc20 else self.view(token, "totalSupply(uint256)", token_id)
            self.compare("total_supply", f"{token}/{token_id}", {"amount": total}, {"amount": on_chain})

    def members(self) -> None:
        for m in self.conn.execute(select(ChainMember)).mappings():
            org_id, status, frozen = self.view("Membership", "memberOf", m["account"])
            self.compare("member", m["account"], {"org_id": m["org_id"], "status": m["status"], "frozen": m["frozen"]},
                         {"org_id": org_id, "status": MEMBER_STATUS[status], "frozen": frozen})

    def organisations(self) -> None:
        for o in self.conn.execute(select(ChainOrganisation)).mappings():
            parent, kind, name = self.view("Membership", "organisation", o["org_id"])
            self.compare("organisation", o["org_id"],
                         {"parent_id": o["parent_id"], "kind": o["kind"], "name": o["name"]},
                         {"parent_id": parent, "kind": kind, "name": name})

    def devices(self) -> None:
        for d in self.conn.execute(select(ChainDevice)).mappings():
            org, facility, workshop, key_hash, active = self.view("MeterAnchor", "getDevice", d["device_id"])
            self.compare("device", "0x" + d["device_id"].hex(),
                         {"enterprise_org_id": d["enterprise_org_id"], "facility_id": d["facility_id"],
                          "workshop_id": d["workshop_id"], "public_key_hash": d["public_key_hash"],
                          "active": d["active"]},
                         {"enterprise_org_id": org, "facility_id": facility, "workshop_id": workshop,
                          "public_key_hash": key_hash, "active": active})

    def anchors(self) -> None:
        count = self.conn.scalar(select(func.count()).select_from(ChainAnchor))
        self.compare("anchor_count", "MeterAnchor", {"count": count}, {"count": len(self.chain_anchor_ids())})
        # MeterAnchor keeps each record's hash (a batch's root): hash the indexed records and compare. Only
        # when they differ are the records read from the chain's events, to name the fields that changed.
        rows = [dict(a) for a in self.conn.execute(select(ChainAnchor)).mappings()]
        by_key: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_key[row["batch_id"] if row["batch_id"] is not None else row["anchor_id"]].append(row)
        for key, kept in kept_by_index(rows).items():
            self.report.checked["anchor"] = self.report.checked.get("anchor", 0) + len(by_key[key])
            on_chain = bytes(self.view("MeterAnchor", "commitmentOf", key))
            if on_chain != kept:
                self._anchor_fields(by_key[key], key, kept, on_chain)

    def _anchor_fields(self, rows: list[dict[str, Any]], key: int, kept: bytes, on_chain: bytes) -> None:
        """The fields of indexed anchors whose records no longer hash to what MeterAnchor keeps under `key`."""
        reader = AnchorReader(self.suite.contract("MeterAnchor"), self.block,
                              from_block=self.suite.deployment.block)
        named = False
        for row in rows:
            window = reader.window(row["anchor_id"])
            if window is None:
                continue
            record, indexed = window.record, record_of(row)
            for name, attr in (("enterprise_org_id", "enterprise_org_id"), ("measure", "measure"),
                                ("window_start", "window_start"), ("window_end", "window_end"), ("root", "root"),
                                ("total_mg", "total"), ("reading_count", "reading_count"),
                                ("factor_set_id", "factor_set_id"), ("previous_anchor_id", "previous_anchor_id"),
                                ("oracle", "oracle")):
                if getattr(indexed, attr) != getattr(record, attr):
                    self.report.differences.append(Difference("anchor", str(row["anchor_id"]), name,
                                                              row[name], getattr(record, attr)))
                    named = True
        if not named:
            self.report.differences.append(Difference("anchor", str(key), "commitment", kept, on_chain))

    def read_report(self, report_id: int) -> Report:
        """The report as the chain holds it, read first from the blocks the index names (up to the reconciled
        block): a wrong or missing index row cannot hide anything, as the commitments decide and a mismatch
        reads the whole range."""
        return read_report(self.suite, report_id, self.block, indexed_blocks(self.conn, report_id, self.block))

    def reports(self) -> None:
        # The registry keeps status, versions and commitments; the records are in its events, read from the
        # chain and checked against those commitments (`read_report`), then compared with the index.
        count = self.conn.scalar(select(func.count()).select_from(ChainReport))
        self.compare("report_count", "EmissionRegistry", {"count": count},
                     {"count": self.view("EmissionRegistry", "reportCount")})
        for r in self.conn.execute(select(ChainReport)).mappings():
            c = self.read_report(r["report_id"])
            before = len(self.report.differences)
            self.compare("report", r["report_id"],
                         {"org_id": r["org_id"], "year": r["year"], "version": r["version"],
                          "status": r["status"], "anchors_root": r["anchors_root"], "anchored_mg": r["anchored_mg"],
                          "reading_count": r["reading_count"], "reported_kg": r["reported_kg"],
                          "verified_kg": r["verified_kg"] or 0, "obligation_tonnes": r["obligation_tonnes"] or 0},
                         {"org_id": c.org_id, "year": c.year, "version": c.version, "status": c.status.label,
                          "anchors_root": c.anchors_root, "anchored_mg": c.anchored_mg,
                          "reading_count": c.reading_count, "reported_kg": c.reported_kg,
                          "verified_kg": c.verified_kg, "obligation_tonnes": c.obligation_tonnes})
            # The rest of the indexed record (submitter, document) is held to the commitment as a whole.
            indexed = submission_hash(r["submitter"], bytes(r["document_hash"]), r["reported_kg"],
                                      bytes(r["anchors_root"]), r["anchored_mg"], r["reading_count"])
            kept = submission_hash(c.submitter, c.document_hash, c.reported_kg, c.anchors_root, c.anchored_mg,
                                   c.reading_count)
            if len(self.report.differences) == before and indexed != kept:
                self.report.differences.append(Difference("report", str(r["report_id"]), "submission_hash",
                                                          "0x" + indexed.hex(), "0x" + kept.hex()))

    def events(self, contract: str, event: str) -> list[Any]:
        """Every `event` of `contract` from the deployment up to the block being reconciled."""
        logs: list[Any] = []
        target = getattr(self.suite.contract(contract).events, event)
        start = self.suite.deployment.block
        while start <= self.block:
            end = min(start + LOG_RANGE - 1, self.block)
            logs += target.get_logs(from_block=start, to_block=end)
            start = end + 1
        return logs

    def notarizations(self) -> None:
        # The contract keeps who and when per hash; the organisation is in the event of that block.
        events = {bytes(e["args"]["documentHash"]): e["args"] for e in self.events("Notary", "Notarized")}
        count = self.conn.scalar(select(func.count()).select_from(ChainNotarization))
        self.compare("notarization_count", "Notary", {"count": count}, {"count": len(events)})
        for n in self.conn.execute(select(ChainNotarization)).mappings():
            notary, timestamp, _block = self.view("Notary", "getNotarization", n["document_hash"])
            event = events.get(bytes(n["document_hash"]), {})
            self.compare("notarization", "0x" + n["document_hash"].hex(),
                         {"notary": n["notary"], "org_id": n["org_id"], "timestamp": n["timestamp"]},
                         {"notary": notary, "org_id": event.get("orgId"), "timestamp": timestamp})

    def _sums(self, model: type[ChainCreditRetirement | ChainCreditCancellation | ChainCreditSurrender]
              ) -> dict[int, int]:
        return {int(b): int(a) for b, a in self.conn.execute(
            select(model.batch_id, func.sum(model.amount)).group_by(model.batch_id))}

    def credit_batches(self) -> None:
        if CREDIT.contract not in self.suite.contracts:
            return
        retired, cancelled = self._sums(ChainCreditRetirement), self._sums(ChainCreditCancellation)
        surrendered = self._sums(ChainCreditSurrender)
        held = {int(i): int(a) for i, a in self.conn.execute(
            select(ChainBalance.token_id, func.sum(ChainBalance.amount)).where(ChainBalance.token == CREDIT.contract)
            .group_by(ChainBalance.token_id))}
        count = self.conn.scalar(select(func.count()).select_from(ChainCreditBatch))
        self.compare("credit_batch_count", CREDIT.contract, {"count": count},
                     {"count": self.view(CREDIT.contract, "batchCount")})
        for b in self.conn.execute(select(ChainCreditBatch)).mappings():
            batch_id = b["batch_id"]
            c = self.view(CREDIT.contract, "batch", batch_id)
            supply = b["amount"] - retired.get(batch_id, 0) - cancelled.get(batch_id, 0) - surrendered.get(batch_id, 0)
            self.compare("credit_batch", batch_id,
                         {"amount": b["amount"], "serial_start": b["serial_start"], "serial_end": b["serial_end"],
                          "retired": retired.get(batch_id, 0), "cancelled": cancelled.get(batch_id, 0),
                          "surrendered": surrendered.get(batch_id, 0), "supply": supply},
                         {"amount": c[6], "serial_start": c[7], "serial_end": c[8], "retired": c[10],
                          "cancelled": c[11], "surrendered": c[12],
                          "supply": self.view(CREDIT.contract, "totalSupply(uint256)", batch_id)})
            self.compare("credit_batch_held", batch_id, {"supply": supply}, {"supply": held.get(batch_id, 0)})

    def footprints(self) -> None:
        """PCR versions (validity and commitment), output records (commitments) and EPDs (owner, validity, status,
        flag, product and the commitment to what each cites), each read back from its registry."""
        if epd.EPDS not in self.suite.contracts:
            return
        with Session(bind=self.conn) as session:
            pcrs, _ = epd.pcrs(session, 0, FOOTPRINT_ROWS)
            for p in pcrs:
                valid_from, valid_until, _allocation, commitment = self.view(
                    epd.PRODUCTS, "pcr", epd.from_hex32(p.pcr_id), p.version)
                self.compare("pcr", f"{p.pcr_id}/{p.version}",
                             {"valid_from": p.valid_from, "valid_until": p.valid_until, "commitment": p.commitment},
                             {"valid_from": valid_from, "valid_until": valid_until,
                              "commitment": epd.hex32(commitment)})
            products, _ = epd.products(session, 0, FOOTPRINT_ROWS)
            for product in products:
                for o in epd.outputs(session, epd.from_hex32(product.product_id)):
                    on_chain = self.view(epd.PRODUCTS, "outputCommitment", epd.from_hex32(product.product_id), o.index)
                    self.compare("product_output", f"{product.product_id}/{o.index}", {"commitment": o.commitment},
                                 {"commitment": epd.hex32(on_chain)})
            found, total = epd.epds(session, 0, FOOTPRINT_ROWS)
            self.compare("epd_count", epd.EPDS, {"count": total}, {"count": self.view(epd.EPDS, "epdCount")})
            for e in found:
                self.compare("epd", e.epd_id, epd.indexed_record(e),
                             epd.chain_record(self.view(epd.EPDS, "epd", e.epd_id)))

    def orders(self) -> None:
        if "CarbonMarket" not in self.suite.contracts:
            return
        market = self.suite.contract("CarbonMarket").address
        count = self.conn.scalar(select(func.count()).select_from(ChainOrder))
        self.compare("order_count", "CarbonMarket", {"count": count},
                     {"count": self.view("CarbonMarket", "orderCount")})
        escrow: dict[tuple[str, int], int] = defaultdict(int)
        for o in self.conn.execute(select(ChainOrder)).mappings():
            c = self.view("CarbonMarket", "order", o["order_id"])
            self.compare("order", o["order_id"],
                         {"seller": o["seller"], "status": o["status"], "remaining": o["remaining"],
                          "price": o["price"], "expiry": o["expiry"]},
                         {"seller": c[0], "status": ORDER_STATUS[c[2]], "remaining": c[6], "price": c[7],
                          "expiry": c[1]})
            if o["status"] == "open":
                escrow[(o["asset"], o["token_id"])] += o["remaining"]
        names = {addr: name for name, addr in self.suite.deployment.addresses.items()}
        escrowed_tokens = set(escrow) | {
            (self.suite.deployment.addresses.get(t, ""), int(i)) for t, i in self.conn.execute(
                select(ChainBalance.token, ChainBalance.token_id).where(ChainBalance.holder == market,
                                                                        ChainBalance.amount != 0))}
        for asset, token_id in sorted(escrowed_tokens):
            indexed = escrow.get((asset, token_id), 0)
            held = self.conn.scalar(select(ChainBalance.amount).where(
                ChainBalance.token == names.get(asset, asset), ChainBalance.token_id == token_id,
                ChainBalance.holder == market)) or 0
            key = f"{names.get(asset, asset)}/{token_id}"
            # The market holds exactly the units of its open orders (it accepts no others).
            on_chain = self.view(names.get(asset, asset), "balanceOf", market, token_id)
            self.compare("escrow", key, {"open_orders": indexed, "market_balance": held},
                         {"open_orders": on_chain, "market_balance": on_chain})


    def meter_data(self, since: datetime | int | None, sample: int | None, seed: int | None) -> None:
        if "MeterAnchor" not in self.suite.contracts:
            return
        start = int(since.astimezone(UTC).timestamp()) if isinstance(since, datetime) else since
        reader = AnchorReader(self.suite.contract("MeterAnchor"), self.block, read_all=True,
                              from_block=self.suite.deployment.block)

        def anchor_view(anchor_id: int) -> OnChainAnchor:
            window = reader.window(anchor_id)
            if window is None:
                raise ContractRevert("UnknownAnchor", {"anchorId": anchor_id})
            return OnChainAnchor.of(window)

        found = check_meter_data(self.conn, anchor_view, self.chain_anchor_ids(), since=start, sample=sample,
                                 seed=seed)
        self.report.meters = found
        self.report.checked["meter_window"] = found.windows_checked
        self.report.checked["meter_reading"] = found.readings
        self.report.differences += [Difference(*f[:5], where=f[5]) for f in found.found]

    def documents(self, vault: DocumentVault) -> None:
        if "EmissionRegistry" not in self.suite.contracts:
            return
        count, found = check_documents(self.conn, vault.open_row,
                                       self.read_report)
        self.report.checked["document"] = count
        self.report.differences += [Difference(*f[:5], where=f[5]) for f in found]


def reconcile(engine: Engine, suite: Suite, block: int | None = None, *, chain: ChainClient | None = None,
              grace_seconds: float = 60.0, since: datetime | int | None = None, sample: int | None = None,
              seed: int | None = None, meters: bool = True, documents: DocumentVault | None = None
              ) -> ReconcileReport:
    """Every difference between the index and the chain at `block` (default: where the index stands);
    with `chain`, also between the outbox and the chain (`check_outbox`, read at the chain's head).

    With `meters` (the default), every anchored window's readings against its anchor (`since`: only windows
    starting at or after it, UTC; `sample`: that many windows drawn with `seed`, a fresh one shown in
    `meters.seed` when none is given); with `documents`, every stored document against the chain."""
    with engine.connect() as conn:
        if block is None:
            block = conn.scalar(select(func.min(IndexCheckpoint.indexed_block)))
            if block is None:
                raise LookupError("the index is empty: nothing to reconcile")
        r = _Reconciler(conn, suite, block)
        r.organisations()
        r.members()
        r.balances()
        r.devices()
        r.anchors()
        r.reports()
        r.notarizations()
        r.credit_batches()
        r.orders()
        r.footprints()
        if meters:
            r.meter_data(since, sample, seed)
        if documents is not None:
            r.documents(documents)
    if chain is not None:
        from ledger_service.audit.outbox_check import check_outbox  # it builds on Difference, defined here

        r.report.outbox = check_outbox(engine, chain, grace_seconds=grace_seconds)
    return r.report
